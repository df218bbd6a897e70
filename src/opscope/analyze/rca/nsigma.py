"""N-Sigma: the classic baseline ranker, kept beside the real one for comparison.

Each series is standardised by its normal period and an entity is ranked by its largest
z-score after the fault time. ``robust=True`` uses the median and interquartile range
(the variant BARO builds on); ``robust=False`` the mean and standard deviation.
"""

from __future__ import annotations

import numpy as np

from opscope.analyze.rca.inputs import RcaInputs

# The classic variant replaces a zero spread by 1, as common scaler implementations do;
# the robust one uses a tiny spread instead (any move of a series that never moved is
# maximally surprising), the same floor as the opscope ranker, which makes it the
# stronger of the two on coarse data full of flat series.
_ZERO_SPREAD_CLASSIC = 1.0
_ZERO_SPREAD_ROBUST = 1e-12


def rank_by_nsigma(inputs: RcaInputs, robust: bool = True) -> list[str]:
    """Entities ordered by their largest absolute z-score after ``fault_time``."""
    refs = {r.key: r.values for r in inputs.reference}
    best: dict[str, float] = {e: -1.0 for e in inputs.entity_names()}
    for s in inputs.series:
        ref = refs.get(s.key)
        if ref is None:
            ref = s.values[s.times < inputs.fault_time]
        ref = ref[np.isfinite(ref)]
        after = s.values[(s.times >= inputs.fault_time) & np.isfinite(s.values)]
        if ref.size == 0 or after.size == 0:
            continue
        if robust:
            center = float(np.median(ref))
            q75, q25 = np.percentile(ref, [75.0, 25.0])
            spread = float(q75 - q25)
        else:
            center = float(np.mean(ref))
            spread = float(np.std(ref))
        if spread <= 0:
            spread = _ZERO_SPREAD_ROBUST if robust else _ZERO_SPREAD_CLASSIC
        z = float(np.max(np.abs(after - center))) / spread
        best[s.entity] = max(best.get(s.entity, -1.0), z)
    return sorted(best, key=lambda e: (-best[e], e))
