"""Group signals into incidents in event time; open, grow, resolve, merge and split them.

A new signal joins the best-linked active incident (see ``linker``) whose last change is
within the correlation window, or starts a pending one. A pending incident opens once it
holds ``min_signals`` signals or one of ``min_severity``. Resolved incidents never take new
signals: the newcomer starts a new incident that is linked to the old one as a recurrence.
A signal of a new kind can move members that joined other incidents a moment before and
that it explains better (see ``regroup``); each move is recorded in both incidents'
timelines.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from opscope.analyze.correlate.changes import ChangeLog
from opscope.analyze.correlate.config import CorrelationConfig
from opscope.analyze.correlate.incident_state import IncidentState, MemberState
from opscope.analyze.correlate.learned import CoOccurrenceModel
from opscope.analyze.correlate.linker import EvidenceLinker, Link, Linker
from opscope.analyze.correlate.regroup import Move, Regrouper
from opscope.analyze.correlate.topology import TopologyIndex
from opscope.errors import NotFound, ValidationFailed
from opscope.model.incident import (
    ChangeKind,
    Feedback,
    FeedbackKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Mute,
    Signal,
    TimelineEntry,
    TimelineKind,
)

STATE_VERSION = 1
_RECENT_PER_TYPE = 16


class IncidentCorrelator:
    def __init__(self, config: CorrelationConfig | None = None,
                 topology: TopologyIndex | None = None,
                 learned: CoOccurrenceModel | None = None,
                 linker: Linker | None = None) -> None:
        self.config = config or CorrelationConfig()
        self.topology = topology or TopologyIndex(max_hops=self.config.max_hops)
        self.learned = learned or CoOccurrenceModel(
            self.config.learned_min_count, max_known=self.config.learned_max_types,
            min_alone_count=self.config.solitude_min_count)
        self.linker: Linker = linker or EvidenceLinker(self.config, self.topology, self.learned)
        self.regrouper = Regrouper(self.config, self.topology, self.linker, self._derive)
        self.changes = ChangeLog()
        self.feedback: list[Feedback] = []
        self._incidents: dict[str, IncidentState] = {}
        self._active: dict[str, IncidentState] = {}
        self._by_signal: dict[str, str] = {}
        self._resolved_by_type: dict[str, deque[tuple[datetime, str]]] = {}
        # Active incidents by the time bucket (one window wide) of their last join, so a
        # newcomer is compared only with incidents that can still take it.
        self._buckets: dict[int, set[str]] = {}
        self._bucket_of: dict[str, int] = {}
        self.evicted = 0
        """Active incidents ended early because ``max_active_incidents`` were active."""
        self.finished_dropped = 0
        """Finished incidents forgotten before the recurrence horizon (over the cap)."""

    def _bucket(self, at: datetime) -> int:
        return int(at.timestamp() // (self.config.window_minutes * 60.0))

    def _index(self, inc: IncidentState) -> None:
        self._unindex(inc.id)
        if inc.active:
            k = self._bucket(inc.last_activity or inc.opened_at)
            self._buckets.setdefault(k, set()).add(inc.id)
            self._bucket_of[inc.id] = k

    def _unindex(self, incident_id: str) -> None:
        k = self._bucket_of.pop(incident_id, None)
        if k is not None:
            ids = self._buckets[k]
            ids.discard(incident_id)
            if not ids:
                del self._buckets[k]

    def _recent(self, at: datetime) -> list[IncidentState]:
        window = timedelta(minutes=self.config.window_minutes)
        lo, hi = self._bucket(at - window), self._bucket(at)
        found = [self._active[i] for k in range(lo, hi + 2) for i in self._buckets.get(k, ())]
        return [inc for inc in found if at - (inc.last_activity or inc.opened_at) <= window]

    # -- signals -----------------------------------------------------------------------

    def observe(self, signal: Signal, at: datetime, muted_by: Sequence[Mute] = (),
                new: bool = False) -> str | None:
        """Fold a signal update in; return the id of the incident holding it, if any.

        ``new`` marks a new occurrence or a reopened one; other updates (repeats,
        resolves, flapping) only refresh a signal that is already placed.
        """
        mutes = list(muted_by)
        inc_id = self._by_signal.get(signal.id)
        inc = self._incidents.get(inc_id) if inc_id else None
        if inc is not None and inc.active:
            window = timedelta(minutes=self.config.window_minutes)
            last = inc.last_activity or inc.opened_at
            refired = new and signal.firing and not signal.flapping
            if not refired or (at - last <= window and (
                    mutes or not self._explained_elsewhere(signal, inc, at))):
                self._refresh(inc, signal, at, mutes)
                return inc.id
            # It fired again after its incident went quiet, or while another incident
            # explains it better: place it afresh. The old incident keeps the earlier
            # (resolved) state of the member as history.
        if inc is not None:
            del self._by_signal[signal.id]  # its incident is over: a recurrence, if firing
        if not signal.firing and not new:
            return None
        return self._place(signal, at, mutes, leaving=inc.id if inc is not None else None)

    def _explained_elsewhere(self, signal: Signal, inc: IncidentState, at: datetime) -> bool:
        """Whether another recent incident links a signal that fired again better than its
        own incident does without it: two problems can move the same entity one after the
        other, and the later one may be what brought the signal back."""
        member = inc.members[signal.id]
        inc.count_out(member)
        self._derive(inc)
        try:
            own = self.linker.link(signal, inc, at)
        finally:
            inc.count_in(member, self.config.max_profile_types)
            self._derive(inc)
        floor = max(own.score if own is not None else 0.0, self.config.join_threshold)
        part = self._partition(signal)
        for other in self._recent(at):
            if other is inc or other.partition != part:
                continue
            link = self.linker.link(signal, other, at)
            if link is not None and link.score > floor:
                return True
        return False

    def _partition(self, signal: Signal) -> tuple[str, ...]:
        return tuple(signal.labels.get(k, "") for k in self.config.partition_by)

    def _place(self, signal: Signal, at: datetime, mutes: list[Mute],
               leaving: str | None = None) -> str | None:
        """Join the best-linked recent incident (never ``leaving``, the one the signal
        was in) or start a new one."""
        part = self._partition(signal)
        scored: list[tuple[float, datetime, str, Link]] = []
        for inc in self._recent(at):
            if inc.partition != part or (mutes and inc.status is not IncidentStatus.OPEN) \
                    or inc.id == leaving:
                continue
            last = inc.last_activity or inc.opened_at
            link = self.linker.link(signal, inc, at)
            if link is None or link.score < self.config.join_threshold:
                continue
            scored.append((link.score, last, inc.id, link))
        if scored:
            # Highest score, then most recent activity, then the smaller id (determinism).
            scored.sort(key=lambda item: (-item[0], -item[1].timestamp(), item[2]))
            _, _, best_id, best_link = scored[0]
            inc = self._active[best_id]
            new_kind = signal.type_key not in inc.types
            self._add(inc, MemberState(signal, at, best_link.score, best_link.reason, mutes), at)
            causes = [self._active[item[2]] for item in scored[1:] if item[3].cause]
            causes = [c for c in causes if not c.pinned]  # operators' groupings stand
            if best_link.cause and causes and not mutes:
                # One signal below the roots of several young incidents: a common cause
                # explains them all, so they are one incident.
                self._merge_into(inc, causes, at,
                                 f"common cause {signal.name} on {signal.entity}")
            if new_kind and not mutes:
                self._regroup(inc, signal.entity, at)
            return inc.id
        if mutes:
            return None  # suppressed signals never start an incident
        self._evict_for_one(at)
        inc = self._new_incident(signal, part)
        self._add(inc, MemberState(signal, at, 1.0, "first signal", mutes), at)
        self._regroup(inc, signal.entity, at)
        return inc.id

    def _regroup(self, inc: IncidentState, entity: str, at: datetime) -> None:
        """A signal of a new kind on ``entity`` joined ``inc``: move the member groups
        placed a moment before (``regroup_seconds``) that ``inc`` now explains better. A
        moved group is new evidence in its turn (the dependents of its entity are weighed
        again, once per entity), up to ``max_regroup_moves`` moves."""
        left = self.config.max_regroup_moves
        if self.config.regroup_seconds <= 0 or left <= 0:
            return
        todo, seen = deque([entity]), {entity}
        while todo and left > 0 and inc.active:
            for move in self.regrouper.moves(inc, todo.popleft(), self._recent(at), at):
                src = move.source
                if not src.active or any(s not in src.members for s in move.signal_ids):
                    continue  # an earlier move took its incident or members
                self._move(move, inc, at)
                left -= 1
                if move.entity not in seen:
                    seen.add(move.entity)
                    todo.append(move.entity)
                if left <= 0 or not inc.active:
                    break

    def _move(self, move: Move, target: IncidentState, at: datetime) -> None:
        """Move a group of members from its incident to ``target`` (an open incident)."""
        src = move.source
        why = (f"{move.name} on {move.entity} is better explained here ({move.link.reason}) "
               f"than in {src.id} "
               f"({move.stay.reason if move.stay is not None else 'no other link'})")
        if len(move.signal_ids) == len(src.members):  # all of it: a merge
            self._merge_into(target, [src], at, "automatic: " + why)
            return
        streamed = src.status is not IncidentStatus.PENDING
        for signal_id in move.signal_ids:
            member = src.members.pop(signal_id)
            src.count_out(member)
            member.moves += 1
            member.score, member.reason = move.link.score, f"moved from {src.id}: " \
                f"{move.link.reason}"
            if signal_id in target.members:  # an earlier state of the same occurrence
                target.count_out(target.members[signal_id])
            target.members[signal_id] = member
            target.count_in(member, self.config.max_profile_types)
            target.opened_at = min(target.opened_at, member.signal.since)
            self._by_signal[signal_id] = target.id
            if streamed:
                self.changes.note(src, ChangeKind.UPDATED, at, removed=signal_id)
            self.changes.note(target, ChangeKind.UPDATED, at, member=signal_id)
        target.touch(at)
        self._index(target)
        self._derive(src)
        self._derive(target)
        data = {"automatic": True, "signal_ids": list(move.signal_ids)}
        n = len(move.signal_ids)
        if streamed:
            self.changes.note(src, ChangeKind.UPDATED, at, timeline=TimelineEntry(
                incident_id=src.id, ts=at, kind=TimelineKind.SPLIT,
                summary=f"{n} signal{'s' if n > 1 else ''} moved automatically to "
                        f"{target.id}: {why}"[:2048], data={**data, "moved_to": target.id}))
        self.changes.note(target, ChangeKind.UPDATED, at, timeline=TimelineEntry(
            incident_id=target.id, ts=at, kind=TimelineKind.SIGNAL_ADDED,
            summary=f"{n} signal{'s' if n > 1 else ''} moved automatically from "
                    f"{src.id}: {why}"[:2048], data={**data, "moved_from": src.id}))

    def _new_incident(self, signal: Signal, part: tuple[str, ...]) -> IncidentState:
        digest = hashlib.blake2b(digest_size=6)
        digest.update(f"{signal.id}|{signal.since.isoformat()}".encode())
        inc_id = f"inc-{digest.hexdigest()}"
        while inc_id in self._incidents:  # same occurrence placed again after a split
            digest.update(b"+")
            inc_id = f"inc-{digest.hexdigest()}"
        group = {k: signal.labels[k] for k in self.config.group_by if k in signal.labels}
        inc = IncidentState(id=inc_id, opened_at=signal.since, updated_at=signal.since,
                            group=group if len(group) == len(self.config.group_by) else {},
                            partition=part)
        self._incidents[inc_id] = inc
        self._active[inc_id] = inc
        return inc

    def _add(self, inc: IncidentState, member: MemberState, at: datetime) -> None:
        sig = member.signal
        before = set(inc.entities)
        previous = inc.members.get(sig.id)
        if previous is not None:  # the same occurrence returning to this incident
            inc.count_out(previous)
        inc.members[sig.id] = member
        inc.count_in(member, self.config.max_profile_types)
        self._by_signal[sig.id] = inc.id
        inc.opened_at = min(inc.opened_at, sig.since)
        inc.touch(at)
        self._index(inc)
        if set(inc.entities) != before:
            self._derive(inc)
        if inc.status is IncidentStatus.PENDING:
            self._maybe_open(inc, at)
            return
        text = f"{sig.name} on {sig.entity or '?'} joined: {member.reason}"
        if member.muted_by:
            text += f" (muted: {member.muted_by[0].reason})"
        entry = TimelineEntry(incident_id=inc.id, ts=at, kind=TimelineKind.SIGNAL_ADDED,
                              summary=text[:2048], signal_id=sig.id)
        self.changes.note(inc, ChangeKind.UPDATED, at, member=sig.id, timeline=entry)

    def _refresh(self, inc: IncidentState, signal: Signal, at: datetime,
                 mutes: list[Mute]) -> None:
        old = inc.members[signal.id]
        new = MemberState(signal, old.joined_at, old.score, old.reason, mutes)
        inc.count_out(old)
        inc.members[signal.id] = new
        inc.count_in(new, self.config.max_profile_types)
        changed_state = old.signal.firing != signal.firing or bool(old.muted_by) != bool(mutes)
        # Only joins count as activity for the correlation window: a long-firing or
        # flapping member must not keep an incident attracting unrelated newcomers.
        inc.updated_at = max(inc.updated_at, at)
        if inc.status is IncidentStatus.PENDING:
            self._maybe_open(inc, at)
            return
        entry = None
        if old.signal.firing and not signal.firing:
            entry = TimelineEntry(incident_id=inc.id, ts=signal.resolved_at or at,
                                  kind=TimelineKind.SIGNAL_RESOLVED, signal_id=signal.id,
                                  summary=f"{signal.name} on {signal.entity or '?'} resolved")
        elif old.signal.severity != signal.severity:
            entry = TimelineEntry(incident_id=inc.id, ts=at, kind=TimelineKind.SEVERITY_CHANGED,
                                  signal_id=signal.id,
                                  summary=f"{signal.name} is now {signal.severity.value}")
        if entry is not None or changed_state:
            self.changes.note(inc, ChangeKind.UPDATED, at, member=signal.id, timeline=entry)

    def _derive(self, inc: IncidentState) -> None:
        """Recompute what depends on the entity set (it changes rarely: bounded by the
        topology, not by the number of signals)."""
        inc.roots = self.topology.roots(inc.entities)
        inc.sibling_deps = set()
        for e in inc.entities:
            inc.sibling_deps |= self.topology.direct_service_deps(e)
        inc.impact = self.topology.impact(inc.entities)

    def _maybe_open(self, inc: IncidentState, at: datetime) -> None:
        cfg = self.config
        if inc.counted < cfg.min_signals and inc.severity.rank < cfg.min_severity.rank:
            return
        why = f"{inc.counted} signals" if inc.counted >= cfg.min_signals else \
            f"a {inc.severity.value} signal"
        self._open(inc, at, why)

    def _open(self, inc: IncidentState, at: datetime, why: str) -> None:
        inc.status = IncidentStatus.OPEN
        inc.recurrence_of = self._recurrence_of(inc)
        if inc.recurrence_of:
            why += f"; recurrence of {inc.recurrence_of}"
        self.changes.note(inc, ChangeKind.OPENED, at, timeline=TimelineEntry(
            incident_id=inc.id, ts=at, kind=TimelineKind.OPENED, summary=f"opened: {why}"))
        for member in sorted(inc.members.values(), key=lambda m: (m.joined_at, m.signal.id)):
            self.changes.note(inc, ChangeKind.OPENED, at, member=member.signal.id,
                              timeline=TimelineEntry(
                                  incident_id=inc.id, ts=member.joined_at,
                                  kind=TimelineKind.SIGNAL_ADDED, signal_id=member.signal.id,
                                  summary=f"{member.signal.name} on "
                                          f"{member.signal.entity or '?'}: {member.reason}"))

    def _recurrence_of(self, inc: IncidentState) -> str | None:
        horizon = timedelta(days=self.config.recurrence_days)
        shared: dict[str, int] = {}
        for key in inc.types:
            for resolved_at, old_id in self._resolved_by_type.get(key, ()):
                if inc.opened_at - resolved_at <= horizon:
                    shared[old_id] = shared.get(old_id, 0) + 1
        if not shared:
            return None
        old_id, count = max(shared.items(), key=lambda kv: (kv[1], kv[0]))
        return old_id if 2 * count >= len(inc.types) else None

    # -- time --------------------------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Resolve incidents whose members have all been resolved for the quiet period;
        forget pending groups that never opened."""
        quiet = timedelta(minutes=self.config.resolve_quiet_minutes)
        for inc in list(self._active.values()):
            if inc.firing > 0:
                continue
            ended = inc.last_resolved or inc.updated_at
            if now - ended < quiet:
                continue
            if inc.status is IncidentStatus.PENDING:
                self._forget_pending(inc)
            else:
                self._resolve(inc, ended)
        self._prune(now)

    def _evict_for_one(self, at: datetime) -> None:
        """Make room for one more active incident: end the one whose latest join is
        oldest (the buckets are ordered by it, so only the oldest bucket is scanned)."""
        while len(self._active) >= self.config.max_active_incidents and self._buckets:
            oldest = self._buckets[min(self._buckets)]
            inc = self._active[min(oldest, key=lambda i: (
                self._active[i].last_activity or self._active[i].opened_at, i))]
            self.evicted += 1
            if inc.status is IncidentStatus.PENDING:
                self._forget_pending(inc)
            else:
                self._resolve(inc, max(at, inc.updated_at), evicted=True)

    def _forget_pending(self, inc: IncidentState) -> None:
        if len(inc.types) == 1:  # a signal that came and went alone: its history counts
            self.learned.learn(inc.types)
        del self._active[inc.id]
        self._unindex(inc.id)
        del self._incidents[inc.id]
        for signal_id in inc.members:
            if self._by_signal.get(signal_id) == inc.id:
                del self._by_signal[signal_id]

    def _resolve(self, inc: IncidentState, at: datetime, evicted: bool = False) -> None:
        self.changes.flush(inc.id)  # earlier changes are snapshotted before it resolves
        inc.status = IncidentStatus.RESOLVED
        inc.resolved_at = at
        inc.updated_at = max(inc.updated_at, at)
        del self._active[inc.id]
        self._unindex(inc.id)
        self.learned.learn(inc.types)
        for key in inc.types:
            recent = self._resolved_by_type.setdefault(key, deque(maxlen=_RECENT_PER_TYPE))
            recent.append((at, inc.id))
        why = (f"resolved: more than {self.config.max_active_incidents} incidents were "
               "active and this one had been quiet longest" if evicted else
               "resolved: every signal has been resolved for "
               f"{self.config.resolve_quiet_minutes:g} minutes")
        self.changes.note(inc, ChangeKind.RESOLVED, at, timeline=TimelineEntry(
            incident_id=inc.id, ts=at, kind=TimelineKind.RESOLVED,
            summary=why))

    def _prune(self, now: datetime) -> None:
        """Forget finished incidents past the recurrence horizon (the store keeps them),
        and the oldest finished ones past ``max_finished_incidents``."""
        horizon = timedelta(days=self.config.recurrence_days)
        finished = [inc for inc in self._incidents.values() if not inc.active]
        cap = self.config.max_finished_incidents
        if len(finished) > cap:
            # Down to nine tenths, so that a steady stream sorts once per many incidents.
            finished.sort(key=lambda inc: (inc.updated_at, inc.id))
            for inc in finished[:len(finished) - cap * 9 // 10]:
                self.finished_dropped += 1
                self._forget(inc)
        for inc in finished:
            if inc.id in self._incidents and now - inc.updated_at > horizon:
                self._forget(inc)
        # Types whose latest resolve is past the horizon can link no recurrence any more.
        for key, recent in list(self._resolved_by_type.items()):
            if not recent or now - recent[-1][0] > horizon:
                del self._resolved_by_type[key]

    def _forget(self, inc: IncidentState) -> None:
        del self._incidents[inc.id]
        for signal_id in inc.members:
            if self._by_signal.get(signal_id) == inc.id:
                del self._by_signal[signal_id]

    # -- operator actions --------------------------------------------------------------

    def _get(self, incident_id: str) -> IncidentState:
        """A published incident (pending groups are internal: not visible, not editable)."""
        inc = self._incidents.get(incident_id)
        if inc is None or inc.status is IncidentStatus.PENDING:
            raise NotFound(f"no incident {incident_id!r}")
        return inc

    def merge(self, target_id: str, source_ids: Sequence[str], at: datetime,
              actor: str = "") -> Incident:
        """Move every member of the sources into the target; sources become ``merged``."""
        target = self._get(target_id)
        sources = [self._get(s) for s in dict.fromkeys(source_ids) if s != target_id]
        if not sources:
            raise ValidationFailed("merge needs at least one other incident")
        groups = [sorted(target.types), *[sorted(src.types) for src in sources]]
        self._merge_into(target, sources, at, "by " + actor if actor else "by an operator")
        target.pinned = True
        self.learned.learn([t for g in groups for t in g], weight=self.config.feedback_weight)
        self.feedback.append(Feedback(kind=FeedbackKind.MERGE, ts=at, actor=actor,
                                      incident_ids=[target.id, *[s.id for s in sources]],
                                      together=groups))
        return target.snapshot()

    def _merge_into(self, target: IncidentState, sources: Sequence[IncidentState],
                    at: datetime, why: str) -> None:
        for src in sources:
            streamed = src.status is not IncidentStatus.PENDING
            for signal_id, member in list(src.members.items()):
                src.count_out(member)
                del src.members[signal_id]
                if signal_id in target.members:  # an earlier state of the same occurrence
                    target.count_out(target.members[signal_id])
                target.members[signal_id] = member
                target.count_in(member, self.config.max_profile_types)
                self._by_signal[signal_id] = target.id
                if streamed:
                    self.changes.note(src, ChangeKind.UPDATED, at, removed=signal_id)
                if target.status is not IncidentStatus.PENDING:
                    self.changes.note(target, ChangeKind.UPDATED, at, member=signal_id)
            target.opened_at = min(target.opened_at, src.opened_at)
            target.last_resolved = max(filter(None, (target.last_resolved, src.last_resolved)),
                                       default=None)
            self._active.pop(src.id, None)
            self._unindex(src.id)
            if streamed:
                src.status, src.merged_into = IncidentStatus.MERGED, target.id
                src.updated_at = max(src.updated_at, at)
                self.changes.note(src, ChangeKind.UPDATED, at, timeline=TimelineEntry(
                    incident_id=src.id, ts=at, kind=TimelineKind.MERGED,
                    summary=f"merged into {target.id} ({why})"))
            else:
                del self._incidents[src.id]  # never published: nothing to keep
        target.touch(at)
        self._derive(target)
        if target.status is IncidentStatus.PENDING:
            self._maybe_open(target, at)
        elif target.status is IncidentStatus.RESOLVED:
            target.status, target.resolved_at = IncidentStatus.OPEN, None
            self._active[target.id] = target
        self._index(target)
        if target.status is not IncidentStatus.PENDING:
            names = ", ".join(s.id for s in sources)
            self.changes.note(target, ChangeKind.UPDATED, at, timeline=TimelineEntry(
                incident_id=target.id, ts=at, kind=TimelineKind.MERGED,
                summary=f"merged {names} ({why})", data={"merged": [s.id for s in sources]}))

    def split(self, incident_id: str, signal_ids: Sequence[str], at: datetime,
              actor: str = "") -> Incident:
        """Move the named members into a new open incident; return the new incident."""
        old = self._get(incident_id)
        moving = [s for s in dict.fromkeys(signal_ids) if s in old.members]
        if not moving or len(moving) == len(old.members):
            raise ValidationFailed("split must move some, but not all, members")
        first = min((old.members[s] for s in moving), key=lambda m: m.signal.since)
        new = self._new_incident(first.signal, old.partition)
        new.status = IncidentStatus.OPEN
        old.pinned = new.pinned = True
        for signal_id in moving:
            member = old.members.pop(signal_id)
            old.count_out(member)
            new.members[signal_id] = member
            new.count_in(member, self.config.max_profile_types)
            new.opened_at = min(new.opened_at, member.signal.since)
            self._by_signal[signal_id] = new.id
            self.changes.note(old, ChangeKind.UPDATED, at, removed=signal_id)
        new.touch(at)
        self._index(new)
        self._derive(old)
        self._derive(new)
        suffix = f" by {actor}" if actor else ""
        self.changes.note(old, ChangeKind.UPDATED, at, timeline=TimelineEntry(
            incident_id=old.id, ts=at, kind=TimelineKind.SPLIT,
            summary=f"{len(moving)} signals split off into {new.id}{suffix}"))
        self.changes.note(new, ChangeKind.OPENED, at, timeline=TimelineEntry(
            incident_id=new.id, ts=at, kind=TimelineKind.SPLIT,
            summary=f"split off {old.id}{suffix}"))
        for signal_id in moving:
            self.changes.note(new, ChangeKind.OPENED, at, member=signal_id)
        left, right = sorted(old.types), sorted(new.types)
        self.learned.separate(left, right, self.config.feedback_weight)
        self.feedback.append(Feedback(kind=FeedbackKind.SPLIT, ts=at, actor=actor,
                                      incident_ids=[old.id, new.id], apart=[left, right]))
        return new.snapshot()

    def acknowledge(self, incident_id: str, at: datetime, actor: str) -> Incident:
        inc = self._get(incident_id)
        inc.acknowledged_by = actor or "unknown"
        self.changes.note(inc, ChangeKind.UPDATED, at, timeline=TimelineEntry(
            incident_id=inc.id, ts=at, kind=TimelineKind.ACKNOWLEDGED,
            summary=f"acknowledged by {inc.acknowledged_by}"))
        return inc.snapshot()

    def note_cause(self, incident_id: str, at: datetime, summary: str,
                   data: dict[str, Any]) -> None:
        """Record that root-cause ranking now puts another entity first."""
        inc = self._get(incident_id)
        self.changes.note(inc, ChangeKind.UPDATED, at, timeline=TimelineEntry(
            incident_id=inc.id, ts=at, kind=TimelineKind.CAUSE_CHANGED, summary=summary,
            data=data))

    def link_ticket(self, incident_id: str, ticket_id: str, at: datetime) -> Incident:
        inc = self._get(incident_id)
        if ticket_id not in inc.ticket_ids:
            inc.ticket_ids.append(ticket_id)
        self.changes.note(inc, ChangeKind.UPDATED, at, timeline=TimelineEntry(
            incident_id=inc.id, ts=at, kind=TimelineKind.TICKET_LINKED,
            summary=f"ticket {ticket_id} linked"))
        return inc.snapshot()

    # -- views -------------------------------------------------------------------------

    def bounded_state(self) -> dict[str, tuple[int, int]]:
        """Per capped kind of state: how many are held now, how many were evicted."""
        active = len(self._active)
        return {"active_incidents": (active, self.evicted),
                "finished_incidents": (len(self._incidents) - active, self.finished_dropped),
                "learned_types": (len(self.learned.counts), self.learned.forgotten)}

    def drain(self) -> list[IncidentChange]:
        return self.changes.drain()

    def incident_of(self, signal_id: str) -> str | None:
        inc_id = self._by_signal.get(signal_id)
        inc = self._incidents.get(inc_id) if inc_id else None
        return inc_id if inc is not None and inc.status is not IncidentStatus.PENDING else None

    def get(self, incident_id: str) -> Incident | None:
        inc = self._incidents.get(incident_id)
        return None if inc is None else inc.snapshot()

    def members(self, incident_id: str) -> list[IncidentMember]:
        inc = self._get(incident_id)
        return [m.snapshot(inc.id) for m in inc.members.values()]

    def incidents(self, include_pending: bool = False) -> list[Incident]:
        return [inc.snapshot() for inc in self._incidents.values()
                if include_pending or inc.status is not IncidentStatus.PENDING]

    # -- state -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "seq": self.changes.seq,
            "incidents": [inc.to_json() for inc in self._incidents.values()],
            "resolved_by_type": {k: [[t.isoformat(), i] for t, i in v]
                                 for k, v in self._resolved_by_type.items()},
            "learned": self.learned.to_json(),
            "feedback": [f.model_dump(mode="json") for f in self.feedback],
        }

    def load_json(self, doc: dict[str, Any]) -> None:
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported correlation state version {doc.get('version')!r}")
        self.changes = ChangeLog(int(doc["seq"]))
        self._incidents.clear()
        self._active.clear()
        self._by_signal.clear()
        self._buckets.clear()
        self._bucket_of.clear()
        for item in doc["incidents"]:
            inc = IncidentState.from_json(item, self.config.max_profile_types)
            self._derive(inc)
            self._incidents[inc.id] = inc
            if inc.active:
                self._active[inc.id] = inc
                self._index(inc)
            for signal_id in inc.members:
                self._by_signal[signal_id] = inc.id
        self._resolved_by_type = {
            k: deque(((datetime.fromisoformat(t), i) for t, i in v), maxlen=_RECENT_PER_TYPE)
            for k, v in doc["resolved_by_type"].items()}
        self.learned.load_json(doc["learned"])
        self.feedback = [Feedback.model_validate(f) for f in doc["feedback"]]
