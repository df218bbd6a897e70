"""Pattern discovery on small synthetic histories with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from opscope.analyze.correlate import CronWindows
from opscope.analyze.patterns import (
    co_occurrences,
    idle_alerts,
    periodic_alerts,
    recurring_incidents,
    sequences,
)
from opscope.model import Event
from opscope.model.incident import Incident, IncidentMember, IncidentStatus, Signal

T0 = datetime(2026, 2, 2, 0, 0, tzinfo=UTC)  # a Monday


def alert(name: str, entity: str, at: datetime, minutes: float = 5.0) -> Event:
    return Event(source="am", name=name, entity=entity, starts_at=at,
                 ends_at=at + timedelta(minutes=minutes), status="resolved")


def background(rng: np.random.Generator, n: int, hours: float) -> list[Event]:
    names = [f"Noise{i}" for i in range(8)]
    return [alert(names[int(rng.integers(8))], "misc",
                  T0 + timedelta(seconds=float(rng.uniform(0, hours * 3600))))
            for _ in range(n)]


def test_co_occurrence_finds_the_planted_pair_only() -> None:
    rng = np.random.default_rng(1)
    events = background(rng, 60, 48)
    for k in range(12):  # DiskFull and BackupFailed always fire within a minute
        at = T0 + timedelta(hours=4 * k, minutes=1)
        events += [alert("DiskFull", "db", at), alert("BackupFailed", "db",
                                                      at + timedelta(seconds=40))]
    rules = co_occurrences(events, window_seconds=300, min_count=3)
    pairs = {(r.antecedent, r.consequent) for r in rules}
    assert pairs == {("BackupFailed@db", "DiskFull@db"), ("DiskFull@db", "BackupFailed@db")}
    top = rules[0]
    assert top.count == 12 and top.confidence == 1.0 and top.lift > 10
    assert 0 < top.support < 1


def test_sequence_has_a_direction_and_a_lag() -> None:
    rng = np.random.default_rng(2)
    events = background(rng, 40, 48)
    for k in range(10):  # a deploy is followed two minutes later by errors, 8 times of 10
        at = T0 + timedelta(hours=4 * k, minutes=7)
        events.append(alert("DeployStarted", "api", at))
        if k % 5 != 4:
            events.append(alert("HighErrorRate", "api", at + timedelta(minutes=2)))
    rules = sequences(events, window_seconds=600, min_count=3)
    forward = [r for r in rules if r.antecedent == "DeployStarted@api"]
    assert [r.consequent for r in forward] == ["HighErrorRate@api"]
    assert forward[0].confidence == 0.8 and forward[0].mean_lag_seconds == 120.0
    assert forward[0].lift > 5
    assert not [r for r in rules if r.antecedent == "HighErrorRate@api"
                and r.consequent == "DeployStarted@api"]


def test_daily_noisy_alert_gets_a_silence_that_covers_it() -> None:
    rng = np.random.default_rng(3)
    events = background(rng, 30, 24 * 10)
    backups = []
    for day in range(10):  # every night around 02:00-02:10, lasting 20-25 minutes
        at = T0 + timedelta(days=day, hours=2, minutes=float(rng.uniform(0, 10)))
        backups.append(alert("BackupJobSlow", "db", at, float(rng.uniform(20, 25))))
    found = periodic_alerts(events + backups)
    (daily,) = [p for p in found if p.name == "BackupJobSlow"]
    assert daily.pattern == "daily" and daily.count == 10 and daily.regularity == 1.0
    assert not [p for p in found if p.name.startswith("Noise")]
    silence = daily.suggestion
    assert silence is not None
    assert [(m.name, m.value) for m in silence.matchers] == [("alertname", "BackupJobSlow"),
                                                             ("entity", "db")]
    cron = CronWindows(silence.schedule, timedelta(minutes=silence.duration_minutes),
                       silence.timezone)
    for ev in backups:  # the suggested window covers every firing from start to end
        assert ev.ends_at is not None
        assert cron.window_at(ev.starts_at) is not None
        assert cron.window_at(ev.ends_at - timedelta(seconds=1)) is not None


def test_weekly_and_interval_patterns() -> None:
    weekly = [alert("ReportLate", "etl", T0 + timedelta(weeks=w, days=2, hours=6))
              for w in range(4)]
    hourly = [alert("CronHeartbeatMissed", "jobs", T0 + timedelta(hours=h, minutes=15),
                    minutes=2) for h in range(12)]
    found = {p.name: p for p in periodic_alerts(weekly + hourly)}
    assert found["ReportLate"].pattern == "weekly"
    assert found["ReportLate"].suggestion is not None
    assert found["ReportLate"].suggestion.schedule.endswith("* * wed")
    beat = found["CronHeartbeatMissed"]
    assert beat.pattern == "interval" and beat.period_minutes == 60
    assert beat.suggestion is not None and beat.suggestion.schedule == "10 * * * *"


def _incident(idx: int, types: list[str], acked: bool = False,
              recurrence_of: str | None = None) -> tuple[Incident, list[IncidentMember]]:
    at = T0 + timedelta(days=idx)
    inc = Incident(id=f"inc-{idx}", status=IncidentStatus.RESOLVED, opened_at=at,
                   updated_at=at, acknowledged_by="ana" if acked else None,
                   recurrence_of=recurrence_of)
    members = []
    for t in types:
        name, entity = t.split("@")
        sig = Signal(id=f"{t}#{idx}", source="am",
                     fingerprint=alert(name, entity, at).fingerprint, name=name,
                     entity=entity, starts_at=at, last_seen=at)
        members.append(IncidentMember(incident_id=inc.id, signal=sig, joined_at=at))
    return inc, members


def test_recurring_incidents_cluster_by_signature() -> None:
    data = [
        _incident(0, ["DiskFull@db", "HighLatency@api", "HighLatency@web"]),
        _incident(1, ["CertExpiring@web"]),
        _incident(2, ["DiskFull@db", "HighLatency@api", "HighLatency@web"]),
        _incident(3, ["DiskFull@db", "HighLatency@api"]),
        _incident(4, ["QueueStuck@billing"], recurrence_of="inc-1"),
    ]
    found = recurring_incidents([i for i, _ in data], {i.id: ms for i, ms in data})
    assert [(r.count, r.incident_ids) for r in found] == [
        (3, ["inc-0", "inc-2", "inc-3"]), (2, ["inc-1", "inc-4"])]
    assert found[0].mean_interval_hours == 36.0


def test_idle_alerts_never_reach_an_acted_incident() -> None:
    history = [alert("HighGCPause", "api", T0 + timedelta(hours=h)) for h in range(5)]
    history += [alert("ServiceDown", "api", T0 + timedelta(hours=h)) for h in range(5)]
    history += [alert("RareThing", "api", T0)]
    data = [_incident(0, ["HighGCPause@api"]),
            _incident(1, ["ServiceDown@api", "HighGCPause@api"], acked=True)]
    # Every HighGCPause@api firing shares one fingerprint, and one of them was acted on.
    found = idle_alerts(history, [i for i, _ in data], {i.id: ms for i, ms in data})
    assert found == []
    data = [_incident(0, ["HighGCPause@api"]), _incident(1, ["ServiceDown@api"], acked=True)]
    found = idle_alerts(history, [i for i, _ in data], {i.id: ms for i, ms in data})
    assert [(a.type_key, a.count, a.in_incidents) for a in found] == [("HighGCPause@api", 5, 5)]
