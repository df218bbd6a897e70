"""Stall novelty: a series that stops changing for longer than it ever has.

A metric whose source has died, whose exporter is stuck or whose disk has stopped writing
often keeps reporting one value (0, or the last value seen). Nothing about that value is
unusual, so level, season and range detectors stay quiet; what is new is the *run*, the
number of consecutive samples that repeat the previous value exactly. The detector keeps
the longest run the series has completed (a record that fades slowly, like the known
range of range novelty) and scores how far the current run goes beyond it, in units of a
fraction of that record. A stall stays news for one record's length (ten samples at
least); from then on the series is known to be stuck and, as with a value that has
widened the known range, the same stall is not news again. Series that sit still as a
matter of course (flat nights, square waves) set long records early and stay quiet; a
series constant from its first sample repeats as a matter of course and never stalls.

A stall that was news does not become the record outright: a sensor that freezes twice
should page twice. When a run that was news ends, the record takes only the shorter of
it and the longest earlier news run (which fades like the record), so a frozen reading
is routine once it has happened twice. Runs at zero are exempt and enter the record as
any run does: zero is the rest of a series (a disk that writes nothing, a service with
no requests), whose rests vary in length as a matter of course. On synthetic held-out-
style corpora (``opscope eval synth-nab``, seeds 1-20), whose road gauges and sensors
freeze more than once: +0.92 on average (standard error 0.29; 8 seeds better, none
worse), 8 more windows found and no more false alarms; no change on the NAB dev files
or their variants. Without the exemption for zero: +1.31 on the corpora, but -2.66 on
the dev files, where a disk's idle stretches of zero writes (runs of 130 and 261 five-
minute samples in its first days) came back as news and an alarm hid a window.

A record can also be beaten by chance: in a series that repeats its previous value at
random with probability p, the longest of n runs is about ln(n) / ln(1/p) samples, so a
sparse counter of rare events sets new records of zeros now and then. A run therefore
also has to be ``chance_factor`` times that length; for a memoryless series a run three
times as long turns up about once in n squared samples, which leaves room for series
whose repeats cluster (quiet nights) without treating a real stall as chance. With a
factor of 2 instead, synthetic counters that are zero 95 % of the time raised half as
many alarms again as without this member; with 3, none more.

The record fades, and the youth discount ends, as range novelty's do: by samples at five
minutes or coarser, by event time on finer series.

Runs are counted in shares of five minutes on finer series, and so is the chance model:
the repeat rate is the share of reference intervals without a change (a sample counts as
its share of an interval, a change as a whole one), and the chance run a count of
intervals. Judged per sample, a source that updates every five minutes and is scraped
every 15 seconds repeats 19 samples of 20, so that its longest chance run came out at
about 210 samples, compared as 210 intervals (17 hours) with runs counted in intervals:
no stall shorter than two days was news. ``opscope eval nab --fine 5 --fine 20``: 66.05
to 67.88 at one minute and 66.22 to 68.04 at 15 seconds (28 windows found instead of
27, with 27 and 26 false alarms instead of 22 and 21); a run at 15 seconds counts the
repeats within its first five minutes, so it is about one interval longer than the same
stall at five minutes. Nothing changes at five minutes or coarser; synthetic seeds
1-20 +0.01 on average (six seeds find a stall on a road gauge a few rows sooner).

A series that has never repeated its value (continuous noise, a busy gauge) has no record
to beat, only chance: its repeat rate is taken as at least one in the samples seen (as if
the next sample might be the first repeat), so a sensor that sticks after thousands of
changing samples is news after a few repeats, where it used to go unseen.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from opscope.analyze.metrics.detector import (
    Context,
    Detector,
    DetectorConfig,
    FloatArray,
    IntArray,
    Step,
    youth,
)


class StallConfig(DetectorConfig):
    memory: float = Field(
        default=30_000.0, gt=1, description="Samples over which the record run fades by e."
    )
    run_fraction: float = Field(
        default=0.2,
        gt=0,
        description="A run beyond the record is measured in this fraction of the record.",
    )
    min_unit: float = Field(
        default=2.0,
        gt=0,
        description="Smallest unit of that excess, in samples: where runs are short, one "
        "extra repeat is not news.",
    )
    news_span: float = Field(
        default=1.0,
        gt=0,
        description="A stall stays news for this many records once it has become news "
        "(for a record shorter than ``min_unit / run_fraction`` samples, for this many "
        "times that length).",
    )
    chance_factor: float = Field(
        default=3.0,
        gt=0,
        description="A run must also be this many times the longest run that a series "
        "repeating at random as often as this one shows by chance (see module docs).",
    )
    min_history: float = Field(
        default=86_400.0,
        ge=0,
        description="Seconds of event time before a run can be new: a series must show a "
        "full day of its usual stillness first.",
    )
    horizon: float = Field(
        default=2500.0,
        ge=1,
        description="Samples after which the record is taken as mature; before that a run "
        "must exceed it by ln(horizon / samples seen) extra units, as in range novelty.",
    )


class StallNovelty(Detector):
    """Run of unchanged values beyond the longest run the series has completed."""

    name: ClassVar[str] = "stall"
    state_version: ClassVar[int] = 3
    config_class: ClassVar[type[DetectorConfig]] = StallConfig
    config: StallConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {
            "last": ((), np.nan), "run": ((), 0.0), "record": ((), 0.0),
            "repeat": ((), 0.0), "t0": ((), np.nan), "count": ((), 0.0),
            "stalled": ((), 0.0), "was_news": ((), 0.0),
            "shares": ((), 0.0),  # reference intervals seen (samples, on coarser series)
        }

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        cfg = self.config
        a = self.arr
        last, run, record = a("last")[slots], a("run")[slots], a("record")[slots]
        same = x == last  # False on a slot's first sample (NaN)
        # A gap of k intervals with one value on both sides counts as k repeats.
        run = np.where(same, run + ctx.ratio, 0.0)
        fade = np.exp(-ctx.ratio / cfg.memory)
        record = record * fade
        stalled = a("stalled")[slots] * fade  # the longest stall that was news
        was_news = a("was_news")[slots] > 0.0
        ended = np.where(same, 0.0, a("run")[slots])
        # A run that has just ended becomes the record if it is the longest so far; a
        # stall that was news only as far as the shorter of it and an earlier one, so
        # that a frozen reading is routine once it has happened twice.
        routine = np.where(was_news, np.minimum(ended, stalled), ended)
        record = np.maximum(record, routine)
        stalled = np.where(was_news & ~same, np.maximum(stalled, ended), stalled)
        was_news = was_news & same
        # How often the series repeats its previous value, per reference interval as runs
        # are counted (per sample at five minutes or coarser): the share of intervals
        # without a change, a cumulative mean at first, then an exponential one over
        # ``memory`` intervals. A sample is its share of an interval, and a change counts
        # as a whole one wherever it falls.
        count = a("count")[slots] + 1.0
        share = np.minimum(ctx.ratio, 1.0)
        shares = a("shares")[slots] + share
        repeat = a("repeat")[slots]
        repeat = repeat + (share - (~same) - share * repeat) / np.clip(shares, 1.0, cfg.memory)
        a("shares")[slots] = shares
        p = np.clip(repeat, 1.0 / (shares + 1.0), 1.0 - 1e-12)
        by_chance = np.log(np.maximum(shares, np.e)) / -np.log(p)
        # The run is news once it beats both the record and chance, and stays news for
        # ``news_span`` records more (at least as many units as that is for a long
        # record); after that the series is known to be stuck until it moves again.
        onset = np.maximum(record, cfg.chance_factor * by_chance)
        span = cfg.news_span * np.maximum(record, cfg.min_unit / cfg.run_fraction)
        news = (run > onset) & (run <= onset + span)
        unit = np.maximum(cfg.run_fraction * record, cfg.min_unit)
        score = np.where(news, (run - record) / unit, 0.0)
        t0 = np.where(np.isfinite(a("t0")[slots]), a("t0")[slots], t)
        discount = youth(cfg.horizon, count, t - t0)
        grown = t - t0 >= cfg.min_history
        score = np.where(grown, np.maximum(score - discount, 0.0), 0.0)
        # Rests at zero (no writes, no requests) vary in length as a matter of course.
        was_news = was_news | ((run > onset) & grown & (x != 0.0))
        a("last")[slots] = x
        a("run")[slots] = run
        a("record")[slots] = record
        a("repeat")[slots] = repeat
        a("t0")[slots] = t0
        a("count")[slots] = count
        a("stalled")[slots] = stalled
        a("was_news")[slots] = was_news
        return Step(score=score, expected=np.where(np.isfinite(last), last, x), scale=unit)
