"""Natural-language help over the API (scope ``read``).

``GET /api/v1/incidents/{id}/similar`` ranks past incidents by what they are made of
(TF-IDF over signals, entities, title and root cause), each with its score, the shared
features behind it and how it ended. ``GET /api/v1/incidents/{id}/summary`` is a
plain-English summary whose every sentence names the fields it states.
``GET /api/v1/ask?q=`` reads a plain-English question into a structured query, answers
it from the store's read paths and returns the reading beside the results; a question
with words it cannot place answers 422 with the reading and those words.

The functions below the routes take a store, so that the CLI answers the same way from
a stopped server's data directory.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from opscope.analyze.nlp.narrate import NarrationFailed, narrate
from opscope.analyze.nlp.query import (
    MAX_QUESTION_CHARS,
    Aggregate,
    Interpretation,
    Subject,
    parse_question,
)
from opscope.analyze.nlp.record import IncidentRecord
from opscope.analyze.nlp.similar import IncidentLibrary, SimilarityConfig
from opscope.analyze.nlp.summary import CHANGE_LOOKBACK, summarize
from opscope.config import LanguageModel
from opscope.errors import NotFound, ValidationFailed
from opscope.present.api.deps import require, services_of
from opscope.present.api.errors import error_body
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.store.ports import (
    EventQuery,
    ExecutionQuery,
    IncidentQuery,
    LogQuery,
    Page,
    RecordQuery,
    Row,
    Store,
    TimeRange,
    read_pages,
)

router = APIRouter(prefix="/api/v1", tags=["natural language"],
                   dependencies=[Depends(require("read"))])

COUNT_CAP = 10_000
"""Rows read at most to count or rank; a count that reaches it is reported as "at least"."""
KNOWN_ENTITY_ROWS = 1000
"""Recent incidents and events whose entities are matched, besides the topology's."""
LIBRARY_KEY = "nlp.similar"


# --- routes ---------------------------------------------------------------------------


@router.get("/incidents/{incident_id}/similar",
            summary="Similar past incidents, with the shared features and how they ended",
            description="Incidents (any status, not this one nor those merged into it) "
                        "ranked by a 0..1 score: TF-IDF cosine over their signals, entities, "
                        "title and root cause, plus a small term for the same root-cause "
                        "metric on the same kind of entity. Each result lists the features "
                        "both share and how it ended (resolved when, by whom, tickets).")
async def similar(incident_id: str, limit: int = Query(5, ge=1, le=50),
                  services: Services = Depends(services_of)) -> JSONAnswer:
    found = await run_in_threadpool(similar_incidents, services.store, incident_id, limit,
                                    library_of(services))
    return JSONAnswer(found)


@router.get("/incidents/{incident_id}/summary",
            summary="A plain-English summary of an incident, each sentence with its sources",
            description="Sentences on what is affected (and the user-facing impact), since "
                        "when, its signals, the most likely cause and why, suspect changes "
                        "and its state. Built only from the record: absent fields are "
                        "left out.")
async def summary(incident_id: str, narrate: bool = Query(
        False, description="Also have the operator's own language model (nlp.llm) retell "
        "the summary; its answer comes as 'narrative', labelled with the model, or the "
        "reason it failed as 'narrative_error'. Without a configured model nothing is sent."),
        services: Services = Depends(services_of)) -> JSONAnswer:
    llm = services.settings.nlp.llm
    found = await run_in_threadpool(incident_summary, services.store, incident_id,
                                    llm if narrate else None)
    found["narrator"] = (llm.model or "language model") if llm.enabled else None
    return JSONAnswer(found)


@router.get("/ask", summary="Answer a plain-English question about alerts, incidents, logs, "
            "anomalies, changes or tickets",
            description="E.g. 'critical alerts on checkout in the last 2 hours', 'how many "
                        "incidents yesterday', 'which services had the most alerts this "
                        "week'. Answers the reading ('interpretation': subject, filters, "
                        "time range in UTC, notes) and the results. A question with words "
                        "that fit nowhere answers 422 with the reading and "
                        "'not_understood'.")
async def ask(q: str = Query(..., min_length=1, max_length=MAX_QUESTION_CHARS,
                             description="The question, in English."),
              limit: int = Query(20, ge=1, le=200, description="Rows listed at most."),
              services: Services = Depends(services_of)) -> JSONAnswer:
    question = clean_question(q)
    now = await run_in_threadpool(_now, services)
    answer = await run_in_threadpool(answer_question, services.store, question, now, limit)
    if not answer["understood"]:
        reading = answer["interpretation"]
        problems = [{"index": None, "field": "q", "message": f"not understood: {word!r}"}
                    for word in reading["not_understood"]]
        if reading["subject"] is None:
            problems.append({"index": None, "field": "q", "message": "no subject: ask about "
                             "alerts, incidents, logs, anomalies, changes or tickets"})
        return JSONAnswer(error_body("validation_failed", reading["text"], problems=problems,
                                     interpretation=reading), status_code=422)
    return JSONAnswer(answer)


def library_of(services: Services) -> IncidentLibrary:
    """The server's similarity index, built on first use and refreshed on each query."""
    found = services.extras.get(LIBRARY_KEY)
    if isinstance(found, IncidentLibrary):
        return found
    created: IncidentLibrary = services.extras.setdefault(LIBRARY_KEY,
                                                          new_library(services.store))
    return created


def _now(services: Services) -> datetime:
    # Event time when the incident stage runs (replays and the demo keep their own clock).
    stage = services.extras.get("incidents")
    clock: Callable[[], datetime] | None = getattr(stage, "now", None)
    return clock() if clock is not None else datetime.now(UTC)


def clean_question(text: str) -> str:
    """NFKC-normalised, control characters refused (422 naming ``q``)."""
    text = unicodedata.normalize("NFKC", text)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise ValidationFailed("the question holds control characters", [
            {"index": None, "field": "q", "message": "control characters are not allowed"}])
    if not text.strip():
        raise ValidationFailed("the question is empty", [
            {"index": None, "field": "q", "message": "empty"}])
    return text


# --- similar and summary --------------------------------------------------------------


def new_library(store: Store, config: SimilarityConfig | None = None) -> IncidentLibrary:
    def recent(most: int) -> list[Row]:
        rows, _ = read_pages(lambda limit, cursor: store.query_incidents(
            IncidentQuery(limit=limit, cursor=cursor)), most)
        return rows

    # Similarity reads members, ranking and actions, never the timeline.
    return IncidentLibrary(recent, lambda ids: store.get_incidents(ids, timeline_limit=0),
                           config)


def similar_incidents(store: Store, incident_id: str, limit: int,
                      library: IncidentLibrary | None = None) -> dict[str, Any]:
    library = library or new_library(store)
    found = library.similar(incident_id, limit)
    items = [r.to_json() for r in found]
    executions: Callable[[ExecutionQuery], Page] | None = getattr(
        store, "query_executions", None)
    for item in items:
        reactions: list[dict[str, Any]] = []
        if executions is not None:
            rows = executions(ExecutionQuery(subject=item["incident_id"], limit=10)).items
            reactions = [{k: row.get(k) for k in ("rule", "action", "status", "started_at")}
                         for row in rows]
        item["outcome"]["reactions"] = reactions
    return {"incident_id": incident_id, "indexed": len(library.index), "items": items}


def incident_summary(store: Store, incident_id: str,
                     llm: LanguageModel | None = None) -> dict[str, Any]:
    """The summary; with ``llm``, also the model's retelling (or why there is none)."""
    row = store.get_incident(incident_id, timeline_limit=0)  # a summary reads no timeline
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    record = IncidentRecord.from_row(row)
    inc = record.incident
    end = inc.resolved_at or inc.updated_at
    changes = store.changes_between(inc.entities, inc.opened_at - CHANGE_LOOKBACK,
                                    end + timedelta(seconds=1)) if inc.entities else []
    made = summarize(record, changes)
    out = made.to_json()
    if llm is not None:
        try:
            out["narrative"] = narrate(llm, made).to_json()
        except NarrationFailed as exc:
            out["narrative_error"] = str(exc)
    return out


# --- questions ------------------------------------------------------------------------


def known_entities(store: Store) -> tuple[list[str], dict[str, str]]:
    """Entity names to match (topology, recent incidents and events) and their kinds."""
    entities, _ = store.topology()
    kinds = {str(e["id"]): str(e.get("kind") or "") for e in entities}
    names = set(kinds) | {str(e["name"]) for e in entities if e.get("name")}
    for row in store.query_incidents(IncidentQuery(limit=KNOWN_ENTITY_ROWS)).items:
        names.update(row.get("entities") or ())
    for row in store.query_events(EventQuery(limit=KNOWN_ENTITY_ROWS)).items:
        if row.get("entity"):
            names.add(str(row["entity"]))
    return sorted(names), kinds


def answer_question(store: Store, question: str, now: datetime,
                    limit: int = 20) -> dict[str, Any]:
    """Parse ``question`` and, when understood, answer it from the store."""
    names, kinds = known_entities(store)
    reading = parse_question(question, now, names, {k for k in kinds.values() if k})
    out: dict[str, Any] = {"question": question, "understood": reading.understood,
                           "interpretation": reading.to_json(), "answer": None}
    if reading.understood:
        out["answer"] = _answer(store, reading, kinds, limit)
    return out


def _fetcher(store: Store, reading: Interpretation, entity: str | None
             ) -> Callable[[int, str | None], Page]:
    span = TimeRange(reading.start, reading.end)
    subject = reading.subject
    if subject is Subject.ALERTS:
        return lambda n, c: store.query_events(EventQuery(
            span, entity, status=reading.status, severity=reading.severity, limit=n, cursor=c))
    if subject is Subject.INCIDENTS:
        return lambda n, c: store.query_incidents(IncidentQuery(
            span, reading.status, reading.severity, entity, n, c))
    if subject is Subject.LOGS:
        return lambda n, c: store.query_logs(LogQuery(span, entity, level=reading.level,
                                                      limit=n, cursor=c))
    read = {Subject.ANOMALIES: store.query_anomalies, Subject.CHANGES: store.query_changes,
            Subject.TICKETS: store.query_tickets}[subject or Subject.TICKETS]
    return lambda n, c: read(RecordQuery(span, entity, reading.change_kind, limit=n,
                                         cursor=c))


def _row_entities(row: Row) -> list[str]:
    if "entities" in row:
        return [str(e) for e in row["entities"]]
    return [str(row["entity"])] if row.get("entity") else []


def _rows(store: Store, reading: Interpretation, kinds: dict[str, str],
          cap: int) -> tuple[list[Row], bool]:
    """Matching rows, newest first (one read per named entity, merged), and whether
    some were left unread."""
    rows: list[Row] = []
    more = False
    seen: set[str] = set()
    for entity in reading.entities or (None,):
        found, left = read_pages(_fetcher(store, reading, entity), cap)
        more = more or left
        for row in found:
            key = str(row.get("id", "")) if reading.subject is Subject.INCIDENTS else ""
            if key and key in seen:
                continue
            seen.add(key)
            if reading.entity_kind and not any(
                    kinds.get(e) == reading.entity_kind for e in _row_entities(row)):
                continue
            rows.append(row)
    if len(reading.entities) > 1:
        rows.sort(key=_row_time, reverse=True)
    return rows, more


def _row_time(row: Row) -> str:
    for key in ("opened_at", "starts_at", "ts", "created_at"):
        if row.get(key):
            return str(row[key])
    return ""


def _answer(store: Store, reading: Interpretation, kinds: dict[str, str],
            limit: int) -> dict[str, Any]:
    if reading.aggregate is Aggregate.LIST:
        # An entity-kind filter applies after the read: read enough to fill the page.
        rows, more = _rows(store, reading, kinds,
                           COUNT_CAP if reading.entity_kind else limit + 1)
        return {"kind": "list", "items": rows[:limit], "more": more or len(rows) > limit}
    rows, more = _rows(store, reading, kinds, COUNT_CAP)
    if reading.aggregate is Aggregate.COUNT:
        return {"kind": "count", "count": len(rows), "at_least": more}
    counts: Counter[str] = Counter()
    for row in rows:
        for entity in _row_entities(row):
            if reading.entity_kind and kinds.get(entity) != reading.entity_kind:
                continue
            if reading.entities and entity not in reading.entities:
                continue
            counts[entity] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {"kind": "top_entities", "rows_read": len(rows), "at_least": more,
            "entities": [{"entity": e, "count": n} for e, n in ranked]}
