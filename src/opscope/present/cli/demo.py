"""``opscope demo``: the server with embedded storage plus the simulated shop feeding it
over the real HTTP API, with a fault every few minutes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from opscope.config import Settings
from opscope.present.cli.options import settings_from
from opscope.sim.slack_receiver import SlackMessage, SlackReceiver, render_message

log = logging.getLogger("opscope.demo")
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def demo(
    port: int = typer.Option(8080, "--port", "-p", help="Port of the server."),
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address."),
    data_dir: Path = typer.Option(Path("data/demo"), "--data-dir",
                                  help="Where the demo keeps its database."),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulation (same seed, same shop)."),
    speed: float = typer.Option(1.0, "--speed", min=0.1, max=100.0,
                                help="Event time per wall-clock time; 1 is real time."),
    fault_every: float = typer.Option(4.0, "--fault-every", min=0.5,
                                      help="Mean minutes between injected faults."),
    backfill: float = typer.Option(60.0, "--backfill", min=0.0, max=24 * 60.0,
                                   help="Minutes of history simulated before real time."),
    history_hours: float = typer.Option(
        24.0, "--history-hours", min=0.0, max=24 * 14.0,
        help="Hours of metric history (a sample a minute) simulated before the backfill, "
             "so that the metric detectors have learnt a day of normal behaviour and "
             "draw expected bands from the start; 0 skips it."),
    minutes: float | None = typer.Option(None, "--minutes", min=0.1,
                                         help="Stop after this many minutes (default: never)."),
    rules: Path = typer.Option(EXAMPLES / "rules" / "demo.yaml", "--rules",
                               help="Reaction rules; their Slack messages go to a local "
                                    "Slack-shaped receiver shown in this terminal."),
    runbooks: Path = typer.Option(EXAMPLES / "runbooks", "--runbooks",
                                  help="The runbook directory of the demo rules."),
) -> None:
    """Run the server and the simulated shop; print the dashboard link with a token."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    with SlackReceiver(on_message=_show_message) as slack:
        reactions = {"rules_paths": [rules] if rules.is_file() else [],
                     "runbook_dir": runbooks if runbooks.is_dir() else None,
                     "variables": {"OPSCOPE_DEMO_SLACK_URL": slack.url}}
        settings = settings_from(None, host=host, port=port, data_dir=data_dir,
                                 reactions=reactions)
        try:
            asyncio.run(_run(settings, seed, speed, fault_every, backfill, history_hours,
                             minutes))
        except KeyboardInterrupt:
            typer.echo("demo stopped")


def _show_message(message: SlackMessage) -> None:
    typer.secho(render_message(message), fg="cyan")


def _announce_approvals(services: Any, admin: str, seen: set[str]) -> None:
    """Print signed approve/reject links for each action newly held for approval."""
    from opscope.model.execution import ApprovalState
    from opscope.present.api.reactions import decide_url
    from opscope.react.stage import ReactionStage

    stage = services.extras.get("reactions")
    if not isinstance(stage, ReactionStage):
        return
    engine = stage.engine
    base = services.settings.base_url
    for request in engine.ports.approvals.list(ApprovalState.PENDING):
        if request.id in seen:
            continue
        seen.add(request.id)
        approve = decide_url(base, engine.approval_token(request.id, "approve", "demo"))
        reject = decide_url(base, engine.approval_token(request.id, "reject", "demo"))
        typer.secho(f"approval needed: {request.rule}/{request.action} for "
                    f"{request.subject} {request.inputs.get('args', '')}", fg="magenta",
                    bold=True)
        typer.echo(f"  approve: {approve}\n  reject:  {reject}")
        typer.echo(f"  or: curl -X POST -H 'Authorization: Bearer {admin}' "
                   f"{base}/api/v1/approvals/{request.id}/approve")


async def _run(settings: Settings, seed: int, speed: float, fault_every: float,
               backfill: float, history_hours: float, minutes: float | None) -> None:
    import uvicorn

    from opscope.app import build_services, create_app
    from opscope.present.api.auth import create_token
    from opscope.sim import (
        Batch,
        FaultScheduleConfig,
        Simulation,
        metric_history,
        run_fast,
        run_realtime,
    )
    from opscope.sim.feed import HttpFeeder

    services = build_services(settings)
    token = create_token(services.store, ["ingest", "read"], "demo")
    admin = create_token(services.store, ["admin"], "demo-admin")
    server = uvicorn.Server(uvicorn.Config(create_app(settings, services), host=settings.host,
                                           port=settings.port, log_level="warning",
                                           access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # raises why the server could not start
            return
        await asyncio.sleep(0.05)

    base = settings.base_url
    typer.secho(f"\nopscope demo on {base}", bold=True)
    typer.echo(f"  dashboard: {base}/#token={token}")
    typer.echo(f"  API docs:  {base}/docs")
    typer.echo(f"  token (ingest, read): {token}")
    typer.echo(f"  e.g. curl -H 'Authorization: Bearer {token}' {base}/api/v1/events")
    rules = settings.reactions.rules_paths
    typer.echo(f"  reaction rules: {', '.join(map(str, rules)) or 'none'}; audit: "
               f"opscope audit --url {base} --token {token}")
    typer.echo(f"  approvals: {base}/api/v1/approvals?state=pending (approve with the "
               f"admin token {admin}; signed links are printed as actions wait)\n")
    announced: set[str] = set()

    start = datetime.now(UTC) - timedelta(minutes=backfill)
    sim = Simulation(seed, start, step_seconds=10.0)
    try:
        async with HttpFeeder(base, token) as feed:
            await feed.send_topology(sim.topology())
            await feed.send("tickets", sim.ticket_history(days=30))
            if history_hours:
                # The same shop a minute at a time, metrics only: cheap to simulate, and
                # enough for the detectors' daily cycle. Its series continue without a
                # jump into the backfill, which starts where it ends.
                typer.echo(f"simulating {history_hours:g} h of metric history ...")
                pending: list[Any] = []
                for samples in metric_history(seed, start, history_hours):
                    pending.extend(samples)
                    if len(pending) >= 20_000:
                        await feed.send("metrics", pending)
                        pending = []
                await feed.send("metrics", pending)
            for batch in run_fast(sim, timedelta(minutes=backfill)):
                await feed(batch)
            typer.echo(f"simulated {backfill:.0f} min of history; now live, a fault every "
                       f"~{fault_every:g} min")
            # The first fault is a memory leak on the cache: its root cause is a memory
            # series, so the bundled rule offers its restart runbook for approval.
            leak_minutes = 5.0
            sim.inject("memory_leak", "redis-cache", duration=leak_minutes * 60)
            sim.faults.schedule_random(FaultScheduleConfig(
                every_minutes=fault_every, first_after_minutes=leak_minutes + 1.0,
                min_duration_minutes=min(3.0, fault_every * 0.6),
                max_duration_minutes=min(6.0, fault_every * 0.8),
                quiet_gap_minutes=min(1.0, fault_every * 0.2)))
            reported: set[str] = set()

            async def sink(batch: Batch) -> None:
                await feed(batch)
                await asyncio.to_thread(_announce_approvals, services, admin, announced)
                for truth in sim.ground_truth():
                    if truth.fault_id not in reported:
                        reported.add(truth.fault_id)
                        typer.secho(f"[{truth.start:%H:%M:%S}] injected {truth.kind} on "
                                    f"{truth.root_entity} until {truth.end:%H:%M:%S}",
                                    fg="yellow")

            duration = None if minutes is None else timedelta(minutes=minutes)
            await run_realtime(sim, sink, speed=speed, duration=duration)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
