"""Log intelligence: header parsing, template mining and log anomaly detection."""

from opscope.analyze.logs.analyzer import LogAnalyzer, LogAnalyzerConfig
from opscope.analyze.logs.header import HeaderFormat, HeaderParser, ParsedLine
from opscope.analyze.logs.miner import Match, MinerConfig, TemplateInfo, TemplateMiner
from opscope.analyze.logs.new_template import NewTemplateConfig, NewTemplateDetector
from opscope.analyze.logs.rates import LevelSurgeDetector, RateConfig, TemplateRateDetector
from opscope.analyze.logs.sessions import (
    SessionDetector,
    SessionDetectorConfig,
    SessionModel,
    SessionModelConfig,
)

__all__ = [
    "HeaderFormat", "HeaderParser", "LevelSurgeDetector", "LogAnalyzer", "LogAnalyzerConfig",
    "Match", "MinerConfig", "NewTemplateConfig", "NewTemplateDetector", "ParsedLine",
    "RateConfig", "SessionDetector", "SessionDetectorConfig", "SessionModel",
    "SessionModelConfig", "TemplateInfo", "TemplateMiner", "TemplateRateDetector",
]
