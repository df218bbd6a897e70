"""Metric samples from the shop's state, named and labelled as Prometheus exporters would."""

from __future__ import annotations

from datetime import datetime

from opscope.model import MetricSample
from opscope.sim.shop import EntityState
from opscope.sim.topology import CACHE, DATABASE, HOST, QUEUE, SERVICE, Topology

QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


def _sample(name: str, labels: dict[str, str], value: float, ts: datetime) -> MetricSample:
    return MetricSample(name=name, labels=labels, value=round(value, 6), ts=ts)


def metric_samples(states: list[EntityState], topology: Topology,
                   ts: datetime) -> list[MetricSample]:
    """Every series of every entity at ``ts``.

    A service that is down answers no scrape: only its ``up`` series (0) is written, as
    Prometheus does for a failed target.
    """
    out: list[MetricSample] = []
    for st in states:
        if st.kind == HOST:
            labels = {"host": st.id}
            out += [
                _sample("cpu_usage_ratio", labels, st.cpu, ts),
                _sample("memory_usage_bytes", labels, st.memory, ts),
                _sample("disk_usage_ratio", labels, st.disk, ts),
                _sample("network_packet_loss_ratio", labels, st.loss, ts),
            ]
            continue
        labels = {"service": st.id, "host": st.host}
        out.append(_sample("up", labels, 1.0 if st.up else 0.0, ts))
        if not st.up:
            continue
        if st.kind == SERVICE:
            out.append(_sample("http_requests_per_second", labels, st.rate, ts))
            out += [_sample("http_request_duration_seconds", {**labels, "quantile": q},
                            getattr(st, attr), ts) for q, attr in QUANTILES]
            out.append(_sample("http_errors_ratio", labels, st.error_ratio, ts))
            if st.pool_size:
                db = topology.database_of(st.id) or ""
                out.append(_sample("db_connections_in_use", {**labels, "database": db},
                                   st.pool_in_use, ts))
        elif st.kind == DATABASE:
            out.append(_sample("db_queries_per_second", labels, st.rate, ts))
            out += [_sample("db_query_duration_seconds", {**labels, "quantile": q},
                            getattr(st, attr), ts) for q, attr in QUANTILES]
            out.append(_sample("db_connections_in_use", {**labels, "database": st.id},
                               st.pool_in_use, ts))
        elif st.kind == CACHE:
            out.append(_sample("cache_operations_per_second", labels, st.rate, ts))
            out.append(_sample("cache_hit_ratio", labels, st.hit_ratio, ts))
            out += [_sample("cache_operation_duration_seconds", {**labels, "quantile": q},
                            getattr(st, attr), ts) for q, attr in QUANTILES]
        elif st.kind == QUEUE:
            out.append(_sample("queue_publish_per_second", labels, st.rate, ts))
            out.append(_sample("queue_depth_messages", labels, st.queue_depth, ts))
            out += [_sample("queue_publish_duration_seconds", {**labels, "quantile": q},
                            getattr(st, attr), ts) for q, attr in QUANTILES]
        out.append(_sample("cpu_usage_ratio", labels, st.cpu, ts))
        out.append(_sample("memory_usage_bytes", labels, st.memory, ts))
    return out
