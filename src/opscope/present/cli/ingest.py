"""``opscope ingest FILE``: bulk import into a running server over its HTTP API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from opscope.present.cli.options import TOKEN, URL

KINDS = ("logs", "events", "metrics", "tickets", "changes", "topology", "alertmanager",
         "prometheus")
SUFFIX_KIND = {".log": "logs", ".txt": "logs", ".csv": "tickets", ".yaml": "topology",
               ".yml": "topology", ".prom": "prometheus"}


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _text_chunks(path: Path, size: int) -> Iterator[tuple[bytes, int]]:
    """Groups of whole lines as bytes, with the byte count they cover."""
    with path.open("rb") as handle:
        lines: list[bytes] = []
        for line in handle:
            lines.append(line)
            if len(lines) >= size:
                yield b"".join(lines), sum(map(len, lines))
                lines = []
        if lines:
            yield b"".join(lines), sum(map(len, lines))


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="File to import."),
    kind: str = typer.Option("auto", "--kind", "-k", help=f"auto or one of {', '.join(KINDS)}. "
                             "auto: .log/.txt logs, .csv tickets, .yaml topology, .prom "
                             "Prometheus text; .json/.ndjson need --kind."),
    url: str = URL, token: str = TOKEN,
    batch_size: int = typer.Option(5000, "--batch-size", min=1, max=50_000,
                                   help="Items per request."),
    source: str = typer.Option("", "--source", help="Source for text log lines."),
    entity: str = typer.Option("", "--entity", help="Entity for text log lines."),
    partial: bool = typer.Option(False, "--partial", help="Keep valid items of bad batches."),
) -> None:
    """Import a file of logs, events, metrics, tickets (CSV), changes or topology."""
    import httpx
    import orjson
    from rich.progress import Progress

    if kind == "auto":
        kind = SUFFIX_KIND.get(file.suffix.lower(), "")
        if not kind:
            typer.secho(f"cannot tell the kind of {file.name}; pass --kind", fg="red", err=True)
            raise typer.Exit(2)
    if kind not in KINDS:
        typer.secho(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", fg="red", err=True)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, str] = {"partial": "true"} if partial else {}
    total = file.stat().st_size
    sent = 0
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client, \
            Progress(transient=False) as progress:
        task = progress.add_task(f"{kind} from {file.name}", total=total)

        def post(path: str, content: bytes, content_type: str, extra: dict[str, str],
                 covered: int) -> None:
            nonlocal sent
            for _attempt in range(10):
                resp = client.post(path, content=content, params={**params, **extra},
                                   headers={"Content-Type": content_type})
                if resp.status_code in (429, 503):
                    time.sleep(float(resp.headers.get("Retry-After", "1")))
                    continue
                break
            if resp.status_code >= 300:
                progress.stop()
                typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red", err=True)
                raise typer.Exit(1)
            sent += int(resp.json().get("accepted", 0))
            progress.advance(task, covered)

        if kind == "logs" and file.suffix.lower() in (".log", ".txt", ""):
            extra = {k: v for k, v in (("source", source or file.name), ("entity", entity)) if v}
            for chunk, covered in _text_chunks(file, batch_size):
                post("/api/v1/logs", chunk, "text/plain; charset=utf-8", extra, covered)
        elif kind == "prometheus":
            post("/api/v1/metrics/prometheus", file.read_bytes(), "text/plain", {}, total)
        elif kind in ("alertmanager", "topology"):
            ctype = "application/yaml" if file.suffix.lower() in (".yaml", ".yml") else \
                "application/json"
            post(f"/api/v1/{kind}", file.read_bytes(), ctype, {}, total)
        elif file.suffix.lower() in (".ndjson", ".jsonl"):
            for lines, covered in _text_chunks(file, batch_size):
                post(f"/api/v1/{kind}", lines, "application/x-ndjson", {}, covered)
        else:
            items = _load_items(file, kind)
            share = total / max(1, len(items))
            for part in _chunks(items, batch_size):
                post(f"/api/v1/{kind}", orjson.dumps(part), "application/json", {},
                     int(share * len(part)))
    elapsed = time.perf_counter() - started
    typer.echo(f"imported {sent} {kind} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)")


def _load_items(file: Path, kind: str) -> list[Any]:
    import orjson

    if file.suffix.lower() == ".csv":
        if kind != "tickets":
            typer.secho("CSV import is for tickets", fg="red", err=True)
            raise typer.Exit(2)
        from opscope.collect.tickets import parse_tickets_csv

        result = parse_tickets_csv(file.read_text(encoding="utf-8"))
        if result.problems:
            for problem in result.problems[:20]:
                typer.secho(f"row {problem.index}: {problem.field}: {problem.message}",
                            fg="red", err=True)
            raise typer.Exit(1)
        return [t.model_dump(mode="json") for t in result.items]
    loaded = orjson.loads(file.read_bytes())
    if isinstance(loaded, dict):
        loaded = [loaded]
    if not isinstance(loaded, list):
        typer.secho("a JSON file must hold an array of items", fg="red", err=True)
        raise typer.Exit(2)
    return loaded

