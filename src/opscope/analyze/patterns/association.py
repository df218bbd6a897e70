"""Alert types that fire together or one after the other, with support, confidence, lift.

Co-occurrence uses fixed time buckets as transactions (the classic market-basket view):
support = P(A and B in a bucket), confidence = P(B | A), lift = P(A, B) / (P(A) P(B)).
Sequences count, for each firing of A, whether B fires within the window after it; the
base rate of B is the chance that a window of that length holds a B at all.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from opscope.analyze.patterns.findings import AssociationRule
from opscope.analyze.patterns.occurrence import KeyOf, occurrences, type_key
from opscope.model.events import Event


def co_occurrences(events: Iterable[Event], window_seconds: float = 300.0,
                   min_count: int = 3, min_confidence: float = 0.5, min_lift: float = 1.5,
                   key: KeyOf = type_key) -> list[AssociationRule]:
    """Pairs of alert types that share time buckets of ``window_seconds`` unusually often.
    One rule per direction that passes (confidence differs by direction)."""
    occs = occurrences(events, key)
    if not occs:
        return []
    origin = occs[0].start.timestamp()
    buckets: dict[int, set[str]] = defaultdict(set)
    for o in occs:
        buckets[int((o.start.timestamp() - origin) // window_seconds)].add(o.key)
    span = occs[-1].start.timestamp() - origin
    total = max(1, int(span // window_seconds) + 1)  # empty buckets are transactions too
    single: Counter[str] = Counter()
    pair: Counter[tuple[str, str]] = Counter()
    for keys in buckets.values():
        ordered = sorted(keys)
        single.update(ordered)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pair[(a, b)] += 1
    out = []
    for (a, b), n in pair.items():
        if n < min_count:
            continue
        lift = n * total / (single[a] * single[b])
        for x, y in ((a, b), (b, a)):
            confidence = n / single[x]
            if confidence >= min_confidence and lift >= min_lift:
                out.append(AssociationRule(
                    kind="co-occurs", antecedent=x, consequent=y, count=n,
                    support=round(n / total, 6), confidence=round(confidence, 4),
                    lift=round(lift, 4), window_seconds=window_seconds))
    return sorted(out, key=lambda r: (-r.lift, -r.confidence, r.antecedent, r.consequent))


def sequences(events: Iterable[Event], window_seconds: float = 600.0, min_count: int = 3,
              min_confidence: float = 0.5, min_lift: float = 1.5,
              key: KeyOf = type_key) -> list[AssociationRule]:
    """``A -> B``: B starts within ``window_seconds`` after A (strictly later)."""
    occs = occurrences(events, key)
    if len(occs) < 2:
        return []
    times = [o.start.timestamp() for o in occs]
    span = max(times[-1] - times[0], window_seconds)
    count: Counter[str] = Counter(o.key for o in occs)
    hits: Counter[tuple[str, str]] = Counter()
    lags: defaultdict[tuple[str, str], float] = defaultdict(float)
    j = 0
    for i, o in enumerate(occs):
        # Two pointers: the window after each firing, so the scan is linear in firings
        # times the (small) number of firings inside one window.
        j = max(j, i + 1)
        while j < len(occs) and times[j] <= times[i]:
            j += 1
        seen: set[str] = set()
        k = j
        while k < len(occs) and times[k] - times[i] <= window_seconds:
            b = occs[k].key
            if b != o.key and b not in seen:
                seen.add(b)
                hits[(o.key, b)] += 1
                lags[(o.key, b)] += times[k] - times[i]
            k += 1
    out = []
    total = len(occs)
    for (a, b), n in hits.items():
        if n < min_count:
            continue
        confidence = n / count[a]
        base = 1.0 - math.exp(-count[b] * window_seconds / span)
        lift = confidence / base if base > 0 else 0.0
        if confidence >= min_confidence and lift >= min_lift:
            out.append(AssociationRule(
                kind="follows", antecedent=a, consequent=b, count=n,
                support=round(n / total, 6), confidence=round(confidence, 4),
                lift=round(lift, 4), window_seconds=window_seconds,
                mean_lag_seconds=round(lags[(a, b)] / n, 3)))
    return sorted(out, key=lambda r: (-r.lift, -r.confidence, r.antecedent, r.consequent))
