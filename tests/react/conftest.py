"""Fixtures of the reaction tests: a recording HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from react_kit import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server, thread = start_receiver()
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
