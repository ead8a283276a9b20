"""Health (STYLE.md R15): `/health/live` and `/health/ready` (application/health+json).

`/health/live` answers 200 whenever the process answers; it needs no key and touches nothing.
`/health/ready` (API key required) renders the readiness checks (`adapter.service.readiness`)
in the draft-inadarei-api-health-check format, 503 when one fails:

    {"status": "pass" | "warn" | "fail",
     "checks": {
       "redis:responseTime":          [{"componentType": "datastore", "observedValue": 0.4,
                                        "observedUnit": "ms", "status": "pass", "time": "..."}],
       "fhir-server:responseTime":    [...]   (or "directory-sink:responseTime")
       "workers:count":               [...]   live worker heartbeats
       "mllp:listeners":              [...]   live MLLP listener heartbeats (MLLP_ENABLED only)
       "queue:depth":                 [...]   tasks waiting in the broker
       "dead-letters:count":          [...]}}
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from adapter.api.auth import require_api_key
from adapter.api.services import ApiServices
from adapter.service.readiness import overall, readiness_checks

HEALTH_JSON: Final = "application/health+json"

router = APIRouter(prefix="/health")


class HealthJSONResponse(JSONResponse):
    media_type = HEALTH_JSON


@router.get("/live")
def live() -> HealthJSONResponse:
    return HealthJSONResponse({"status": "pass"})


@router.get("/ready", dependencies=[Depends(require_api_key)])
def ready(request: Request) -> HealthJSONResponse:
    svc: ApiServices = request.app.state.services
    checks = readiness_checks(
        svc.redis, svc.write_back, svc.dead_letters, mllp_enabled=svc.settings.mllp_enabled
    )
    status = overall(checks)
    return HealthJSONResponse(
        {"status": status, "checks": checks}, status_code=503 if status == "fail" else 200
    )
