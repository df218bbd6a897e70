import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from opscope.collect.filetail import FileTailer, FileTailerConfig
from opscope.model import Level, LogRecord

NOW = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.batches = 0
        self.fail = False

    async def __call__(self, batch: list[LogRecord]) -> None:
        if self.fail:
            raise RuntimeError("store down")
        self.batches += 1
        self.records.extend(batch)

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.records]


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


_OPEN: list[FileTailer] = []


@pytest.fixture(autouse=True)
def _close_tailers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _tailer(tmp_path: Path, sink: Sink, pattern: str = "*.log", **kw: object) -> FileTailer:
    config = FileTailerConfig(paths=[str(tmp_path / pattern)],
                              offsets_path=tmp_path / "offsets.json", **kw)  # type: ignore[arg-type]
    tailer = FileTailer(sink, config, clock=lambda: NOW)
    _OPEN.append(tailer)
    return tailer


def poll(tailer: FileTailer) -> int:
    return asyncio.run(tailer.poll_once())


def test_lines_are_read_and_a_partial_line_waits(tmp_path: Path) -> None:
    log = tmp_path / "checkout.log"
    log.write_text("first ERROR line\r\n\nsecond\nthird with no newline yet")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    assert poll(tailer) == 2
    assert sink.messages == ["first ERROR line", "second"]
    record = sink.records[0]
    assert (record.ts, record.source, record.entity, record.level) == (
        NOW, "file", "checkout", Level.ERROR)
    assert record.attributes == {"file": str(log)}
    _append(log, " -- done\n")
    assert poll(tailer) == 1
    assert sink.messages[-1] == "third with no newline yet -- done"
    assert poll(tailer) == 0


def test_rotation_reads_the_old_file_to_its_end_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\na2\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    poll(tailer)
    _append(log, "a3\na4 without newline")
    os.rename(log, tmp_path / "app.log.1")  # rotated name does not match *.log
    log.write_text("b1\nb2\n")
    poll(tailer)
    assert sink.messages == ["a1", "a2", "a3", "a4 without newline", "b1", "b2"]
    _append(log, "b3\n")
    poll(tailer)
    assert sink.messages[-1] == "b3" and len(sink.messages) == 7


def test_rotated_name_matching_the_glob_is_not_read_twice(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink, pattern="app.log*")
    poll(tailer)
    _append(log, "a2\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("b1\n")
    poll(tailer)
    poll(tailer)
    assert sorted(sink.messages) == ["a1", "a2", "b1"]


def test_truncation_in_place_starts_over(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("old line one\nold line two\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    poll(tailer)
    with log.open("w") as handle:  # copytruncate, then new writes
        handle.write("new\n")
    poll(tailer)
    assert sink.messages == ["old line one", "old line two", "new"]


def test_rewritten_file_with_the_same_size_is_detected(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("aaaa\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    poll(tailer)
    with log.open("r+") as handle:  # same inode, same length, different content
        handle.write("bbbb\ncccc\n")
    poll(tailer)
    assert sink.messages == ["aaaa", "bbbb", "cccc"]


def test_restart_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("1\n2\n3\n")
    sink = Sink()
    first = _tailer(tmp_path, sink)
    poll(first)
    saved = orjson.loads((tmp_path / "offsets.json").read_bytes())
    assert saved["version"] == 1 and saved["files"][0]["offset"] == 6
    _append(log, "4\n5\n")
    second = _tailer(tmp_path, sink)
    poll(second)
    assert sink.messages == ["1", "2", "3", "4", "5"]


def test_restart_after_rotation_while_down(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("1\n2\n")
    sink = Sink()
    poll(_tailer(tmp_path, sink, pattern="app.log*"))
    _append(log, "3\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("4\n")
    poll(_tailer(tmp_path, sink, pattern="app.log*"))
    assert sorted(sink.messages) == ["1", "2", "3", "4"]


def test_failed_ingest_keeps_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\ny\n")
    sink = Sink()
    sink.fail = True
    tailer = _tailer(tmp_path, sink)
    assert poll(tailer) == 0
    assert tailer.ingest_failures == 1 and "store down" in (tailer.last_error or "")
    sink.fail = False
    assert poll(tailer) == 2
    assert sink.messages == ["x", "y"]


def test_start_at_end_skips_existing_content_but_not_new_files(tmp_path: Path) -> None:
    (tmp_path / "old.log").write_text("history\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink, start_at="end")
    poll(tailer)
    _append(tmp_path / "old.log", "fresh\n")
    (tmp_path / "new.log").write_text("created later\n")
    poll(tailer)
    assert sorted(sink.messages) == ["created later", "fresh"]


def test_batches_and_long_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(25)) + "y" * 600 + "\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink, max_batch=10, max_line_bytes=256)
    poll(tailer)
    assert sink.batches == 3  # 10 + 10 + (5 lines and the long line in 3 pieces)
    assert len(sink.messages) == 28
    assert sink.messages[-3:] == ["y" * 256, "y" * 256, "y" * 88]


def test_broken_offsets_file_is_ignored_and_counted(tmp_path: Path) -> None:
    (tmp_path / "offsets.json").write_text("{not json")
    (tmp_path / "app.log").write_text("a\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    assert tailer.errors == 1
    poll(tailer)
    assert sink.messages == ["a"]


def test_start_and_stop_follow_in_the_background(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\n")
    sink = Sink()

    async def run() -> None:
        tailer = _tailer(tmp_path, sink, poll_interval=0.02)
        await tailer.start()
        await tailer.start()
        for _ in range(200):
            if sink.messages:
                break
            await asyncio.sleep(0.01)
        _append(log, "two\n")
        await tailer.stop()  # reads what is left before returning
        await tailer.stop()

    asyncio.run(run())
    assert sink.messages == ["one", "two"]


def test_rotated_file_is_kept_until_its_last_lines_are_delivered(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    sink = Sink()
    tailer = _tailer(tmp_path, sink)
    poll(tailer)
    _append(log, "a2\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_text("b1\n")
    sink.fail = True
    poll(tailer)
    sink.fail = False
    poll(tailer)
    assert sink.messages == ["a1", "a2", "b1"]
