import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opscope.collect.syslog import SyslogServer, SyslogServerConfig, parse_syslog
from opscope.errors import Overloaded, ValidationFailed
from opscope.model import Level, LogRecord

FIXTURE = Path(__file__).parent.parent / "fixtures" / "collect" / "logger-udp.txt"
RECEIVED = datetime(2026, 11, 26, 20, 0, 36, tzinfo=UTC)
DATAGRAMS = FIXTURE.read_bytes().splitlines()


def test_rfc5424_from_logger() -> None:
    record = parse_syslog(DATAGRAMS[0], RECEIVED)
    assert record.ts == datetime(2026, 11, 26, 20, 0, 35, 925742, tzinfo=UTC)
    assert record.message == "payment gateway timeout after 3000 ms order_id=A-1842 retry=2"
    assert record.level is Level.ERROR  # <131> = local0.err
    assert record.entity == "checkout"
    assert record.source == "syslog"
    assert record.attributes == {
        "facility": "local0", "severity": "err", "host": "vm", "app": "checkout",
        "timeQuality.tzKnown": "1", "timeQuality.isSynced": "0"}


def test_rfc3164_from_logger() -> None:
    record = parse_syslog(DATAGRAMS[1], RECEIVED)
    assert record.ts == datetime(2026, 11, 26, 20, 0, 35, tzinfo=UTC)
    assert record.message == "Accepted publickey for deploy from 10.0.4.17 port 52114 ssh2"
    assert record.level is Level.INFO  # <38> = auth.info
    assert record.entity == "sshd"
    assert record.attributes == {"facility": "auth", "severity": "info", "host": "vm",
                                 "app": "sshd"}


def test_rfc5424_with_structured_data_from_logger() -> None:
    record = parse_syslog(DATAGRAMS[2], RECEIVED)
    assert record.message == "cache miss ratio 0.42 above 0.30"
    assert record.level is Level.WARNING  # <132> = local0.warning
    assert record.entity == "cart"
    assert record.attributes["meta@32473.service"] == "cart"


@pytest.mark.parametrize(
    ("datagram", "level", "message", "attrs"),
    [
        (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
         b'[exampleSDID@32473 iut="3" eventSource="App\\"lication\\]" eventID="1011"]'
         b'[examplePriority@32473 class="high"] \xef\xbb\xbfAn application event',
         Level.INFO, "An application event",
         {"facility": "local4", "severity": "notice", "host": "mymachine.example.com",
          "app": "evntslog", "msgid": "ID47", "exampleSDID@32473.iut": "3",
          "exampleSDID@32473.eventSource": 'App"lication]',
          "exampleSDID@32473.eventID": "1011", "examplePriority@32473.class": "high"}),
        (b"<34>1 - - - - - -", Level.FATAL, "", {"facility": "auth", "severity": "crit"}),
        (b"<34>1 short", Level.FATAL, "short", {"facility": "auth", "severity": "crit"}),
        (b"<13>just text", Level.INFO, "just text", {"facility": "user", "severity": "notice"}),
        (b"<15>sshd[42]: started", Level.DEBUG, "started",
         {"facility": "user", "severity": "debug", "app": "sshd", "procid": "42"}),
        (b"<11>Nov  6 01:02:03 host app[7]: x\n", Level.ERROR, "x",
         {"facility": "user", "severity": "err", "host": "host", "app": "app",
          "procid": "7"}),
        (b"no priority WARN here", Level.WARNING, "no priority WARN here", {}),
        (b"<999>too big", Level.UNKNOWN, "<999>too big", {}),
        (b"<14>bad \xff byte", Level.INFO, "bad \ufffd byte",
         {"facility": "user", "severity": "info"}),
    ],
)
def test_variants(datagram: bytes, level: Level, message: str, attrs: dict[str, str]) -> None:
    record = parse_syslog(datagram, RECEIVED)
    assert (record.level, record.message, record.attributes) == (level, message, attrs)


def test_bsd_timestamps_take_the_year_of_receipt_or_the_one_before() -> None:
    new_year = datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert parse_syslog(b"<14>Dec 31 23:59:59 h a: x", new_year).ts.year == 2026
    assert parse_syslog(b"<14>Jan  1 00:00:01 h a: x", new_year).ts.year == 2027
    assert parse_syslog(b"<14>Feb 29 00:00:01 h a: x", new_year).ts == new_year
    iso = parse_syslog(b"<14>2026-11-26T20:00:35+01:00 h a: x", new_year)
    assert iso.ts == datetime(2026, 11, 26, 19, 0, 35, tzinfo=UTC)
    assert iso.attributes["host"] == "h"


def test_unreadable_5424_timestamp_falls_back_to_receipt() -> None:
    record = parse_syslog(b"<14>1 yesterday h a - - - msg", RECEIVED)
    assert record.ts == RECEIVED and record.attributes["timestamp"] == "yesterday"


@pytest.mark.parametrize("datagram", [b"", b"\n", b"\x00"])
def test_empty_message_is_refused(datagram: bytes) -> None:
    with pytest.raises(ValidationFailed):
        parse_syslog(datagram, RECEIVED)


def test_long_message_is_truncated_and_marked() -> None:
    record = parse_syslog(b"<14>1 - h a - - - " + b"x" * 70_000, RECEIVED)
    assert len(record.message) == 65_536 and record.attributes["truncated"] == "true"


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[LogRecord]] = []
        self.fail_next = 0

    async def __call__(self, batch: list[LogRecord]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise Overloaded("busy", retry_after=0.01)
        self.batches.append(batch)

    @property
    def records(self) -> list[LogRecord]:
        return [r for b in self.batches for r in b]


async def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def _config(**kw: object) -> SyslogServerConfig:
    return SyslogServerConfig(host="127.0.0.1", port=0, max_delay=0.05, **kw)  # type: ignore[arg-type]


def test_udp_datagrams_arrive_in_batches() -> None:
    async def run() -> Sink:
        sink = Sink()
        server = SyslogServer(sink, _config(max_batch=2))
        await server.start()
        await server.start()  # idempotent
        assert server.udp_port and server.tcp_port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in DATAGRAMS:
                sock.sendto(datagram, ("127.0.0.1", server.udp_port))
            sock.sendto(b"", ("127.0.0.1", server.udp_port))
        await _wait_for(lambda: len(sink.records) == 3 and server.failed == 1)
        await server.stop()
        await server.stop()  # idempotent
        assert server.received == 3 and server.dropped == 0
        return sink

    sink = asyncio.run(run())
    assert sorted(r.entity for r in sink.records) == ["cart", "checkout", "sshd"]
    assert len(sink.batches[0]) == 2  # full batch went out without waiting for the delay


def test_tcp_octet_counting_and_newline_framing() -> None:
    async def run() -> tuple[Sink, SyslogServer]:
        sink = Sink()
        server = SyslogServer(sink, _config(udp=False))
        await server.start()
        assert server.udp_port is None and server.tcp_port
        _, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        for datagram in DATAGRAMS[:2]:
            writer.write(b"%d " % len(datagram) + datagram)  # RFC 6587 octet counting
        writer.write(DATAGRAMS[2] + b"\r\n")  # non-transparent framing, split across writes
        writer.write(b"<14>1 - h tail - - - no final newline")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await _wait_for(lambda: server.received == 4)
        await server.stop()
        return sink, server

    sink, server = asyncio.run(run())
    messages = [r.message for r in sink.records]
    assert messages[0].startswith("payment gateway timeout")
    assert messages[1].startswith("Accepted publickey")
    assert messages[2] == "cache miss ratio 0.42 above 0.30"
    assert messages[3] == "no final newline"
    assert server.failed == 0


def test_tcp_oversized_frame_is_counted_and_the_connection_closed() -> None:
    async def run() -> SyslogServer:
        server = SyslogServer(Sink(), _config(udp=False, max_message_bytes=1000))
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(b"5000 " + b"x" * 100)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        await _wait_for(lambda: server.failed == 1)
        await server.stop()
        return server

    assert asyncio.run(run()).received == 0


def test_retryable_ingest_failure_is_retried_and_stop_flushes() -> None:
    async def run() -> Sink:
        sink = Sink()
        sink.fail_next = 1
        server = SyslogServer(sink, SyslogServerConfig(host="127.0.0.1", port=0, tcp=False,
                                                       max_delay=30))
        await server.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(DATAGRAMS[0], ("127.0.0.1", server.udp_port))
        await _wait_for(lambda: server.received == 1)
        await server.stop()  # long before max_delay: stop must flush
        assert server.batcher.failed_batches == 0 and server.batcher.batches == 1
        return sink

    assert len(asyncio.run(run()).records) == 1


def test_port_in_use_is_a_config_error() -> None:
    from opscope.errors import ConfigError

    async def run() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            server = SyslogServer(Sink(), SyslogServerConfig(host="127.0.0.1", port=port,
                                                             tcp=False))
            with pytest.raises(ConfigError):
                await server.start()

    asyncio.run(run())


def test_garbage_over_tcp_does_not_stop_the_server() -> None:
    async def run() -> SyslogServer:
        server = SyslogServer(sink, _config(udp=False))
        await server.start()
        for garbage in (b"12345678 x", b"12a <13>x\n", b"\xff\xfe\x00\n\n\n", b"7 <1"):
            _, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
            writer.write(garbage)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        _, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
        writer.write(b"<14>1 - h app - - - still here\n")
        await writer.drain()
        await _wait_for(lambda: any(r.message == "still here" for r in sink.records))
        writer.close()
        await server.stop()
        return server

    sink = Sink()
    server = asyncio.run(run())
    assert server.failed == 2  # the 8-digit length and the non-numeric length
