"""[1] Ingest: `POST /fhir/Observation` and `POST /fhir` -> 202 Accepted, or an OperationOutcome.

Order of checks, cheapest and least revealing first: API key (401/403), media type (415),
size (413, from Content-Length and again while reading, before anything is parsed), then the
message (400/422, `admission.admit`, run in at most ADMISSION_THREADS threads because
validation is CPU work), then the job record and its task in one MULTI (503 when Redis does
not confirm). 202 is sent only after the broker accepted the task; `Content-Location:
/jobs/{id}` then answers queued / done / failed.

Every POST counts as received; each ends accepted or rejected{reason}.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Final

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from adapter.api.outcomes import (
    BodyTooLarge,
    FhirJSONResponse,
    UnsupportedMediaType,
    outcome_for,
    outcome_of,
)
from adapter.api.services import ApiServices
from adapter.errors import AdapterError, InvalidResource
from adapter.interpretation.model import SiteGroup
from adapter.queue import InterpretJob
from adapter.service.admission import admit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/fhir")

MEDIA_TYPES: Final = frozenset({"application/fhir+json", "application/json"})
DOOR: Final = "http"
# Admission is CPU work under one GIL: two threads let one message's Redis round trip overlap
# the next one's parsing; more would only take turns on the same core and stretch every
# request's latency (the threadpool's default is 40).
ADMISSION_THREADS: Final = 2


@router.post("/Observation")
async def post_observation(request: Request) -> FhirJSONResponse:
    """One HER2 IHC or ISH Observation."""
    return await _ingest(request, "Observation")


@router.post("")
async def post_bundle(request: Request) -> FhirJSONResponse:
    """A Bundle (collection, transaction, batch, message, document, searchset or an R4B
    subscription-notification), with full resources or references only."""
    return await _ingest(request, "Bundle")


async def _ingest(request: Request, kind: str) -> FhirJSONResponse:
    svc: ApiServices = request.app.state.services
    started = time.perf_counter()
    try:
        svc.keys.check(request.headers.get("authorization"))
        media_type = _media_type(request.headers.get("content-type"))
        site = _site(request.query_params.get("site"))
        body = await _read_body(request, svc.settings.max_body_bytes)
    except AdapterError as error:
        await run_in_threadpool(_count_rejected, svc, error)
        raise
    limiter: anyio.CapacityLimiter = request.app.state.admission
    return await anyio.to_thread.run_sync(
        _accept, svc, body, kind, media_type, site, started, limiter=limiter
    )


def _accept(
    svc: ApiServices,
    body: bytes,
    kind: str,
    media_type: str,
    site: SiteGroup | None,
    started: float,
) -> FhirJSONResponse:
    """Check, record and queue one message; runs in the threadpool (CPU and Redis I/O)."""
    try:
        can_fetch = svc.settings.fhir_server_url is not None
        admitted = admit(body, kind, svc.mappings, site, can_fetch=can_fetch)
        job = InterpretJob(
            v=1,
            job_id=str(uuid.uuid4()),
            door=DOOR,
            received_at=datetime.now(UTC),
            body=admitted.text,
            media_type=media_type,
            site=site.value if site else None,
        )
        svc.jobs.enqueue(svc.celery, job)
    except AdapterError as error:
        _count_rejected(svc, error)
        raise
    svc.metrics.incr_each(
        ("her2_messages_received_total", {"door": DOOR}),
        ("her2_messages_accepted_total", {"door": DOOR}),
    )
    log.info(
        "message accepted",
        extra={
            "job_id": job.job_id,
            "door": DOOR,
            "kind": kind,
            "cases": admitted.cases,
            "references": len(admitted.references),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    location = f"/jobs/{job.job_id}"
    return FhirJSONResponse(
        outcome_of("information", "informational", f"accepted; job {job.job_id} is queued"),
        status_code=202,
        headers={"Content-Location": location, "Location": location},
    )


def _count_rejected(svc: ApiServices, error: AdapterError) -> None:
    reason = outcome_for(error).reason
    svc.metrics.incr_each(
        ("her2_messages_received_total", {"door": DOOR}),
        ("her2_messages_rejected_total", {"door": DOOR, "reason": reason}),
    )
    log.info("message rejected", extra={"door": DOOR, "reason": reason})


def _media_type(content_type: str | None) -> str:
    """The media type without parameters; raises UnsupportedMediaType (415)."""
    essence, _, params = (content_type or "").partition(";")
    essence = essence.strip().lower()
    charset = next(
        (
            p.split("=", 1)[1].strip().strip('"').lower()
            for p in params.split(";")
            if p.strip().lower().startswith("charset=")
        ),
        "utf-8",
    )
    if essence not in MEDIA_TYPES or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            "send FHIR JSON: Content-Type application/fhir+json (or application/json), UTF-8"
        )
    return essence


def _site(value: str | None) -> SiteGroup | None:
    """The optional `?site=` override (as `her2-adapter interpret --site`)."""
    if value is None:
        return None
    try:
        return SiteGroup(value)
    except ValueError:
        choices = ", ".join(group.value for group in SiteGroup)
        raise InvalidResource(f"site must be one of {choices}", expression="site") from None


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) as soon as it exceeds `limit` bytes: never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
