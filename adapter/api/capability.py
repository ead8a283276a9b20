"""`GET /metadata`: the R4B CapabilityStatement saying what the API accepts (no auth).

Built once at start-up and validated with the R4B model, so a typo here stops the server
instead of serving an invalid statement.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from adapter import __version__
from adapter.api.outcomes import FHIR_JSON, FhirJSONResponse
from adapter.service.admission import ACCEPTED_BUNDLE_TYPES, MAX_ENTRIES
from adapter.settings import Settings

router = APIRouter()

_SECURITY = (
    "Every route but /metadata and /health/live requires `Authorization: Bearer <key>` with a "
    "key from ADAPTER_API_KEYS (401 without one, 403 with a wrong one)."
)


def capability_statement(settings: Settings) -> dict[str, Any]:
    """The CapabilityStatement (JSON) of this instance."""
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "software": {"name": "her2-fhir-adapter", "version": __version__},
        "implementation": {
            "description": "HER2 IHC/ISH results in, guideline HER2 status out (asynchronous)"
        },
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "application/json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Messages are validated and dry-run read, then queued: 202 Accepted with "
                    "Content-Location /jobs/{id}. Bodies up to "
                    f"{settings.max_body_bytes} bytes, Bundles up to {MAX_ENTRIES} entries. "
                    "Errors are OperationOutcomes."
                ),
                "security": {"description": _SECURITY},
                "resource": [
                    {
                        "type": "Observation",
                        "interaction": [
                            {
                                "code": "create",
                                "documentation": "POST /fhir/Observation: one HER2 IHC or "
                                "ISH Observation, interpreted asynchronously",
                            }
                        ],
                    }
                ],
                "interaction": [
                    {
                        "code": "transaction",
                        "documentation": "POST /fhir: a Bundle of type "
                        + ", ".join(sorted(ACCEPTED_BUNDLE_TYPES))
                        + ", with full resources or with references the worker reads from "
                        "the FHIR server",
                    },
                    {"code": "batch", "documentation": "POST /fhir, as for transaction"},
                ],
            }
        ],
    }
    validated: dict[str, Any] = CapabilityStatement.model_validate(statement).model_dump(
        mode="json", exclude_none=True
    )
    return validated


@router.get("/metadata")
def metadata(request: Request) -> FhirJSONResponse:
    return FhirJSONResponse(request.app.state.services.capability)
