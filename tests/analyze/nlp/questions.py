"""Labelled questions: what each one should be read as, with NOW and the entities below.

Fields left out of an expectation take their empty value (list, no filter, any time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 4, 1, 15, 30, tzinfo=UTC)  # a Wednesday
ENTITIES = ["checkout", "payment", "web", "db-1", "db-2", "gateway", "host-1", "orders-db",
            "search"]
KINDS = {"checkout": "service", "payment": "service", "web": "service", "gateway": "service",
         "search": "service", "db-1": "database", "db-2": "database",
         "orders-db": "database", "host-1": "host"}


def at(day: int, hour: int = 0, minute: int = 0) -> str:
    return datetime(2026, 3 if day > 1 else 4, day, hour, minute, tzinfo=UTC).isoformat()


END = NOW.isoformat()

QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("critical alerts on checkout in the last 2 hours",
     {"subject": "alerts", "severity": ["critical"], "entities": ["checkout"],
      "start": at(1, 13, 30), "end": END}),
    ("how many incidents yesterday",
     {"subject": "incidents", "aggregate": "count", "start": at(31), "end": at(1)}),
    ("error logs from payments since 10:00",
     {"subject": "logs", "level": ["error"], "entities": ["payment"],
      "start": at(1, 10), "end": END}),
    ("open incidents affecting web", {"subject": "incidents", "status": "open",
                                      "entities": ["web"]}),
    ("anomalies on db-1 today", {"subject": "anomalies", "entities": ["db-1"],
                                 "start": at(1), "end": END}),
    ("deploys in the last day", {"subject": "changes", "change_kind": "deploy",
                                 "start": at(31, 15, 30), "end": END}),
    ("which services had the most alerts this week",
     {"subject": "alerts", "aggregate": "top_entities", "entity_kind": "service",
      "start": at(30), "end": END}),
    ("show me warning alerts for gateway", {"subject": "alerts", "severity": ["warning"],
                                            "entities": ["gateway"]}),
    ("list resolved incidents on orders-db in the past 3 days",
     {"subject": "incidents", "status": "resolved", "entities": ["orders-db"],
      "start": at(29, 15, 30), "end": END}),
    ("number of alerts on host-1 in the last 30 minutes",
     {"subject": "alerts", "aggregate": "count", "entities": ["host-1"],
      "start": at(1, 15), "end": END}),
    ("firing alerts", {"subject": "alerts", "status": "firing"}),
    ("errors from checkout in the last hour", {"subject": "logs", "level": ["error"],
                                               "entities": ["checkout"],
                                               "start": at(1, 14, 30), "end": END}),
    ("warning logs on search today", {"subject": "logs", "level": ["warning"],
                                      "entities": ["search"], "start": at(1), "end": END}),
    ("how many critical incidents this week",
     {"subject": "incidents", "aggregate": "count", "severity": ["critical"],
      "start": at(30), "end": END}),
    ("which hosts had the most anomalies yesterday",
     {"subject": "anomalies", "aggregate": "top_entities", "entity_kind": "host",
      "start": at(31), "end": at(1)}),
    ("top entities by incidents in the last 7 days",
     {"subject": "incidents", "aggregate": "top_entities", "start": at(25, 15, 30),
      "end": END}),
    ("deployments to payment since yesterday",
     {"subject": "changes", "change_kind": "deploy", "entities": ["payment"],
      "start": at(31), "end": END}),
    ("changes on db-2 this week", {"subject": "changes", "entities": ["db-2"],
                                   "start": at(30), "end": END}),
    ("tickets for checkout", {"subject": "tickets", "entities": ["checkout"]}),
    ("alerts on checkout and payment between 9:00 and 11:00",
     {"subject": "alerts", "entities": ["checkout", "payment"], "start": at(1, 9),
      "end": at(1, 11)}),
    ("critical or error alerts on web in the past 12 hours",
     {"subject": "alerts", "severity": ["critical", "error"], "entities": ["web"],
      "start": at(1, 3, 30), "end": END}),
    ("incidents on 2026-03-30", {"subject": "incidents", "start": at(30), "end": at(31)}),
    ("alerts since 2026-03-31 08:00", {"subject": "alerts", "start": at(31, 8),
                                       "end": END}),
    ("anomalies from 2 hours ago", {"subject": "anomalies", "start": at(1, 13, 30),
                                    "end": END}),
    ("how many open incidents", {"subject": "incidents", "aggregate": "count",
                                 "status": "open"}),
    ("alerts on checkout since 9am", {"subject": "alerts", "entities": ["checkout"],
                                      "start": at(1, 9), "end": END}),
    ("error logs on gateway since 4pm", {"subject": "logs", "level": ["error"],
                                         "entities": ["gateway"], "start": at(31, 16),
                                         "end": END}),
    ("which databases had the most incidents this month",
     {"subject": "incidents", "aggregate": "top_entities", "entity_kind": "database",
      "start": at(1), "end": END}),
    ("critical alerts on paymnt", {"subject": "alerts", "severity": ["critical"],
                                   "entities": ["payment"]}),
    ("releases in the past week", {"subject": "changes", "change_kind": "deploy",
                                   "start": at(25, 15, 30), "end": END}),
    ("info logs from web in the last 15 minutes",
     {"subject": "logs", "level": ["info"], "entities": ["web"], "start": at(1, 15, 15),
      "end": END}),
    ("count of anomalies today", {"subject": "anomalies", "aggregate": "count",
                                  "start": at(1), "end": END}),
    # What the parser must not guess.
    ("alerts on frobnicator", {"subject": "alerts", "not_understood": ["frobnicator"]}),
    ("what broke", {"not_understood": ["broke"]}),
    ("critical anomalies", {"subject": "anomalies", "not_understood": ["critical"]}),
    ("open logs from web", {"subject": "logs", "entities": ["web"],
                            "not_understood": ["open"]}),
    ("incidents on the kitchen sink yesterday",
     {"subject": "incidents", "start": at(31), "end": at(1),
      "not_understood": ["kitchen", "sink"]}),
    ("alerts on db", {"subject": "alerts", "not_understood": ["db"]}),
]


def expected(fields: dict[str, Any]) -> dict[str, Any]:
    return {"subject": None, "aggregate": "list", "entities": [], "entity_kind": None,
            "severity": [], "level": [], "status": None, "change_kind": None,
            "start": None, "end": None, "not_understood": [], **fields}
