import json
from datetime import UTC, datetime, timedelta

from opscope.analyze.logs.sessions import SessionDetector, SessionDetectorConfig, SessionModel
from opscope.model import LogRecord

NORMAL = [["open", "write", "write", "close"], ["open", "write", "close"],
          ["open", "read", "close"]] * 20
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def lines(block: int, events: list[str], at: datetime, entity: str = "hdfs"
          ) -> list[LogRecord]:
    """One session's lines, a second apart from ``at``: its key is ``blk_<block>``."""
    return [LogRecord(ts=at + timedelta(seconds=i), message=f"{e} blk_{block}", template_id=e,
                      entity=entity) for i, e in enumerate(events)]


def trained_on_normal(detector: SessionDetector, spacing: float) -> None:
    """Feed the normal sessions, ``spacing`` seconds apart, and close them all."""
    for n, session in enumerate(NORMAL):
        detector.observe(lines(n, session, T0 + timedelta(seconds=n * spacing)))
    detector.flush()


def test_model_explains_abnormal_sessions() -> None:
    model = SessionModel().fit(NORMAL)
    assert model.required == ["close", "open"]
    assert not model.score(["open", "write", "close"]).abnormal
    missing = model.score(["open", "write"])
    assert missing.abnormal and any("missing" in r for r in missing.reasons)
    unknown = model.score(["open", "delete", "close"])
    assert unknown.abnormal and any("unexpected events" in r for r in unknown.reasons)
    order = model.score(["close", "write", "open"])
    assert order.abnormal and any("order" in r for r in order.reasons)
    counts = model.score(["open", "write", "close", "open", "write", "write", "close"])
    assert counts.abnormal


def test_a_lone_line_is_judged_by_its_place_not_by_its_template() -> None:
    # Sessions of one line (an access log with a fresh request id per line) say nothing
    # about order; a new template there is left to the new-template detector.
    lone = SessionModel().fit([["get"], ["post"]] * 30)
    assert not lone.score(["delete"]).abnormal
    assert lone.score(["get", "delete"]).abnormal
    # Where normal sessions have companions, a lone line still misses them.
    model = SessionModel().fit(NORMAL)
    alone = model.score(["delete"])
    assert alone.abnormal and alone.missing == ["close", "open"] and not alone.unknown
    truncated = model.score(["open"])
    assert truncated.abnormal and truncated.missing == ["close"]


def test_model_round_trip() -> None:
    model = SessionModel().fit(NORMAL)
    restored = SessionModel.from_json(json.loads(json.dumps(model.to_json())))
    assert restored.to_json() == model.to_json()


def test_streaming_detector_trains_then_flags() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    detector = SessionDetector(SessionDetectorConfig(idle_seconds=30, train_sessions=60))
    records = []
    for n, session in enumerate([*NORMAL, ["open", "write"], ["open", "read", "close"]]):
        for i, event in enumerate(session):
            ts = t0 + timedelta(seconds=n * 100 + i)
            records.append(LogRecord(ts=ts, message=f"{event} for blk_{n}", template_id=event,
                                     entity="hdfs"))
    found = detector.observe(records)
    found += detector.flush()
    assert [a.evidence["session"] for a in found] == ["blk_60"]
    anomaly = found[0]
    assert anomaly.subject.startswith("session-pattern-")
    assert anomaly.kind == "log_session"
    assert anomaly.ts == t0 + timedelta(seconds=6000)
    assert anomaly.evidence["events"] == ["open", "write"]
    assert anomaly.evidence["examples"] == ["open for blk_60", "write for blk_60"]
    restored = SessionDetector.from_json(json.loads(json.dumps(detector.to_json())))
    assert restored.model is not None and restored.model.required == ["close", "open"]


def test_session_key_from_attribute_first() -> None:
    detector = SessionDetector()
    record = LogRecord(ts=datetime(2024, 1, 1, tzinfo=UTC), message="x blk_1",
                       attributes={"trace_id": "abc"})
    assert detector.key_of(record) == "abc"
    plain = LogRecord(ts=datetime(2024, 1, 1, tzinfo=UTC), message="GET req-1234abcd-99ef ok")
    assert detector.key_of(plain) == "req-1234abcd-99ef"


def test_sessions_that_break_alike_share_one_subject() -> None:
    from opscope.analyze.logs.sessions import abnormality_of

    same = abnormality_of(["missing events ['close']"])
    assert same == abnormality_of(["missing events ['close']"])
    assert same != abnormality_of(["unexpected events ['crash']"])


def test_a_burst_of_sessions_failing_alike_is_reported_once_per_window() -> None:
    detector = SessionDetector(SessionDetectorConfig(idle_seconds=5, train_sessions=60,
                                                     repeat_seconds=60))
    trained_on_normal(detector, spacing=10)
    start = T0 + timedelta(hours=1)

    def broken(n: int, at: float, entity: str = "hdfs") -> list[LogRecord]:
        return lines(1000 + n, ["open", "write"], start + timedelta(seconds=at), entity)

    burst = [r for n in range(50) for r in broken(n, n * 0.5)]
    burst += broken(99, 3, entity="other")  # another entity is its own signal
    found = detector.observe(burst) + detector.flush()
    assert [(a.entity, a.evidence["similar_sessions"]) for a in found] == [
        ("hdfs", 0), ("other", 0)]
    assert detector.held_back == 49
    later = detector.observe(broken(200, 120)) + detector.flush()
    assert [a.evidence["similar_sessions"] for a in later] == [49]
    restored = SessionDetector.from_json(json.loads(json.dumps(detector.to_json())))
    assert restored.held_back == 49 and restored.observe(broken(300, 125)) + restored.flush() == []


def test_a_way_of_breaking_that_recurs_in_normal_operation_is_reported_only_on_a_surge() -> None:
    detector = SessionDetector(SessionDetectorConfig(idle_seconds=5, train_sessions=60))
    trained_on_normal(detector, spacing=10)
    start = T0 + timedelta(hours=1)

    def broken(n: int, at: float) -> list[LogRecord]:
        return lines(5000 + n, ["open", "write"], start + timedelta(seconds=at))

    # One session breaks this way every ten minutes, for two hours: the first three
    # windows are reported, then it is part of normal life and stays quiet.
    sporadic = [detector.observe(broken(k, k * 600)) + detector.flush() for k in range(12)]
    assert [len(found) for found in sporadic] == [1, 1, 1] + [0] * 9
    assert detector.known_patterns == 9
    # Then thirty within a minute: the first opens a window (its rate since the last one
    # is low), the other 29 are held back, and the burst is reported when the window ends.
    base = 12 * 600
    burst = [r for k in range(30) for r in broken(100 + k, base + k * 2)]
    found = detector.observe(burst) + detector.flush()
    found += detector.observe(broken(200, base + 70)) + detector.flush()
    assert [a.evidence["similar_sessions"] for a in found] == [29]


def test_a_verdict_names_events_by_their_template_text() -> None:
    model = SessionModel().fit([["open", "read", "close"]] * 50)
    verdict = model.score(["open", "boom", "close", "read"])
    texts = {"open": "open <*>", "read": "read <*> bytes", "close": "close <*>",
             "boom": "disk <*> failed"}
    said = verdict.describe(texts.get)
    assert said[0] == "unexpected log line \u201cdisk <*> failed\u201d"
    order = "\u201cread <*> bytes\u201d after \u201cclose <*>\u201d, never seen in that order"
    assert order in said
    # Without texts the ids stand in, so nothing is lost when a template is unknown.
    assert verdict.describe()[0] == "unexpected log line boom"


class Merges:
    """Template ids as a miner hands them out: ``moved`` maps merged ids to current ones."""

    def __init__(self) -> None:
        self.moved: dict[str, str] = {}

    def resolve(self, template_id: str) -> str:
        return self.moved.get(template_id, template_id)

    @property
    def merge_count(self) -> int:
        return len(self.moved)


def test_sessions_follow_template_merges_made_after_training() -> None:
    merges = Merges()
    detector = SessionDetector(SessionDetectorConfig(idle_seconds=30, train_sessions=60),
                               templates=merges)

    def session(n: int, events: list[str]) -> list[LogRecord]:
        return lines(n, events, T0 + timedelta(seconds=n * 100))

    records = [r for n, s in enumerate(NORMAL) for r in session(n, s)]
    assert detector.observe(records) == []
    # The miner then merges "write" into the older, more general "put": new lines carry
    # "put", which the model learnt under its old name.
    merges.moved["write"] = "put"
    found = detector.observe(session(60, ["open", "put", "close"])
                             + session(61, ["open", "put", "put", "close"]))
    found += detector.flush()
    assert found == []
    # Without the merges, the same lines read as never seen.
    blind = SessionDetector(SessionDetectorConfig(idle_seconds=30, train_sessions=60))
    blind.observe(records)
    missed = blind.observe(session(60, ["open", "put", "close"])) + blind.flush()
    assert [a.evidence["reasons"][0] for a in missed] == ["unexpected events ['put']"]


def test_a_remapped_model_keeps_its_rules_under_the_new_ids() -> None:
    moved = {"write": "put", "read": "put"}
    model = SessionModel().fit(NORMAL).remapped(lambda e: moved.get(e, e))
    assert "put" in model.events and "write" not in model.events
    assert ("open", "put") in model.transitions
    assert not model.score(["open", "put", "close"]).abnormal
    assert model.score(["open", "put"]).abnormal  # "close" is still required
