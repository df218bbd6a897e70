"""The bus port on NATS JetStream: batches survive restarts and cross process boundaries.

Every topic is the subject ``<prefix>.<topic>`` of one stream (file storage, limits
retention, ``max_age``). A batch is one message, encoded by :mod:`opscope.pipeline.codec`,
and :meth:`NatsBus.publish` returns only once the server has stored it. Every subscriber
is a durable pull consumer named after its topic and name: a stage restarted under the
same name continues where it stopped, and batches published while it was down reach it
then. A consumer is created to deliver what is published from then on, not the history
the stream already holds.

The observable behaviour is the in-process bus's: one worker thread per subscriber calls
the handler with one batch at a time; a handler that raises is counted in ``failed``,
logged, and its batch acknowledged all the same. A failing stage therefore never loops on
one batch, and a batch is not handed twice to stages that have already stored part of
it (stages store anomalies and send notifications, which a redelivery would repeat).
Redelivery (up to ``max_deliver`` times) happens only when a worker stops without
settling a batch: its process died, or it lost the server for longer than ``ack_wait``.
Delivery is therefore at least once. A batch that does not decode is counted, logged and
terminated (never redelivered). While a handler runs, the event loop tells the server
every third of ``ack_wait`` that the batch is still in progress, so a slow stage is not
mistaken for a dead one.

Back-pressure counts batches (messages), not items: a topic has room while every durable
consumer of its subject on the stream, this process's or another's, has fewer than
``max_pending`` batches waiting or unacknowledged. A consumer whose stage was removed
keeps its position, so it must be deleted (``nats consumer rm``) once its stage is gone,
or ingestion of its topic stops at ``max_pending``.

Two subscribers with the same topic and name share one consumer and split its batches
between them; this is how one stage runs in several processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from opscope.errors import ConfigError, OpscopeError, Overloaded, PayloadTooLarge
from opscope.pipeline.bus import Handler
from opscope.pipeline.codec import CodecError, decode_batch, encode_batch

log = logging.getLogger(__name__)

T = TypeVar("T")

FETCH_WAIT_S = 0.5
"""How long one pull request waits for a batch; it bounds how long close() waits for an
idle worker."""
FETCH_BATCH = 8
"""Most batches one pull request brings; they are handled one at a time, in order."""
INFO_TTL_S = 0.25
"""How long consumer backlogs read from the server are reused (has_room, depth)."""
MIN_ACK_WAIT_S = 1.0
"""The least time publish waits for the server to store a batch, even with timeout 0."""

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class BusUnavailable(OpscopeError):
    """The NATS server cannot be reached, or answered with an error. Retryable."""

    retryable = True


class _Stopped(Exception):
    """The bus's event loop is gone; raised to the threads still using it."""


def consumer_name(topic: str, name: str) -> str:
    """The durable consumer name of subscriber ``name`` on ``topic``.

    Readable, limited to the characters NATS allows, and unique per (topic, name): a
    digest of both is appended, since sanitising alone can make two names equal.
    """
    readable = _UNSAFE.sub("_", f"{topic}-{name}")[:40]
    digest = hashlib.blake2b(f"{topic}\0{name}".encode(), digest_size=4).hexdigest()
    return f"{readable}-{digest}"


@dataclass
class NatsSubscription:
    """One subscriber: the same attributes as :class:`~opscope.pipeline.bus.Subscription`.

    ``depth`` is the consumer's backlog on the server (batches waiting plus batches
    delivered and not yet acknowledged), read at most every ``INFO_TTL_S`` seconds.
    ``pending_items`` is the size of the batch this worker is handling (the server
    counts messages, not items).
    """

    topic: str
    name: str
    handler: Handler
    consumer: str
    bus: NatsBus = field(repr=False)
    processed: int = 0
    failed: int = 0
    pending_items: int = 0
    thread: threading.Thread | None = field(default=None, repr=False)
    _held: list[Msg] = field(default_factory=list, repr=False)
    """Batches fetched and not yet settled."""
    _held_since: float = field(default=0.0, repr=False)
    _psub: JetStreamContext.PullSubscription | None = field(default=None, repr=False)

    @property
    def depth(self) -> int:
        return self.bus._backlog(self.consumer)

    def has_room(self, size: int = 1) -> bool:
        return self.bus._backlog(self.consumer) < self.bus.max_pending


class NatsBus:
    """The :class:`~opscope.pipeline.bus.Bus` port on a NATS JetStream stream.

    A private event loop runs the NATS client in a background thread; every public
    method is synchronous, safe to call from any other thread, and bounded by a timeout.
    Raises :class:`BusUnavailable` when the server cannot be reached at start and
    :class:`~opscope.errors.ConfigError` when the stream cannot be created as asked.
    """

    def __init__(self, url: str = "nats://127.0.0.1:4222", *, stream: str = "OPSCOPE",
                 subject_prefix: str = "opscope", max_pending: int = 10_000,
                 max_age_seconds: float = 7 * 86400, connect_timeout: float = 5.0,
                 ack_wait_seconds: float = 30.0, max_deliver: int = 5) -> None:
        if not _TOKEN.match(stream):
            raise ConfigError(f"stream name {stream!r} may hold only letters, digits, _ and -")
        if not all(_TOKEN.match(token) for token in subject_prefix.split(".")):
            raise ConfigError(f"subject prefix {subject_prefix!r} is not a NATS subject")
        if max_pending < 1 or max_deliver < 1 or ack_wait_seconds <= 0:
            raise ConfigError("max_pending and max_deliver must be >= 1, ack_wait_seconds > 0")
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.max_pending = max_pending
        self.max_age_seconds = max_age_seconds
        self.connect_timeout = connect_timeout
        self.ack_wait_seconds = ack_wait_seconds
        self.max_deliver = max_deliver
        self._subs: list[NatsSubscription] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._closed = False
        self._infos: dict[str, ConsumerInfo] = {}
        self._infos_at = -1.0
        self._infos_error = ""
        self._info_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._run_loop, name="nats-bus-loop",
                                             daemon=True)
        self._loop_thread.start()
        try:
            self._nc: Client = self._call(self._connect(), connect_timeout + 2.0)
            self._js = self._nc.jetstream(timeout=connect_timeout)
            self._call(self._ensure_stream(), connect_timeout + 1.0)
            self._call(self._start_heartbeat(), connect_timeout)
        except BaseException:
            if hasattr(self, "_nc"):
                with contextlib.suppress(BusUnavailable, _Stopped):
                    self._call(self._nc.close(), connect_timeout)
            self._stop_loop(connect_timeout)
            raise

    # -- the Bus port ------------------------------------------------------------------

    def subscribe(self, topic: str, name: str, handler: Handler) -> NatsSubscription:
        if self._closed:
            raise RuntimeError("the bus is closed; a new NatsBus takes new subscribers")
        subject = self._subject(topic)
        sub = NatsSubscription(topic, name, handler, consumer_name(topic, name), self)
        sub._psub = self._call(self._bind(sub.consumer, subject, f"{name} on {topic}"),
                               self.connect_timeout + 1.0)
        sub.thread = threading.Thread(target=self._work, args=(sub,),
                                      name=f"bus-{topic}-{name}", daemon=True)
        with self._lock:
            self._subs.append(sub)
        self._forget_infos()
        sub.thread.start()
        return sub

    def subscriptions(self) -> list[NatsSubscription]:
        with self._lock:
            return list(self._subs)

    def has_room(self, topic: str, size: int = 1) -> bool:
        """Whether every consumer of ``topic`` has fewer than ``max_pending`` batches
        waiting. ``size`` does not matter: a batch is one message whatever it holds.
        False when the server cannot be asked."""
        try:
            return not self._behind(topic)
        except BusUnavailable:
            return False

    def publish(self, topic: str, items: Sequence[Any], timeout: float = 0.0) -> None:
        """Store ``items`` in the stream; wait up to ``timeout`` s for room.

        Raises Overloaded when a consumer of ``topic`` stays ``max_pending`` batches
        behind, or when the server does not confirm the batch in time (then it may still
        have been stored). A batch larger than the server's message limit goes as
        several smaller batches.
        """
        if not items or self._closed:
            return
        subject = self._subject(topic)
        deadline = time.monotonic() + timeout
        while True:
            try:
                behind = self._behind(topic)
            except BusUnavailable as exc:
                raise Overloaded(f"bus unavailable, {topic} not handed on: {exc.message}",
                                 retry_after=max(1.0, timeout)) from None
            if not behind:
                break
            if time.monotonic() >= deadline:
                raise Overloaded(f"analysis queue {behind!r} for {topic} is full")
            time.sleep(0.02)
        ack_wait = max(MIN_ACK_WAIT_S, deadline - time.monotonic())
        for chunk in self._encode(items, self._nc.max_payload):
            try:
                self._call(self._js.publish(subject, chunk, timeout=ack_wait,
                                            stream=self.stream), ack_wait + 1.0)
            except BusUnavailable as exc:
                raise Overloaded(
                    f"NATS at {self.url} did not store the {topic} batch within "
                    f"{ack_wait:.1f}s ({exc.message})", retry_after=max(1.0, timeout),
                ) from None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until no consumer of this bus has a batch waiting or unacknowledged.

        The stream's last sequence is read before and after the consumers, so a batch
        published meanwhile (by a handler, to another topic) is not missed.
        """
        deadline = time.monotonic() + timeout
        while True:
            subs = self.subscriptions()
            if not subs:
                return True
            try:
                if self._quiet(subs):
                    return True
            except BusUnavailable:
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def close(self, timeout: float = 5.0) -> None:
        """Stop fetching, let each worker finish its batch, flush acks, disconnect.

        Idempotent. Returns within about ``timeout`` s; a worker still inside its
        handler then is left to finish, and its batch is delivered again later.
        """
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for sub in self.subscriptions():
            if sub.thread is not None:
                sub.thread.join(max(0.0, deadline - time.monotonic()))
        try:
            self._call(self._disconnect(), max(0.1, deadline - time.monotonic()))
        except (BusUnavailable, _Stopped):
            log.warning("NATS connection to %s did not close in time", self.url)
        self._stop_loop(max(0.1, deadline - time.monotonic()))

    # -- worker ------------------------------------------------------------------------

    def _work(self, sub: NatsSubscription) -> None:
        lost = False
        while not self._stopping.is_set():
            try:
                msgs = self._call(self._fetch(sub), FETCH_WAIT_S + self.connect_timeout)
            except _Stopped:
                return
            except BusUnavailable as exc:
                if not lost:
                    log.warning("subscriber %s on %s cannot fetch: %s", sub.name, sub.topic,
                                exc.message)
                lost = True
                self._stopping.wait(0.2)
                continue
            if lost:
                log.info("subscriber %s on %s fetches again", sub.name, sub.topic)
                lost = False
            sub._held_since = time.monotonic()
            sub._held = list(msgs)
            try:
                for index, msg in enumerate(msgs):
                    if self._stopping.is_set():
                        # Closing: what was fetched and not begun goes back at once.
                        for rest in msgs[index:]:
                            self._settle(sub, rest.nak())
                        return
                    if not self._handle(sub, msg):
                        return
            finally:
                sub._held = []

    async def _fetch(self, sub: NatsSubscription) -> list[Msg]:
        assert sub._psub is not None
        try:
            return await sub._psub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
        except TimeoutError:
            # Nothing arrived in time. The client raises its own TimeoutError (a subclass)
            # from some paths and asyncio's from others (when the pull request's time
            # runs out between its two requests); both mean an empty fetch.
            return []

    def _handle(self, sub: NatsSubscription, msg: Msg) -> bool:
        """Decode, hand over, settle. False when the bus stopped under the worker."""
        try:
            items = decode_batch(msg.data)
        except CodecError as exc:
            sub.failed += 1
            log.error("subscriber %s on %s dropped an unreadable batch: %s", sub.name,
                      sub.topic, exc.message)
            return self._settle(sub, msg.term())
        sub.pending_items = len(items)
        try:
            sub.handler(items)
            sub.processed += len(items)
        except Exception:  # a failing stage is counted and logged, never fatal to the bus
            sub.failed += 1
            log.exception("subscriber %s on %s failed", sub.name, sub.topic)
        finally:
            sub.pending_items = 0
        return self._settle(sub, msg.ack())

    def _settle(self, sub: NatsSubscription, ack: Coroutine[Any, Any, None]) -> bool:
        try:
            self._call(ack, self.connect_timeout)
        except _Stopped:
            return False
        except BusUnavailable as exc:  # the server delivers it again after ack_wait
            log.warning("subscriber %s on %s could not acknowledge a batch: %s", sub.name,
                        sub.topic, exc.message)
        return True

    # -- event loop side ---------------------------------------------------------------

    async def _connect(self) -> Client:
        connected = False
        last_error: list[Exception] = []

        async def disconnected() -> None:
            if connected and not self._closed:
                log.warning("NATS connection to %s lost; reconnecting", self.url)

        async def reconnected() -> None:
            log.info("NATS connection to %s restored", self.url)

        async def error(exc: Exception) -> None:
            last_error[:] = [exc]
            if connected:
                log.warning("NATS client: %s", exc)

        # The client retries forever once connected (a restarted server is found again);
        # the first connection is bounded by connect_timeout.
        nc = Client()
        try:
            await asyncio.wait_for(nc.connect(
                self.url, connect_timeout=max(1, math.ceil(self.connect_timeout)),
                allow_reconnect=True,
                max_reconnect_attempts=-1, reconnect_time_wait=1,
                disconnected_cb=disconnected, reconnected_cb=reconnected, error_cb=error),
                self.connect_timeout)
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            with contextlib.suppress(nats.errors.Error, OSError):
                await nc.close()
            why = last_error[0] if last_error else exc
            raise BusUnavailable(f"cannot connect to NATS at {self.url} within "
                                 f"{self.connect_timeout:.1f}s: {why}") from None
        connected = True
        return nc

    async def _disconnect(self) -> None:
        # Pull subscriptions are dropped before closing: the client's drain() waits for
        # their inboxes, which fetch() does not mark done, so it would never finish.
        for sub in self.subscriptions():
            if sub._psub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await sub._psub.unsubscribe()
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._nc.flush(timeout=max(1, int(self.connect_timeout)))
        await self._nc.close()

    async def _ensure_stream(self) -> None:
        config = StreamConfig(name=self.stream, subjects=[f"{self.subject_prefix}.>"],
                              storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
                              max_age=self.max_age_seconds)
        try:
            try:
                await self._js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(config)
            else:
                await self._js.update_stream(config)
        except nats.js.errors.APIError as exc:
            raise ConfigError(f"JetStream stream {self.stream} cannot be set up at "
                              f"{self.url}: {exc.description}") from None

    async def _bind(self, consumer: str, subject: str,
                    description: str) -> JetStreamContext.PullSubscription:
        try:
            info = await self._js.consumer_info(self.stream, consumer)
        except nats.js.errors.NotFoundError:
            info = await self._js.add_consumer(self.stream, ConsumerConfig(
                durable_name=consumer, description=description, filter_subject=subject,
                deliver_policy=DeliverPolicy.NEW, ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait_seconds, max_deliver=self.max_deliver))
        if info.config.filter_subject != subject:
            raise ConfigError(f"consumer {consumer} on stream {self.stream} reads "
                              f"{info.config.filter_subject}, not {subject}")
        return await self._js.pull_subscribe_bind(consumer=consumer, stream=self.stream)

    async def _start_heartbeat(self) -> None:
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        # Tells the server that batches held longer than a third of ack_wait are still
        # being handled, so that it does not deliver them again to another worker.
        period = self.ack_wait_seconds / 3
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for sub in self.subscriptions():
                if now - sub._held_since < period:
                    continue
                for msg in list(sub._held):
                    if msg.is_acked:
                        continue
                    try:
                        await msg.in_progress()
                    except nats.errors.Error as exc:
                        log.debug("in-progress signal not sent: %s", exc)

    async def _consumer_infos(self) -> dict[str, ConsumerInfo]:
        infos: dict[str, ConsumerInfo] = {}
        offset = 0
        while True:  # the server lists at most 256 consumers per request
            page = await self._js.consumers_info(self.stream, offset=offset or None)
            infos.update((info.name, info) for info in page)
            if len(page) < 256:
                return infos
            offset += len(page)

    async def _last_seq(self) -> int:
        info = await self._js.stream_info(self.stream)
        return info.state.last_seq

    # -- plumbing ----------------------------------------------------------------------

    def _subject(self, topic: str) -> str:
        if not _TOKEN.match(topic):
            raise ValueError(f"topic {topic!r} may hold only letters, digits, _ and -")
        return f"{self.subject_prefix}.{topic}"

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the bus's loop and wait up to ``timeout`` s for it."""
        if threading.current_thread() is self._loop_thread:
            coro.close()
            raise RuntimeError("NatsBus methods block; they cannot run on its event loop")
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise _Stopped() from None
        # Wait first, then read the result: a TimeoutError the coroutine itself raised
        # must not read as the server not answering (both are the builtin TimeoutError).
        done, _ = concurrent.futures.wait([future], timeout)
        if not done:
            future.cancel()
            raise BusUnavailable(f"NATS at {self.url} did not answer within "
                                 f"{timeout:.1f}s")
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise _Stopped() from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise BusUnavailable(f"NATS at {self.url}: {exc or 'timed out'}") from None

    def _infos_now(self, fresh: bool = False) -> dict[str, ConsumerInfo]:
        with self._info_lock:
            if fresh or time.monotonic() - self._infos_at > INFO_TTL_S:
                # A failure is remembered for the TTL too: a gauge read per subscriber
                # must not wait for a dead server once per subscriber.
                try:
                    self._infos = self._call(self._consumer_infos(), self.connect_timeout)
                    self._infos_error = ""
                except BusUnavailable as exc:
                    self._infos_error = exc.message
                self._infos_at = time.monotonic()
            if self._infos_error:
                raise BusUnavailable(self._infos_error)
            return self._infos

    def _forget_infos(self) -> None:
        with self._info_lock:
            self._infos_at = -1.0

    def _behind(self, topic: str) -> str:
        """The name of a consumer of ``topic`` at ``max_pending``, or ''."""
        subject = self._subject(topic)
        for info in self._infos_now().values():
            if info.config.filter_subject == subject and _backlog(info) >= self.max_pending:
                return info.name
        return ""

    def _backlog(self, consumer: str) -> int:
        try:
            infos = self._infos_now()
        except BusUnavailable:
            infos = self._infos
        info = infos.get(consumer)
        return _backlog(info) if info is not None else 0

    def _quiet(self, subs: list[NatsSubscription]) -> bool:
        before = self._call(self._last_seq(), self.connect_timeout)
        infos = self._infos_now(fresh=True)
        after = self._call(self._last_seq(), self.connect_timeout)
        return before == after and all(
            not sub._held and sub.consumer in infos and _backlog(infos[sub.consumer]) == 0
            for sub in subs)

    @staticmethod
    def _encode(items: Sequence[Any], limit: int) -> list[bytes]:
        data = encode_batch(items)
        if len(data) <= limit:
            return [data]
        if len(items) == 1:
            raise PayloadTooLarge(f"one {type(items[0]).__name__} encodes to {len(data)} "
                                  f"bytes, over the NATS message limit of {limit}")
        half = len(items) // 2
        return NatsBus._encode(items[:half], limit) + NatsBus._encode(items[half:], limit)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _stop_loop(self, timeout: float) -> None:
        if self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(self._loop.stop)
        except RuntimeError:
            return
        self._loop_thread.join(timeout)


def _backlog(info: ConsumerInfo) -> int:
    return (info.num_pending or 0) + (info.num_ack_pending or 0)
