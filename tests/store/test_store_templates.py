"""Log template statistics in both stores: what analysis writes, what reads see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from store_backends import AnyStore

from opscope.errors import ValidationFailed
from opscope.model import LogRecord
from opscope.store.ports import LogQuery, TemplateQuery, TimeRange

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _log(second: float, message: str, entity: str = "web", level: str = "info",
         source: str = "") -> LogRecord:
    return LogRecord(ts=T0 + timedelta(seconds=second), message=message, entity=entity,
                     level=level, source=source)


def _analysed(store: AnyStore, after: int, tid_of: dict[str, str]) -> list[
        tuple[int, LogRecord]]:
    """Stored rows after ``after`` with a template by their first word, params the rest."""
    out = []
    for seq, record in store.logs_after(after, 1000):
        first, *rest = record.message.split()
        out.append((seq, record.model_copy(update={"template_id": tid_of[first],
                                                   "params": rest})))
    return out


TIDS = {"login": "Tlogin", "logout": "Tlogout", "disk": "Tdisk"}
TEXTS = {"Tlogin": "login <*>", "Tlogout": "logout <*>", "Tdisk": "disk <*> full"}


@pytest.fixture
def filled(store: AnyStore) -> AnyStore:
    """login: 6 lines on web (4 in the first minute), 2 on api; logout 3; disk 1 error."""
    store.append_logs([_log(0, "login alice"), _log(10, "login bob"), _log(20, "login carol"),
                       _log(30, "login alice"), _log(70, "login dave"), _log(130, "login erin"),
                       _log(5, "login x", entity="", source="api-src"),
                       _log(65, "login y", entity="api")])
    store.append_logs([_log(40, "logout alice"), _log(50, "logout bob"),
                       _log(3600, "logout carol", entity="api"),
                       _log(3700, "disk sda full", level="error")])
    rows = _analysed(store, 0, TIDS)
    store.record_log_analysis(rows[-1][0], rows, TEXTS, {})
    return store


def test_logs_after_returns_committed_rows_in_seq_order(store: AnyStore) -> None:
    store.append_logs([_log(5, "b"), _log(1, "a")])
    store.append_logs([_log(3, "c", level="warning")])
    rows = store.logs_after(0, 10)
    assert [seq for seq, _ in rows] == [1, 2, 3]
    assert [r.message for _, r in rows] == ["b", "a", "c"]
    assert rows[2][1].level == "warning" and rows[2][1].ts == T0 + timedelta(seconds=3)
    assert [seq for seq, _ in store.logs_after(1, 1)] == [2]
    assert store.log_analysis_mark() == (0, 3)


def test_assignments_show_on_log_rows_and_filter_by_template(filled: AnyStore) -> None:
    assert filled.log_analysis_mark() == (12, 12)
    page = filled.query_logs(LogQuery(template_id="Tlogout"))
    assert sorted(r["message"] for r in page.items) == ["logout alice", "logout bob",
                                                         "logout carol"]
    assert {tuple(r["params"]) for r in page.items} == {("alice",), ("bob",), ("carol",)}
    assert len(filled.query_logs(LogQuery(template_id="Tlogin")).items) == 8


def test_unanalysed_rows_have_no_template(store: AnyStore) -> None:
    store.append_logs([_log(0, "login a"), _log(1, "login b")])
    rows = _analysed(store, 0, TIDS)[:1]
    store.record_log_analysis(1, rows, TEXTS, {})
    items = {r["message"]: r for r in store.query_logs(LogQuery()).items}
    assert items["login a"]["template_id"] == "Tlogin"
    assert items["login b"]["template_id"] is None and items["login b"]["params"] == []
    assert store.log_analysis_mark() == (1, 2)


def test_template_list_counts_levels_and_sorts(filled: AnyStore) -> None:
    items = filled.query_log_templates(TemplateQuery())
    assert [i["template_id"] for i in items] == ["Tlogin", "Tlogout", "Tdisk"]
    login = items[0]
    assert login["count"] == 8 and login["entities"] == 3
    assert login["template"] == "login <*>"
    assert login["first_seen"] == "2024-03-01T12:00:00Z"
    assert login["last_seen"] == "2024-03-01T12:02:10Z"
    assert login["levels"] == {"info": 8}
    assert login["examples"] == ["login alice", "login bob", "login carol", "login dave",
                                 "login erin"]
    assert items[2]["levels"] == {"error": 1}
    by_recent = filled.query_log_templates(TemplateQuery(sort="last_seen"))
    assert [i["template_id"] for i in by_recent] == ["Tdisk", "Tlogout", "Tlogin"]
    assert [i["template_id"] for i in filled.query_log_templates(
        TemplateQuery(limit=1, offset=1))] == ["Tlogout"]


def test_entity_text_and_time_filters(filled: AnyStore) -> None:
    api = filled.query_log_templates(TemplateQuery(entity="api"))
    assert {i["template_id"]: i["count"] for i in api} == {"Tlogin": 1, "Tlogout": 1}
    # A line without an entity counts under its source.
    src = filled.query_log_templates(TemplateQuery(entity="api-src"))
    assert [(i["template_id"], i["count"]) for i in src] == [("Tlogin", 1)]
    assert [i["template_id"] for i in filled.query_log_templates(
        TemplateQuery(text="OUT"))] == ["Tlogout"]
    # Read at minute resolution: a start inside a minute takes that minute whole.
    first_minute = filled.query_log_templates(TemplateQuery(time=TimeRange(
        T0 + timedelta(seconds=30), T0 + timedelta(seconds=60))))
    assert {i["template_id"]: i["count"] for i in first_minute} == {"Tlogin": 5,
                                                                      "Tlogout": 2}


def test_buckets_per_template(filled: AnyStore) -> None:
    items = filled.query_log_templates(TemplateQuery(bucket_seconds=120))
    login = next(i for i in items if i["template_id"] == "Tlogin")
    assert login["buckets"] == [{"ts": "2024-03-01T12:00:00Z", "count": 7},
                                {"ts": "2024-03-01T12:02:00Z", "count": 1}]
    with pytest.raises(ValidationFailed):
        filled.query_log_templates(TemplateQuery(bucket_seconds=90))
    with pytest.raises(ValidationFailed):
        filled.query_log_templates(TemplateQuery(sort="name"))


def test_counts_accumulate_across_batches(filled: AnyStore) -> None:
    filled.append_logs([_log(15, "login zoe"), _log(4000, "disk sdb full", level="error")])
    rows = _analysed(filled, 12, TIDS)
    filled.record_log_analysis(rows[-1][0], rows, TEXTS, {})
    counts = {i["template_id"]: i["count"] for i in filled.query_log_templates(TemplateQuery())}
    assert counts == {"Tlogin": 9, "Tlogout": 3, "Tdisk": 2}
    disk = filled.get_log_template("Tdisk", TemplateQuery())
    assert disk is not None
    assert disk["examples"] == ["disk sda full", "disk sdb full"]


def test_detail_has_entities_buckets_and_recent_lines(filled: AnyStore) -> None:
    detail = filled.get_log_template("Tlogin", TemplateQuery(bucket_seconds=60))
    assert detail is not None
    assert detail["count"] == 8 and detail["levels"] == {"info": 8}
    assert [(e["entity"], e["count"]) for e in detail["entities"]] == [
        ("web", 6), ("api", 1), ("api-src", 1)]
    assert detail["buckets"] == [{"ts": "2024-03-01T12:00:00Z", "count": 5},
                                 {"ts": "2024-03-01T12:01:00Z", "count": 2},
                                 {"ts": "2024-03-01T12:02:00Z", "count": 1}]
    web = detail["entities"][0]
    assert [b["count"] for b in web["buckets"]] == [4, 1, 1]
    assert detail["recent"][0]["message"] == "login erin"
    assert detail["recent"][0]["params"] == ["erin"]
    only_api = filled.get_log_template("Tlogin", TemplateQuery(entity="api"))
    assert only_api is not None and only_api["count"] == 1
    assert [r["message"] for r in only_api["recent"]] == ["login y"]
    assert filled.get_log_template("Tnothing", TemplateQuery()) is None


def test_merged_templates_resolve_everywhere(filled: AnyStore) -> None:
    # Tlogout is folded into Tlogin: its earlier rows and counts now belong to Tlogin.
    filled.record_log_analysis(12, [], {}, {"Tlogout": "Tlogin"})
    counts = {i["template_id"]: i["count"] for i in filled.query_log_templates(TemplateQuery())}
    assert counts == {"Tlogin": 11, "Tdisk": 1}
    assert len(filled.query_logs(LogQuery(template_id="Tlogin")).items) == 11
    detail = filled.get_log_template("Tlogout", TemplateQuery())
    assert detail is not None
    assert detail["template_id"] == "Tlogin" and detail["merged"] == ["Tlogout"]
    assert detail["count"] == 11


def test_a_merge_recorded_with_new_lines_of_the_keeper(store: AnyStore) -> None:
    store.append_logs([_log(0, "login a"), _log(1, "logout b")])
    store.record_log_analysis(2, _analysed(store, 0, TIDS), TEXTS, {})
    store.append_logs([_log(2, "logout c")])
    # The miner generalised Tlogin to cover logout lines and folded Tlogout into it.
    rows = _analysed(store, 2, {"logout": "Tlogin"})
    store.record_log_analysis(3, rows, {"Tlogin": "<*> <*>"}, {"Tlogout": "Tlogin"})
    items = store.query_log_templates(TemplateQuery())
    assert [(i["template_id"], i["template"], i["count"]) for i in items] == [
        ("Tlogin", "<*> <*>", 3)]
    assert items[0]["examples"] == ["login a", "logout c"]
    assert len(store.query_logs(LogQuery(template_id="Tlogin")).items) == 3
