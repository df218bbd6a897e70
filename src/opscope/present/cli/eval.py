"""``opscope eval ...``: evaluation harnesses on labelled data.

Each harness lives in ``opscope.eval.<name>`` and exposes a typer-compatible function;
it is registered here so that ``opscope eval --help`` lists them all.
"""

from __future__ import annotations

import typer

eval_app = typer.Typer(
    help="Measure opscope's analysis on labelled benchmark data (paths given with --data).",
    no_args_is_help=True,
)

# (command name, "module:function"). Imported on registration; each module keeps heavy
# imports inside its function so that `opscope --help` stays fast.
EVAL_COMMANDS: list[tuple[str, str]] = [
    ("rca", "opscope.eval.rca:rca_command"),
    ("logs", "opscope.eval.logs:logs_command"),
    ("log-sessions", "opscope.eval.log_sessions:log_sessions_command"),
    ("nab", "opscope.eval.nab:nab_command"),
    ("synth-nab", "opscope.eval.synthetic_nab:synth_nab_command"),
    ("synth-nab-score", "opscope.eval.synthetic_nab:synth_nab_score_command"),
    ("correlation", "opscope.eval.correlation:correlation_command"),
    ("similar", "opscope.eval.similar:similar_command"),
]


def _register() -> None:
    import importlib

    for name, target in EVAL_COMMANDS:
        module_name, func_name = target.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        eval_app.command(name=name)(func)


_register()
