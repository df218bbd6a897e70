"""Entry point of the ``opscope`` command: one typer app with a sub-command per task."""

from __future__ import annotations

import typer

from opscope import __version__
from opscope.present.cli.anomalies_cmd import anomalies_app
from opscope.present.cli.ask_cmd import ask
from opscope.present.cli.audit import audit
from opscope.present.cli.config_cmd import config_app
from opscope.present.cli.demo import demo
from opscope.present.cli.eval import eval_app
from opscope.present.cli.incidents_cmd import incidents_app, patterns
from opscope.present.cli.ingest import ingest
from opscope.present.cli.logs_cmd import logs_app
from opscope.present.cli.report_cmd import report
from opscope.present.cli.rules_cmd import rules_app
from opscope.present.cli.serve import serve
from opscope.present.cli.token import token_app
from opscope.present.cli.train import train

app = typer.Typer(
    name="opscope",
    help="opscope: collect alerts, logs, metrics and changes; find what is wrong and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(demo)
app.command()(ingest)
app.command()(train)
app.add_typer(token_app, name="token")
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval")
app.add_typer(logs_app, name="logs")
app.add_typer(incidents_app, name="incidents")
app.add_typer(anomalies_app, name="anomalies")
app.command()(patterns)
app.command()(report)
app.add_typer(rules_app, name="rules")
app.command()(audit)
app.command()(ask)


@app.command()
def version() -> None:
    """Print the opscope version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
