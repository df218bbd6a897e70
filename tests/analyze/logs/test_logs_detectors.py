import json
from datetime import UTC, datetime, timedelta

from opscope.analyze.logs.new_template import NewTemplateConfig, NewTemplateDetector
from opscope.analyze.logs.rates import LevelSurgeDetector, RateConfig, TemplateRateDetector
from opscope.model import Level, LogRecord

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rec(seconds: float, tid: str, entity: str = "api", level: Level = Level.INFO,
        message: str = "") -> LogRecord:
    return LogRecord(ts=T0 + timedelta(seconds=seconds), message=message or f"line {tid}",
                     entity=entity, level=level, template_id=tid)


def test_new_template_after_warmup_only() -> None:
    detector = NewTemplateDetector(NewTemplateConfig(warmup_seconds=600, warmup_lines=5),
                                   template_text=lambda tid: f"text of {tid}")
    early = detector.observe([rec(i * 10, "A") for i in range(5)] + [rec(60, "B")])
    assert early == []
    late = detector.observe([rec(700, "A"), rec(710, "C"), rec(720, "C")])
    assert [a.subject for a in late] == ["C"]
    anomaly = late[0]
    assert anomaly.kind == "log_new_template"
    assert anomaly.ts == T0 + timedelta(seconds=710)
    assert anomaly.evidence["template"] == "text of C"
    assert anomaly.evidence["examples"] == ["line C"]
    assert anomaly.evidence["level"] == "info"


def test_new_template_state_round_trip() -> None:
    detector = NewTemplateDetector(NewTemplateConfig(warmup_seconds=0, warmup_lines=1))
    detector.observe([rec(0, "A")])
    restored = NewTemplateDetector.from_json(json.loads(json.dumps(detector.to_json())))
    assert restored.observe([rec(5, "A")]) == []
    assert [a.subject for a in restored.observe([rec(6, "B")])] == ["B"]


def _steady(detector: TemplateRateDetector, buckets: int, per_bucket: int,
            tid: str = "A") -> list[LogRecord]:
    return [rec(b * 60 + i * (60 / per_bucket), tid)
            for b in range(buckets) for i in range(per_bucket)]


def test_template_surge_and_disappearance() -> None:
    cfg = RateConfig(bucket_seconds=60, min_history=10, lateness_buckets=0)
    detector = TemplateRateDetector(cfg)
    assert detector.observe(_steady(detector, 30, 10)) == []
    # Bucket 30 carries ten times the usual count.
    surge = detector.observe([rec(30 * 60 + i * 0.5, "A") for i in range(100)]
                             + [rec(30 * 60 + 59, "B")])
    assert len(surge) == 1
    assert surge[0].direction == "up" and surge[0].value == 100
    assert surge[0].upper is not None and surge[0].upper < 100
    assert surge[0].ts == T0 + timedelta(minutes=30)
    assert len(surge[0].evidence["examples"]) == 3
    # Back to normal for a while, then template A stops while B keeps time moving.
    detector.observe([rec(31 * 60 + b * 60 + i * 6, "A") for b in range(10) for i in range(10)])
    quiet = detector.observe([rec(41 * 60 + b * 60, "B") for b in range(5)])
    drops = [a for a in quiet if a.subject == "A"]
    assert len(drops) == 1 and drops[0].direction == "down" and drops[0].value == 0


def test_seasonal_profile_expects_a_daily_peak() -> None:
    cfg = RateConfig(bucket_seconds=3600, season_seconds=86_400, season_slots=24,
                     min_history=24, lateness_buckets=0, slot_alpha=0.5)
    detector = TemplateRateDetector(cfg)
    records = []
    for day in range(6):
        for hour in range(24):
            count = 200 if hour == 9 else 20
            start = (day * 24 + hour) * 3600
            records += [rec(start + i * (3600 / count), "A") for i in range(count)]
    anomalies = detector.observe(records)
    # The 9 o'clock peak is alarming on the first days only, then it is expected.
    late_days = [a for a in anomalies if a.ts >= T0 + timedelta(days=3)]
    assert late_days == []


def test_error_surge_per_entity() -> None:
    cfg = RateConfig(bucket_seconds=60, min_history=5, lateness_buckets=0)
    detector = LevelSurgeDetector(cfg)
    calm = [rec(b * 60 + 1, "A", level=Level.ERROR) for b in range(10)]
    calm += [rec(b * 60 + 2, "A", entity="db", level=Level.ERROR) for b in range(10)]
    assert detector.observe(calm) == []
    storm = [rec(600 + i, "A", level=Level.ERROR) for i in range(40)]
    storm += [rec(600 + i, "A", level=Level.INFO) for i in range(40)]
    found = detector.observe([*storm, rec(660, "A", entity="db", level=Level.ERROR)])
    assert [(a.entity, a.subject, a.direction) for a in found] == [("api", "error lines", "up")]
    state = json.loads(json.dumps(detector.to_json()))
    assert LevelSurgeDetector.from_json(state).to_json() == detector.to_json()
