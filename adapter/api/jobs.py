"""`GET /jobs/{id}`: what became of an accepted message (the 202's Content-Location).

    {"job_id": "...", "state": "queued" | "done" | "failed",
     "received_at": "...", "settled_at": "...",        # ISO 8601; settled_at once done or failed
     "written": ["Observation/...", "DiagnosticReport/...", ...],   # done
     "outcome": {OperationOutcome}}                                  # failed

404 for an unknown id, or one older than JOB_RETENTION_SECONDS.
"""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from adapter.api.auth import require_api_key
from adapter.api.outcomes import RouteNotFound
from adapter.api.services import ApiServices

router = APIRouter(dependencies=[Depends(require_api_key)])

_JOB_ID: Final = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request) -> JSONResponse:
    svc: ApiServices = request.app.state.services
    record = svc.jobs.get(job_id) if _JOB_ID.match(job_id) else None
    if record is None:
        raise RouteNotFound("no such job (unknown, or older than its retention)")
    body: dict[str, Any] = {
        "job_id": record.job_id,
        "state": record.state,
        "received_at": record.received_at.isoformat(),
        "written": list(record.written),
    }
    if record.settled_at is not None:
        body["settled_at"] = record.settled_at.isoformat()
    if record.outcome is not None:
        body["outcome"] = record.outcome
    return JSONResponse(body)
