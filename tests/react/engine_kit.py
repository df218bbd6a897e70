"""Building engines for tests: rules from text, in-memory ports, a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import T0
from opscope.react.engine import ReactionEngine, ReactPorts
from opscope.react.memory import ManualClock, MemoryAnnotator
from opscope.react.rules import parse_rules
from opscope.react.settings import ReactSettings


def make_engine(
    rules: str,
    *,
    ports: ReactPorts | None = None,
    clock: ManualClock | None = None,
    runbook_dir: Path | None = None,
    sleeps: list[float] | None = None,
    **settings: Any,
) -> tuple[ReactionEngine, ReactPorts, ManualClock]:
    ports = ports or ReactPorts.in_memory(annotator=MemoryAnnotator())
    clock = clock or ManualClock(T0)
    recorded = sleeps if sleeps is not None else []
    sleep: Callable[[float], None] = recorded.append
    engine = ReactionEngine(
        parse_rules(rules),
        ports,
        ReactSettings(runbook_dir=runbook_dir, base_url="http://opscope.test", **settings),
        clock=clock,
        sleep=sleep,
        approval_secret=b"0123456789abcdef-test-secret",
    )
    return engine, ports, clock
