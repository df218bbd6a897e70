"""Benchmark of the reaction engine on loopback.

1. Rule evaluation: triggers/s through ``CompiledRule.matches`` for a set of rules with
   conditions, matchers and regexes; baseline: the same tests written as plain Python
   functions (the floor an expression language could reach).
2. Dry-run handling: triggers/s through ``engine.handle`` with every rule in dry run
   (matching, rendering, gates, audit record; no I/O).
3. Delivery latency: from ``engine.handle(trigger)`` to the webhook request arriving at a
   local receiver (median, p99); baseline: a bare ``httpx.Client.post`` loop to the same
   receiver, timed the same way.

    .venv/bin/python bench/bench_react.py [--triggers 20000] [--rules 50] [--deliveries 500]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from opscope.react.engine import ReactionEngine, ReactPorts
from opscope.react.memory import ManualClock
from opscope.react.rules import parse_rules
from opscope.react.settings import ReactSettings
from opscope.react.triggers import Trigger, trigger_from_fields

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SEVERITIES = ["info", "warning", "error", "critical"]
TEAMS = ["payments", "storage", "web", "infra", "search"]


def make_triggers(n: int) -> list[Trigger]:
    out = []
    for i in range(n):
        incident = {
            "id": f"inc-{i}",
            "version": 1,
            "severity": SEVERITIES[i % 4],
            "title": f"latency of svc-{i % 40} above SLO",
            "service": f"svc-{i % 40}",
            "status": "open",
            "labels": {"team": TEAMS[i % 5], "env": "prod"},
            "root_cause": {
                "entity": f"svc-{(i * 7) % 40}",
                "reason": "OOM kills" if i % 9 == 0 else "slow disk",
            },
            "opened_at": (T0 + timedelta(seconds=i)).isoformat(),
        }
        out.append(trigger_from_fields({"kind": "incident.opened", "incident": incident}))
    return out


def rules_text(n: int, url: str, dry_run: bool) -> str:
    rules = []
    for r in range(n):
        team = TEAMS[r % 5]
        rules.append(f"""
  - name: rule-{r}
    trigger: {{on: [incident.opened, incident.updated]}}
    when: >-
      incident.labels.team == "{team}" and severity(incident.severity) >= {r % 4}
      and (matches(incident.root_cause.reason, "(?i)oom|memory")
           or startswith(incident.service, "svc-{r % 40}"))
    policies: {{dry_run: {str(dry_run).lower()}, retry: {{attempts: 1}}}}
    actions:
      - kind: webhook
        with:
          url: "{url}/hook"
          body: {{id: "{{{{ incident.id }}}}", t: "{{{{ incident.title }}}}"}}""")
    return "rules:" + "".join(rules) + "\n"


def python_rules(n: int) -> list[Callable[[dict[str, Any]], bool]]:
    import re

    pattern = re.compile("(?i)oom|memory")

    def make(r: int) -> Callable[[dict[str, Any]], bool]:
        team, floor, prefix = TEAMS[r % 5], r % 4, f"svc-{r % 40}"

        def rule(fields: dict[str, Any]) -> bool:
            inc = fields.get("incident", {})
            return (
                inc.get("labels", {}).get("team") == team
                and SEVERITIES.index(inc.get("severity", "info")) >= floor
                and (
                    pattern.search(inc.get("root_cause", {}).get("reason", "")) is not None
                    or inc.get("service", "").startswith(prefix)
                )
            )

        return rule

    return [make(r) for r in range(n)]


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.done = threading.Condition()


def start_receiver() -> tuple[ThreadingHTTPServer, _Receiver, str]:
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.perf_counter()
            key = self.headers.get("X-Bench-Id") or raw.split(b'"id":"', 1)[-1].split(b'"')[0]
            with state.done:
                state.arrivals[key if isinstance(key, str) else key.decode()] = now
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_evaluation(triggers: list[Trigger], n_rules: int) -> None:
    ruleset = parse_rules(rules_text(n_rules, "http://127.0.0.1:9", dry_run=True))
    started = time.perf_counter()
    hits = sum(1 for t in triggers for r in ruleset.rules if r.matches(t))
    elapsed = time.perf_counter() - started
    baseline = python_rules(n_rules)
    started = time.perf_counter()
    base_hits = sum(1 for t in triggers for f in baseline if f(t.fields))
    base_elapsed = time.perf_counter() - started
    assert hits == base_hits, (hits, base_hits)  # the same answers, or the comparison is moot
    print(
        f"rule evaluation ({n_rules} rules, {hits} matches): "
        f"{len(triggers) / elapsed:,.0f} triggers/s "
        f"({len(triggers) * n_rules / elapsed:,.0f} rule tests/s)"
    )
    print(f"  baseline, plain Python predicates:  {len(triggers) / base_elapsed:,.0f} triggers/s")


def bench_dry_run(triggers: list[Trigger], n_rules: int) -> None:
    engine = ReactionEngine(
        parse_rules(rules_text(n_rules, "http://127.0.0.1:9", True)),
        ReactPorts.in_memory(),
        ReactSettings(),
        clock=ManualClock(T0),
    )
    sample = triggers[: max(1, len(triggers) // 4)]
    started = time.perf_counter()
    count = sum(len(engine.handle(t)) for t in sample)
    elapsed = time.perf_counter() - started
    print(
        f"dry-run handling: {len(sample) / elapsed:,.0f} triggers/s "
        f"({count / elapsed:,.0f} executions/s recorded)"
    )
    engine.close()


def bench_delivery(n: int) -> None:
    server, state, url = start_receiver()
    rules = parse_rules(f"""
rules:
  - name: deliver
    trigger: {{on: incident.opened}}
    policies: {{retry: {{attempts: 1}}}}
    actions:
      - kind: webhook
        with:
          url: "{url}/hook"
          body: {{id: "{{{{ incident.id }}}}", t: "{{{{ incident.title }}}}"}}
""")
    engine = ReactionEngine(rules, ReactPorts.in_memory(), ReactSettings(), clock=ManualClock(T0))
    triggers = make_triggers(n)
    for t in triggers[:20]:  # warm-up: connections, template cache
        engine.handle(t)
    latencies = []
    for t in triggers[20:]:
        started = time.perf_counter()
        engine.handle(t)
        latencies.append(state.arrivals[t.subject] - started)
    engine.close()
    base = []
    with httpx.Client() as client:
        for i in range(n):
            key = f"base-{i}"
            started = time.perf_counter()
            client.post(f"{url}/hook", json={"id": key, "t": "x" * 30}, headers={"X-Bench-Id": key})
            if i >= 20:
                base.append(state.arrivals[key] - started)
    server.shutdown()
    server.server_close()
    ms = 1000.0
    print(
        f"delivery latency trigger -> webhook received ({len(latencies)}): "
        f"median {statistics.median(latencies) * ms:.2f} ms, p99 {pct(latencies, 0.99) * ms:.2f} ms"
    )
    print(
        f"  baseline, bare httpx POST loop ({len(base)}): "
        f"median {statistics.median(base) * ms:.2f} ms, p99 {pct(base, 0.99) * ms:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--triggers", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=500)
    args = parser.parse_args()
    triggers = make_triggers(args.triggers)
    bench_evaluation(triggers, args.rules)
    bench_dry_run(triggers, args.rules)
    bench_delivery(args.deliveries)


if __name__ == "__main__":
    main()
