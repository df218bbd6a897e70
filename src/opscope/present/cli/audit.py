"""``opscope audit``: what the reaction rules did, read from a running server.

One line per execution, newest first: when it started, its outcome, rule/action, what
it was about, who approved it and why it ended so. ``--since`` takes a duration back
from now (``30m``, ``24h``, ``7d``) or an ISO 8601 time; ``--json`` prints the records.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer

from opscope.present.cli.options import URL

TOKEN = typer.Option(..., "--token", envvar="OPSCOPE_TOKEN",
                     help="API token with the read scope (or OPSCOPE_TOKEN).")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PAGE = 500


def parse_since(text: str, now: datetime) -> datetime:
    """A duration back from ``now`` (``24h``) or an ISO 8601 time (UTC if no zone)."""
    found = _DURATION.match(text.strip())
    if found:
        return now - timedelta(seconds=float(found[1]) * _UNITS[found[2]])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"--since: {text!r} is neither a duration (24h) "
                                 "nor an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_execution(item: dict[str, Any]) -> str:
    started = str(item.get("started_at", ""))[:19].replace("T", " ")
    who = f" by {item['approved_by']}" if item.get("approved_by") else ""
    why = f" — {item['reason']}" if item.get("reason") else ""
    dry = " [dry run]" if item.get("dry_run") else ""
    return (f"{started}  {item.get('status', ''):<16} {item.get('rule', '')}/"
            f"{item.get('action', '')} ({item.get('action_kind', '')}) "
            f"{item.get('subject', '')}{who}{dry}{why}")


def fetch(url: str, token: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` executions, following the cursor."""
    import httpx

    out: list[dict[str, Any]] = []
    query = dict(params)
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        while len(out) < limit:
            query["limit"] = min(_PAGE, limit - len(out))
            try:
                resp = client.get("/api/v1/executions", params=query)
            except httpx.HTTPError as exc:
                raise typer.BadParameter(f"cannot reach the server: {exc}") from None
            if resp.status_code != 200:
                typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red",
                            err=True)
                raise typer.Exit(1)
            body = resp.json()
            out.extend(body["items"])
            if not body.get("next_cursor"):
                break
            query["cursor"] = body["next_cursor"]
    return out


def audit(
    rule: str = typer.Option("", "--rule", help="Only this rule."),
    action: str = typer.Option("", "--action", help="Only this action of a rule."),
    status: str = typer.Option("", "--status", help="succeeded, failed, dry_run, "
                               "pending_approval, rejected, expired, suppressed, in_doubt."),
    since: str = typer.Option("", "--since", help="e.g. 24h, or an ISO 8601 time."),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000, help="Most lines shown."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON record per line."),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Show what the reaction rules did (the audit of executions), newest first."""
    params: dict[str, Any] = {k: v for k, v in
                              (("rule", rule), ("action", action), ("status", status)) if v}
    if since:
        params["start"] = parse_since(since, datetime.now(UTC)).isoformat()
    items = fetch(url.rstrip("/"), token, params, limit)
    for item in items:
        typer.echo(orjson.dumps(item).decode() if as_json else format_execution(item))
    if not as_json:
        typer.echo(f"{len(items)} execution(s)", err=True)
