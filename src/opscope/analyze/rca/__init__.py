"""Root-cause ranking: which entity, and which signal on it, most likely caused an incident."""

from opscope.analyze.rca.config import RcaConfig
from opscope.analyze.rca.inputs import MetricSeries, RcaInputs
from opscope.analyze.rca.nsigma import rank_by_nsigma
from opscope.analyze.rca.ranker import anomaly_degree, rank_root_causes

__all__ = [
    "MetricSeries", "RcaConfig", "RcaInputs", "anomaly_degree", "rank_by_nsigma",
    "rank_root_causes",
]
