"""Automated reactions over the API: the audit of executions, approvals, loaded rules.

Reads (scope ``read``): ``GET /api/v1/executions`` (filters ``rule``, ``action``,
``status``, ``start``/``end`` on when it started; cursor paging, newest first),
``GET /api/v1/executions/{id}``, ``GET /api/v1/approvals?state=pending`` and
``GET /api/v1/rules`` (the loaded rules and everything wrong with them).

Decisions (scope ``admin``): ``POST /api/v1/approvals/{id}/approve`` and ``.../reject``
record the token's name as who decided and answer the execution that followed (for an
approval, the action's run). ``GET /api/v1/approvals/{id}/link`` makes a signed link
for one approver. ``PUT /api/v1/rules/sets/{name}`` creates or replaces a rule set (the
document shape of a rules file, as JSON; kept in the data directory, merged after the
configured files and loaded at once); ``DELETE`` removes one.

Signed links need no bearer token: the HMAC-signed ``token`` is the credential. ``GET
/api/v1/approvals/decide?token=...`` only shows what the link would decide, with a
button; the decision is the form's ``POST`` to the same path. A GET never decides,
because chat tools and mail scanners fetch the links they see.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as Path_
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from opscope.errors import AuthError, NotFound, OpscopeError, Overloaded
from opscope.model.execution import ApprovalRequest, ApprovalState, Execution, ExecutionStatus
from opscope.present.api.auth import Principal
from opscope.present.api.deps import require, services_of
from opscope.present.api.responses import JSONAnswer
from opscope.present.api.services import Services
from opscope.react import AuditQuery
from opscope.react.rules import rules_from_data
from opscope.react.stage import API_RULES_SUFFIX, ReactionStage, load_rule_files
from opscope.store.ports import ExecutionQuery, Page

router = APIRouter(prefix="/api/v1", tags=["reactions"])
READ = [Depends(require("read"))]
ADMIN = [Depends(require("admin"))]
MAX_FORM_BYTES = 8192
STATUS_PATTERN = "^(" + "|".join(s.value for s in ExecutionStatus) + ")$"


@runtime_checkable
class PagedAudit(Protocol):
    """An audit log that pages with cursors (the embedded store's does)."""

    def page(self, query: ExecutionQuery, cursor: str | None) -> Page: ...


def _stage(services: Services) -> ReactionStage:
    stage = services.extras.get("reactions")
    if not isinstance(stage, ReactionStage):
        if services.settings.role == "web":
            raise Overloaded("reactions are served by the core process; this is a "
                             "read-only web replica", 60.0)
        raise Overloaded("automated reactions are not enabled on this server", 60.0)
    return stage


def _who(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal.name or f"token:{principal.token_id}"
    return "api"


def _approval_json(request: ApprovalRequest) -> dict[str, Any]:
    return request.model_dump(mode="json")


# --- executions -----------------------------------------------------------------------


@router.get("/executions", dependencies=READ,
            summary="Executions of reaction rules (the audit), newest first")
async def list_executions(
    rule: str = Query("", max_length=256, description="Only this rule."),
    action: str = Query("", max_length=256, description="Only this action of a rule."),
    status: str | None = Query(None, pattern=STATUS_PATTERN),
    start: datetime | None = Query(None, description="Started at or after (ISO 8601)."),
    end: datetime | None = Query(None, description="Started before (ISO 8601)."),
    limit: int = Query(50, ge=1, le=1000), cursor: str | None = Query(None, max_length=512),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    stage = _stage(services)
    query = ExecutionQuery(rule=rule, action=action, status=status, since=start, until=end,
                           limit=limit, cursor=cursor)
    audit = stage.engine.ports.audit
    if isinstance(audit, PagedAudit):
        page = await run_in_threadpool(audit.page, query, cursor)
        return JSONAnswer({"items": page.items, "next_cursor": page.next_cursor})
    # An in-memory audit has no cursors: one page of the newest.
    found = await run_in_threadpool(audit.query, AuditQuery(
        rule=rule, action=action, status=ExecutionStatus(status) if status else None,
        since=start, until=end, limit=limit))
    return JSONAnswer({"items": [e.model_dump(mode="json") for e in found],
                       "next_cursor": None})


@router.get("/executions/{execution_id}", dependencies=READ,
            summary="One execution: trigger, inputs, approval, result, output")
async def get_execution(execution_id: str,
                        services: Services = Depends(services_of)) -> JSONAnswer:
    found = await run_in_threadpool(_stage(services).engine.ports.audit.get, execution_id)
    if found is None:
        raise NotFound(f"no execution {execution_id}")
    return JSONAnswer(found.model_dump(mode="json"))


# --- approvals ------------------------------------------------------------------------


@router.get("/approvals", dependencies=READ, summary="Actions held for approval")
async def list_approvals(
    state: str | None = Query(None, pattern="^(pending|approved|rejected|expired)$"),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    store = _stage(services).engine.ports.approvals
    wanted = ApprovalState(state) if state else None
    found = await run_in_threadpool(store.list, wanted)
    return JSONAnswer({"items": [_approval_json(r) for r in found]})


async def _decide(services: Services, approval_id: str, decision: Literal["approve", "reject"],
                  by: str) -> JSONAnswer:
    engine = _stage(services).engine
    run = engine.approve if decision == "approve" else engine.reject
    execution: Execution = await run_in_threadpool(run, approval_id, by)
    return JSONAnswer({"execution": execution.model_dump(mode="json")})


@router.post("/approvals/{approval_id}/approve", dependencies=ADMIN,
             summary="Approve a held action and run it now")
async def approve(approval_id: str, request: Request,
                  services: Services = Depends(services_of)) -> JSONAnswer:
    return await _decide(services, approval_id, "approve", _who(request))


@router.post("/approvals/{approval_id}/reject", dependencies=ADMIN,
             summary="Reject a held action")
async def reject(approval_id: str, request: Request,
                 services: Services = Depends(services_of)) -> JSONAnswer:
    return await _decide(services, approval_id, "reject", _who(request))


@router.get("/approvals/{approval_id}/link", dependencies=ADMIN,
            summary="A signed link that decides one held action as one approver")
async def approval_link(
    approval_id: str,
    decision: Literal["approve", "reject"] = Query("approve"),
    approver: str = Query("", max_length=256, description="Who the link decides as."),
    services: Services = Depends(services_of),
) -> JSONAnswer:
    engine = _stage(services).engine
    token = await run_in_threadpool(engine.approval_token, approval_id, decision, approver)
    return JSONAnswer({"url": decide_url(engine.settings.base_url, token), "token": token})


def decide_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/approvals/decide?token={quote(token)}"


# --- signed links (no bearer token: the signed token is the credential) ---------------


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} - opscope</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto}"
        "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status)


def _error_page(exc: OpscopeError) -> HTMLResponse:
    status = exc.status if isinstance(exc, AuthError) else 404 if isinstance(
        exc, NotFound) else 409
    return _page("Not done", f"<p>{html.escape(exc.message)}</p>", status)


@router.get("/approvals/decide", response_class=HTMLResponse, include_in_schema=True,
            summary="Show what a signed approval link decides (decides nothing)")
async def show_decision(token: str = Query(min_length=10, max_length=4096),
                        services: Services = Depends(services_of)) -> HTMLResponse:
    engine = _stage(services).engine
    try:
        approval_id, decision, approver = engine.signer.verify(token, engine.clock.now())
        request = await run_in_threadpool(engine.ports.approvals.get, approval_id)
        if request is None:
            raise NotFound(f"no approval request {approval_id}")
    except OpscopeError as exc:
        return _error_page(exc)
    facts = (
        f"<p>Rule <b>{html.escape(request.rule)}</b>, action "
        f"<b>{html.escape(request.action)}</b>, about {html.escape(request.subject)}.</p>"
        f"<p>State: {html.escape(request.state.value)}; expires "
        f"{request.expires_at:%Y-%m-%d %H:%M:%S} UTC.</p>"
        f"<pre>{html.escape(_inputs_text(request))}</pre>"
    )
    if request.state is not ApprovalState.PENDING:
        return _page("Already decided", facts)
    who = f" as {html.escape(approver)}" if approver else ""
    form = (
        "<form method='post' action='/api/v1/approvals/decide'>"
        f"<input type='hidden' name='token' value='{html.escape(token, quote=True)}'>"
        f"<button type='submit'>{html.escape(decision.capitalize())}{who}</button></form>"
    )
    return _page(f"{decision.capitalize()} this action?", facts + form)


def _inputs_text(request: ApprovalRequest) -> str:
    lines = [f"{k}: {v}" for k, v in request.inputs.items()]
    return "\n".join(lines)[:4000]


@router.post("/approvals/decide", response_class=HTMLResponse,
             summary="Apply the decision of a signed approval link (form field 'token')")
async def decide_by_link(request: Request,
                         services: Services = Depends(services_of)) -> HTMLResponse:
    engine = _stage(services).engine
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return _page("Not done", "<p>The form is too large.</p>", 413)
    token = (parse_qs(raw.decode("utf-8", "replace")).get("token") or [""])[0]
    if not token:
        return _page("Not done", "<p>The form carries no token.</p>", 400)
    try:
        execution: Execution = await run_in_threadpool(engine.decide_by_token, token)
    except OpscopeError as exc:
        return _error_page(exc)
    verb = "approved" if execution.status is not ExecutionStatus.REJECTED else "rejected"
    result = execution.reason or execution.output or execution.status.value
    return _page(
        f"Action {verb}",
        f"<p>{html.escape(execution.rule)} / {html.escape(execution.action)}: "
        f"<b>{html.escape(execution.status.value)}</b> "
        f"(decided by {html.escape(execution.approved_by)} at "
        f"{datetime.now(UTC):%H:%M:%S} UTC).</p><pre>{html.escape(result[:4000])}</pre>",
    )


# --- rules ----------------------------------------------------------------------------

RULE_SET_NAME = Path_(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                      description="Name of the rule set (letters, digits, . _ -).")


def _rules_dir(services: Services) -> Path:
    return services.settings.data_dir / "rules"


def _reload_rules(services: Services) -> list[str]:
    """Load the rule files and the API's rule sets again and swap them in."""
    stage = _stage(services)
    conf = services.settings.reactions
    rules, problems = load_rule_files(conf.rules_paths, {**os.environ, **conf.variables},
                                      _rules_dir(services))
    stage.load_problems = problems
    return [*problems, *stage.engine.reload(rules)]


@router.put("/rules/sets/{name}", dependencies=ADMIN,
            summary="Create or replace a rule set (the document shape of a rules file)")
async def put_rule_set(body: dict[str, Any], name: str = RULE_SET_NAME,
                       services: Services = Depends(services_of)) -> JSONAnswer:
    conf = services.settings.reactions
    ruleset = rules_from_data(body, {**os.environ, **conf.variables})  # 422 naming fields
    folder = _rules_dir(services)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}{API_RULES_SUFFIX}"
    staged = target.with_suffix(".tmp")
    staged.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    staged.replace(target)  # atomic: a crash leaves the old set or the new one
    problems = await run_in_threadpool(_reload_rules, services)
    return JSONAnswer({"name": name, "rules": [r.name for r in ruleset.rules],
                       "problems": problems})


@router.delete("/rules/sets/{name}", dependencies=ADMIN,
               summary="Delete a rule set created through the API")
async def delete_rule_set(name: str = RULE_SET_NAME,
                          services: Services = Depends(services_of)) -> JSONAnswer:
    target = _rules_dir(services) / f"{name}{API_RULES_SUFFIX}"
    if not target.exists():
        raise NotFound(f"no rule set {name!r} was created through the API")
    target.unlink()
    problems = await run_in_threadpool(_reload_rules, services)
    return JSONAnswer({"deleted": name, "problems": problems})


@router.get("/rules", dependencies=READ, summary="The loaded reaction rules and their problems")
async def list_rules(services: Services = Depends(services_of)) -> JSONAnswer:
    stage = _stage(services)
    engine = stage.engine
    rules = [
        {
            "name": r.name,
            "description": r.rule.description,
            "enabled": r.rule.enabled,
            "trigger": r.rule.trigger.model_dump(mode="json"),
            "when": r.rule.when,
            "routed": r.rule.route is not None,
            "actions": [{"name": a.name, "kind": a.kind, "target": a.action.target(),
                         "approval": a.policies.approval is not None,
                         "dry_run": bool(a.policies.dry_run) or engine.settings.dry_run}
                        for a in r.actions],
        }
        for r in engine.rules.rules
    ]
    return JSONAnswer({"rules": rules, "receivers": sorted(engine.rules.receivers),
                       "problems": stage.problems, "dry_run": engine.settings.dry_run})
