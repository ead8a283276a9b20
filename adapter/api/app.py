"""`create_app(settings)`: the FastAPI application, its routers, lifespan and error handling.

Every error is an OperationOutcome (`application/fhir+json`) with the status of the one table
in `adapter.api.outcomes`, FastAPI's own 404/405/422 included. An unexpected exception is a
500 `exception` naming a correlation id that is also in the log line; never a trace. Every
response carries `X-Correlation-Id`, and every request is logged as one access line (method,
route path without query string, status, duration): never a body, never a header.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapter import __version__
from adapter.api import capability, console, health, ingest, jobs, prometheus
from adapter.api.outcomes import (
    MethodNotAllowed,
    RequestRefused,
    RouteNotFound,
    error_response,
    outcome_for,
)
from adapter.api.services import ApiServices
from adapter.errors import AdapterError, InvalidResource
from adapter.settings import Settings

log = logging.getLogger("adapter.api")


def create_app(settings: Settings) -> FastAPI:
    """The API for `settings`; its resources are built when it starts (the lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = ApiServices.build(settings)
        app.state.admission = anyio.CapacityLimiter(ingest.ADMISSION_THREADS)
        log.info("api started", extra={"demo_mode": settings.adapter_demo_mode})
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(
        title="her2-fhir-adapter",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # every route but /metadata and /health/live needs a key; no open docs
        redoc_url=None,
        openapi_url=None,
    )
    for module in (ingest, jobs, capability, health, prometheus, console):
        app.include_router(module.router)
    app.add_exception_handler(AdapterError, _adapter_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(CorrelationMiddleware)
    return app


def correlation_id(request: Request) -> str:
    cid: str = request.scope.get("state", {}).get("correlation_id") or str(uuid.uuid4())
    return cid


async def _adapter_error(request: Request, error: Exception) -> Response:
    cid = correlation_id(request)
    row = outcome_for(error)
    if row.status >= 500:
        log.warning(
            "request failed",
            extra={"correlation_id": cid, "reason": row.reason, "error": type(error).__name__},
        )
    return error_response(error, cid)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    refused: RequestRefused
    if error.status_code == HTTPStatus.NOT_FOUND:
        refused = RouteNotFound("no such route", headers=error.headers)
    elif error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        refused = MethodNotAllowed("method not allowed on this route", headers=error.headers)
    else:  # not raised by the adapter's routes; keep the status, answer in FHIR all the same
        response = error_response(
            RequestRefused(HTTPStatus(error.status_code).phrase), correlation_id(request)
        )
        response.status_code = error.status_code
        return response
    return error_response(refused, correlation_id(request))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    bad = InvalidResource(str(first.get("msg", "invalid request")), expression=where or None)
    return error_response(bad, correlation_id(request))


class CorrelationMiddleware:
    """Gives each request a correlation id, logs one access line, and turns any exception
    that escaped the handlers into a 500 OperationOutcome (logged as its type and frames)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-correlation-id" for k, _ in headers):
                    headers.append((b"x-correlation-id", cid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            log.exception(
                "unexpected error", extra={"correlation_id": cid, "error": type(error).__name__}
            )
            if not response_started:
                response = error_response(error, cid)
                await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            log.info(
                "request",
                extra={
                    "correlation_id": cid,
                    "method": scope["method"],
                    "route": getattr(route, "path", None) or "(unmatched)",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
