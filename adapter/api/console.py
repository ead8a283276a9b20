"""`/console`: the operations console, HTML rendered on the server (Jinja2 templates).

Behind a login with the service's API keys (`adapter.api.console_session`); without a session
every console URL answers 303 to `/console/login`. Every POST carries the session's CSRF token
(the login form a token of its own); one without it is refused (403). Every answer says
`Cache-Control: no-store` and a Content-Security-Policy that allows no inline script or style
(the one script, `static/refresh.js`, only reloads the page; the page works without it).
What the page shows is the application's (`adapter.service.console`); replay and discard run
`DeadLetterQueue.replay` / `discard`, as `her2-adapter dlq` does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from adapter.api.charts import Line, line_chart
from adapter.api.console_session import COOKIE, LOGIN_COOKIE, LOGIN_SECONDS, Session
from adapter.api.services import ApiServices
from adapter.errors import QueueUnavailable
from adapter.service.console import console_view, outcome_issues
from adapter.service.flow import FIGURES, QUANTILES, WINDOWS, DoorFlow

log = logging.getLogger("adapter.console")
router = APIRouter(prefix="/console", include_in_schema=False)

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC: Final = {"console.css": "text/css", "refresh.js": "text/javascript"}
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
ACTIONS: Final = ("replay", "discard")
PLOTTED: Final = ("received", "accepted", "refused", "processed", "dead-lettered")
MAX_FORM_BYTES: Final = 4096


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The stylesheet and the refresh script (no session needed: the login page uses them)."""
    if name not in STATIC:
        return _refused_plain(404)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers=HEADERS)


@router.get("/login")
def login_page(request: Request) -> Response:
    svc = _svc(request)
    if svc.sessions.find(request.cookies.get(COOKIE)) is not None:
        return _redirect("/console")
    return _login_form(request, svc, error=None, status=200)


@router.post("/login")
async def login(request: Request) -> Response:
    svc = _svc(request)
    form = await _form(request)
    vouched = svc.sessions.login_token_matches(
        request.cookies.get(LOGIN_COOKIE), form.get("login_token")
    )
    if not vouched:
        return _refused(request, None, "csrf", "The login form expired; log in again.", 403)
    opened = await run_in_threadpool(svc.sessions.open, form.get("key", ""))
    if opened is None:
        log.info("console login refused")
        return _login_form(request, svc, error="That API key is not accepted.", status=403)
    cookie, _ = opened
    log.info("console login")
    response = _redirect("/console")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=svc.sessions.lifetime_seconds,
        path="/console",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    svc = _svc(request)
    session = await run_in_threadpool(svc.sessions.find, request.cookies.get(COOKIE))
    if session is None:
        return _redirect("/console/login")
    form = await _form(request)
    if not session.csrf_matches(form.get("csrf")):
        return _refused(request, session, "csrf", "The form's CSRF token is missing or wrong.", 403)
    await run_in_threadpool(svc.sessions.end, session)
    response = _redirect("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
def console(request: Request, window: str = "hour", accession: str = "") -> Response:
    svc = _svc(request)
    session = svc.sessions.find(request.cookies.get(COOKIE))
    if session is None:
        return _redirect("/console/login")
    window = window if window in WINDOWS else "hour"
    view = console_view(svc.console, window, accession.strip()[:64])
    minutes, per_point = WINDOWS[window]
    fhir_base = svc.settings.fhir_server_url
    return _page(
        request,
        "console.html",
        session,
        view=view,
        windows=tuple(WINDOWS),
        minutes=minutes,
        figures=FIGURES,
        quantiles=QUANTILES,
        plotted=PLOTTED,
        charts={flow.door: _charts(flow, per_point, window) for flow in view.flows},
        issues=outcome_issues,
        seconds=_seconds,
        ago=_ago,
        fhir_base=fhir_base.rstrip("/") if fhir_base else None,
        read_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    )


@router.get("/dead-letters/{letter_id}/{action}")
def confirm(request: Request, letter_id: str, action: str) -> Response:
    svc = _svc(request)
    session = svc.sessions.find(request.cookies.get(COOKIE))
    if session is None:
        return _redirect("/console/login")
    letter = svc.dead_letters.get(letter_id) if action in ACTIONS else None
    if letter is None:
        return _refused(request, session, "not-found", "No such dead letter.", 404)
    return _page(request, "confirm.html", session, letter=letter, action=action)


@router.post("/dead-letters/{letter_id}/{action}")
async def act(request: Request, letter_id: str, action: str) -> Response:
    svc = _svc(request)
    session = await run_in_threadpool(svc.sessions.find, request.cookies.get(COOKIE))
    if session is None:
        return _redirect("/console/login")
    form = await _form(request)
    if not session.csrf_matches(form.get("csrf")):
        return _refused(request, session, "csrf", "The form's CSRF token is missing or wrong.", 403)
    if action not in ACTIONS:
        return _refused(request, session, "not-found", "No such action.", 404)
    status, outcome, message = await run_in_threadpool(_act, svc, letter_id, action)
    log.info(
        "console dead letter", extra={"job_id": letter_id, "action": action, "result": outcome}
    )
    return _page(
        request,
        "result.html",
        session,
        status=status,
        action=action,
        letter_id=letter_id,
        outcome=outcome,
        message=message,
        failed=status != 200,
    )


def _act(svc: ApiServices, letter_id: str, action: str) -> tuple[int, str, str]:
    """(HTTP status, outcome, sentence) of replaying or discarding one dead letter."""
    try:
        if action == "replay":
            svc.dead_letters.replay(svc.celery, svc.jobs, letter_id)
            return 200, "replayed", "Queued again: its case is reported once a worker takes it."
        svc.dead_letters.discard(letter_id)
        return 200, "discarded", "Deleted, message included."
    except KeyError:
        return 404, "not-found", "No such dead letter (replayed or discarded already?)."
    except QueueUnavailable:
        return 503, "queue-unavailable", "The queue did not take it; it stays a dead letter."


def _charts(flow: DoorFlow, per_point: int, window: str) -> dict[str, Any]:
    starts = [point.start for point in flow.points]
    counts = [
        Line(label, [point.counts[label] / per_point for point in flow.points]) for label in PLOTTED
    ]
    latency = [
        Line(f"p{round(q * 100)}", [point.latency[q] for point in flow.points]) for q in QUANTILES
    ]
    door = flow.door.upper()
    return {
        "counts": line_chart(f"{door} messages per minute, last {window}", "/min", starts, counts),
        "latency": line_chart(f"{door} end-to-end latency, last {window}", "s", starts, latency),
    }


def _svc(request: Request) -> ApiServices:
    built: ApiServices = request.app.state.services
    return built


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form's first value of each field (bounded: a console form is small)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _page(
    request: Request, template: str, session: Session | None, status: int = 200, **context: Any
) -> Response:
    return TEMPLATES.TemplateResponse(
        request, template, {"session": session, **context}, status_code=status, headers=HEADERS
    )


def _login_form(request: Request, svc: ApiServices, error: str | None, status: int) -> Response:
    cookie, token = svc.sessions.login_token()
    response = _page(request, "login.html", None, status, error=error, login_token=token)
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_SECONDS,
        path="/console/login",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _refused(
    request: Request, session: Session | None, reason: str, message: str, status: int
) -> Response:
    back = "/console" if session is not None else "/console/login"
    return _page(
        request, "refused.html", session, status, reason=reason, message=message, back=back
    )


def _refused_plain(status: int) -> Response:
    return Response(status_code=status, headers=HEADERS)


def _redirect(to: str) -> Response:
    return RedirectResponse(to, status_code=303, headers=HEADERS)


def _seconds(value: float | None) -> str:
    if value is None:
        return "none"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.0f} min"


def _ago(when: datetime) -> str:
    return _seconds(max(0.0, (datetime.now(UTC) - when).total_seconds()))
