"""`GET /metrics`: the shared counters in the Prometheus text format (API key required)."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from adapter.api.auth import require_api_key
from adapter.api.services import Services

PROMETHEUS_TEXT: Final = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/metrics")
async def metrics(request: Request) -> PlainTextResponse:
    svc: Services = request.app.state.services
    text = await run_in_threadpool(svc.metrics.render)  # RedisError -> 503 OperationOutcome
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
