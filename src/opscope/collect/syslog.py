"""Syslog: parsing RFC 5424 and RFC 3164 (BSD) messages, and a UDP/TCP receiver.

Parsing is lenient in the way syslog receivers must be: devices send every variant, so
a message that follows neither RFC is kept whole as the message rather than refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.collect.batcher import Ingest, RecordBatcher
from opscope.collect.logs import guess_level
from opscope.errors import ConfigError, OpscopeError, ValidationFailed
from opscope.model import Level, LogRecord

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_SEVERITY_LEVEL = (Level.FATAL, Level.FATAL, Level.FATAL, Level.ERROR, Level.WARNING,
                   Level.INFO, Level.INFO, Level.DEBUG)

MAX_MESSAGE = 65_536
MAX_ATTRIBUTES = 64
_PRI = re.compile(r"<(\d{1,3})>")
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) ([ \d]?\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)? ")
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\S+) ")
_TAG = re.compile(r"([^\s:\[\]]{1,64})(?:\[([^\]\s]{1,128})\])?: ?")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")
log = logging.getLogger(__name__)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Attributes:
    """Attributes within the LogRecord limits: 64 entries, bounded key and value length."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def put(self, key: str, value: str | None) -> None:
        if value is None or value == "-" or len(self.values) >= MAX_ATTRIBUTES:
            return
        self.values[key[:128]] = value[:4096]


def parse_syslog(datagram: bytes, received_at: datetime, *, source: str = "syslog") -> LogRecord:
    """One syslog message (a UDP datagram or one TCP frame) as a LogRecord.

    * PRI gives the level (emerg/alert/crit -> fatal, err -> error, warning, notice/info ->
      info, debug) and the ``facility`` and ``severity`` attributes.
    * RFC 5424: hostname, app-name, procid and msgid become attributes ``host``, ``app``,
      ``procid``, ``msgid``; each structured-data parameter becomes ``<sd-id>.<name>``.
    * RFC 3164: ``Mmm dd hh:mm:ss`` is read in UTC with the year of ``received_at`` (the
      year before if that would put it more than a week in the future); ``tag[pid]:``
      gives ``app`` and ``procid``.
    * ``entity`` is the app name, else the host name. A nil or unreadable timestamp gives
      ``received_at``. Bytes that are not UTF-8 are replaced, not refused.
    * Without a valid PRI the whole text is the message and the level is guessed from it.

    Raises :class:`ValidationFailed` only for an empty message.
    """
    text = datagram.decode("utf-8", errors="replace").rstrip("\r\n\x00")
    if not text.strip():
        raise ValidationFailed("empty syslog message",
                               [{"index": None, "field": "$", "message": "empty message"}])
    received = _utc(received_at)
    attrs = _Attributes()
    match = _PRI.match(text)
    if match is None or int(match.group(1)) > 191:
        message = text[:MAX_MESSAGE]
        return LogRecord(ts=received, message=message, source=source, level=guess_level(message))
    pri = int(match.group(1))
    facility, severity = divmod(pri, 8)
    attrs.put("facility", FACILITIES[facility])
    attrs.put("severity", SEVERITIES[severity])
    rest = text[match.end():]
    if rest.startswith("1 "):
        ts, message = _parse_5424(rest[2:], received, attrs)
    else:
        ts, message = _parse_3164(rest, received, attrs)
    values = attrs.values
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE]
        attrs.put("truncated", "true")
    return LogRecord(
        ts=ts, message=message, source=source, entity=(values.get("app") or values.get("host")
                                                          or "")[:256],
        level=_SEVERITY_LEVEL[severity], attributes=values,
    )


def _parse_5424(rest: str, received: datetime, attrs: _Attributes) -> tuple[datetime, str]:
    parts = rest.split(" ", 5)
    if len(parts) < 6:
        return received, rest  # header cut short: keep what came as the message
    stamp, host, app, procid, msgid, tail = parts
    ts = received
    if stamp != "-":
        try:
            ts = _utc(datetime.fromisoformat(stamp))
        except ValueError:
            attrs.put("timestamp", stamp[:64])
    for key, value in (("host", host), ("app", app), ("procid", procid), ("msgid", msgid)):
        attrs.put(key, value)
    if tail.startswith("-"):
        message = tail[1:]
    elif tail.startswith("["):
        message = _parse_structured_data(tail, attrs)
    else:
        message = tail
    if message.startswith(" "):
        message = message[1:]
    return ts, message.removeprefix("\ufeff")


def _parse_structured_data(tail: str, attrs: _Attributes) -> str:
    """Read ``[id name="value" ...]...`` into attributes; return the text after it."""
    pos, length = 0, len(tail)
    while pos < length and tail[pos] == "[":
        end_id = pos + 1
        while end_id < length and tail[end_id] not in " ]":
            end_id += 1
        sd_id = tail[pos + 1:end_id]
        pos = end_id
        while pos < length and tail[pos] == " ":
            eq = tail.find("=", pos)
            if eq < 0 or eq + 1 >= length or tail[eq + 1] != '"':
                return tail  # malformed: keep everything as the message
            close = eq + 2
            while close < length and tail[close] != '"':
                close += 2 if tail[close] == "\\" else 1
            if close >= length:
                return tail
            value = _SD_ESCAPE.sub(r"\1", tail[eq + 2:close])
            attrs.put(f"{sd_id}.{tail[pos + 1:eq]}", value)
            pos = close + 1
        if pos >= length or tail[pos] != "]":
            return tail
        pos += 1
    return tail[pos:]


def _parse_3164(rest: str, received: datetime, attrs: _Attributes) -> tuple[datetime, str]:
    ts = received
    stamped = True
    match = _BSD_TIME.match(rest)
    if match is not None:
        ts = _bsd_time(match, received)
        rest = rest[match.end():]
    elif (iso := _ISO_TIME.match(rest)) is not None:
        try:
            ts = _utc(datetime.fromisoformat(iso.group(1)))
        except ValueError:
            attrs.put("timestamp", iso.group(1)[:64])
        rest = rest[iso.end():]
    else:
        stamped = False
    # After a timestamp comes the host name, unless the sender left it out and the next
    # word is already the tag ("sshd[42]:"), as local senders often do.
    if stamped:
        word, sep, after = rest.partition(" ")
        if sep and word and not word.endswith(":") and "[" not in word:
            attrs.put("host", word)
            rest = after
    tag = _TAG.match(rest)
    if tag is not None:
        attrs.put("app", tag.group(1))
        attrs.put("procid", tag.group(2))
        rest = rest[tag.end():]
    return ts, rest


def _bsd_time(match: re.Match[str], received: datetime) -> datetime:
    month = _MONTHS.get(match.group(1))
    if month is None:
        return received
    try:
        ts = datetime(received.year, month, int(match.group(2)), int(match.group(3)),
                      int(match.group(4)), int(match.group(5)), tzinfo=UTC)
        if ts - received > timedelta(days=7):  # December's message read in January
            ts = ts.replace(year=ts.year - 1)
    except ValueError:  # e.g. Feb 29 in a year without it
        return received
    return ts


class SyslogServerConfig(BaseModel):
    """Where and how the syslog receiver listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=5514, ge=0, le=65535,
                      description="UDP and TCP port; 0 picks a free port for each.")
    udp: bool = Field(default=True, description="Listen for UDP datagrams.")
    tcp: bool = Field(default=True, description="Listen for TCP (octet counting or LF framing).")
    max_batch: int = Field(default=1000, ge=1, le=100_000,
                           description="Records per batch handed to ingest.")
    max_delay: float = Field(default=0.5, gt=0, le=60,
                             description="Seconds a record may wait for its batch to fill.")
    max_message_bytes: int = Field(default=65_536, ge=480, le=1_048_576,
                                   description="Longest accepted message (TCP frame).")
    queue_size: int = Field(default=10_000, ge=1,
                            description="UDP datagrams held while ingest is busy; more drop.")
    source: str = Field(default="syslog", max_length=256, description="LogRecord.source.")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: SyslogServer) -> None:
        self._server = server

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._server._on_datagram(data)


class SyslogServer:
    """Receives syslog over UDP and TCP and hands LogRecords to ``ingest`` in batches.

    Counters: ``received`` (messages parsed), ``failed`` (empty or oversized messages,
    broken frames), ``dropped`` (UDP datagrams that found the queue full); the batcher
    counts ingest failures. ``start`` and ``stop`` are idempotent; ``stop`` flushes.
    """

    def __init__(self, ingest: Ingest[LogRecord], config: SyslogServerConfig | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config or SyslogServerConfig()
        self._clock = clock
        self.batcher: RecordBatcher[LogRecord] = RecordBatcher(
            ingest, self.config.max_batch, self.config.max_delay)
        self.received = 0
        self.failed = 0
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[bytes, datetime] | None] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._running = False

    @property
    def udp_port(self) -> int | None:
        if self._udp is None:
            return None
        return int(self._udp.get_extra_info("sockname")[1])

    @property
    def tcp_port(self) -> int | None:
        if self._tcp is None or not self._tcp.sockets:
            return None
        return int(self._tcp.sockets[0].getsockname()[1])

    async def start(self) -> None:
        if self._running:
            return
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(cfg.queue_size)
        try:
            if cfg.udp:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), local_addr=(cfg.host, cfg.port))
                self._udp = transport
            if cfg.tcp:
                self._tcp = await asyncio.start_server(
                    self._serve_connection, cfg.host, cfg.port,
                    limit=cfg.max_message_bytes + 16)
        except OSError as exc:
            await self._close_listeners()
            raise ConfigError(f"syslog cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc
        self._consumer = asyncio.create_task(self._consume())
        self._running = True

    async def stop(self) -> None:
        """Stop listening, finish queued datagrams, close connections and flush."""
        if not self._running:
            return
        self._running = False
        await self._close_listeners()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._queue is not None and self._consumer is not None:
            await self._queue.put(None)  # after everything already queued
            await self._consumer
        self._consumer = None
        await self.batcher.close()

    async def _close_listeners(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    def _on_datagram(self, data: bytes) -> None:
        if self._queue is None:
            return
        try:
            self._queue.put_nowait((data, self._clock()))
        except asyncio.QueueFull:
            self.dropped += 1  # UDP cannot push back; counted so the loss is visible

    async def _consume(self) -> None:
        assert self._queue is not None
        while (entry := await self._queue.get()) is not None:
            try:
                await self._accept(*entry)
            except Exception:  # one bad datagram must not stop the UDP receiver; counted
                log.exception("syslog datagram could not be handled")
                self.failed += 1

    async def _accept(self, data: bytes, received_at: datetime) -> None:
        if len(data) > self.config.max_message_bytes:
            self.failed += 1
            return
        try:
            record = parse_syslog(data, received_at, source=self.config.source)
        except OpscopeError:
            self.failed += 1
            return
        self.received += 1
        await self.batcher.add(record)

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while (frame := await self._read_frame(reader)) is not None:
                if frame.strip(b"\r\n\x00"):
                    await self._accept(frame, self._clock())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the peer went away mid-frame; what it sent whole is kept
        except (asyncio.LimitOverrunError, ValueError):
            self.failed += 1  # a frame too long or a broken length: the stream is lost
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes | None:
        """One frame: RFC 6587 octet counting (``LEN SP MSG``) or a line ending in LF."""
        first = await reader.read(1)
        if not first:
            return None
        if first.isdigit():
            digits = first + (await reader.readuntil(b" "))[:-1]
            if not digits.isdigit() or len(digits) > 7:
                raise ValueError("bad octet count")
            size = int(digits)
            if size > self.config.max_message_bytes:
                raise ValueError("frame too long")
            return await reader.readexactly(size)
        if first == b"\n":
            return b""
        try:
            return first + await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return first + exc.partial  # the last line of a stream may lack its LF
