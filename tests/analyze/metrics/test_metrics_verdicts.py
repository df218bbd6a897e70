"""An operator's false-alarm verdict teaches the ensemble to tolerate that surprise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from opscope.analyze.metrics import SeriesDetectorBank
from opscope.analyze.metrics.registry import create
from opscope.model import Anomaly, MetricSample

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = 288  # five-minute samples


def samples(values: np.ndarray) -> list[MetricSample]:
    return [
        MetricSample(name="queue_depth", labels={"queue": "mail"}, value=float(v),
                     ts=T0 + timedelta(minutes=5 * i))
        for i, v in enumerate(values)
    ]


def series_with_two_bursts(days: int, second: int) -> tuple[np.ndarray, int, int]:
    """A daily series with one burst of ten minutes at night on day 5 and the same burst,
    at the same hour, on day ``second``; with the rows where each is heard, its second
    sample (the seasonal view waits for a departure to last into a second window)."""
    rng = np.random.default_rng(11)
    i = np.arange(days * DAY)
    values = 50 + 20 * np.sin(2 * np.pi * i / DAY) + rng.normal(0, 1, i.shape[0])
    first_at, second_at = 5 * DAY + 3 * DAY // 4, second * DAY + 3 * DAY // 4
    values[first_at : first_at + 2] += 25.0
    values[second_at : second_at + 2] += 25.0
    return values, first_at + 1, second_at + 1


def replay(values: np.ndarray, dismiss: bool) -> tuple[list[Anomaly], SeriesDetectorBank]:
    """Score in batches of one day; when ``dismiss``, every anomaly found is called a
    false alarm before the next batch."""
    bank = SeriesDetectorBank()
    found: list[Anomaly] = []
    batch = samples(values)
    for start in range(0, len(batch), DAY):
        new = bank.update(batch[start : start + DAY])
        found.extend(new)
        if dismiss:
            for a in new:
                assert bank.tolerate(a.subject, a.evidence["driver_index"],
                                     a.evidence["driver_level"])
    return found, bank


def at(found: list[Anomaly], row: int) -> list[Anomaly]:
    return [a for a in found if a.ts == T0 + timedelta(minutes=5 * row)]


def test_an_anomaly_names_the_member_and_its_own_score() -> None:
    values, first_at, _ = series_with_two_bursts(7, 6)
    found, bank = replay(values, dismiss=False)
    (burst,) = at(found, first_at)
    index = burst.evidence["driver_index"]
    assert bank.detector.driver(index) == (burst.evidence["driver"],
                                           burst.evidence["driver_text"])
    # The member's own score, not the ensemble's ratio: above the member's reference.
    assert burst.evidence["driver_level"] > 1.0


def test_a_burst_called_a_false_alarm_does_not_page_again_when_it_recurs() -> None:
    # Four weeks later the ensemble's record of the first burst has faded (17 days), so
    # the same burst is news again, unless an operator has said it is not.
    values, first_at, second_at = series_with_two_bursts(34, 33)
    unjudged, _ = replay(values, dismiss=False)
    assert at(unjudged, first_at) and at(unjudged, second_at)
    judged, _ = replay(values, dismiss=True)
    assert at(judged, first_at)
    assert not at(judged, second_at)


def test_a_larger_surprise_still_pages_after_a_verdict() -> None:
    values, _, second_at = series_with_two_bursts(34, 33)
    values[second_at - 1 : second_at + 1] += 25.0  # twice the burst called a false alarm
    judged, _ = replay(values, dismiss=True)
    assert at(judged, second_at)


def test_a_verdict_survives_saving_the_bank() -> None:
    values, first_at, second_at = series_with_two_bursts(34, 33)
    bank = SeriesDetectorBank()
    batch = samples(values)
    (burst,) = at(bank.update(batch[: first_at + 1]), first_at)
    assert bank.tolerate(burst.subject, burst.evidence["driver_index"],
                         burst.evidence["driver_level"])
    restored = SeriesDetectorBank.load(bank.save())
    assert not at(restored.update(batch[first_at + 1 :]), second_at)


def test_verdicts_that_cannot_be_taken_are_refused() -> None:
    bank = SeriesDetectorBank()
    bank.update(samples(np.ones(10)))
    series = next(iter(bank._slots))
    assert not bank.tolerate("no-such-series", 0, 5.0)
    assert not bank.tolerate(series, 99, 5.0)  # no such member
    assert not bank.tolerate(series, 0, float("nan"))
    assert not bank.tolerate(series, 0, -1.0)
    assert not create("zscore").tolerate(0, 0, 5.0)  # a single view keeps no verdicts
