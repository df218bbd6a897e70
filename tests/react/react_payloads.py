"""Checks of third-party payload shapes against their documented required fields.

Written from the public docs: Slack Block Kit (blocks, layout limits) and the Web API's
chat.postMessage / chat.update arguments; PagerDuty Events API v2. They return a list
of problems so a failing test says exactly what is wrong.
"""

from __future__ import annotations

from typing import Any


def _text_object(obj: Any, where: str, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: text object must be a map"]
    problems = []
    allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
    if obj.get("type") not in allowed:
        problems.append(f"{where}.type must be one of {sorted(allowed)}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}.text must be a non-empty string")
    elif len(text) > limit:
        problems.append(f"{where}.text longer than {limit}")
    return problems


def block_kit_problems(blocks: Any) -> list[str]:
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return ["blocks must be a list of 1 to 50 blocks"]
    problems: list[str] = []
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if kind == "header":
            problems += _text_object(block.get("text"), f"{where}.text", 150, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section needs text or fields")
            if "text" in block:
                problems += _text_object(block["text"], f"{where}.text", 3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}.fields: at most 10")
            for j, f in enumerate(fields):
                problems += _text_object(f, f"{where}.fields[{j}]", 2000)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements: 1 to 10 elements")
            else:
                for j, e in enumerate(elements):
                    problems += _text_object(e, f"{where}.elements[{j}]", 3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                problems.append(f"{where}.elements: 1 to 25 elements")
                continue
            for j, e in enumerate(elements):
                if e.get("type") != "button":
                    problems.append(f"{where}.elements[{j}]: expected a button")
                    continue
                problems += _text_object(
                    e.get("text"), f"{where}.elements[{j}].text", 75, plain_only=True
                )
                if len(e.get("url", "")) > 3000 or len(e.get("action_id", "")) > 255:
                    problems.append(f"{where}.elements[{j}]: url or action_id too long")
        else:
            problems.append(f"{where}: unexpected block type {kind!r}")
    return problems


def slack_message_problems(method: str, body: Any) -> list[str]:
    """chat.postMessage: channel + text/blocks; chat.update: channel + ts; webhook: text/blocks."""
    problems: list[str] = []
    if method in ("chat.postMessage", "chat.update") and not body.get("channel"):
        problems.append("channel is required")
    if method == "chat.update" and not body.get("ts"):
        problems.append("ts is required for chat.update")
    if not (body.get("text") or body.get("blocks")):
        problems.append("one of text or blocks is required")
    if "blocks" in body:
        problems += block_kit_problems(body["blocks"])
    return problems


def pagerduty_problems(body: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(body.get("routing_key"), str) or not body["routing_key"]:
        problems.append("routing_key is required")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append("event_action must be trigger, acknowledge or resolve")
    dedup = body.get("dedup_key")
    if action in ("acknowledge", "resolve") and not dedup:
        problems.append("dedup_key is required to acknowledge or resolve")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        problems.append("dedup_key must be a string of at most 255 characters")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "payload is required for trigger"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            problems.append("payload.summary: required, at most 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("payload.source is required")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append("payload.severity must be critical, error, warning or info")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    for link in body.get("links", []):
        if "href" not in link:
            problems.append("links[].href is required")
    return problems
