"""Log records."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from opscope.model.base import Labels, Record, Text, UtcDatetime, now_utc


class Level(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    UNKNOWN = "unknown"


LEVEL_ALIASES: dict[str, Level] = {
    "fatal": Level.FATAL, "critical": Level.FATAL, "crit": Level.FATAL, "emerg": Level.FATAL,
    "emergency": Level.FATAL, "alert": Level.FATAL, "panic": Level.FATAL, "severe": Level.FATAL,
    "error": Level.ERROR, "err": Level.ERROR, "e": Level.ERROR,
    "warning": Level.WARNING, "warn": Level.WARNING, "w": Level.WARNING,
    "info": Level.INFO, "information": Level.INFO, "notice": Level.INFO, "i": Level.INFO,
    "debug": Level.DEBUG, "trace": Level.DEBUG, "verbose": Level.DEBUG, "d": Level.DEBUG,
    "v": Level.DEBUG, "fine": Level.DEBUG, "finer": Level.DEBUG, "finest": Level.DEBUG,
    "": Level.UNKNOWN, "unknown": Level.UNKNOWN,
}


def parse_level(value: object) -> Level:
    if isinstance(value, str):
        # Exact spellings first: most senders already use them, and this is the hot path.
        found = LEVEL_ALIASES.get(value)
        if found is not None:
            return found
        return LEVEL_ALIASES.get(value.strip().lower(), Level.UNKNOWN)
    raise ValueError("level must be a string")


class LogRecord(Record):
    """One log line. ``template_id`` and ``params`` are filled in by log analysis."""

    ts: UtcDatetime = Field(default_factory=now_utc,
                            description="When it was written; when absent, when received.")
    message: Text = Field(min_length=0)
    source: str = Field(default="", max_length=256, description="Sender, e.g. 'syslog'.")
    entity: str = Field(default="", max_length=256, description="Service or host it is about.")
    level: Level = Level.UNKNOWN
    attributes: Labels = Field(default_factory=dict)
    template_id: str | None = None
    params: list[str] = Field(default_factory=list)

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Level:
        return parse_level(value)
