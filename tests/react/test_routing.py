from __future__ import annotations

from datetime import timedelta
from typing import Any

from react_kit import T0, Receiver, incident_trigger, make_engine

from opscope.model.execution import ExecutionStatus
from opscope.react.memory import MemoryNotificationLog
from opscope.react.routing import Route, RoutedAlert, Router, match_routes, resolve_route


def _rules(url: str, send_resolved: bool = True) -> str:
    return f"""
rules:
  - name: route-incidents
    trigger: {{on: [incident.opened, incident.updated, incident.resolved]}}
    route: {{labels: {{team: incident.labels.team}}}}
routing:
  route:
    receiver: default
    group_by: [service]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    send_resolved: {str(send_resolved).lower()}
    routes:
      - matchers: ['team="payments"']
        receiver: payments
  receivers:
    - name: default
      actions: [{{kind: webhook, with: {{url: "{url}/default", body: "{{{{ notification }}}}"}}}}]
    - name: payments
      actions:
        - kind: webhook
          with:
            url: "{url}/payments"
            body:
              status: "{{{{ notification.status }}}}"
              group: "{{{{ notification.group_labels }}}}"
              firing: "{{{{ notification.firing | map(attribute='incident.id') | list }}}}"
              resolved: "{{{{ notification.resolved | map(attribute='incident.id') | list }}}}"
"""


def test_group_wait_interval_repeat_and_resolved(receiver: Receiver) -> None:
    engine, _, clock = make_engine(_rules(receiver.url))
    assert engine.handle(incident_trigger(id="inc-1")) == []  # waits for group_wait
    clock.advance(timedelta(seconds=10))
    engine.handle(incident_trigger(id="inc-2"))
    clock.advance(timedelta(seconds=20))  # 30 s after the group began
    [sent] = engine.tick()
    assert sent.status is ExecutionStatus.SUCCEEDED and sent.rule == "route:payments"
    assert receiver.bodies("/payments") == [
        {
            "status": "firing",
            "group": {"service": "checkout"},
            "firing": ["inc-1", "inc-2"],
            "resolved": [],
        }
    ]
    # Nothing new: the next interval sends nothing.
    clock.advance(timedelta(minutes=5))
    assert engine.tick() == []
    # A resolution is told at the next group interval.
    engine.handle(incident_trigger("incident.resolved", id="inc-1", version=2, status="resolved"))
    clock.advance(timedelta(minutes=5))
    engine.tick()
    assert receiver.bodies("/payments")[-1] == {
        "status": "firing",
        "group": {"service": "checkout"},
        "firing": ["inc-2"],
        "resolved": ["inc-1"],
    }
    # Unchanged and firing: repeated after the repeat interval only.
    for _ in range(11):
        clock.advance(timedelta(minutes=5))
        engine.tick()
    assert len(receiver.bodies("/payments")) == 2
    clock.advance(timedelta(minutes=5))
    engine.tick()
    assert len(receiver.bodies("/payments")) == 3
    engine.handle(incident_trigger("incident.resolved", id="inc-2", version=2, status="resolved"))
    clock.advance(timedelta(minutes=5))
    engine.tick()
    assert receiver.bodies("/payments")[-1]["status"] == "resolved"
    assert receiver.bodies("/payments")[-1]["resolved"] == ["inc-2"]
    assert engine.router is not None and engine.router.pending() == 0
    assert receiver.bodies("/default") == []


def test_alerts_go_to_the_default_receiver_grouped_by_service(receiver: Receiver) -> None:
    engine, _, clock = make_engine(_rules(receiver.url))
    engine.handle(incident_trigger(id="a", service="db", labels={"team": "storage"}))
    engine.handle(incident_trigger(id="b", service="web", labels={"team": "web"}))
    clock.advance(timedelta(seconds=30))
    executions = engine.tick()
    assert [e.rule for e in executions] == ["route:default", "route:default"]
    groups = sorted(b["group_labels"]["service"] for b in receiver.bodies("/default"))
    assert groups == ["db", "web"]


def test_without_send_resolved_only_changes_in_firing_are_sent(receiver: Receiver) -> None:
    engine, _, clock = make_engine(_rules(receiver.url, send_resolved=False))
    engine.handle(incident_trigger(id="inc-1"))
    clock.advance(timedelta(seconds=30))
    engine.tick()
    engine.handle(incident_trigger("incident.resolved", id="inc-1", version=2, status="resolved"))
    clock.advance(timedelta(minutes=5))
    assert engine.tick() == []
    # The same incident firing again is news.
    engine.handle(incident_trigger("incident.updated", id="inc-1", version=3))
    clock.advance(timedelta(seconds=29))
    assert engine.tick() == []  # the group was dropped; a new one waits group_wait again
    clock.advance(timedelta(seconds=1))
    assert len(engine.tick()) == 1
    assert [b["firing"] for b in receiver.bodies("/payments")] == [["inc-1"], ["inc-1"]]


def test_restarted_router_remembers_what_it_sent(receiver: Receiver) -> None:
    engine, ports, clock = make_engine(_rules(receiver.url))
    engine.handle(incident_trigger(id="inc-1"))
    clock.advance(timedelta(seconds=30))
    engine.tick()
    again, _, _ = make_engine(_rules(receiver.url), ports=ports, clock=clock)
    again.handle(incident_trigger(id="inc-1"))  # the same alert is fed again after restart
    clock.advance(timedelta(seconds=30))
    assert again.tick() == []
    assert len(receiver.bodies("/payments")) == 1


def test_matching_is_depth_first_with_continue() -> None:
    root = resolve_route(
        Route.model_validate(
            {
                "receiver": "root",
                "group_by": ["..."],
                "routes": [
                    {
                        "matchers": ['team="db"'],
                        "receiver": "db",
                        "continue": True,
                        "routes": [{"matchers": ['severity="critical"'], "receiver": "db-pager"}],
                    },
                    {"matchers": ['team=~"db|web"'], "receiver": "dbweb"},
                    {"matchers": ['team=~".+"'], "receiver": "anyteam"},
                ],
            }
        )
    )

    def names(labels: dict[str, str]) -> list[str]:
        return [r.receiver for r in match_routes(root, labels)]

    assert names({"team": "db", "severity": "critical"}) == ["db-pager", "dbweb"]
    assert names({"team": "db", "severity": "info"}) == ["db", "dbweb"]
    assert names({"team": "web"}) == ["dbweb"]
    assert names({"team": "ops"}) == ["anyteam"]
    assert names({}) == ["root"]
    assert root.children[0].group_wait == timedelta(seconds=30)  # inherited default


def test_router_groups_by_all_labels() -> None:
    root = resolve_route(
        Route.model_validate({"receiver": "r", "group_by": ["..."], "group_wait": "0s"})
    )
    router = Router(root, MemoryNotificationLog())
    for fp, labels in (("1", {"a": "x"}), ("2", {"a": "x"}), ("3", {"a": "y"})):
        router.add(RoutedAlert(fp, labels, False, T0), T0)
    out: list[Any] = router.flush(T0)
    assert sorted(len(d.firing) for d in out) == [1, 2]
