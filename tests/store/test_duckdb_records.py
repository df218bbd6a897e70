"""Tickets, changes, anomalies, topology and tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from store_backends import AnyStore, Stores
from store_clock import T0, ManualClock

from opscope.errors import ValidationFailed
from opscope.model import Anomaly, Change, Entity, Relation, RelationKind, Ticket
from opscope.store.ports import RecordQuery, TimeRange


def ticket(id: str, hours: int = 0, **kw: Any) -> Ticket:
    return Ticket(id=id, title=kw.pop("title", f"ticket {id}"),
                  created_at=T0 + timedelta(hours=hours), **kw)


def test_tickets_upsert_by_id(store: AnyStore, clock: ManualClock) -> None:
    first = store.upsert_tickets([ticket("INC-1", entity="checkout"), ticket("INC-2", 1)])
    assert (first.inserted, first.updated) == (2, 0)
    clock.advance(3600)
    again = store.upsert_tickets([
        ticket("INC-1", status="in_progress"),
        ticket("INC-1", status="resolved", resolution="restarted pods",
               resolved_at=T0 + timedelta(hours=2), entity="checkout"),
        ticket("INC-3", 2, title="Disk full on db-1", priority="p1"),
    ])
    assert (again.inserted, again.updated) == (1, 1)
    items = store.query_tickets(RecordQuery()).items
    assert [t["id"] for t in items] == ["INC-3", "INC-2", "INC-1"]
    inc1 = items[2]
    assert inc1["status"] == "resolved" and inc1["resolution"] == "restarted pods"
    assert inc1["resolved_at"] == "2024-03-01T14:00:00Z"
    assert inc1["updated_at"] == "2024-03-01T13:00:00Z"


@pytest.fixture(scope="module")
def tickets(module_stores: Stores) -> AnyStore:
    store = module_stores.open()
    store.upsert_tickets([
        ticket("INC-1", status="resolved", resolution="restarted pods", entity="checkout"),
        ticket("INC-2", 1), ticket("INC-3", 2, title="Disk full on db-1", priority="p1"),
    ])
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RecordQuery(kind="open"), ["INC-3", "INC-2"]),
        (RecordQuery(entity="checkout"), ["INC-1"]),
        (RecordQuery(text="DISK"), ["INC-3"]),
        (RecordQuery(text="pods"), ["INC-1"]),
        (RecordQuery(extra={"priority": "p1"}), ["INC-3"]),
        (RecordQuery(time=TimeRange(T0, T0 + timedelta(hours=2))), ["INC-2", "INC-1"]),
    ],
)
def test_ticket_filters(tickets: AnyStore, query: RecordQuery, expected: list[str]) -> None:
    assert [t["id"] for t in tickets.query_tickets(query).items] == expected


def test_changes_derive_ids_and_skip_repeats(store: AnyStore) -> None:
    deploy = Change(entity="checkout", version="v2", author="ci", ts=T0,
                    description="bump payment client")
    flag = Change(id="FF-9", entity="cart", kind="feature_flag", ts=T0 + timedelta(hours=1))
    assert store.append_changes([deploy, deploy, flag]).inserted == 2
    assert store.append_changes([deploy]).inserted == 0  # a retried batch is not stored twice
    items = store.query_changes(RecordQuery()).items
    assert items[0]["id"] == "FF-9"
    assert len(items) == 2 and items[1]["id"] and items[1]["version"] == "v2"
    assert [c["id"] for c in store.query_changes(RecordQuery(kind="deploy")).items] == [
        items[1]["id"]]
    assert len(store.query_changes(RecordQuery(extra={"author": "ci"})).items) == 1
    assert len(store.query_changes(RecordQuery(text="PAYMENT")).items) == 1


def test_anomalies_append_and_query(store: AnyStore) -> None:
    anomalies = [
        Anomaly(kind="metric", detector="robust_z", entity="checkout", subject="s1", ts=T0,
                score=6.5, value=math_nan(), expected=1.0, evidence={"window": [1, 2]}),
        Anomaly(kind="log_new_template", entity="cart", subject="t-9",
                ts=T0 + timedelta(minutes=1), score=1.0, summary="new template seen"),
        Anomaly(id="a-3", kind="metric", detector="robust_z", entity="cart", subject="s2",
                ts=T0 + timedelta(minutes=2), score=3.0, direction="up"),
    ]
    assert store.append_anomalies(anomalies + anomalies[:1]).inserted == 3
    assert store.append_anomalies(anomalies).inserted == 0

    def ids(query: RecordQuery) -> list[str]:
        return [a["subject"] for a in store.query_anomalies(query).items]

    assert ids(RecordQuery()) == ["s2", "t-9", "s1"]
    assert ids(RecordQuery(kind="metric")) == ["s2", "s1"]
    assert ids(RecordQuery(entity="cart")) == ["s2", "t-9"]
    assert ids(RecordQuery(extra={"min_score": "3"})) == ["s2", "s1"]
    assert ids(RecordQuery(extra={"detector": "robust_z", "direction": "up"})) == ["s2"]
    assert ids(RecordQuery(text="TEMPLATE")) == ["t-9"]
    assert ids(RecordQuery(time=TimeRange(end=T0 + timedelta(minutes=1)))) == ["s1"]
    first = store.query_anomalies(RecordQuery(kind="metric", limit=1))
    assert first.next_cursor is not None
    rest = store.query_anomalies(RecordQuery(kind="metric", cursor=first.next_cursor))
    assert [a["subject"] for a in first.items + rest.items] == ["s2", "s1"]
    s1 = rest.items[0]
    assert s1["value"] is None and s1["expected"] == 1.0
    assert s1["evidence"] == {"window": [1, 2]} and s1["ts"] == "2024-03-01T12:00:00Z"


def math_nan() -> float:
    return float("nan")


@pytest.mark.parametrize(
    ("method", "query", "field"),
    [
        ("query_tickets", RecordQuery(extra={"color": "red"}), "extra.color"),
        ("query_changes", RecordQuery(extra={"priority": "p1"}), "extra.priority"),
        ("query_anomalies", RecordQuery(extra={"min_score": "high"}), "extra.min_score"),
        ("query_anomalies", RecordQuery(cursor="x"), "cursor"),
        ("query_tickets", RecordQuery(limit=-1), "limit"),
    ],
)
def test_bad_record_queries(store: AnyStore, method: str, query: RecordQuery,
                            field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        getattr(store, method)(query)
    assert err.value.problems[0]["field"] == field


def test_topology_upserts(store: AnyStore, clock: ManualClock) -> None:
    result = store.upsert_topology(
        [Entity(id="checkout"), Entity(id="db-1", kind="database")],
        [Relation(source="checkout", target="db-1", kind=RelationKind.DEPENDS_ON),
         Relation(source="checkout", target="db-1", kind=RelationKind.DEPENDS_ON),
         Relation(source="checkout", target="cart")],
    )
    assert (result.inserted, result.updated) == (4, 0)
    clock.advance(60)
    result = store.upsert_topology(
        [Entity(id="checkout", name="Checkout", labels={"tier": "1"})],
        [Relation(source="checkout", target="cart")],
    )
    assert (result.inserted, result.updated) == (0, 2)
    entities, relations = store.topology()
    assert [(e["id"], e["kind"], e["name"]) for e in entities] == [
        ("checkout", "service", "Checkout"), ("db-1", "database", "")]
    assert entities[0]["labels"] == {"tier": "1"}
    assert [(r["source"], r["target"], r["kind"]) for r in relations] == [
        ("checkout", "cart", "calls"), ("checkout", "db-1", "depends_on")]
    assert relations[0]["updated_at"] == "2024-03-01T12:01:00Z"


def test_tokens(store: AnyStore) -> None:
    store.add_token("tok-1", "sha256:aaa", ["ingest", "read"], "collector")
    store.add_token("tok-2", "sha256:bbb", ["admin"], "ops")
    found = store.find_token("sha256:aaa")
    assert found is not None
    assert (found["token_id"], found["scopes"], found["revoked"]) == (
        "tok-1", ["ingest", "read"], False)
    assert "digest" not in found
    assert store.find_token("sha256:zzz") is None
    with pytest.raises(ValidationFailed) as err:
        store.add_token("tok-1", "sha256:ccc", [], "dup")
    assert err.value.problems[0]["field"] == "token_id"
    with pytest.raises(ValidationFailed) as err:
        store.add_token("tok-3", "sha256:bbb", [], "dup")
    assert err.value.problems[0]["field"] == "digest"
    assert store.revoke_token("tok-1") is True
    assert store.revoke_token("tok-1") is False
    assert store.revoke_token("nope") is False
    assert store.find_token("sha256:aaa") is None
    listed = store.list_tokens()
    assert [(t["token_id"], t["revoked"]) for t in listed] == [("tok-1", True), ("tok-2", False)]
    assert all("digest" not in t for t in listed)
