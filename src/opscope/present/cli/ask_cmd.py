"""``opscope ask "question"``: a plain-English question about alerts, incidents, logs,
anomalies, changes or tickets, answered with the reading it was given.

It asks a running server (``--url``, ``--token``), or, with ``--data-dir``, reads the
database of a stopped one directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from opscope.present.cli.incidents_cmd import DATA_DIR, JSON_OUT, TOKEN
from opscope.present.cli.options import CONFIG, URL, open_stopped_store


def _from_server(url: str, token: str, question: str, limit: int) -> dict[str, Any]:
    import httpx

    try:
        with httpx.Client(base_url=url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            resp = client.get("/api/v1/ask", params={"q": question, "limit": limit})
    except httpx.HTTPError as exc:
        raise typer.BadParameter(f"cannot reach the server: {exc}") from None
    body: dict[str, Any] = resp.json() if resp.headers.get(
        "content-type", "").startswith("application/json") else {}
    if resp.status_code == 422 and "interpretation" in body:
        return {"question": question, "understood": False,
                "interpretation": body["interpretation"], "answer": None}
    if resp.status_code != 200:
        typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red", err=True)
        raise typer.Exit(1)
    return body


def _from_store(data_dir: Path, config: Path | None, question: str,
                limit: int) -> dict[str, Any]:
    from opscope.present.api.nlp import answer_question, clean_question

    store = open_stopped_store(data_dir, config)
    try:
        return answer_question(store, clean_question(question), datetime.now(UTC), limit)
    finally:
        store.close()


def _cell(row: dict[str, Any]) -> str:
    when = next((str(row[k]) for k in ("opened_at", "starts_at", "ts") if row.get(k)), "")
    what = row.get("title") or row.get("name") or row.get("message") or row.get("kind") or ""
    where = row.get("entity") or ", ".join(row.get("entities") or ())
    extra = row.get("severity") or row.get("level") or row.get("status") or ""
    return f"{when[:19].replace('T', ' ')}  {extra:8} {where:20} {str(what)[:120]}"


def ask(
    question: str = typer.Argument(..., help="E.g. \"critical alerts on checkout in the "
                                   "last 2 hours\" or \"how many incidents yesterday\"."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=200, help="Rows listed."),
    json_out: bool = JSON_OUT,
) -> None:
    """Answer a plain-English question, saying how it was read.

    Words that fit nowhere are reported, not guessed (exit status 2). Times of day are
    UTC."""
    if data_dir is not None:
        found = _from_store(data_dir, config, question, limit)
    elif token:
        found = _from_server(url, token, question, limit)
    else:
        raise typer.BadParameter("give --token (or OPSCOPE_TOKEN), or --data-dir")
    if json_out:
        typer.echo(json.dumps(found, indent=2, default=str))
    else:
        reading = found["interpretation"]
        typer.echo(reading["text"])
        for note in reading.get("notes", []):
            typer.echo(f"  note: {note}")
        answer = found.get("answer")
        if answer and answer["kind"] == "count":
            typer.echo(("at least " if answer["at_least"] else "") + str(answer["count"]))
        elif answer and answer["kind"] == "top_entities":
            for row in answer["entities"]:
                typer.echo(f"{row['count']:>8}  {row['entity']}")
            if not answer["entities"]:
                typer.echo("nothing matches")
        elif answer:
            for row in answer["items"]:
                typer.echo(_cell(row))
            if not answer["items"]:
                typer.echo("nothing matches")
            if answer["more"]:
                typer.echo(f"(more than {limit}: narrow the question or raise --limit)")
    if not found["understood"]:
        raise typer.Exit(2)
