"""Dedup and alert lifecycle: repeats, reopen vs new occurrence, flapping, quiet resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opscope.analyze.correlate import AlertTracker, DedupConfig, FingerprintRule, UpdateKind
from opscope.model import Event

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(at: float, name: str = "HighLatency", entity: str = "api", start: float | None = None,
         **labels: str) -> Event:
    return Event(source="am", name=name, entity=entity, labels=labels,
                 starts_at=m(at if start is None else start), received_at=m(at))


def resolve(at: float, start: float, name: str = "HighLatency", entity: str = "api") -> Event:
    return Event(source="am", name=name, entity=entity, status="resolved", starts_at=m(start),
                 ends_at=m(at), received_at=m(at))


# (case, notifications, expected update kinds, expected final occurrence, final firing)
CASES = [
    ("repeat", [fire(0), fire(1, start=0), fire(2, start=0)],
     [UpdateKind.NEW, UpdateKind.REPEAT, UpdateKind.REPEAT], 1, True),
    ("resolve", [fire(0), resolve(3, 0)], [UpdateKind.NEW, UpdateKind.RESOLVED], 1, False),
    ("duplicate resolve is folded", [fire(0), resolve(3, 0), resolve(4, 0)],
     [UpdateKind.NEW, UpdateKind.RESOLVED], 1, False),
    ("reopen within window", [fire(0), resolve(3, 0), fire(10)],
     [UpdateKind.NEW, UpdateKind.RESOLVED, UpdateKind.REOPENED], 1, True),
    ("new occurrence after window", [fire(0), resolve(3, 0), fire(30)],
     [UpdateKind.NEW, UpdateKind.RESOLVED, UpdateKind.NEW], 2, True),
    ("resolve seen without firing", [resolve(3, 0)], [UpdateKind.NEW], 1, False),
    ("flapping holds the resolve",
     [fire(0), resolve(1, 0), fire(2), resolve(3, 2), fire(4), resolve(5, 4)],
     # the fourth state change (firing at minute 4) makes it flapping; the last resolve
     # is then held, so no update and the alert stays firing.
     [UpdateKind.NEW, UpdateKind.RESOLVED, UpdateKind.REOPENED, UpdateKind.RESOLVED,
      UpdateKind.FLAPPING], 1, True),
]


@pytest.mark.parametrize(("case", "notes", "kinds", "occurrence", "firing"), CASES,
                         ids=[c[0] for c in CASES])
def test_lifecycle(case: str, notes: list[Event], kinds: list[UpdateKind], occurrence: int,
                   firing: bool) -> None:
    tracker = AlertTracker(DedupConfig(reopen_minutes=15, flap_threshold=4))
    updates = [u for ev in notes if (u := tracker.observe(ev)) is not None]
    assert [u.kind for u in updates] == kinds
    last = updates[-1].signal
    assert last.occurrence == occurrence
    assert last.firing is firing
    assert last.id.endswith(f"#{occurrence}")


def test_repeat_count_counts_every_notification() -> None:
    tracker = AlertTracker()
    for i in range(5):
        tracker.observe(fire(i, start=0))
    signal = tracker.firing()[0]
    assert signal.repeat_count == 5
    assert signal.last_seen == m(4)


def test_flapping_alert_resolves_after_quiet_flap_window() -> None:
    tracker = AlertTracker(DedupConfig(flap_threshold=3, flap_window_minutes=10))
    for ev in (fire(0), resolve(1, 0), fire(2), resolve(3, 2)):
        tracker.observe(ev)
    assert tracker.firing()[0].flapping  # held firing
    assert tracker.advance(m(12)) == []  # 9 minutes after the last change: still held
    updates = tracker.advance(m(13.5))
    assert [u.kind for u in updates] == [UpdateKind.RESOLVED]
    assert updates[0].signal.resolved_at == m(3)  # the real resolve time, not the timer's
    assert not updates[0].signal.flapping


def test_auto_resolve_after_quiet_period_and_repeats_postpone_it() -> None:
    rule = FingerprintRule(source="am", auto_resolve_minutes=5)
    tracker = AlertTracker(DedupConfig(rules=[rule]))
    tracker.observe(fire(0))
    tracker.observe(fire(3, start=0))  # a repeat pushes the deadline to minute 8
    assert tracker.advance(m(7)) == []
    updates = tracker.advance(m(9))
    assert [u.kind for u in updates] == [UpdateKind.AUTO_RESOLVED]
    assert updates[0].signal.resolved_at == m(8)


def test_sources_without_a_rule_never_auto_resolve() -> None:
    tracker = AlertTracker(DedupConfig(rules=[FingerprintRule(source="other",
                                                              auto_resolve_minutes=1)]))
    tracker.observe(fire(0))
    assert tracker.advance(m(600)) == []
    assert tracker.firing()


def test_fingerprint_rule_ignores_labels_outside_its_set() -> None:
    rule = FingerprintRule(source="*", labels=["instance"])
    tracker = AlertTracker(DedupConfig(rules=[rule]))
    first = tracker.observe(fire(0, instance="a", value="0.91"))
    second = tracker.observe(fire(1, start=0, instance="a", value="0.97"))
    other = tracker.observe(fire(1, instance="b", value="0.97"))
    assert first is not None and second is not None and other is not None
    assert second.kind is UpdateKind.REPEAT and second.signal.id == first.signal.id
    assert other.kind is UpdateKind.NEW and other.signal.id != first.signal.id


def test_default_identity_is_the_senders_fingerprint() -> None:
    tracker = AlertTracker()
    a = tracker.observe(fire(0, value="1"))
    b = tracker.observe(fire(0, value="2"))
    assert a is not None and b is not None and b.kind is UpdateKind.NEW


def test_resolved_state_is_forgotten_after_retention() -> None:
    tracker = AlertTracker(DedupConfig(retain_resolved_minutes=60))
    tracker.observe(fire(0))
    tracker.observe(resolve(5, 0))
    tracker.advance(m(64))
    assert len(tracker) == 1
    tracker.advance(m(66))
    assert len(tracker) == 0


def test_state_round_trips_through_json() -> None:
    config = DedupConfig(flap_threshold=3, rules=[FingerprintRule(source="am",
                                                                 auto_resolve_minutes=5)])
    one, two = AlertTracker(config), AlertTracker(config)
    for ev in (fire(0), resolve(1, 0), fire(2), fire(2, name="Other")):
        one.observe(ev)
    two.load_json(one.to_json())
    assert two.to_json() == one.to_json()
    # Timers survive the round trip: both resolve the same alerts at the same time.
    a = [(u.kind, u.signal) for u in one.advance(m(60))]
    b = [(u.kind, u.signal) for u in two.advance(m(60))]
    assert a == b and a


def test_unsupported_state_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        AlertTracker().load_json({"version": 99, "alerts": []})
