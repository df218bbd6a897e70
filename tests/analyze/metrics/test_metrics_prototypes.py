"""Shape novelty on synthetic series whose answer is known."""

from __future__ import annotations

from typing import Any

import numpy as np

from opscope.analyze.metrics.detector import Detector, FloatArray
from opscope.analyze.metrics.registry import create

STEP = 300.0  # five-minute samples
DAY = 288
PLAIN: dict[str, Any] = {"warmup": 0}


def run(detector: Detector, values: FloatArray, step: float = STEP) -> FloatArray:
    """Feed one series sample by sample; return its scores."""
    scores = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        out = detector.step(np.array([0]), np.array([i * step]), np.array([value]))
        scores[i] = out.score[0]
    return scores


def daily(days: int, per_day: int = DAY, seed: int = 2) -> FloatArray:
    rng = np.random.default_rng(seed)
    i = np.arange(days * per_day)
    return 50.0 + 20.0 * np.sin(2 * np.pi * i / per_day) + rng.normal(0.0, 1.0, i.shape[0])


def with_wobble(values: FloatArray, per_day: int) -> tuple[FloatArray, slice]:
    """Four hours of the last day swing up and down every half hour, inside the range."""
    out = values.copy()
    start = out.shape[0] - per_day + per_day // 4
    stretch = slice(start, start + per_day // 6)
    i = np.arange(stretch.stop - stretch.start)
    out[stretch] = 50.0 + 15.0 * np.where((i // (per_day // 48)) % 2 == 0, 1.0, -1.0)
    return out, stretch


def test_a_new_shape_inside_the_range_is_found() -> None:
    values, stretch = with_wobble(daily(6), DAY)
    scores = run(create("prototypes", PLAIN), values)
    before = scores[DAY : stretch.start].max()
    assert before > 0.0  # judged from the second day on
    assert scores[stretch].max() > 3.0 * before


def test_the_same_shape_is_found_at_a_coarser_cadence() -> None:
    # Blocks are event time: half-hourly samples show the same shapes as 5-minute ones
    # (with the noise of one sample per block instead of the mean of six).
    values, stretch = with_wobble(daily(6, per_day=48), 48)
    scores = run(create("prototypes", PLAIN), values, step=1_800.0)
    assert scores[stretch].max() > 1.5 * scores[48 : stretch.start].max()


def test_windows_are_judged_when_a_block_closes() -> None:
    scores = run(create("prototypes", PLAIN), daily(3))
    judged = np.flatnonzero(scores > 0)
    assert judged.size > 0
    # 5-minute samples, half-hour blocks: every sixth sample closes one.
    assert np.all(np.diff(judged) % 6 == 0)
    every = run(create("prototypes", {**PLAIN, "block": 0.0}), daily(3))
    assert np.count_nonzero(every[DAY:]) > 5 * np.count_nonzero(scores[DAY:])


def test_a_level_shift_with_the_old_shape_is_news_only_while_it_is_crossed() -> None:
    rng = np.random.default_rng(5)
    values = 50.0 + rng.normal(0.0, 1.0, 3 * DAY)
    step = 2 * DAY + 3
    values[step:] += 10.0
    scores = run(create("prototypes", PLAIN), values)
    crossing = scores[step : step + 60].max()
    assert crossing > 2.0 * scores[DAY:step].max()
    # Four hours later the window holds the old shape again, only higher.
    assert scores[step + 60 :].max() < 0.5 * crossing


def test_the_least_used_prototype_makes_way() -> None:
    # Windows of two samples: a shape is the step between them. With two places, a
    # steady series holds one; a spike's step up takes the other and its step down,
    # new again, replaces the step up (used once) rather than the steady shape.
    rng = np.random.default_rng(3)
    values = 10.0 + rng.normal(0.0, 0.1, 302)
    values[300] = 15.0
    config = {**PLAIN, "block": 0.0, "window": 2, "prototypes": 2, "min_history": 0.0}
    detector = create("prototypes", config)
    scores = run(detector, values)
    assert scores[300] > 5.0 and scores[301] > 5.0
    protos = detector.arr("protos")[0]
    steps = protos[:, 1] - protos[:, 0]
    assert np.isfinite(protos).all()
    assert np.abs(steps).min() < 0.5  # the steady shape is kept
    assert 4.0 < -steps.min() < 6.0  # the step down took the step up's place
    assert steps.max() < 0.5


def test_slots_do_not_share_anything() -> None:
    # Two series at different cadences in one detector score as they would alone.
    a, _ = with_wobble(daily(4), DAY)
    b = daily(2, seed=9)[: a.shape[0] // 2] * 3.0
    together = create("prototypes", PLAIN, capacity=2)
    both = np.zeros((a.shape[0], 2))
    for i in range(a.shape[0]):
        if i % 2 == 0:
            out = together.step(np.array([0, 1]), np.array([i * STEP, i * STEP]),
                                np.array([a[i], b[i // 2]]))
            both[i] = out.score
        else:
            out = together.step(np.array([0]), np.array([i * STEP]), np.array([a[i]]))
            both[i, 0] = out.score[0]
    alone_a = run(create("prototypes", PLAIN), a)
    alone_b = run(create("prototypes", PLAIN), b, step=2 * STEP)
    assert np.array_equal(both[:, 0], alone_a)
    assert np.array_equal(both[::2, 1], alone_b)
