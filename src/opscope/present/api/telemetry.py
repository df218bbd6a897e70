"""opscope's own metrics, served at ``/metrics`` in the Prometheus text format.

A deliberately small registry: labelled counters, gauges read on demand, and one
latency histogram kind. That is all the server needs to report about itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

LabelKey = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _fmt_labels(key: LabelKey, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = key + extra
    if not pairs:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs)
    return "{" + inner + "}"


@dataclass
class Counter:
    name: str
    help: str
    values: dict[LabelKey, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_fmt_labels(k)} {v:g}" for k, v in sorted(self.values.items())]
        return lines


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    series: dict[LabelKey, list[float]] = field(default_factory=dict)

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        # layout: one count per bucket, then +Inf count, then sum
        state = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                state[i] += 1
        state[-2] += 1
        state[-1] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, state in sorted(self.series.items()):
            for bound, count in zip(self.buckets, state, strict=False):
                lines.append(f"{self.name}_bucket{_fmt_labels(key, (('le', f'{bound:g}'),))} "
                             f"{count:g}")
            lines.append(f"{self.name}_bucket{_fmt_labels(key, (('le', '+Inf'),))} {state[-2]:g}")
            lines.append(f"{self.name}_sum{_fmt_labels(key)} {state[-1]:.6f}")
            lines.append(f"{self.name}_count{_fmt_labels(key)} {state[-2]:g}")
        return lines


@dataclass
class Gauge:
    name: str
    help: str
    read: Callable[[], dict[LabelKey, float]]

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        lines += [f"{self.name}{_fmt_labels(k)} {v:g}" for k, v in sorted(self.read().items())]
        return lines


class Telemetry:
    """The server's metrics. Thread-safe enough: updates take a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ingested = Counter("opscope_ingested_items_total",
                                "Items committed to the store, by kind.")
        self.rejected = Counter("opscope_rejected_items_total",
                                "Items refused at validation, by kind.")
        self.overloaded = Counter("opscope_overload_responses_total",
                                  "Requests answered 429/503 for back-pressure, by kind.")
        self.requests = Counter("opscope_http_requests_total",
                                "HTTP requests by route and status code.")
        self.latency = Histogram("opscope_http_request_duration_seconds",
                                 "HTTP request latency by route.")
        self.gauges: list[Gauge] = []

    def add_gauge(self, name: str, help_text: str,
                  read: Callable[[], dict[LabelKey, float]]) -> None:
        self.gauges.append(Gauge(name, help_text, read))

    def count(self, counter: Counter, amount: float = 1.0, **labels: str) -> None:
        with self._lock:
            counter.inc(amount, **labels)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests.inc(route=route, code=str(status))
            self.latency.observe(seconds, route=route)

    def render(self) -> str:
        with self._lock:
            lines: list[str] = []
            for metric in (self.ingested, self.rejected, self.overloaded, self.requests,
                           self.latency):
                lines += metric.render()
        for gauge in self.gauges:
            lines += gauge.render()
        return "\n".join(lines) + "\n"
