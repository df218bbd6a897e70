"""``opscope rules ...``: check rule files and replay them over stored history.

``rules_app`` is a typer app; the main CLI mounts it as ``opscope rules``.

Variables ``${NAME}`` in the files are filled from the environment.

* ``opscope rules check FILE...`` — load every file; print each problem as
  ``file:line:column: field: message``; exit 1 if any.
* ``opscope rules test FILE --replay 24h --history triggers.json [--until ISO] [--json]``
  — show which rules would have fired, and what each action would have sent, on the
  triggers of the window; nothing is run.
* ``opscope rules actions [KIND]`` — the action kinds and the settings each takes under
  ``with``, read from their config models (so it cannot drift from the code).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from opscope.errors import ConfigError, ValidationFailed
from opscope.react.actions import ACTION_KINDS, action_class
from opscope.react.duration import parse_duration
from opscope.react.history import JsonFileHistory
from opscope.react.ports import HistorySource
from opscope.react.replay import replay
from opscope.react.rules import RuleError, load_rules

rules_app = typer.Typer(
    help="Check reaction rules and replay them over history.", no_args_is_help=True
)


@rules_app.command("check")
def check_command(
    files: Annotated[list[Path], typer.Argument(help="Rule files (YAML).")],
) -> None:
    """Validate rule files: structure, actions' configs, conditions, matchers, templates."""
    failed = False
    for path in files:
        try:
            ruleset = load_rules(path, os.environ)
        except RuleError as exc:
            failed = True
            typer.echo(str(exc), err=True)
            continue
        typer.echo(f"{path}: {len(ruleset.rules)} rule(s) OK")
    if failed:
        raise typer.Exit(1)


@rules_app.command("test")
def test_command(
    file: Annotated[Path, typer.Argument(help="Rule file (YAML).")],
    history: Annotated[Path, typer.Option(help="JSON file of stored triggers.")],
    replay_window: Annotated[str, typer.Option("--replay", help="How far back, e.g. 24h.")] = "24h",
    until: Annotated[str, typer.Option(help="End of the window (ISO 8601); default now.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show what the rules would have done on stored history, without running anything."""
    try:
        source = JsonFileHistory(history)
    except ValidationFailed as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    run_test(file, source, replay_window, until, as_json)


@rules_app.command("actions")
def actions_command(
    kind: Annotated[str | None, typer.Argument(help="One action kind; all when absent.")] = None,
) -> None:
    """List the action kinds and the settings each takes under 'with'."""
    kinds = sorted(ACTION_KINDS) if kind is None else [kind]
    for name in kinds:
        try:
            cls = action_class(name)
        except ConfigError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        doc = (sys.modules[cls.__module__].__doc__ or "").strip()
        typer.echo(f"{name}: {doc.splitlines()[0] if doc else ''}")
        for field_name, info in cls.config_model.model_fields.items():
            key = info.alias or field_name
            shown = getattr(info.annotation, "__name__", None) or str(info.annotation)
            shown = shown.replace("typing.", "")
            need = ("required" if info.is_required()
                    else f"default {info.get_default(call_default_factory=True)!r}")
            typer.echo(f"  {key}: {shown} ({need})")
            if info.description:
                typer.echo(f"      {info.description}")
        typer.echo("")


def run_test(file: Path, source: HistorySource, replay_window: str, until: str,
             as_json: bool) -> None:
    """Replay ``file``'s rules over ``source`` and print what would have happened."""
    try:
        ruleset = load_rules(file, os.environ)
        window = parse_duration(replay_window)
        end = datetime.fromisoformat(until) if until else datetime.now(UTC)
    except (ValidationFailed, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    hits = replay(ruleset, source, end - window, end)
    for hit in hits:
        if as_json:
            typer.echo(
                orjson.dumps(
                    {
                        "at": hit.trigger.at.isoformat(),
                        "kind": hit.trigger.kind.value,
                        "subject": hit.trigger.subject,
                        "routed": hit.routed,
                        "actions": [vars(a) for a in hit.actions],
                    }
                ).decode()
            )
            continue
        typer.echo(
            f"{hit.trigger.at:%Y-%m-%d %H:%M:%S} {hit.trigger.kind.value} {hit.trigger.subject}"
        )
        for a in hit.actions:
            flags = "".join(
                [
                    " [needs approval]" if a.held_for_approval else "",
                    " [dry run]" if a.dry_run else "",
                    f" [problem: {a.problem}]" if a.problem else "",
                ]
            )
            typer.echo(f"  {a.rule} -> {a.action} ({a.kind}){flags}")
        for name in hit.routed:
            typer.echo(f"  {name} -> routing tree")
    typer.echo(
        f"{len(hits)} trigger(s) would have fired rules in "
        f"{end - window:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} (nothing was run)"
    )
