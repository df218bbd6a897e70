"""Log lines from the shop's state: mostly routine, with warnings and errors that follow faults."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from opscope.model import Change, Level, LogRecord
from opscope.sim import log_templates as T
from opscope.sim.config import SimulationConfig
from opscope.sim.faults import FaultKind
from opscope.sim.shop import EntityState
from opscope.sim.topology import HOST, MIB, SERVICE, Topology

SOURCE = "sim"


class _Draws:
    """Uniform numbers drawn from the seeded generator in blocks (one call per block is
    much cheaper than one per field, and the order of use keeps the output deterministic)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []
        self._pos = 0

    def u(self) -> float:
        if self._pos >= len(self._buf):
            self._buf = self._rng.random(4096).tolist()
            self._pos = 0
        self._pos += 1
        return self._buf[self._pos - 1]

    def below(self, low: int, high: int) -> int:
        return low + int(self.u() * (high - low))

    def pick(self, items: list[str]) -> str:
        return items[int(self.u() * len(items))]

    def hex(self, digits: int) -> str:
        out = ""
        while len(out) < digits:
            out += format(int(self.u() * 2**52), "013x")
        return out[:digits]

    def lognormal(self, median: float, sigma: float) -> float:
        u1, u2 = max(self.u(), 1e-12), self.u()
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return median * math.exp(sigma * z)


class _Fields(dict[str, str]):
    """Template fields, generated on first use so each line draws only what it needs."""

    def __init__(self, draw: _Draws, base: dict[str, str], ms_median: float) -> None:
        super().__init__(base)
        self._d = draw
        self._ms = ms_median

    def __missing__(self, key: str) -> str:
        d = self._d
        if key == "ms":
            value = str(max(1, round(d.lognormal(self._ms, 0.45))))
        elif key == "sec":
            value = f"{d.lognormal(self._ms, 0.45) / 1000.0:.3f}"
        elif key == "us":
            value = str(max(1, round(d.lognormal(self._ms * 1000.0, 0.45))))
        elif key == "field_cap":
            name = self["field"]
            value = name[:1].upper() + name[1:]
        elif key in T.WORDS:
            value = d.pick(T.WORDS[key])
        else:
            value = _GENERATED[key](d) if key in _GENERATED else "-"
        self[key] = value
        return value


_GENERATED: dict[str, Callable[[_Draws], str]] = {
    "rid": lambda d: "req-" + d.hex(12),
    "tid": lambda d: d.hex(32),
    "uid": lambda d: f"u{d.below(10_000, 999_999)}",
    "ip": lambda d: f"{d.pick(['203.0.113', '198.51.100', '192.0.2'])}.{d.below(1, 255)}",
    "peer": lambda d: f"10.0.{d.below(1, 5)}.{d.below(10, 40)}",
    "port": lambda d: str(d.below(32768, 61000)),
    "sku": lambda d: f"SKU-{d.below(10_000, 99_999)}",
    "order": lambda d: f"ORD-{d.below(1_000_000, 9_999_999)}",
    "cart": lambda d: "c-" + d.hex(8),
    "pay": lambda d: "pi_" + d.hex(14),
    "ship": lambda d: f"SHP{d.below(100_000, 999_999)}",
    "msg": lambda d: d.hex(8) + "-" + d.hex(4),
    "mail": lambda d: f"customer{d.below(1, 99_999)}@example.com",
    "amount": lambda d: f"{d.lognormal(45.0, 0.7):.2f}",
    "qty": lambda d: str(d.below(1, 6)),
    "n": lambda d: str(d.below(2, 60)),
    "pct": lambda d: f"{d.u() * 5:.1f}",
    "bytes": lambda d: str(d.below(300, 48_000)),
    "pid": lambda d: str(d.below(300, 32_000)),
    "attempt": lambda d: str(d.below(2, 4)),
    "line": lambda d: str(d.below(20, 400)),
    "col": lambda d: str(d.below(5, 60)),
    "kb": lambda d: str(d.below(2_000_000, 4_000_000)),
    "rss": lambda d: str(d.below(900_000, 2_000_000)),
}


class LogWriter:
    """Writes each entity's log lines for one step."""

    def __init__(self, topology: Topology, rng: np.random.Generator, config: SimulationConfig,
                 version_of: Callable[[str], str]) -> None:
        self._topo = topology
        self._draw = _Draws(rng)
        self._rng = rng
        self._cfg = config
        self._version_of = version_of
        self._down: set[str] = set()
        self._by_id: dict[str, EntityState] = {}

    def step(self, t0: datetime, t1: datetime, states: list[EntityState],
             changes: list[Change]) -> list[LogRecord]:
        step = (t1 - t0).total_seconds()
        self._by_id = {st.id: st for st in states}
        out: list[LogRecord] = []
        for change in changes:
            out += self._restart_lines(change.entity, change.ts, change.version,
                                       change.labels.get("commit", ""), with_shutdown=True)
        for st in states:
            if st.kind == HOST:
                continue
            if not st.up:
                if st.id not in self._down:
                    self._down.add(st.id)
                    out.append(self._oom_line(st, t0 + timedelta(seconds=step / 2)))
                continue
            if st.id in self._down:
                self._down.discard(st.id)
                out += self._restart_lines(st.id, t0 + timedelta(seconds=1),
                                           self._version_of(st.id), "", with_shutdown=False)
            out += self._entity_lines(st, t0, step)
        out.sort(key=lambda r: (r.ts, r.entity, r.message))
        return out

    # -- per entity --------------------------------------------------------------------

    def _entity_lines(self, st: EntityState, t0: datetime, step: float) -> list[LogRecord]:
        spec = self._topo.specs[st.id]
        vol = self._cfg.log_volume
        req = st.rate * step
        base_err = spec.base_error_ratio
        excess = max(0.0, st.error_ratio - 2.0 * base_err) if st.cause else 0.0
        group = "service" if st.kind == SERVICE else st.kind
        slowness = min(1.0, st.latency_delta / (0.2 if st.kind == SERVICE else 0.05))
        if st.kind == SERVICE:
            lam = [0.15 * step + 0.004 * req, 0.002 * step + 0.0002 * req,
                   0.05 * req * min(st.error_ratio, base_err)]
        else:
            lam = [0.05 * step + 0.0002 * req, 0.002 * step, 0.0005 * step]
        fault_warn = fault_err = 0.0
        if st.cause is not None:
            own = st.cause.via is None
            fault_warn = (0.5 + 0.01 * req) * slowness + (0.04 * step if own else 0.0)
            fault_err = 0.1 * req * excess + (0.1 * step if excess > 0.01 else 0.0)
        counts = self._rng.poisson(np.array([*lam, fault_warn, fault_err]) * vol)
        cap = self._cfg.max_logs_per_entity_step
        counts = np.minimum(counts, cap)

        base = {"entity": st.id, "self_ip": spec.ip, "budget": "2000",
                "used": str(round(st.pool_in_use if st.pool_size and st.cause and
                                  st.cause.kind is FaultKind.CONNECTION_POOL_EXHAUSTION
                                  else st.memory / MIB)),
                "limit": str(round(st.pool_size if st.pool_size and st.cause and
                                   st.cause.kind is FaultKind.CONNECTION_POOL_EXHAUSTION
                                   else st.memory_limit / MIB)),
                "db": self._topo.database_of(st.id) or "main"}
        info = T.INFO.get(st.id) or T.INFO.get(st.kind) or T.INFO["generic"]
        warn = T.WARNING.get(group, T.WARNING["service"])
        err = T.ERROR.get(st.id) or T.ERROR.get(group, T.ERROR["service"])
        ms = st.p50 * 1000.0
        slow_ms = (st.p50 + st.latency_delta) * 1000.0
        out: list[LogRecord] = []
        for kind_idx, level, templates, median in (
                (0, Level.INFO, info, ms), (1, Level.WARNING, warn, ms * 4),
                (2, Level.ERROR, err, ms)):
            for _ in range(int(counts[kind_idx])):
                if templates:
                    out.append(self._line(st, t0, step, level, templates, base, median))
        if st.cause is not None:
            warn_f, err_f, extra = self._fault_templates(st, group)
            fault_base = {**base, **extra}
            for count, level, templates in ((counts[3], Level.WARNING, warn_f),
                                            (counts[4], Level.ERROR, err_f)):
                for _ in range(int(count)):
                    if templates:
                        out.append(self._line(st, t0, step, level, templates, fault_base,
                                              max(slow_ms, ms * 3)))
        return out

    def _fault_templates(self, st: EntityState, group: str
                         ) -> tuple[list[str], list[str], dict[str, str]]:
        cause = st.cause
        assert cause is not None  # checked by the caller
        if cause.via is None:
            if st.kind == SERVICE:
                lang = self._topo.specs[st.id].language
                extra = {}
                if cause.kind in (FaultKind.BAD_DEPLOY, FaultKind.ERROR_BURST):
                    extra["exception"] = self._draw.pick(T.EXCEPTIONS.get(lang,
                                                                          T.EXCEPTIONS["go"]))
                return T.OWN_WARNING[cause.kind], T.OWN_ERROR[cause.kind], extra
            warn, err = T.STORE_OWN.get(st.kind, {}).get(cause.kind, ([], []))
            return warn, err, {}
        callee = self._topo.specs[cause.via]
        callee_group = "service" if callee.kind == SERVICE else callee.kind
        reasons = T.UPSTREAM_REASON.get(cause.kind, T.UPSTREAM_REASON[None])
        callee_state = self._by_id.get(cause.via)
        if callee_state is not None and not callee_state.up:
            reasons = ["connection refused"]
        reason = self._draw.pick(reasons)
        extra = {"callee": cause.via, "peer": callee.ip, "reason": reason,
                 "db_error": self._draw.pick(T.DB_ERRORS),
                 "status": reason[:3] if reason[:3].isdigit() else "504"}
        errors = T.UPSTREAM_ERROR[callee_group] + T.ACCESS_ERRORS.get(st.id, [])
        return T.UPSTREAM_WARNING[callee_group], errors, extra

    def _line(self, st: EntityState, t0: datetime, step: float, level: Level,
              templates: list[str], base: dict[str, str], ms_median: float) -> LogRecord:
        d = self._draw
        fields = _Fields(d, base, ms_median)
        if "callee" not in fields:
            deps = self._topo.dependencies(st.id)
            fields["callee"] = deps[d.below(0, len(deps))].target if deps else "upstream"
        if st.kind == SERVICE:
            endpoints = T.ENDPOINTS.get(st.id, [("GET", "/")])
            method, path = endpoints[d.below(0, len(endpoints))]
            fields["method"] = method
            fields["path"] = path.format_map(fields)
        else:
            callers = self._topo.callers(st.id)
            fields["caller"] = callers[d.below(0, len(callers))] if callers else "app"
        for nested in ("exception", "reason"):  # these values are templates themselves
            if nested in fields:
                fields[nested] = fields[nested].format_map(fields)
        message = d.pick(templates).format_map(fields)
        attributes = {"host": st.host}
        if st.kind == SERVICE:
            attributes["trace_id"] = fields["tid"]
        ts = t0 + timedelta(microseconds=round(d.u() * step * 1e6))
        return LogRecord(ts=ts, message=message, source=SOURCE, entity=st.id, level=level,
                         attributes=attributes)

    # -- lifecycle ---------------------------------------------------------------------

    def _restart_lines(self, entity: str, ts: datetime, version: str, sha: str,
                       with_shutdown: bool) -> list[LogRecord]:
        spec = self._topo.specs[entity]
        if spec.kind == HOST:
            return []
        fields = {"entity": entity, "version": version, "sha": sha or self._draw.hex(7)}
        templates = (T.SHUTDOWN if with_shutdown else []) + T.STARTUP
        return [LogRecord(ts=ts + timedelta(seconds=2 * i), message=tpl.format_map(fields),
                          source=SOURCE, entity=entity, level=Level.INFO,
                          attributes={"host": spec.host})
                for i, tpl in enumerate(templates)]

    def _oom_line(self, st: EntityState, ts: datetime) -> LogRecord:
        fields = _Fields(self._draw, {"entity": st.id}, 1.0)
        return LogRecord(ts=ts, message=T.OOM_KILL.format_map(fields), source=SOURCE,
                         entity=st.host or st.id, level=Level.ERROR,
                         attributes={"unit": "kernel", "host": st.host})
