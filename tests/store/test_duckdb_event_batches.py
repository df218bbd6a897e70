"""Folding a batch at once gives the same event as posting its notifications one by one."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_backends import AnyStore, Stores
from store_clock import T0

from opscope.model import Event, Severity, Status

_examples = itertools.count()

notification = st.tuples(
    st.sampled_from(list(Status)),
    st.sampled_from([0, 60, 120]),  # starts_at, minutes after T0
    st.booleans(),  # has an explicit ends_at
    st.sampled_from(list(Severity)),
)


@pytest.fixture(scope="module")
def batched_and_single(module_stores: Stores) -> tuple[AnyStore, AnyStore]:
    return module_stores.open(), module_stores.open()


@settings(max_examples=40, deadline=None)
@given(st.lists(notification, min_size=1, max_size=8))
def test_one_batch_equals_one_at_a_time(
    batched_and_single: tuple[AnyStore, AnyStore],
    ops: list[tuple[Status, int, bool, Severity]],
) -> None:
    batched, single = batched_and_single
    fp = f"fp-{next(_examples)}"  # a fresh identity per example, in long-lived stores
    events = [
        Event(
            source="am", name="A", fingerprint=fp, status=status, severity=severity,
            starts_at=T0 + timedelta(minutes=start),
            ends_at=T0 + timedelta(minutes=start + 5) if has_end else None,
            received_at=T0 + timedelta(hours=3, seconds=i),
        )
        for i, (status, start, has_end, severity) in enumerate(ops)
    ]
    result = batched.upsert_events(events)
    assert (result.inserted, result.updated) == (1, 0)
    for event in events:
        single.upsert_events([event])
    a, b = batched.get_event("am", fp), single.get_event("am", fp)
    assert a == b
    assert a is not None and a["repeat_count"] == len(events) - 1
    assert len(batched.event_history("am", fp, limit=100).items) == len(events)
    # A reopen always moves to a strictly later occurrence.
    assert a["reopen_count"] <= len({m for _, m, _, _ in ops}) - 1
