"""The log analysis a pipeline stage runs on each batch: headers, templates, detectors.

:meth:`LogAnalyzer.process` takes a batch of :class:`~opscope.model.LogRecord` and returns
the same records with ``template_id`` and ``params`` filled in (and level, host, component
and pid read from a raw header where the collector left them empty), plus the anomalies
the detectors found. All of its state saves and restores as one versioned JSON document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.logs.header import HeaderParser
from opscope.analyze.logs.miner import MinerConfig, TemplateMiner
from opscope.analyze.logs.new_template import NewTemplateConfig, NewTemplateDetector
from opscope.analyze.logs.rates import LevelSurgeDetector, RateConfig, TemplateRateDetector
from opscope.analyze.logs.sessions import SessionDetector, SessionDetectorConfig
from opscope.errors import ValidationFailed
from opscope.model import Anomaly, Level, LogRecord

_VERSION = 1


class LogAnalyzerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    parse_headers: bool = Field(
        default=True,
        description="Split raw lines into header fields and content before mining.",
    )
    header_layout: str | None = Field(
        default=None,
        description="Explicit header layout such as '<Date> <Time> <Level> <Content>'; "
        "automatic detection when empty.",
    )
    miner: MinerConfig = Field(default_factory=MinerConfig)
    new_template: NewTemplateConfig | None = Field(default_factory=NewTemplateConfig)
    template_rate: RateConfig | None = Field(default_factory=RateConfig)
    level_surge: RateConfig | None = Field(default_factory=RateConfig)
    sessions: SessionDetectorConfig | None = Field(default_factory=SessionDetectorConfig)


class LogAnalyzer:
    """Headers → template miner → detectors, on batches of records in event time."""

    def __init__(self, config: LogAnalyzerConfig | None = None,
                 miner: TemplateMiner | None = None) -> None:
        self.config = config or LogAnalyzerConfig()
        self.miner = miner or TemplateMiner(self.config.miner)
        self._headers = HeaderParser(self.config.header_layout, timestamps=False)
        text = self.miner.template
        cfg = self.config
        self.new_template = (NewTemplateDetector(cfg.new_template, text)
                             if cfg.new_template else None)
        self.template_rate = (TemplateRateDetector(cfg.template_rate, text)
                              if cfg.template_rate else None)
        self.level_surge = LevelSurgeDetector(cfg.level_surge) if cfg.level_surge else None
        self.sessions = (SessionDetector(cfg.sessions, text, templates=self.miner)
                         if cfg.sessions else None)

    def process(self, records: Sequence[LogRecord]) -> tuple[list[LogRecord], list[Anomaly]]:
        mined = self._mine(records)
        anomalies: list[Anomaly] = []
        for detector in (self.new_template, self.template_rate, self.level_surge,
                         self.sessions):
            if detector is not None:
                anomalies.extend(detector.observe(mined))
        return mined, anomalies

    def _mine(self, records: Sequence[LogRecord]) -> list[LogRecord]:
        # The per-line loop of the stage: names are bound once, outside it, and each result
        # is a copy of the record made as ``model_copy`` makes it, without its generic steps.
        add = self.miner.add_values
        parse = self._headers.parse if self.config.parse_headers else None
        unknown = Level.UNKNOWN
        out: list[LogRecord] = []
        append = out.append
        for record in records:
            if (type(record) is not LogRecord or record.__pydantic_extra__ is not None
                    or record.__pydantic_private__ is not None):
                append(record.model_copy(update=self._update(record)))
                continue
            values = record.__dict__.copy()
            changed = _MINED
            content = record.message
            if parse is not None:
                parsed = parse(content, (record.source, record.entity))
                content = parsed.content
                if record.level is unknown and parsed.level is not unknown:
                    values["level"] = parsed.level
                    changed = _MINED_LEVEL
                attributes = record.attributes
                added: dict[str, str] | None = None
                for name, value in (("host", parsed.host), ("component", parsed.component),
                                    ("pid", parsed.pid)):
                    if value and name not in attributes:
                        if added is None:
                            added = dict(attributes)
                        if len(added) < 64:
                            added[name] = value[:4096]
                if added is not None and len(added) != len(attributes):
                    values["attributes"] = added
                    changed = changed | _ATTRIBUTES
            values["template_id"], values["params"] = add(content)
            copied = _new_record(LogRecord)
            _set(copied, "__dict__", values)
            _set(copied, "__pydantic_extra__", None)
            _set(copied, "__pydantic_fields_set__", record.__pydantic_fields_set__ | changed)
            _set(copied, "__pydantic_private__", None)
            append(copied)
        return out

    def _update(self, record: LogRecord) -> dict[str, Any]:
        """The fields analysis fills in on one record (the general path of ``_mine``)."""
        update: dict[str, Any] = {}
        content = record.message
        if self.config.parse_headers:
            parsed = self._headers.parse(record.message, (record.source, record.entity))
            content = parsed.content
            if record.level is Level.UNKNOWN and parsed.level is not Level.UNKNOWN:
                update["level"] = parsed.level
            attributes = dict(record.attributes)
            for name, value in (("host", parsed.host), ("component", parsed.component),
                                ("pid", parsed.pid)):
                if value and name not in attributes and len(attributes) < 64:
                    attributes[name] = value[:4096]
            if attributes != record.attributes:
                update["attributes"] = attributes
        update["template_id"], update["params"] = self.miner.add_values(content)
        return update

    def to_json(self) -> dict[str, Any]:
        def state(detector: Any) -> Any:
            return detector.to_json() if detector is not None else None

        return {
            "kind": "log_analyzer", "version": _VERSION,
            "config": self.config.model_dump(mode="json"),
            "miner": self.miner.to_json(),
            "new_template": state(self.new_template),
            "template_rate": state(self.template_rate),
            "level_surge": state(self.level_surge),
            "sessions": state(self.sessions),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> LogAnalyzer:
        if state.get("kind") != "log_analyzer" or state.get("version") != _VERSION:
            raise ValidationFailed("unsupported log analyzer state")
        analyzer = cls(LogAnalyzerConfig(**state["config"]),
                       TemplateMiner.from_json(state["miner"]))
        text = analyzer.miner.template
        if state["new_template"] is not None:
            analyzer.new_template = NewTemplateDetector.from_json(state["new_template"], text)
        if state["template_rate"] is not None:
            analyzer.template_rate = TemplateRateDetector.from_json(state["template_rate"], text)
        if state["level_surge"] is not None:
            analyzer.level_surge = LevelSurgeDetector.from_json(state["level_surge"])
        if state["sessions"] is not None:
            analyzer.sessions = SessionDetector.from_json(state["sessions"], text,
                                                          analyzer.miner)
        return analyzer


# The fields a mined record has set on top of the record's own.
_MINED = frozenset({"template_id", "params"})
_MINED_LEVEL = _MINED | {"level"}
_ATTRIBUTES = frozenset({"attributes"})
_new_record = object.__new__
_set = object.__setattr__
