from datetime import UTC, datetime
from pathlib import Path

import pytest

from opscope.collect.tickets import parse_tickets_csv
from opscope.errors import PayloadTooLarge

FIXTURE = Path(__file__).parent.parent / "fixtures" / "collect" / "tickets.csv"


def test_tickets_csv() -> None:
    result = parse_tickets_csv(FIXTURE.read_text(encoding="utf-8"))
    first, second, third, sixth = result.items
    assert first.id == "INC-1001"
    assert first.description == "p99 latency 3.4s on checkout, users see timeouts"
    assert (first.status, first.priority, first.entity) == ("resolved", "P1", "checkout")
    assert first.created_at == datetime(2026, 11, 20, 10, 2, tzinfo=UTC)
    assert first.resolved_at == datetime(2026, 11, 20, 11, 15, tzinfo=UTC)
    assert first.resolution == "Rolled back payment client 2.3.1"
    assert first.labels == {"assignee": "alice", "customer_impact": "high"}
    assert second.resolved_at is None and second.description == ""
    assert second.created_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert second.labels == {"assignee": "bob"}
    assert third.title == 'Disk full on "orders-db"'
    assert third.description == "Multi-line\ndescription"
    assert third.created_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    # a resolved_at before created_at is not refused by the model; kept as exported
    assert sixth.id == "INC-1006"
    # line numbers count the header and the two lines of the quoted description
    assert [(p.index, p.field) for p in result.problems] == [(6, "title"), (7, "created_at")]


def test_header_names_are_normalised() -> None:
    text = "ID, Title ,Created-At,Resolved At\nT-1,x,2026-01-01,\n"
    [ticket] = parse_tickets_csv(text).items
    assert ticket.id == "T-1" and ticket.resolved_at is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("id,title\n1,x\n", "created_at"),
        ("id,title,created_at,id\n", "twice"),
        ("id,title,created_at,\n", "no name"),
    ],
)
def test_bad_headers_reject_the_file(text: str, message: str) -> None:
    result = parse_tickets_csv(text)
    assert result.items == []
    assert message in result.problems[0].message


def test_too_many_cells_and_malformed_csv() -> None:
    result = parse_tickets_csv("id,title,created_at\n1,a,2026-01-01,extra\n2,b,2026-01-01\n")
    assert [t.id for t in result.items] == ["2"]
    assert [(p.index, p.field) for p in result.problems] == [(2, "$")]
    broken = parse_tickets_csv('id,title,created_at\n1,"a"b,2026-01-01\n')
    assert broken.items == [] and "malformed CSV" in broken.problems[0].message


def test_row_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_tickets_csv("id,title,created_at\n1,a,2026-01-01\n2,b,2026-01-01\n", max_rows=1)
