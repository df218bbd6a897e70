"""Settings: one YAML file plus ``OPSCOPE_*`` environment overrides, validated at load.

Settings are data: every field has a default that validates and a description, and the
same model feeds ``opscope config show``, the docs and validation. Nested fields are
overridden from the environment with a double underscore, e.g.
``OPSCOPE_LIMITS__MAX_BODY_BYTES=1048576`` or ``OPSCOPE_PORT=9000``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from opscope.errors import ConfigError

ENV_PREFIX = "OPSCOPE_"
# Variables of the command line itself, not settings of the server.
CLIENT_VARIABLES = frozenset({"OPSCOPE_CONFIG", "OPSCOPE_URL", "OPSCOPE_TOKEN"})


# The password runs to the last "@" of the authority, which may itself hold "@" or "/".
_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^/:@]*:).*@(?=[^@]*$)", re.IGNORECASE)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def shown(self) -> dict[str, Any]:
        """The settings as JSON-ready values, with secrets (fields declared ``repr=False``)
        replaced by ``<hidden>`` when set, and passwords in URLs masked, so that the output
        can be pasted anywhere."""
        out = self.model_dump(mode="json")
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, Section):
                out[name] = value.shown()
            elif isinstance(value, list) and value and all(
                    isinstance(v, Section) for v in value):
                out[name] = [v.shown() for v in value]
            elif info.repr is False and value:
                out[name] = "<hidden>"
            elif isinstance(value, str) and _URL_PASSWORD.search(value):
                out[name] = _URL_PASSWORD.sub(r"\1<hidden>@", value)
        return out


class Limits(Section):
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes.")
    max_batch_items: int = Field(
        50_000, ge=1, description="Most items (events, log lines, samples) in one request.")
    max_pending_writes: int = Field(
        8, ge=1, description="Ingest requests allowed to wait for the store at once; "
        "beyond this, ingestion answers 429 with Retry-After.")
    retry_after_seconds: float = Field(
        1.0, gt=0, description="Retry-After sent with 429/503 answers.")


class Pipeline(Section):
    queue_batches: int = Field(
        256, ge=1, description="Batches each analysis subscriber may hold before ingestion "
        "answers 503 (back-pressure instead of unbounded memory).")
    queue_items: int = Field(
        250_000, ge=0, description="Items (log lines, samples, events) each analysis "
        "subscriber may hold before ingestion answers 503; 0 counts batches only.")


class Storage(Section):
    backend: Literal["duckdb", "postgres"] = Field(
        "duckdb", description="duckdb: one embedded file in data_dir (one process). "
        "postgres: a PostgreSQL server, which every opscope process of a scaled-out "
        "set-up shares.")
    postgres_dsn: str = Field(
        "", repr=False, description="libpq connection string or URL of the PostgreSQL "
        "database (e.g. postgresql://opscope@db:5432/opscope). It may hold a password: "
        "set it from the environment (OPSCOPE_STORAGE__POSTGRES_DSN).")
    postgres_pool_size: int = Field(
        8, ge=1, le=256, description="Connections each process keeps to PostgreSQL.")


class BusSettings(Section):
    backend: Literal["inprocess", "nats"] = Field(
        "inprocess", description="inprocess: bounded queues inside one process. nats: "
        "NATS JetStream, durable and shared by every opscope process of a scaled-out "
        "set-up.")
    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="NATS server URL; a password in it "
        "(nats://user:password@host:4222) is best set from the environment "
        "(OPSCOPE_BUS__NATS_URL) and is masked by 'opscope config show'.")
    stream: str = Field("OPSCOPE", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                        description="JetStream stream that holds opscope's topics.")
    subject_prefix: str = Field("opscope", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                description="Subjects are <prefix>.<topic>.")
    max_pending: int = Field(
        10_000, ge=1, description="Batches an analysis consumer may lag behind before "
        "ingestion answers 503 (back-pressure).")
    max_age_days: float = Field(
        7.0, gt=0, description="How long the stream keeps each batch, read or not: how "
        "long the core may be down before batches it has not analysed are dropped.")


class Retention(Section):
    events: int = Field(90, ge=1, description="Days events and their history are kept.")
    logs: int = Field(14, ge=1, description="Days log records are kept.")
    samples: int = Field(30, ge=1, description="Days metric samples are kept.")
    anomalies: int = Field(90, ge=1, description="Days anomalies are kept.")
    changes: int = Field(365, ge=1, description="Days change records are kept.")
    tickets: int = Field(730, ge=1, description="Days tickets are kept.")

    def as_timedeltas(self) -> dict[str, timedelta]:
        return {name: timedelta(days=days) for name, days in self.model_dump().items()}


class SyslogReceiver(Section):
    enabled: bool = Field(False, description="Receive syslog (RFC 5424 and RFC 3164).")
    host: str = Field("127.0.0.1", description="Address the syslog receiver listens on.")
    port: int = Field(5514, ge=0, le=65535, description="UDP and TCP port for syslog.")
    udp: bool = Field(True, description="Listen for UDP datagrams.")
    tcp: bool = Field(True, description="Listen for TCP (octet counting or newline framing).")


class FileReceiver(Section):
    paths: list[str] = Field(default_factory=list,
                             description="Glob patterns of log files to follow; empty: off.")
    source: str = Field("file", description="Source recorded on lines read from files.")
    entity: str = Field("", description="Entity of those lines; empty: the file's name.")
    start_at: str = Field("end", pattern="^(beginning|end)$",
                          description="Where to start a file seen for the first time.")


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class ScrapeTarget(Section):
    """One endpoint to scrape."""

    url: HttpUrl = Field(description="The endpoint, e.g. http://10.0.0.5:9100/metrics.")
    job: str = Field(default="scrape", min_length=1, max_length=256,
                     description="The job label of its samples.")
    interval_seconds: float = Field(default=15.0, ge=1.0, le=3600.0,
                                    description="Seconds between scrapes.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300.0,
                                   description="A scrape taking longer fails.")
    labels: dict[str, str] = Field(default_factory=dict,
                                   description="Labels added to every sample of the target.")
    bearer_token_env: str = Field(
        default="", description="Environment variable holding a bearer token to send.")
    max_samples: int = Field(default=200_000, ge=1, description="A bigger scrape fails.")
    max_bytes: int = Field(default=50_000_000, ge=1024, description="A bigger body fails.")

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            if not _LABEL_NAME.fullmatch(key) or key in ("job", "instance"):
                raise ValueError(f"{key!r} is not a label name that can be added "
                                 "(letters, digits, '_'; job and instance are set already)")
            if len(value) > 4096:
                raise ValueError(f"label {key} is longer than 4096 characters")
        return labels

    @property
    def instance(self) -> str:
        parts = urlsplit(str(self.url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"

    @property
    def target_labels(self) -> dict[str, str]:
        """What every sample of the target carries: its labels, ``job`` and ``instance``."""
        return {**self.labels, "job": self.job, "instance": self.instance}



class Webhooks(Section):
    github_secret: str = Field(
        "", repr=False, description="Secret of the GitHub webhook (its 'Secret' field): "
        "deliveries to /api/v1/webhooks/github must carry a valid X-Hub-Signature-256. "
        "Set it from the environment (OPSCOPE_RECEIVERS__WEBHOOKS__GITHUB_SECRET) rather "
        "than the file. When empty, that endpoint takes a bearer token as the others do.")


class Receivers(Section):
    webhooks: Webhooks = Field(default_factory=Webhooks)
    syslog: SyslogReceiver = Field(default_factory=SyslogReceiver)
    files: FileReceiver = Field(default_factory=FileReceiver)
    scrape: list[ScrapeTarget] = Field(
        default_factory=list, description="Prometheus endpoints to scrape (url, job, "
        "interval_seconds, timeout_seconds, labels, bearer_token_env); empty: off.")


class LogAnalysis(Section):
    enabled: bool = Field(True, description="Mine templates and detect log anomalies on "
                          "ingested logs (asynchronously, after they are committed).")
    batch_lines: int = Field(
        5000, ge=1, le=100_000, description="Log rows analysed and written back per step.")
    max_lines_per_wakeup: int = Field(
        50_000, ge=1, description="Rows analysed per ingested batch at most, so that a "
        "backlog is worked off step by step instead of stalling the queue.")
    backfill_lines: int = Field(
        100_000, ge=0, description="Without saved analysis state, how many of the latest "
        "already stored log rows to analyse at start; older ones stay unanalysed.")
    save_interval_seconds: float = Field(
        60.0, gt=0, description="How often (wall time) the analyzer state is saved to the "
        "data directory while logs flow; it is saved on shutdown as well.")
    analyzer: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the log analyzer (headers, template "
        "miner, detectors), as the fields of opscope.analyze.logs.LogAnalyzerConfig; empty "
        "keeps its defaults. Validated at start.")


class MetricAnalysis(Section):
    enabled: bool = Field(True, description="Score ingested metric samples with per-series "
                          "detectors (asynchronously, after they are committed); store and "
                          "publish the anomalies and the expected band.")
    band_step_seconds: float = Field(
        60.0, gt=0, description="Expected band points stored per series at most once per "
        "this many seconds of event time (the band shares the samples retention).")
    save_interval_seconds: float = Field(
        300.0, gt=0, description="How often (wall time) the detector state is saved to the "
        "data directory while samples flow; it is saved on shutdown as well.")
    bank: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the detector bank (detector, its "
        "config, capacity, alarms), as the fields of "
        "opscope.analyze.metrics.BankConfig; empty keeps its defaults. Validated at start.")


class Correlation(Section):
    enabled: bool = Field(True, description="Correlate committed alerts and anomalies into "
                          "incidents and rank their root causes (asynchronously, in event "
                          "time); incidents, rankings and silences are stored.")
    window_minutes: float = Field(
        5.0, gt=0, description="A signal may join an incident whose latest join is this "
        "recent.")
    max_hops: int = Field(3, ge=0, description="Topology proximity limit when linking.")
    min_signals: int = Field(
        2, ge=1, description="An incident opens once it has this many signals (or one of "
        "error severity or worse).")
    resolve_quiet_minutes: float = Field(
        5.0, ge=0, description="An incident resolves when all members have been resolved "
        "this long.")
    anomaly_hold_minutes: float = Field(
        10.0, gt=0, description="An anomaly counts as firing this long after its last report.")
    down_mutes_rest: bool = Field(
        True, description="Add the inhibition 'ServiceDown mutes the other alerts of the "
        "same entity' (muted alerts stay visible in their incident).")
    rank_root_causes: bool = Field(True, description="Rank root causes of open incidents.")
    rca_debounce_seconds: float = Field(
        60.0, gt=0, description="Event time between two rankings of one changing incident.")
    rca_young_seconds: float = Field(
        300.0, ge=0, description="After opening, an incident is re-ranked every "
        "rca_young_interval_seconds for this long, changed or not (0: on changes only).")
    rca_young_interval_seconds: float = Field(
        10.0, gt=0, description="Event time between two rankings of a young incident.")
    rca_lookback_minutes: float = Field(
        3.0, ge=0, description="The fault is taken to start this long before an incident's "
        "first signal.")
    rca_reference_minutes: float = Field(
        30.0, gt=0, description="Normal operation read before the fault start.")
    save_interval_seconds: float = Field(
        60.0, gt=0, description="Wall time between saves of the correlation state to the "
        "store; it is saved on shutdown as well.")
    max_alerts: int = Field(
        100_000, ge=1, description="Most alerts and anomalies whose state is tracked at "
        "once; a new one past this resolves and forgets the least recently seen "
        "(counted in opscope_correlation_evictions_total).")
    max_active_incidents: int = Field(
        10_000, ge=1, description="Most incidents open or pending at once; a new one past "
        "this ends the one whose latest join is oldest (counted).")
    max_finished_incidents: int = Field(
        20_000, ge=1, description="Most resolved incidents remembered in memory for "
        "recurrence links; past this the oldest are forgotten there (the store keeps "
        "them; counted).")
    engine: dict[str, Any] = Field(
        default_factory=dict, description="Further settings of the correlation engine, as "
        "the fields of opscope.analyze.correlate.EngineConfig (dedup rules, inhibit rules, "
        "maintenance windows, link weights); the fields above override it. Validated at "
        "start.")


class Reactions(Section):
    enabled: bool = Field(True, description="Run the reaction rules on incidents, anomalies "
                          "and events (nothing happens without rule files).")
    rules_paths: list[Path] = Field(
        default_factory=list, description="Rule files (YAML) to load at start; see "
        "'opscope rules check'. A file that does not load is skipped and listed as a "
        "problem by GET /api/v1/rules.")
    runbook_dir: Path | None = Field(
        None, description="The only directory runbooks may be run from; none means no "
        "runbooks run.")
    dry_run: bool = Field(False, description="Record what every rule would do; deliver "
                          "nothing.")
    approval_secret: str = Field(
        "", repr=False, description="Key approval links are signed with (16 bytes at "
        "least); when empty one is generated once and kept in the data dir as "
        "'approval-secret'.")
    variables: dict[str, str] = Field(
        default_factory=dict, description="Values for ${NAME} in rule files; the "
        "environment fills the names not given here.")
    tick_seconds: float = Field(1.0, gt=0, le=60, description="How often schedules, "
                                "routing groups and approval expiry are checked.")


class LanguageModel(Section):
    """The operator's own language model, used only to retell incident summaries."""

    url: str = Field(
        "", max_length=1024,
        description="Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 "
        "for Ollama; '/chat/completions' is appended. Empty (the default): no model is "
        "used and nothing is sent anywhere.")
    model: str = Field("", max_length=256,
                       description="Model name the server knows, e.g. 'llama3.1:8b'.")
    api_key_env: str = Field(
        "", max_length=256, description="Environment variable holding the API key, sent "
        "as a bearer token; empty sends none.")
    timeout_seconds: float = Field(30.0, gt=0, le=600,
                                   description="How long one answer may take.")
    max_tokens: int = Field(300, ge=16, le=4096,
                            description="Longest answer asked for, in tokens.")
    temperature: float = Field(0.0, ge=0, le=2,
                               description="0 asks for the most literal retelling.")

    @property
    def enabled(self) -> bool:
        return bool(self.url.strip())


class Nlp(Section):
    llm: LanguageModel = Field(default_factory=LanguageModel)
    similar: dict[str, Any] = Field(
        default_factory=dict, description="Settings of similar-incident search "
        "(max_incidents, structural_weight, min_score, max_shared), as the fields of "
        "opscope.analyze.nlp.SimilarityConfig; empty keeps its defaults. Validated at start.")


class Settings(Section):
    role: Literal["all", "ingest", "core", "web"] = Field(
        "all", description="What this process does. all: everything in one process. "
        "ingest: only the ingestion API and receivers, publishing to the bus (run as many "
        "as the load needs). core: analysis, incidents, reactions, the full API and the "
        "dashboard (run one). web: the API and dashboard without analysis, reading the "
        "shared store (run as many as readers need; incident actions and approvals go to "
        "the core). Every role but all needs storage.backend postgres and bus.backend "
        "nats.")
    data_dir: Path = Field(Path("data"), description="Where the database and state live.")
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the server listens on.")
    topology_file: Path | None = Field(
        None, description="YAML file with entities and relations loaded at start.")
    storage_memory_limit: str = Field(
        "1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Most memory the embedded database may use for its caches (e.g. 2GB).")
    public_url: str = Field(
        "", description="URL people use to reach opscope (for links); defaults to host:port.")
    storage: Storage = Field(default_factory=Storage)
    bus: BusSettings = Field(default_factory=BusSettings)
    limits: Limits = Field(default_factory=Limits)
    pipeline: Pipeline = Field(default_factory=Pipeline)
    retention: Retention = Field(default_factory=Retention)
    receivers: Receivers = Field(default_factory=Receivers)
    log_analysis: LogAnalysis = Field(default_factory=LogAnalysis)
    metric_analysis: MetricAnalysis = Field(default_factory=MetricAnalysis)
    nlp: Nlp = Field(default_factory=Nlp)
    correlation: Correlation = Field(default_factory=Correlation)
    reactions: Reactions = Field(default_factory=Reactions)

    @model_validator(mode="after")
    def _scale_out(self) -> Settings:
        if self.storage.backend == "postgres" and not self.storage.postgres_dsn:
            raise ValueError("storage.backend postgres needs storage.postgres_dsn")
        if self.role != "all" and (self.storage.backend != "postgres"
                                   or self.bus.backend != "nats"):
            raise ValueError(f"role {self.role} shares its work with other processes: it "
                             "needs storage.backend postgres and bus.backend nats")
        return self

    @property
    def database_path(self) -> Path:
        return self.data_dir / "opscope.duckdb"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key in CLIENT_VARIABLES:
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Read the YAML file (if any), apply environment then explicit overrides, validate."""
    env = dict(os.environ if environ is None else environ)
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"])
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded
    data = _merge(data, _env_overrides(env))
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from exc
