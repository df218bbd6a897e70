"""Following log files: glob patterns, rotation, truncation and saved offsets.

The tailer polls (no inotify, so it also works on network file systems and in
containers without inotify watches). A file is known by its device and inode, not its
name, so a rotated file (renamed, then a new one created under the old name) is read to
its end before the new file is read from its start. An offset only moves after
``ingest`` has returned, and it is saved right then, so a restart resumes where the last
delivered line ended: no line is lost, and a line is repeated only if the process dies
between ``ingest`` and the save.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from opscope.collect.batcher import Ingest
from opscope.collect.logs import guess_level
from opscope.model import LogRecord

log = logging.getLogger(__name__)

STATE_VERSION = 1
HEAD_BYTES = 64  # enough of a file's start to tell it from another file with a reused inode


class FileTailerConfig(BaseModel):
    """Which files to follow and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(min_length=1, description="Glob patterns of the files to follow.")
    offsets_path: Path | None = Field(
        default=None, description="JSON file holding read offsets; none keeps them in memory.")
    poll_interval: float = Field(default=1.0, gt=0, le=60, description="Seconds between polls.")
    start_at: Literal["beginning", "end"] = Field(
        default="beginning",
        description="Where to start a file found at startup with no saved offset. "
                    "Files that appear later are always read from the beginning.")
    max_batch: int = Field(default=1000, ge=1, le=100_000,
                           description="Most lines handed to ingest at once.")
    max_line_bytes: int = Field(default=65_536, ge=256, le=65_536,
                                description="Longer lines are cut into pieces of this size.")
    read_bytes: int = Field(default=1 << 20, ge=4096, le=1 << 26,
                            description="Bytes read from one file in one go.")
    source: str = Field(default="file", max_length=256, description="LogRecord.source.")
    entity: str = Field(default="", max_length=256,
                        description="LogRecord.entity; empty uses the file name up to its "
                                    "first dot.")


@dataclass
class _Followed:
    path: str
    dev: int
    ino: int
    handle: BinaryIO
    offset: int  # bytes delivered, always at the end of a line
    known_head: str = ""  # head() when the offset last moved

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def head(self) -> str:
        size = min(HEAD_BYTES, self.offset)
        return hashlib.blake2b(os.pread(self.handle.fileno(), size, 0), digest_size=8).hexdigest()


class FileTailer:
    """Follows files and hands their new lines, as LogRecords, to ``ingest``.

    Counters: ``lines`` delivered, ``ingest_failures`` (the lines are read again on the
    next poll), ``errors`` (files that could not be read). ``start``/``stop`` are
    idempotent; ``stop`` reads what is left and saves the offsets.
    """

    def __init__(self, ingest: Ingest[LogRecord], config: FileTailerConfig, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self._ingest = ingest
        self._clock = clock
        self.lines = 0
        self.ingest_failures = 0
        self.errors = 0
        self.last_error: str | None = None
        self._files: dict[tuple[int, int], _Followed] = {}
        self._saved: dict[tuple[int, int], dict[str, Any]] = self._load_state()
        self._first_poll = True
        self._task: asyncio.Task[None] | None = None

    @property
    def offsets(self) -> dict[str, int]:
        """Delivered bytes per followed path."""
        return {f.path: f.offset for f in self._files.values()}

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.poll_once()
        self.close()

    def close(self) -> None:
        """Close the followed files; a later poll starts again from the saved offsets."""
        for followed in self._files.values():
            followed.handle.close()
        self._files.clear()
        self._first_poll = True
        self._saved = self._load_state()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # a bad poll must not end following; it is counted
                log.exception("file tail poll failed")
                self._error(f"poll failed: {type(exc).__name__}: {exc}")
            await asyncio.sleep(self.config.poll_interval)

    async def poll_once(self) -> int:
        """Read every followed file to its end (as far as ingest accepts); lines delivered."""
        before = self.lines
        found = self._scan()
        # Files no longer under any name were rotated away or deleted: finish them first,
        # so that their last lines come before the first lines of their successors.
        for key, followed in list(self._files.items()):
            if key not in found and await self._read(followed, final=True):
                followed.handle.close()
                del self._files[key]
        for key, path in found.items():
            known = self._files.get(key) or self._open(path, key)
            if known is None:
                continue
            self._files[key] = known
            known.path = path
            await self._read(known, final=False)
        if self._first_poll:
            self._first_poll = False
            self._saved.clear()  # offsets of files that no longer exist are not kept
            self._save_state()
        return self.lines - before

    def _scan(self) -> dict[tuple[int, int], str]:
        found: dict[tuple[int, int], str] = {}
        for pattern in self.config.paths:
            for path in sorted(glob.glob(pattern)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # vanished between glob and stat
                if stat.S_ISREG(st.st_mode):
                    found.setdefault((st.st_dev, st.st_ino), path)
        return found

    def _open(self, path: str, key: tuple[int, int]) -> _Followed | None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - held open across polls
        except OSError as exc:
            self._error(f"cannot open {path}: {exc}")
            return None
        size = os.fstat(handle.fileno()).st_size
        followed = _Followed(path, key[0], key[1], handle, 0)
        saved = self._saved.get(key)
        if saved is not None:
            # _read compares the saved head: a different start means a reused inode number.
            followed.offset = int(saved["offset"]) if int(saved["offset"]) <= size else 0
            followed.known_head = str(saved["head"])
        elif self._first_poll and self.config.start_at == "end":
            followed.offset = size
            followed.known_head = followed.head()
        return followed

    async def _read(self, followed: _Followed, *, final: bool) -> bool:
        """Deliver new lines of one file; False if ingest failed (they are read again)."""
        fd = followed.handle.fileno()
        try:
            size = os.fstat(fd).st_size
            if size < followed.offset or (followed.offset and
                                          followed.head() != followed.known_head):
                followed.offset = 0  # truncated in place (copytruncate) or rewritten
            while True:
                data = os.pread(fd, self.config.read_bytes, followed.offset)
                records, used = self._split(followed, data,
                                            eof=final and len(data) < self.config.read_bytes)
                if used == 0:
                    return True
                if records and not await self._deliver(records):
                    return False
                followed.offset += used
                followed.known_head = followed.head()
                self._save_state()
        except OSError as exc:
            self._error(f"cannot read {followed.path}: {exc}")
            return True

    def _split(self, followed: _Followed, data: bytes, *, eof: bool
               ) -> tuple[list[LogRecord], int]:
        """Complete lines of ``data`` (at most ``max_batch``) and the bytes they span."""
        cfg = self.config
        ts = self._clock()
        entity = cfg.entity or Path(followed.path).name.split(".")[0]
        attributes = {"file": followed.path[-4096:]}
        records: list[LogRecord] = []
        pos = 0
        while len(records) < cfg.max_batch and pos < len(data):
            end = data.find(b"\n", pos, pos + cfg.max_line_bytes + 1)
            if end < 0:
                rest = len(data) - pos
                if rest >= cfg.max_line_bytes:
                    end = pos + cfg.max_line_bytes  # too long: deliver it in pieces
                    line, nxt = data[pos:end], end
                elif eof:
                    line, nxt = data[pos:], len(data)  # last line of a finished file
                else:
                    break  # a line still being written
            else:
                line, nxt = data[pos:end], end + 1
            pos = nxt
            text = line.rstrip(b"\r").decode("utf-8", errors="replace")
            if text and not text.isspace():
                records.append(LogRecord(ts=ts, message=text, source=cfg.source,
                                         entity=entity, level=guess_level(text),
                                         attributes=attributes))
        return records, pos

    async def _deliver(self, records: list[LogRecord]) -> bool:
        try:
            await self._ingest(records)
        except Exception as exc:  # any failure of the sink: keep the offset, retry later
            self.ingest_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("ingest of %d lines failed: %s", len(records), self.last_error)
            return False
        self.lines += len(records)
        return True

    # -- saved offsets -------------------------------------------------------------------

    def _load_state(self) -> dict[tuple[int, int], dict[str, Any]]:
        path = self.config.offsets_path
        if path is None or not path.exists():
            return {}
        try:
            doc = orjson.loads(path.read_bytes())
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            saved: dict[tuple[int, int], dict[str, Any]] = {}
            for f in doc["files"]:
                dev, ino = int(f["dev"]), int(f["ino"])
                saved[(dev, ino)] = {"path": str(f["path"]), "dev": dev, "ino": ino,
                                     "offset": int(f["offset"]), "head": str(f["head"])}
            return saved
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A broken offsets file must not stop collection; start over and say so.
            self._error(f"ignoring unreadable offsets file {path}: {exc}")
            return {}

    def _save_state(self) -> None:
        path = self.config.offsets_path
        if path is None:
            return
        files = [{"path": f.path, "dev": f.dev, "ino": f.ino, "offset": f.offset,
                  "head": f.known_head} for f in self._files.values()]
        files.extend(s for key, s in self._saved.items() if key not in self._files)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_bytes(orjson.dumps({"version": STATE_VERSION, "files": files}))
            os.replace(tmp, path)  # atomic: a crash leaves the old or the new file whole
        except OSError as exc:
            self._error(f"cannot save offsets to {path}: {exc}")

    def _error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        log.warning("%s", message)
