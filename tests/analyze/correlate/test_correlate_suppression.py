"""Silences, maintenance windows and inhibition behind one interface; muted stays visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opscope.analyze.correlate import (
    CorrelationEngine,
    CronWindows,
    EngineConfig,
    Inhibitor,
    MaintenanceWindows,
    Silences,
    Suppression,
    Suppressor,
)
from opscope.errors import ValidationFailed
from opscope.model import Event, Relation
from opscope.model.incident import (
    InhibitRule,
    MaintenanceWindow,
    Matcher,
    MatchOp,
    Signal,
    Silence,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a Sunday


def sig(name: str = "HighLatency", entity: str = "api", severity: str = "warning",
        resolved: bool = False, **labels: str) -> Signal:
    return Signal(id=f"{name}@{entity}", name=name, entity=entity, severity=severity,
                  labels=labels, starts_at=T0, last_seen=T0,
                  resolved_at=T0 if resolved else None)


MATCHER_CASES = [
    (Matcher(name="alertname", value="HighLatency"), True),
    (Matcher(name="alertname", value="High"), False),
    (Matcher(name="alertname", op=MatchOp.NOT_EQUAL, value="HighLatency"), False),
    (Matcher(name="alertname", op=MatchOp.REGEX, value="High.*"), True),
    (Matcher(name="alertname", op=MatchOp.REGEX, value="High"), False),  # anchored
    (Matcher(name="env", op=MatchOp.NOT_REGEX, value="prod|stage"), False),
    (Matcher(name="env", value="prod"), True),
    (Matcher(name="entity", value="api"), True),
    (Matcher(name="missing", value=""), True),  # absent label = empty, as in Alertmanager
]


@pytest.mark.parametrize(("matcher", "muted"), MATCHER_CASES)
def test_silence_matchers(matcher: Matcher, muted: bool) -> None:
    silences = Silences([Silence(id="s1", matchers=[matcher], starts_at=T0,
                                 ends_at=T0 + timedelta(hours=1), created_by="ana",
                                 comment="deploy")])
    mutes = silences.mutes(sig(env="prod"), T0 + timedelta(minutes=5))
    assert bool(mutes) is muted
    if muted:
        assert mutes[0].kind == "silence" and "ana" in mutes[0].reason


@pytest.mark.parametrize(("offset_minutes", "muted"), [(-1, False), (0, True), (59, True),
                                                        (60, False)])
def test_silence_time_range(offset_minutes: int, muted: bool) -> None:
    silences = Silences([Silence(id="s", matchers=[Matcher(name="entity", value="api")],
                                 starts_at=T0, ends_at=T0 + timedelta(hours=1))])
    assert bool(silences.mutes(sig(), T0 + timedelta(minutes=offset_minutes))) is muted


def test_expired_silence_stops_muting() -> None:
    silences = Silences([Silence(id="s", matchers=[Matcher(name="entity", value="api")],
                                 starts_at=T0, ends_at=T0 + timedelta(hours=1))])
    silences.expire("s", T0 + timedelta(minutes=10))
    assert silences.mutes(sig(), T0 + timedelta(minutes=5))
    assert not silences.mutes(sig(), T0 + timedelta(minutes=11))


def test_bad_regex_is_rejected_up_front() -> None:
    with pytest.raises(ValidationFailed, match="regex"):
        Silences([Silence(id="s", matchers=[Matcher(name="x", op=MatchOp.REGEX, value="(")],
                          starts_at=T0, ends_at=T0 + timedelta(hours=1))])


# Sundays 02:00 Berlin for two hours. 2026-03-29 is the spring DST change in Europe.
WINDOW_CASES = [
    (datetime(2026, 3, 1, 1, 30, tzinfo=UTC), True),    # 02:30 CET, Sunday
    (datetime(2026, 3, 1, 0, 59, tzinfo=UTC), False),   # 01:59 CET
    (datetime(2026, 3, 1, 3, 0, tzinfo=UTC), False),    # 04:00 CET: ended
    (datetime(2026, 3, 2, 1, 30, tzinfo=UTC), False),   # Monday
    (datetime(2026, 7, 5, 0, 30, tzinfo=UTC), True),    # 02:30 CEST, Sunday in summer
    (datetime(2026, 7, 5, 2, 30, tzinfo=UTC), False),   # 04:30 CEST: ended
    (datetime(2026, 3, 1, 2, 30, tzinfo=UTC), True),    # same UTC time in winter: 03:30 CET
]


@pytest.mark.parametrize(("at", "inside"), WINDOW_CASES)
def test_cron_window_in_a_time_zone(at: datetime, inside: bool) -> None:
    cron = CronWindows("0 2 * * sun", timedelta(hours=2), "Europe/Berlin")
    assert (cron.window_at(at) is not None) is inside


def test_cron_window_across_midnight_and_lists() -> None:
    cron = CronWindows("30 23 * * mon-fri", timedelta(hours=1))
    assert cron.window_at(datetime(2026, 3, 3, 0, 15, tzinfo=UTC))  # Mon 23:30 + 45 min
    assert cron.window_at(datetime(2026, 3, 8, 0, 15, tzinfo=UTC)) is None  # after Saturday
    steps = CronWindows("*/15 * * * *", timedelta(minutes=5))
    assert steps.window_at(datetime(2026, 3, 3, 10, 47, tzinfo=UTC)) is not None
    assert steps.window_at(datetime(2026, 3, 3, 10, 51, tzinfo=UTC)) is None
    assert steps.next_start(datetime(2026, 3, 3, 10, 51, tzinfo=UTC)) == \
        datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["0 2 * *", "61 * * * *", "0 2 * * funday",
                                        "5-1 * * * *", "*/0 * * * *"])
def test_bad_cron_is_rejected(expression: str) -> None:
    with pytest.raises(ValidationFailed):
        CronWindows(expression, timedelta(hours=1))


def test_maintenance_window_mutes_matching_signals_only() -> None:
    windows = MaintenanceWindows([MaintenanceWindow(
        id="db-backup", matchers=[Matcher(name="entity", value="db")], schedule="0 12 * * *",
        duration_minutes=30, comment="nightly backup")])
    at = T0 + timedelta(minutes=10)
    assert windows.mutes(sig(entity="db"), at)[0].kind == "maintenance"
    assert not windows.mutes(sig(entity="api"), at)
    assert not windows.mutes(sig(entity="db"), T0 + timedelta(minutes=31))


def test_inhibition_needs_a_firing_source_on_the_same_entity() -> None:
    rule = InhibitRule(id="down", source_matchers=[Matcher(name="severity", value="critical")],
                       target_matchers=[Matcher(name="severity", value="warning")])
    inhibitor = Inhibitor([rule])
    down = sig("ServiceDown", "api", severity="critical")
    inhibitor.observe(down)
    assert inhibitor.mutes(sig("HighLatency", "api"), T0)[0].kind == "inhibition"
    assert not inhibitor.mutes(sig("HighLatency", "web"), T0)
    assert not inhibitor.mutes(down, T0)  # never mutes itself
    inhibitor.observe(sig("ServiceDown", "api", severity="critical", resolved=True))
    assert not inhibitor.mutes(sig("HighLatency", "api"), T0)


def test_suppressor_combines_every_reason_and_takes_extra_suppressions() -> None:
    class MuteEverythingOnApi:
        def mutes(self, signal: Signal, at: datetime) -> list:  # type: ignore[type-arg]
            from opscope.model.incident import Mute
            return [Mute(kind="custom")] if signal.entity == "api" else []

    extra: Suppression = MuteEverythingOnApi()
    suppressor = Suppressor(Silences([Silence(
        id="s", matchers=[Matcher(name="entity", value="api")], starts_at=T0,
        ends_at=T0 + timedelta(hours=1))]), extra=[extra])
    kinds = sorted(m.kind for m in suppressor.mutes(sig(), T0))
    assert kinds == ["custom", "silence"]
    restored = Suppressor.from_json(suppressor.to_json())
    assert restored.to_json() == suppressor.to_json()


def _alert(name: str, entity: str, minute: float, severity: str = "warning") -> Event:
    return Event(source="am", name=name, entity=entity, severity=severity,
                 starts_at=T0 + timedelta(minutes=minute))


def test_engine_keeps_silenced_alerts_visible_and_out_of_incidents() -> None:
    engine = CorrelationEngine(relations=[Relation(source="web", target="api")])
    engine.add_silence(Silence(id="s", matchers=[Matcher(name="entity", value="api")],
                               starts_at=T0, ends_at=T0 + timedelta(hours=1)))
    engine.process([_alert("ServiceDown", "api", 0, "critical")])
    assert engine.incidents() == []
    (signal, mutes), = engine.muted()
    assert signal.name == "ServiceDown" and mutes[0].kind == "silence"


def test_inhibited_alert_joins_the_open_incident_as_a_muted_member() -> None:
    rule = InhibitRule(id="down", source_matchers=[Matcher(name="alertname",
                                                           value="ServiceDown")],
                       target_matchers=[Matcher(name="alertname", op=MatchOp.NOT_EQUAL,
                                                value="ServiceDown")])
    engine = CorrelationEngine(EngineConfig(inhibit_rules=[rule]))
    engine.process([_alert("ServiceDown", "api", 0, "critical"),
                    _alert("HighLatency", "api", 0.5)])
    (incident,) = engine.incidents()
    assert incident.signal_count == 1 and incident.muted_count == 1
    muted = [m for m in engine.members(incident.id) if m.muted_by]
    assert muted[0].signal.name == "HighLatency"
    assert "inhibited by" in muted[0].muted_by[0].reason


def test_silence_ending_releases_the_alert_into_correlation() -> None:
    engine = CorrelationEngine()
    engine.add_silence(Silence(id="s", matchers=[Matcher(name="entity", value="api")],
                               starts_at=T0, ends_at=T0 + timedelta(minutes=10)))
    engine.process([_alert("ServiceDown", "api", 0, "critical")])
    assert engine.incidents() == []
    engine.advance(T0 + timedelta(minutes=11))
    assert [i.status.value for i in engine.incidents()] == ["open"]
    assert engine.muted() == []
