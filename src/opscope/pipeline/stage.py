"""The one small interface of the data flow.

A stage takes a batch and returns a batch (possibly empty, possibly of another kind),
like Alertmanager's ``Stage.Exec``. Stages are chained with :func:`run_stages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Stage(Protocol):
    name: str

    def process(self, batch: Sequence[Any]) -> Sequence[Any]:
        """Handle one batch; return what the next stage should see."""
        ...


def run_stages(stages: Sequence[Stage], batch: Sequence[Any]) -> Sequence[Any]:
    """Run stages in order; an empty batch stops the chain early."""
    for stage in stages:
        if not batch:
            break
        batch = stage.process(batch)
    return batch
