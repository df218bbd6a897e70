from datetime import UTC, datetime

import pytest

from opscope.analyze.logs.header import HeaderParser, parse_timestamp
from opscope.errors import ValidationFailed
from opscope.model import Level

REF = datetime(2024, 1, 1, tzinfo=UTC)

# Lines shaped like real senders' output (values made up).
CASES = [
    ("Mar  3 04:05:06 web-01 sshd[2211]: Failed password for root from 10.1.1.1 port 22 ssh2",
     "rfc3164", "Failed password for root from 10.1.1.1 port 22 ssh2", Level.UNKNOWN,
     "web-01", "sshd", "2211", datetime(2024, 3, 3, 4, 5, 6, tzinfo=UTC)),
    ("<35>1 2024-05-06T07:08:09.5Z db-2 postgres 4242 ID47 - connection refused",
     "rfc5424", "connection refused", Level.ERROR, "db-2", "postgres", "4242",
     datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
    ("2024-02-01 10:11:12,345 - WARN  [main:QuorumPeer@123] - Slow fsync took 2000ms",
     "iso-level-bracket", "Slow fsync took 2000ms", Level.WARNING, "", "main:QuorumPeer@123",
     "", datetime(2024, 2, 1, 10, 11, 12, 345000, tzinfo=UTC)),
    ("2024-02-01 10:11:12,345 INFO [main] org.app.Server: Started in 3 s",
     "iso-level-bracket", "org.app.Server: Started in 3 s", Level.INFO, "", "main", "",
     datetime(2024, 2, 1, 10, 11, 12, 345000, tzinfo=UTC)),
    ("240201 101112 77 INFO dfs.DataNode: Receiving block blk_1",
     "short-date-pid", "Receiving block blk_1", Level.INFO, "", "dfs.DataNode", "77",
     datetime(2024, 2, 1, 10, 11, 12, tzinfo=UTC)),
    ("24/02/01 10:11:12 ERROR executor.Executor: Exception in task 1.0",
     "slash-date", "Exception in task 1.0", Level.ERROR, "", "executor.Executor", "",
     datetime(2024, 2, 1, 10, 11, 12, tzinfo=UTC)),
    ("02-01 10:11:12.345  1702  2395 W PowerManager: wake lock held too long",
     "logcat", "wake lock held too long", Level.WARNING, "", "PowerManager", "1702",
     datetime(2024, 2, 1, 10, 11, 12, 345000, tzinfo=UTC)),
    ("[Thu Feb 01 10:11:12 2024] [error] [client 10.0.0.9] File does not exist: /var/www/x",
     "apache", "[client 10.0.0.9] File does not exist: /var/www/x", Level.ERROR, "", "", "",
     datetime(2024, 2, 1, 10, 11, 12, tzinfo=UTC)),
]


@pytest.mark.parametrize(("line", "shape", "content", "level", "host", "component", "pid",
                          "ts"), CASES)
def test_detects_common_headers(line: str, shape: str, content: str, level: Level, host: str,
                                component: str, pid: str, ts: datetime) -> None:
    parsed = HeaderParser(reference=REF).parse(line)
    assert parsed.shape == shape
    assert parsed.content == content
    assert parsed.level is level
    assert parsed.host == host
    assert parsed.component == component
    assert parsed.pid == pid
    assert parsed.ts == ts


def test_unknown_shape_is_all_content() -> None:
    parsed = HeaderParser().parse("just some text without a header")
    assert parsed.content == "just some text without a header"
    assert parsed.ts is None and parsed.shape == ""


def test_year_less_timestamp_needs_a_reference() -> None:
    parsed = HeaderParser().parse("Mar  3 04:05:06 web-01 cron[1]: run")
    assert parsed.ts is None and parsed.content == "run"


def test_explicit_layout() -> None:
    parser = HeaderParser("<Date> <Time> <Level> <Component>: <Content>")
    parsed = parser.parse("2024-02-01 10:11:12 WARN disk.Monitor: usage at 91%")
    assert parsed.content == "usage at 91%"
    assert parsed.level is Level.WARNING
    assert parsed.component == "disk.Monitor"
    assert parsed.ts == datetime(2024, 2, 1, 10, 11, 12, tzinfo=UTC)


def test_layout_needs_content() -> None:
    with pytest.raises(ValidationFailed):
        HeaderParser("<Date> <Time>")


def test_epoch_timestamps() -> None:
    assert parse_timestamp("1700000000") == datetime.fromtimestamp(1700000000, UTC)
    assert parse_timestamp("not a time") is None


@pytest.mark.parametrize("content", [
    "Error reading message prefix on socket",
    "[PhoneIntfMgr] getDataEnabled: subId=1",
    "Warning: disk almost full",
])
def test_plain_content_is_left_alone(content: str) -> None:
    assert HeaderParser().parse(content).content == content


def test_level_first_lines() -> None:
    parsed = HeaderParser().parse("ERROR: cannot bind port 80")
    assert parsed.level is Level.ERROR and parsed.content == "cannot bind port 80"
    bracketed = HeaderParser().parse("[warn] low memory")
    assert bracketed.level is Level.WARNING and bracketed.content == "low memory"
