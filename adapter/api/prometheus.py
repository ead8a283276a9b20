"""`GET /metrics`: the shared counters in the Prometheus text format (API key required)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from adapter.api.auth import require_api_key
from adapter.api.services import ApiServices

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    svc: ApiServices = request.app.state.services
    text = await run_in_threadpool(svc.metrics.render)  # RedisError -> 503 OperationOutcome
    return Response(text, media_type=CONTENT_TYPE_LATEST)
