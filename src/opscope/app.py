"""The composition root: settings in, a running opscope out.

Read top to bottom: open the store, make the bus, wire each kind of input to the store
writer that commits it, hand committed batches to the analysis stages subscribed on the
bus, and put the API in front.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from opscope.analyze.correlate.stage import IncidentStage, IncidentStageConfig
from opscope.analyze.logs import LogAnalyzerConfig
from opscope.analyze.logs.stage import LogAnalysisStage
from opscope.analyze.metrics import BankConfig
from opscope.analyze.metrics.stage import STATE_FILE, MetricAnalysisStage
from opscope.analyze.nlp.similar import IncidentLibrary, SimilarityConfig
from opscope.config import Settings
from opscope.errors import ConfigError, Overloaded
from opscope.model.incident import IncidentChange
from opscope.pipeline import Bus, Ingestor, InProcessBus
from opscope.present.api import nlp as nlp_api
from opscope.present.api.auth import Authenticator
from opscope.present.api.server import create_api
from opscope.present.api.services import Services
from opscope.present.api.telemetry import LabelKey, Telemetry
from opscope.react import ReactionEngine, ReactPorts, ReactSettings
from opscope.react.stage import ReactionStage, approval_secret, load_rule_files
from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import Store, WriteResult

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 3600.0


def open_store(settings: Settings) -> Store:
    """The embedded DuckDB file in the data dir, or the shared PostgreSQL database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    retention = settings.retention.as_timedeltas()
    if settings.storage.backend == "postgres":
        from opscope.store.postgres import PostgresStore

        return PostgresStore(settings.storage.postgres_dsn, retention,
                             pool_size=settings.storage.postgres_pool_size)
    return DuckDBStore(settings.database_path, retention=retention,
                       memory_limit=settings.storage_memory_limit)


def open_bus(settings: Settings) -> Bus:
    """Bounded in-process queues, or NATS JetStream shared by the scaled-out processes."""
    if settings.bus.backend == "nats":
        from opscope.pipeline.nats_bus import NatsBus

        conf = settings.bus
        return NatsBus(conf.nats_url, stream=conf.stream, subject_prefix=conf.subject_prefix,
                       max_pending=conf.max_pending,
                       max_age_seconds=conf.max_age_days * 86_400.0)
    return InProcessBus(max_batches=settings.pipeline.queue_batches,
                        max_items=settings.pipeline.queue_items)


def build_services(settings: Settings, store: Store | None = None,
                   bus: Bus | None = None) -> Services:
    """Store, bus, ingestion and, unless this process only ingests (role ``ingest``),
    the analysis stages subscribed on the bus."""
    store = store if store is not None else open_store(settings)
    bus = bus if bus is not None else open_bus(settings)

    def write_topology(batch: Sequence[Any]) -> WriteResult:
        entities, relations = batch[0]
        return store.upsert_topology(entities, relations)

    ingestor = Ingestor(
        {
            "events": store.upsert_events,
            "logs": store.append_logs,
            "metrics": store.append_samples,
            "tickets": store.upsert_tickets,
            "changes": store.append_changes,
            "topology": write_topology,
            "anomalies": store.append_anomalies,
        },
        bus,
        max_pending=settings.limits.max_pending_writes,
        retry_after=settings.limits.retry_after_seconds,
    )
    telemetry = Telemetry()

    def queue_depth() -> dict[LabelKey, float]:
        return {(("subscriber", s.name), ("topic", s.topic)): float(s.depth)
                for s in bus.subscriptions()}

    telemetry.add_gauge("opscope_queue_depth_batches",
                        "Batches waiting in each analysis queue.", queue_depth)
    telemetry.add_gauge(
        "opscope_unpublished_batches",
        "Batches committed but not handed to analysis because its queue stayed full.",
        lambda: {(("kind", kind),): float(n) for kind, n in ingestor.unpublished.items()})
    services = Services(settings, store, bus, ingestor, Authenticator(store), telemetry)
    if settings.role == "ingest":
        return services
    services.extras[nlp_api.LIBRARY_KEY] = similarity_library(services)
    if settings.role == "web":  # reads the shared store; the core analyses
        return services
    if settings.log_analysis.enabled:
        services.extras["log_analysis"] = subscribe_log_analysis(services)
    if settings.metric_analysis.enabled:
        services.extras["metric_analysis"] = subscribe_metric_analysis(services)
    if settings.correlation.enabled:
        services.extras["incidents"] = subscribe_incidents(services)
    if settings.reactions.enabled:
        services.extras["reactions"] = subscribe_reactions(services)
    return services


def similarity_library(services: Services) -> IncidentLibrary:
    """The similar-incident index over the store (it loads incidents on first use)."""
    try:
        config = SimilarityConfig.model_validate(services.settings.nlp.similar)
    except ValidationError as exc:
        raise ConfigError(f"invalid nlp.similar settings: {exc}") from exc
    return nlp_api.new_library(services.store, config)


def publisher(services: Services, topic: str) -> Callable[[Sequence[Any]], None]:
    """Hands what a stage found on to ``topic``, waiting up to Retry-After for room."""
    bus, retry_after = services.bus, services.settings.limits.retry_after_seconds

    def publish(items: Sequence[Any]) -> None:
        bus.publish(topic, items, timeout=retry_after)

    return publish


def subscribe_log_analysis(services: Services) -> LogAnalysisStage:
    """Templates and log anomalies for committed logs; anomalies are stored, then
    published on the bus topic ``anomalies``. The analyzer state lives in the data dir."""
    conf = services.settings.log_analysis
    try:
        analyzer_config = LogAnalyzerConfig.model_validate(conf.analyzer)
    except ValidationError as exc:
        raise ConfigError(f"invalid log_analysis.analyzer settings: {exc}") from exc
    bus, publish = services.bus, publisher(services, "anomalies")
    stage = LogAnalysisStage.open(
        services.store, analyzer_config,
        state_path=services.settings.data_dir / "log-analysis.json",
        backfill_lines=conf.backfill_lines, publish=publish, batch_lines=conf.batch_lines,
        max_lines_per_wakeup=conf.max_lines_per_wakeup,
        save_interval=conf.save_interval_seconds,
    )
    bus.subscribe("logs", stage.name, stage.handle)
    services.telemetry.add_gauge(
        "opscope_log_analysis_lines", "Log lines analysed since start.",
        lambda: {(): float(stage.counters.lines)})
    services.telemetry.add_gauge(
        "opscope_log_analysis_busy_seconds", "Time log analysis spent on batches "
        "(lines / busy seconds is the rate it can sustain).",
        lambda: {(): stage.counters.busy_seconds})
    return stage


def subscribe_metric_analysis(services: Services) -> MetricAnalysisStage:
    """Per-series detectors for committed samples: anomalies and expected bands are
    stored, anomalies then published on ``anomalies``. The detector state (which
    ``opscope train`` can warm from history) lives in the data dir."""
    conf = services.settings.metric_analysis
    try:
        bank_config = BankConfig.model_validate(conf.bank)
    except ValidationError as exc:
        raise ConfigError(f"invalid metric_analysis.bank settings: {exc}") from exc
    bus, publish = services.bus, publisher(services, "anomalies")
    stage = MetricAnalysisStage.open(
        services.store, bank_config, state_path=services.settings.data_dir / STATE_FILE,
        publish=publish, band_step=conf.band_step_seconds,
        save_interval=conf.save_interval_seconds,
    )
    bus.subscribe("metrics", stage.name, stage.handle)
    services.telemetry.add_gauge(
        "opscope_metric_analysis_samples", "Metric samples scored since start.",
        lambda: {(): float(stage.counters.samples)})
    services.telemetry.add_gauge(
        "opscope_metric_analysis_series", "Series with detector state (at most "
        "metric_analysis.bank.capacity).", lambda: {(): float(len(stage.bank))})
    services.telemetry.add_gauge(
        "opscope_metric_analysis_verdicts_applied_total", "Operators' false-alarm verdicts "
        "the series' detectors have taken, since start.",
        lambda: {(): float(stage.counters.verdicts_applied)})
    services.telemetry.add_gauge(
        "opscope_metric_analysis_series_evicted_total", "Series whose detector state was "
        "evicted (least recently updated first) because the bank was full, since start.",
        lambda: {(): float(stage.bank.evicted)})
    services.telemetry.add_gauge(
        "opscope_metric_analysis_busy_seconds", "Time metric analysis spent on batches "
        "(samples / busy seconds is the rate it can sustain).",
        lambda: {(): stage.counters.busy_seconds})
    return stage


def subscribe_incidents(services: Services) -> IncidentStage:
    """Correlation of committed alerts and anomalies into incidents, with root causes
    ranked from stored series; incidents, rankings, feedback, silences and the engine
    state are stored. One thread drives the engine; metric sample times move its clock,
    topology updates reach it as they are committed."""
    try:
        config = IncidentStageConfig.from_settings(services.settings.correlation)
    except ValidationError as exc:
        raise ConfigError(f"invalid correlation settings: {exc}") from exc
    entities, relations = services.store.topology_models()
    bus, retry_after = services.bus, services.settings.limits.retry_after_seconds

    def publish(changes: Sequence[IncidentChange]) -> None:
        try:
            bus.publish("incidents", changes, timeout=retry_after)
        except Overloaded:  # the changes are stored; only reactions to them are dropped
            log.warning("incident changes not handed on: %d dropped", len(changes))

    stage = IncidentStage(services.store, services.store, config, entities, relations,
                          publish=publish)
    bus.subscribe("events", stage.name, stage.handle_events)
    bus.subscribe("anomalies", stage.name, stage.handle_anomalies)
    bus.subscribe("metrics", f"{stage.name}-clock", stage.handle_metrics)
    bus.subscribe("topology", stage.name, stage.handle_topology)
    services.telemetry.add_gauge(
        "opscope_incident_rankings", "Root-cause rankings made since start.",
        lambda: {(): float(stage.counters.rankings)})
    services.telemetry.add_gauge(
        "opscope_correlation_state", "Alerts and incidents held in memory by correlation "
        "(each kind capped by a correlation setting).",
        lambda: {(("kind", k),): float(held) for k, (held, _) in
                 stage.engine.bounded_state().items()})
    services.telemetry.add_gauge(
        "opscope_correlation_evictions_total", "Alerts and incidents evicted from memory "
        "because their cap was reached, since start.",
        lambda: {(("kind", k),): float(evicted) for k, (_, evicted) in
                 stage.engine.bounded_state().items()})
    return stage


def api_rules_dir(settings: Settings) -> Path:
    """Where rule sets created through the API are kept."""
    return settings.data_dir / "rules"


def subscribe_reactions(services: Services) -> ReactionStage:
    """The reaction engine on incident changes, anomalies and events: the configured
    rule files, with its audit, approvals, notification log and action state kept in
    the store so that a restart neither forgets nor sends anything twice."""
    settings, store = services.settings, services.store
    conf = settings.reactions
    rules, problems = load_rule_files(conf.rules_paths, {**os.environ, **conf.variables},
                                      api_rules_dir(settings))
    react_settings = ReactSettings(dry_run=conf.dry_run, runbook_dir=conf.runbook_dir,
                                   base_url=settings.base_url)
    tables = getattr(store, "reactions", None)
    if tables is not None:
        ports = ReactPorts(tables.audit, tables.approvals, tables.notifications, tables.state,
                           tables.annotator)
    else:  # a store without reaction tables: the state lives as long as the process
        ports = ReactPorts.in_memory()
    engine = ReactionEngine(rules, ports, react_settings,
                            approval_secret=approval_secret(conf.approval_secret,
                                                            settings.data_dir))
    for problem in [*problems, *engine.problems]:
        log.warning("reaction rules: %s", problem)
    stage = ReactionStage(engine, store, tick_seconds=conf.tick_seconds, problems=problems)
    stage.subscribe(services.bus)  # its tick timer starts with the app (create_app)
    services.telemetry.add_gauge(
        "opscope_reaction_executions", "Actions considered by reaction rules since start.",
        lambda: {(): float(stage.counters.executions)})
    return stage


def load_topology_file(services: Services) -> None:
    path = services.settings.topology_file
    if path is None:
        return
    from opscope.collect.topology import load_topology_yaml

    entities, relations = load_topology_yaml(path)
    services.ingestor.ingest("topology", [(entities, relations)])
    log.info("loaded %d entities and %d relations from %s", len(entities), len(relations), path)


async def _retention_loop(services: Services) -> None:
    while True:
        try:
            removed = await asyncio.to_thread(services.store.apply_retention, datetime.now(UTC))
            if any(removed.values()):
                log.info("retention removed %s", removed)
        except Exception:  # keep serving; the next round retries and the log says why
            log.exception("retention failed")
        await asyncio.sleep(RETENTION_INTERVAL_S)


def start_receivers(services: Services, scrape: bool = True) -> list[Any]:
    """Syslog, file and (with ``scrape``) scrape receivers, as configured; each hands
    batches to the Ingestor."""
    from opscope.collect.filetail import FileTailer, FileTailerConfig
    from opscope.collect.scrape import Scraper
    from opscope.collect.syslog import SyslogServer, SyslogServerConfig

    async def ingest_logs(batch: list[Any]) -> None:
        await asyncio.to_thread(services.ingestor.ingest, "logs", batch)
        services.telemetry.count(services.telemetry.ingested, len(batch), kind="logs")

    receivers: list[Any] = []
    conf = services.settings.receivers
    if conf.syslog.enabled:
        receivers.append(SyslogServer(ingest_logs, SyslogServerConfig(
            host=conf.syslog.host, port=conf.syslog.port, udp=conf.syslog.udp,
            tcp=conf.syslog.tcp)))
    if conf.files.paths:
        receivers.append(FileTailer(ingest_logs, FileTailerConfig(
            paths=conf.files.paths, source=conf.files.source, entity=conf.files.entity,
            start_at="end" if conf.files.start_at == "end" else "beginning",
            offsets_path=services.settings.data_dir / "file-offsets.json")))
    if conf.scrape and scrape:
        async def ingest_samples(batch: list[Any]) -> None:
            await asyncio.to_thread(services.ingestor.ingest, "metrics", batch)
            services.telemetry.count(services.telemetry.ingested, len(batch), kind="metrics")

        scraper = Scraper(conf.scrape, ingest_samples)
        receivers.append(scraper)
        services.telemetry.add_gauge(
            "opscope_scrape_up", "1 when the last scrape of the target succeeded.",
            lambda: {(("job", t.target.job), ("instance", t.target.instance)): float(t.up)
                     for t in scraper.targets})
    return receivers


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The ASGI app with its lifecycle: start background work, close cleanly."""
    services = services if services is not None else build_services(settings)
    ingest_only = settings.role == "ingest"
    # The topology file, retention and scraping belong to one process, the core (or the
    # single one): several ingest processes would each scrape every target. Syslog and
    # file receivers run where they are configured, except on web replicas, which only
    # read.
    owner = settings.role in ("all", "core")
    if owner:
        load_topology_file(services)
    api = create_api(services, ingest_only=ingest_only)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        retention = asyncio.create_task(_retention_loop(services)) if owner else None
        if (reactions := services.extras.get("reactions")) is not None:
            reactions.start()  # schedules, routing flushes, approval expiry
        receivers = start_receivers(services, scrape=owner) if settings.role != "web" \
            else []
        services.extras["receivers"] = receivers
        for receiver in receivers:
            await receiver.start()
        try:
            yield
        finally:
            for receiver in receivers:
                await receiver.stop()
            if retention is not None:
                retention.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retention
            services.bus.close()
            if (log_analysis := services.extras.get("log_analysis")) is not None:
                log_analysis.close()  # saves the analyzer state
            if (metric_analysis := services.extras.get("metric_analysis")) is not None:
                metric_analysis.close()  # saves the detector state
            if (incidents := services.extras.get("incidents")) is not None:
                incidents.close()  # saves the correlation state
            if reactions is not None:
                reactions.close()  # stops the tick timer
            services.store.close()

    api.router.lifespan_context = lifespan
    return api
