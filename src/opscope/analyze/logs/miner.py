"""Online template mining: one pass, bounded memory, ids stable across restarts.

How a line finds its template:

1. The line is split at whitespace and each token is masked (``masking``): numbers,
   addresses, ids and paths become ``<*>``. Lines that then read the same are the same
   event, so a dictionary lookup on the masked tokens answers most lines at once.
2. Otherwise the line is compared with the templates of the same token count, as in Drain
   (He et al., ICWS 2017): the share of positions that agree must reach
   ``similarity``. Positions where the closest template and the line disagree become
   ``<*>``, but only within the part of the token that differs (``rhost=a`` and
   ``rhost=b`` give ``rhost=<*>``).
3. A template that becomes equal to another one is merged into the older one; the merge
   is recorded (old id → new id) so that ids handed out earlier still resolve.

Ids are a hash of the first template text seen for a cluster, so that mining the same
stream again (or restoring saved state) gives the same ids. Memory is bounded by
``max_templates`` and ``max_keys``; evictions are counted in :meth:`TemplateMiner.stats`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.logs.generalize import (
    covers,
    fits_run,
    merge_tokens,
    params_at,
    run_params,
    value_run,
    word_difference,
)
from opscope.analyze.logs.masking import (
    DATETIME_MASK,
    DATETIME_PHRASE,
    WILDCARD,
    TokenMasker,
)
from opscope.errors import ValidationFailed

STATE_VERSION = 1


class MinerConfig(BaseModel):
    """Settings of the template miner: one configuration for every log source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    similarity: float = Field(
        default=0.5, gt=0.0, le=1.0,
        description="Share of agreeing token positions needed to join an existing template.",
    )
    distinct_words: int = Field(
        default=3, ge=2,
        description="Distinct words seen at one place of otherwise equal templates before "
        "that place is taken as a value (usernames vary; 'bytes'/'values' do not).",
    )
    max_templates: int = Field(
        default=5_000, ge=1,
        description="Templates kept; the least recently seen one is evicted beyond this.",
    )
    max_keys: int = Field(
        default=100_000, ge=1,
        description="Masked line shapes remembered for the fast lookup.",
    )
    max_tokens: int = Field(
        default=256, ge=8,
        description="Tokens of a line that take part in mining; the rest is one value.",
    )
    max_merges: int = Field(
        default=10_000, ge=0,
        description="Old-to-new id redirections kept after templates merge.",
    )


@dataclass(frozen=True, slots=True)
class Match:
    """The template a line belongs to and the values it carries.

    ``params`` are worked out when first read: many callers only need the template.
    """

    template_id: str
    template: str
    is_new: bool = False
    changed: bool = False
    template_tokens: list[str] = field(default_factory=list, repr=False, compare=False)
    tokens: list[str] = field(default_factory=list, repr=False, compare=False)
    merged: tuple[str, ...] = ()
    """Ids folded into ``template_id`` by this line; they resolve to it from now on."""
    run_at: int = field(default=-1, repr=False, compare=False)

    @property
    def params(self) -> list[str]:
        """The values of the line, one per ``<*>`` of the template, in order."""
        return run_params(self.template_tokens, self.run_at, self.tokens)


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    template_id: str
    template: str
    count: int
    last_seen: int


@dataclass(slots=True)
class _Cluster:
    id: str
    tokens: list[str]
    count: int = 0
    last_seen: int = 0
    created: int = 0
    # Positions generalised by merging lines, as opposed to values the masking found.
    learned: set[int] = field(default_factory=set)
    keys: set[tuple[str, ...]] = field(default_factory=set)
    text: str = ""
    # Index of a <*> that stands for a run of any number of value tokens, or -1.
    run_at: int = -1
    # Positions of the tokens holding a <*>, where a line's parameters are.
    wild: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.set_tokens(self.tokens)

    def set_tokens(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.text = " ".join(tokens)
        self.wild = tuple(i for i, token in enumerate(tokens) if WILDCARD in token)

    def params(self, tokens: list[str]) -> list[str]:
        """The parameters of a line of this template (``Match.params``)."""
        if self.run_at >= 0:
            return run_params(self.tokens, self.run_at, tokens)
        return params_at(self.tokens, self.wild, tokens)


def _may_hold_date(message: str) -> bool:
    """Cheap test before the date-time regex, which is slow on every line."""
    return _CLOCK.search(message) is not None


_CLOCK = re.compile(r"\d:\d\d:\d\d")


_MAX_QUOTED = 8


def _join_quoted(tokens: list[str]) -> list[str]:
    """Keep a double-quoted value with spaces in one token (``tag="View Lock",``)."""
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.count('"') % 2 == 1:
            end = index + 1
            while end < len(tokens) and end - index < _MAX_QUOTED:
                if tokens[end].count('"') % 2 == 1:
                    token = " ".join(tokens[index:end + 1])
                    index = end
                    break
                end += 1
        out.append(token)
        index += 1
    return out


def _char_overlap(a: str, b: str) -> float:
    """Share of two tokens covered by their common beginning and end."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return (start + end) / max(len(a), len(b), 1)


def _dated(token: str) -> str:
    """The token as masking sees it: a marked date-time reads as its masked shape."""
    return DATETIME_MASK if token.startswith(DATETIME_MASK + "\x01") else token


def template_id_of(template: str) -> str:
    """The id a template gets when it is first seen: a short hash of its text."""
    return "T" + hashlib.blake2b(template.encode(), digest_size=6).hexdigest()


# Messages whose split is remembered: at most this many, of at most this length.
_MAX_REMEMBERED_LINES = 4096
_MAX_REMEMBERED_LENGTH = 1024


class TemplateMiner:
    """Learns log templates from a stream of messages; see the module doc for the method."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        self.config = config or MinerConfig()
        self._masker = TokenMasker()
        self._lines: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._clusters: dict[str, _Cluster] = {}
        self._by_key: dict[tuple[str, ...], str] = {}
        self._by_length: dict[int, list[str]] = {}
        self._merged: dict[str, str] = {}
        # Clusters whose template holds a run of values (kept out of _by_length).
        self._runs: list[str] = []
        # Would-be template -> clusters that differ from it only in words (see _add_sibling).
        self._siblings: dict[tuple[str, ...], list[str]] = {}
        self._seq = 0
        self._evicted_templates = 0
        self._evicted_keys = 0
        self._merge_count = 0
        self._merged_now: list[str] = []

    # -- public API -----------------------------------------------------------------

    def add(self, message: str) -> Match:
        """Learn from one message and return its template."""
        cid, cluster, tokens, is_new, changed = self._learn(message)
        return Match(cid, cluster.text, is_new, changed or bool(self._merged_now),
                     cluster.tokens, tokens, tuple(self._merged_now), cluster.run_at)

    def add_values(self, message: str) -> tuple[str, list[str]]:
        """Learn from one message; its template id and parameters (``add`` without the
        :class:`Match`, for callers that need only these, once per line)."""
        cid, cluster, tokens, _, _ = self._learn(message)
        return cid, cluster.params(tokens)

    def _learn(self, message: str) -> tuple[str, _Cluster, list[str], bool, bool]:
        """(template id, its cluster, the line's tokens, new template?, template changed?)"""
        split, key = self._split(message)
        tokens = list(split)
        self._seq += 1
        self._merged_now = []
        cid = self._by_key.get(key)
        if cid is not None:
            known = self._clusters[cid]
            known.count += 1
            known.last_seen = self._seq
            return cid, known, tokens, False, False
        masked = list(key)
        closest, score, word_diffs = self._closest(masked)
        is_new = changed = False
        if closest is not None and score >= self.config.similarity and not word_diffs:
            cluster = closest
            merged = merge_tokens(cluster.tokens, masked)
            if merged != cluster.tokens:
                changed = True
                cluster.learned.update(
                    i for i, (a, b) in enumerate(zip(cluster.tokens, merged, strict=True))
                    if a != b)
                cluster.set_tokens(merged)
                cluster = self._absorb_duplicates(cluster)
        elif (closest is None or score < self.config.similarity) and (
                run := self._value_run_cluster(masked)) is not None:
            cluster, changed = run
        else:
            near = closest if closest is not None and score >= self.config.similarity else None
            cluster = self._create(masked)
            is_new = True
            # The first word names the event; other differing words may be values
            # (a user name) and are generalised once enough distinct ones are seen.
            if near is not None and 0 not in word_diffs:
                cluster = self._add_sibling(near, cluster, len(word_diffs))
                is_new = cluster.count == 0
        cluster.count += 1
        cluster.last_seen = self._seq
        self._remember_key(key, cluster)
        return cluster.id, cluster, tokens, is_new, changed

    def add_batch(self, messages: Iterable[str]) -> list[Match]:
        return [self.add(message) for message in messages]

    def _value_run_cluster(self, masked: list[str]) -> tuple[_Cluster, bool] | None:
        """A template this line matches but for a longer or shorter run of values."""
        if not any(WILDCARD in t for t in masked):
            return None
        for cid in self._runs:
            cluster = self._clusters[cid]
            if fits_run(cluster.tokens, cluster.run_at, masked):
                return cluster, False
        first = masked[0]
        for length, ids in self._by_length.items():
            if length == len(masked):
                continue
            for cid in ids:
                cluster = self._clusters[cid]
                if not cluster.tokens or cluster.tokens[0] != first:
                    continue  # value_run's first test, without calling it for every template
                found = value_run(cluster.tokens, masked)
                if found is not None:
                    return self._make_run(cluster, *found), True
        return None

    def _make_run(self, cluster: _Cluster, start: int, tail: int) -> _Cluster:
        """Turn ``cluster`` into a template with a value run and absorb what it covers."""
        self._by_length[len(cluster.tokens)].remove(cluster.id)
        tokens = [*cluster.tokens[:start], WILDCARD, *cluster.tokens[len(cluster.tokens) - tail:]]
        cluster.set_tokens(tokens)
        cluster.run_at = start
        cluster.learned = {i for i in cluster.learned if i < start} | {start}
        self._runs.append(cluster.id)
        covered = [
            other for ids in self._by_length.values() for cid in ids
            if fits_run(tokens, start, (other := self._clusters[cid]).tokens)
        ]
        covered += [self._clusters[c] for c in self._runs
                    if c != cluster.id and self._clusters[c].tokens == tokens]
        for other in covered:
            self._fold(other, cluster)
        return cluster

    def _add_sibling(self, near: _Cluster, cluster: _Cluster, places: int) -> _Cluster:
        key = tuple(merge_tokens(near.tokens, cluster.tokens))
        members = [cid for cid in self._siblings.get(key, []) if cid in self._clusters]
        for cid in (near.id, cluster.id):
            if cid not in members:
                members.append(cid)
        # A value is mostly one token; words differing in several places at once are
        # more likely other events, so they need more distinct variants.
        if len(members) < self.config.distinct_words * places:
            if key not in self._siblings and len(self._siblings) >= self.config.max_templates:
                del self._siblings[next(iter(self._siblings))]
            self._siblings[key] = members
            return cluster
        self._siblings.pop(key, None)
        group = sorted((self._clusters[cid] for cid in members), key=lambda c: c.created)
        keeper = group[0]
        tokens = list(key)
        for other in group:
            tokens = merge_tokens(tokens, other.tokens)
        keeper.learned.update(i for i, t in enumerate(tokens) if t != keeper.tokens[i])
        keeper.set_tokens(tokens)
        for other in group[1:]:
            self._fold(other, keeper)
        return self._absorb_duplicates(keeper)

    def match(self, message: str) -> Match | None:
        """The template of a message without learning from it; None when none fits."""
        split, key = self._split(message)
        tokens, masked = list(split), list(key)
        cid = self._by_key.get(key)
        if cid is not None:
            cluster = self._clusters[cid]
        else:
            found, _, _ = self._closest(masked, require_cover=True)
            if found is None:
                found = next((self._clusters[c] for c in self._runs
                              if fits_run(self._clusters[c].tokens, self._clusters[c].run_at,
                                          masked)), None)
            if found is None:
                return None
            cluster = found
        return Match(cluster.id, cluster.text, template_tokens=cluster.tokens, tokens=tokens,
                     run_at=cluster.run_at)

    def resolve(self, template_id: str) -> str:
        """The current id of a template id handed out earlier (follows merges)."""
        seen = 0
        while template_id in self._merged and seen < 64:
            template_id = self._merged[template_id]
            seen += 1
        return template_id

    def template(self, template_id: str) -> str | None:
        cluster = self._clusters.get(self.resolve(template_id))
        return cluster.text if cluster is not None else None

    def templates(self) -> list[TemplateInfo]:
        return [
            TemplateInfo(c.id, c.text, c.count, c.last_seen)
            for c in sorted(self._clusters.values(), key=lambda c: -c.count)
        ]

    def merges(self) -> dict[str, str]:
        return dict(self._merged)

    @property
    def merge_count(self) -> int:
        """Merges made so far (it grows with every merge; a cheap "ids moved" signal)."""
        return self._merge_count

    def stats(self) -> dict[str, int]:
        return {
            "templates": len(self._clusters),
            "keys": len(self._by_key),
            "lines": self._seq,
            "evicted_templates": self._evicted_templates,
            "evicted_keys": self._evicted_keys,
            "merges": self._merge_count,
        }

    # -- state ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole state as versioned, JSON-serialisable data."""
        return {
            "version": STATE_VERSION,
            "config": self.config.model_dump(),
            "seq": self._seq,
            "counters": {
                "evicted_templates": self._evicted_templates,
                "evicted_keys": self._evicted_keys,
                "merges": self._merge_count,
            },
            "templates": [
                {"id": c.id, "tokens": c.tokens, "count": c.count, "last_seen": c.last_seen,
                 "created": c.created, "learned": sorted(c.learned), "run_at": c.run_at,
                 "keys": [list(k) for k in c.keys]}
                for c in self._clusters.values()
            ],
            "merged": self._merged,
            "siblings": [[list(k), v] for k, v in self._siblings.items()],
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> TemplateMiner:
        version = state.get("version")
        if version != STATE_VERSION:
            raise ValidationFailed(f"unsupported template miner state version {version!r}")
        try:
            miner = cls(MinerConfig(**state["config"]))
            miner._seq = int(state["seq"])
            counters = state["counters"]
            miner._evicted_templates = int(counters["evicted_templates"])
            miner._evicted_keys = int(counters["evicted_keys"])
            miner._merge_count = int(counters["merges"])
            for item in state["templates"]:
                cluster = _Cluster(str(item["id"]), [str(t) for t in item["tokens"]],
                                   int(item["count"]), int(item["last_seen"]),
                                   int(item["created"]),
                                   {int(i) for i in item["learned"]})
                cluster.run_at = int(item["run_at"])
                miner._clusters[cluster.id] = cluster
                if cluster.run_at >= 0:
                    miner._runs.append(cluster.id)
                else:
                    miner._by_length.setdefault(len(cluster.tokens), []).append(cluster.id)
                for key in item["keys"]:
                    miner._remember_key(tuple(str(t) for t in key), cluster)
            miner._merged = {str(k): str(v) for k, v in state["merged"].items()}
            miner._siblings = {
                tuple(str(t) for t in key): [str(c) for c in cids]
                for key, cids in state["siblings"]
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"malformed template miner state: {exc}") from exc
        return miner

    # -- internals ------------------------------------------------------------------

    def _split(self, message: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The tokens of a message and their masked form, remembered for short messages:
        many lines repeat exactly once their header is gone (a bounded table)."""
        known = self._lines.get(message)
        if known is not None:
            return known
        tokens, dated = self._tokens(message)
        masked = self._masker.mask_tokens([_dated(t) for t in tokens] if dated else tokens)
        found = (tuple(tokens), tuple(masked))
        if len(message) <= _MAX_REMEMBERED_LENGTH:
            if len(self._lines) >= _MAX_REMEMBERED_LINES:
                self._lines.clear()
            self._lines[message] = found
        return found

    def _tokens(self, message: str) -> tuple[list[str], bool]:
        dated = ":" in message and _may_hold_date(message) and (
            DATETIME_PHRASE.search(message) is not None)
        if dated:
            # Kept whole (spaces and all) so that the parameter is the full date-time.
            message = DATETIME_PHRASE.sub(
                lambda m: DATETIME_MASK + "\x01" + m.group(0).replace(" ", "\x02"), message)
        tokens = message.split()
        if '"' in message:
            tokens = _join_quoted(tokens)
        limit = self.config.max_tokens
        if len(tokens) > limit:
            # A very long line is one event with a long tail of data: keep the head.
            tokens = [*tokens[: limit - 1], " ".join(tokens[limit - 1:])]
        return tokens, dated

    def _closest(
        self, masked: list[str], require_cover: bool = False,
    ) -> tuple[_Cluster | None, float, list[int]]:
        best: _Cluster | None = None
        best_score = -1.0
        best_rank: tuple[float, float, int] = (-1.0, -1.0, -1)
        n = len(masked)
        for cid in self._by_length.get(n, ()):
            cluster = self._clusters[cid]
            same = both_wild = 0
            shared_constant = False
            for a, b in zip(cluster.tokens, masked, strict=True):
                if a == b:
                    if a == WILDCARD:
                        both_wild += 1
                    else:
                        same += 1
                        shared_constant = True
                elif a == WILDCARD:
                    same += 1
            if not shared_constant and n > both_wild:
                continue  # nothing but values in common: no evidence of the same event
            # Positions where both hold a value say nothing about the event's words.
            score = same / (n - both_wild) if n > both_wild else 1.0
            if score < best_score:
                continue
            differing = [(a, b) for a, b in zip(cluster.tokens, masked, strict=True)
                         if a != b and a != WILDCARD]
            if require_cover and not all(covers([a], [b]) for a, b in differing):
                continue
            # Ties go to the template whose differing tokens look most alike, then to the
            # most used one.
            overlap = sum(_char_overlap(a, b) for a, b in differing)
            rank = (score, overlap, cluster.count)
            if rank > best_rank:
                best, best_score, best_rank = cluster, score, rank
        if best is None:
            return None, best_score, []
        word_diffs = [
            i for i, (a, b) in enumerate(zip(best.tokens, masked, strict=True))
            if a != b and word_difference(a, b, i in best.learned)
        ]
        return best, best_score, word_diffs

    def _create(self, masked: list[str]) -> _Cluster:
        if len(self._clusters) >= self.config.max_templates:
            self._evict_one()
        text = " ".join(masked)
        cid = template_id_of(text)
        suffix = 1
        while cid in self._clusters or cid in self._merged:
            cid = template_id_of(f"{text}\0{suffix}")
            suffix += 1
        cluster = _Cluster(cid, list(masked), created=self._seq)
        self._clusters[cid] = cluster
        self._by_length.setdefault(len(masked), []).append(cid)
        return cluster

    def _remember_key(self, key: tuple[str, ...], cluster: _Cluster) -> None:
        if key in self._by_key:
            return
        if len(self._by_key) >= self.config.max_keys:
            # Dict order is insertion order: the oldest shape goes first.
            old_key, old_cid = next(iter(self._by_key.items()))
            del self._by_key[old_key]
            owner = self._clusters.get(old_cid)
            if owner is not None:
                owner.keys.discard(old_key)
            self._evicted_keys += 1
        self._by_key[key] = cluster.id
        cluster.keys.add(key)

    def _evict_one(self) -> None:
        victim = min(self._clusters.values(), key=lambda c: (c.last_seen, c.count))
        self._drop(victim)
        self._evicted_templates += 1

    def _drop(self, cluster: _Cluster) -> None:
        del self._clusters[cluster.id]
        if cluster.run_at >= 0:
            self._runs.remove(cluster.id)
        else:
            self._by_length[len(cluster.tokens)].remove(cluster.id)
        for key in cluster.keys:
            if self._by_key.get(key) == cluster.id:
                del self._by_key[key]

    def _absorb_duplicates(self, cluster: _Cluster) -> _Cluster:
        """Merge clusters that ``cluster``'s template now covers; the older id survives."""
        same = [cluster]
        for cid in self._by_length[len(cluster.tokens)]:
            other = self._clusters[cid]
            if other is not cluster and covers(cluster.tokens, other.tokens):
                same.append(other)
        if len(same) == 1:
            return cluster
        keeper = min(same, key=lambda c: (c.created, c.id))
        keeper.set_tokens(cluster.tokens)
        for other in same:
            if other is not keeper:
                self._fold(other, keeper)
        return keeper

    def _fold(self, other: _Cluster, keeper: _Cluster) -> None:
        """Merge ``other`` into ``keeper`` and record the redirection of its id."""
        keeper.count += other.count
        keeper.last_seen = max(keeper.last_seen, other.last_seen)
        keys = list(other.keys)
        self._drop(other)
        for key in keys:
            self._by_key[key] = keeper.id
            keeper.keys.add(key)
        self._record_merge(other.id, keeper.id)

    def _record_merge(self, old: str, new: str) -> None:
        self._merged_now.append(old)
        self._merge_count += 1
        if self.config.max_merges == 0:
            return
        if len(self._merged) >= self.config.max_merges:
            del self._merged[next(iter(self._merged))]
        self._merged[old] = new
