"""``opscope logs``: look at what a running server learnt from its logs (over the API)."""

from __future__ import annotations

from typing import Any

import typer

from opscope.present.cli.options import TOKEN, URL, stamp

logs_app = typer.Typer(help="Log templates and their statistics, from a running server.",
                       no_args_is_help=True)

_WIDTH = 90


def _levels(levels: dict[str, int]) -> str:
    total = sum(levels.values()) or 1
    ranked = sorted(levels.items(), key=lambda item: -item[1])
    return " ".join(f"{name} {100 * count / total:.0f}%" for name, count in ranked)


@logs_app.command("templates")
def templates(
    url: str = URL, token: str = TOKEN,
    entity: str | None = typer.Option(None, "--entity", "-e",
                                      help="Only lines of this entity."),
    top: int = typer.Option(20, "--top", "-n", min=1, max=1000, help="Templates to show."),
    sort: str = typer.Option("count", "--sort", help="count or last_seen."),
    text: str | None = typer.Option(None, "--q", help="Substring of the template."),
) -> None:
    """The most frequent (or most recent) log templates, as a table."""
    import httpx
    from rich.console import Console
    from rich.table import Table

    params: dict[str, str | int] = {"limit": top, "sort": sort}
    if entity:
        params["entity"] = entity
    if text:
        params["q"] = text
    try:
        with httpx.Client(base_url=url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            resp = client.get("/api/v1/log-templates", params=params)
    except httpx.HTTPError as exc:
        typer.secho(f"error: cannot reach {url}: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    if resp.status_code != 200:
        typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red", err=True)
        raise typer.Exit(1)
    items: list[dict[str, Any]] = resp.json().get("items", [])
    title = f"log templates{f' of {entity}' if entity else ''} by {sort}"
    table = Table("id", "count", "entities", "levels", "first seen", "last seen", "template",
                  title=title)
    for item in items:
        template = str(item.get("template") or "")
        if len(template) > _WIDTH:
            template = template[:_WIDTH - 1] + "…"
        table.add_row(str(item.get("template_id")), f"{int(item.get('count') or 0):,}",
                      str(item.get("entities") or 0), _levels(item.get("levels") or {}),
                      stamp(item.get("first_seen")), stamp(item.get("last_seen")), template)
    Console().print(table)
    if not items:
        typer.echo("no templates yet: logs are analysed shortly after they are ingested")
