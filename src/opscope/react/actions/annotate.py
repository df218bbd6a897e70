"""Annotate: add a note to the incident's timeline through the annotator port.

The note text is a template; the author is ``opscope:<rule>``. Only incident triggers
can be annotated (the incident id is the trigger's subject); others fail permanently.
The id of the new note is returned.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from opscope.react.actions.base import (
    Action,
    ActionConfig,
    ActionContext,
    ActionServices,
    DeliveryFailed,
    Outcome,
)
from opscope.react.templates import RENDERER

NOTE_MAX = 8192


class AnnotateConfig(ActionConfig):
    text: str = Field(min_length=1, description="Note template.")


class AnnotateAction(Action[AnnotateConfig]):
    kind: ClassVar[str] = "annotate"
    config_model: ClassVar[type[ActionConfig]] = AnnotateConfig

    def target(self) -> str:
        return "incident-timeline"

    def check(self, services: ActionServices) -> list[str]:
        return [] if services.annotator is not None else ["no incident annotator is configured"]

    def prepare(self, ctx: ActionContext) -> dict[str, Any]:
        if ctx.trigger.kind.section != "incident":
            raise DeliveryFailed("only incident triggers can be annotated", retryable=False)
        return {
            "incident": ctx.trigger.subject,
            "author": f"opscope:{ctx.rule}",
            "text": RENDERER.render_text(self.config.text, ctx.fields)[:NOTE_MAX],
        }

    def deliver(self, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        annotator = ctx.services.annotator
        if annotator is None:
            raise DeliveryFailed("no incident annotator is configured", retryable=False)
        note = annotator.annotate(inputs["incident"], inputs["text"], inputs["author"], ctx.now)
        return Outcome(result={"note_id": note})
