"""Deploys from CI/CD webhooks: GitHub deployment statuses and GitLab deployment events.

A deploy shortly before trouble is the first suspect of a root-cause search, so the
deploys a team already runs through GitHub or GitLab become :class:`~opscope.model.Change`
records without a line of glue code.

Which service a deploy is about: the deployment's own ``payload.service`` (or
``payload.entity``) when the pipeline sets it (GitHub lets a deployment carry a payload),
else the repository's or project's name. One record is kept per deployment and state that
changes what runs: a rollout that started (GitHub ``in_progress``, GitLab ``running``),
finished (``success``) or failed (``failure``/``error``, ``failed``). Queued, pending,
inactive and canceled states change nothing that runs and are acknowledged without a record.
The record id names the deployment and the state, so a redelivered webhook is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from opscope.collect.batch import BatchResult
from opscope.model import Change

GITHUB_STATES = {"in_progress": "started", "success": "succeeded", "failure": "failed",
                 "error": "failed"}
GITLAB_STATES = {"running": "started", "success": "succeeded", "failed": "failed"}


def github_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``X-Hub-Signature-256`` is the HMAC-SHA256 of ``body`` under ``secret``."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def _text(value: Any, limit: int = 256) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _login(user: Any) -> str:
    if isinstance(user, dict):
        return _text(user.get("login") or user.get("username") or user.get("name"))
    return ""


def _service(payload: Any, fallback: str) -> str:
    if isinstance(payload, dict):
        for key in ("service", "entity"):
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:256]
    return fallback


def _change(result: BatchResult[Change], fields: dict[str, Any]) -> None:
    try:
        result.items.append(Change(**fields))
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "$"
            result.add_problem(0, where, error["msg"])


def _object(doc: Any, key: str, result: BatchResult[Change]) -> dict[str, Any] | None:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, dict):
        result.add_problem(0, key, f"'{key}' must be an object")
        return None
    return value


def _happened(states: dict[str, str], value: str, field: str, noun: str,
              result: BatchResult[Change]) -> str | None:
    """What a deployment state means for what runs ("started", "succeeded", "failed"), or
    None for a state that changes nothing (a missing one is a problem of the delivery)."""
    happened = states.get(value)
    if happened is None and not value:
        result.add_problem(0, field, f"a {noun} is required")
    return happened


def parse_github(event: str, doc: Any, received_at: datetime,
                 source: str = "github") -> tuple[BatchResult[Change], str]:
    """The change a GitHub webhook delivery records, and one line saying what was done.

    Only ``deployment_status`` deliveries record changes; ``ping`` and other events are
    acknowledged with a note, so that a webhook subscribed to more than it needs does not
    fail in GitHub's delivery log.
    """
    result: BatchResult[Change] = BatchResult()
    if event == "ping":
        return result, "pong: the webhook reaches opscope"
    if event != "deployment_status":
        return result, f"'{event}' events record nothing; subscribe to deployment statuses"
    status = _object(doc, "deployment_status", result)
    deployment = _object(doc, "deployment", result)
    repository = _object(doc, "repository", result)
    if status is None or deployment is None or repository is None:
        return result, "not a deployment_status delivery"
    state = _text(status.get("state"), 32)
    happened = _happened(GITHUB_STATES, state, "deployment_status.state", "state", result)
    if happened is None:
        return result, f"state '{state}' changes nothing that runs; not recorded"
    repo = _text(repository.get("full_name")) or _text(repository.get("name"))
    environment = _text(status.get("environment") or deployment.get("environment"), 128)
    sha = _text(deployment.get("sha"), 64)
    ref = _text(deployment.get("ref"), 256)
    url = _text(status.get("log_url") or status.get("target_url")
                or status.get("environment_url"), 1024)
    said = _text(status.get("description") or deployment.get("description"), 1024)
    labels = {"repository": repo, "environment": environment, "state": state, "ref": ref,
              "url": url, "delivered_by": source}
    _change(result, {
        "id": f"{source}/{repo}/deployment/{deployment.get('id')}/{state}",
        "entity": _service(deployment.get("payload"),
                           _text(repository.get("name")) or repo.rpartition("/")[2]),
        "kind": "deploy", "version": sha[:12] or ref,
        "author": _login(status.get("creator")) or _login(deployment.get("creator"))
        or _login(doc.get("sender")),
        "ts": status.get("updated_at") or status.get("created_at") or received_at,
        "description": f"deploy of {ref or sha[:12]} to {environment or 'an environment'} "
                       f"{happened}" + (f": {said}" if said else ""),
        "labels": {k: v for k, v in labels.items() if v},
    })
    return result, f"deploy {happened}" if result.items else "deployment status is invalid"


def _gitlab_time(value: Any, received_at: datetime) -> datetime | str:
    # GitLab writes "2021-04-28 21:50:00 +0200"; ISO 8601 is taken as it is.
    if isinstance(value, str) and value.strip():
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            return value.strip()
    return received_at


def parse_gitlab(event: str, doc: Any, received_at: datetime,
                 source: str = "gitlab") -> tuple[BatchResult[Change], str]:
    """The change a GitLab ``Deployment Hook`` records, and one line saying what was done."""
    result: BatchResult[Change] = BatchResult()
    kind = doc.get("object_kind") if isinstance(doc, dict) else None
    if event != "Deployment Hook" and kind != "deployment":
        return result, f"'{event or kind}' events record nothing; enable deployment events"
    assert isinstance(doc, dict)
    project = _object(doc, "project", result)
    if project is None:
        return result, "not a deployment event"
    status = _text(doc.get("status"), 32)
    happened = _happened(GITLAB_STATES, status, "status", "status", result)
    if happened is None:
        return result, f"status '{status}' changes nothing that runs; not recorded"
    path = _text(project.get("path_with_namespace")) or _text(project.get("name"))
    environment = _text(doc.get("environment"), 128)
    sha = _text(doc.get("short_sha"), 64)
    title = _text(doc.get("commit_title"), 1024)
    labels = {"project": path, "environment": environment, "state": status,
              "url": _text(doc.get("deployable_url"), 1024),
              "commit_url": _text(doc.get("commit_url"), 1024), "delivered_by": source}
    _change(result, {
        "id": f"{source}/{path}/deployment/{doc.get('deployment_id')}/{status}",
        "entity": _text(project.get("name")) or path.rpartition("/")[2],
        "kind": "deploy", "version": sha,
        "author": _login(doc.get("user")),
        "ts": _gitlab_time(doc.get("status_changed_at"), received_at),
        "description": f"deploy of {sha or 'a commit'} to {environment or 'an environment'} "
                       f"{happened}" + (f": {title}" if title else ""),
        "labels": {k: v for k, v in labels.items() if v},
    })
    return result, f"deploy {happened}" if result.items else "deployment event is invalid"
