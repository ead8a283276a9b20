"""The one table: error type -> HTTP status, OperationOutcome issue code and severity (R10).

    AdapterError
    ├── BadInput                         (adapter.errors)
    │   ├── UnreadableMessage            400 structure   not UTF-8, not JSON, too deep
    │   ├── InvalidResource              400 invalid     not a FHIR resource the API accepts
    │   ├── UnreadableValue              422 value       an IHC/ISH value that cannot be read
    │   ├── NoHer2Result                 422 not-found   nothing to interpret
    │   └── MessageTooLarge              413 too-long    a Bundle of too many entries
    ├── RequestRefused                   (here: the request, not the message, is wrong)
    │   ├── MissingCredentials           401 login       no `Authorization: Bearer <key>`
    │   ├── WrongCredentials             403 forbidden   a key that is not configured
    │   ├── RouteNotFound                404 not-found
    │   ├── MethodNotAllowed             405 not-supported
    │   ├── BodyTooLarge                 413 too-long    a body over MAX_BODY_BYTES
    │   └── UnsupportedMediaType         415 not-supported
    ├── QueueUnavailable                 503 transient   the broker did not confirm the task
    └── DependencyUnavailable            503 transient
    redis.RedisError                     503 transient
    anything else                        500 exception   a correlation id, never a trace

The lookup walks the error's MRO, so a subclass inherits its parent's row. Each row also names
the `reason` label of `her2_messages_rejected_total`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import redis
from fastapi.responses import JSONResponse

from adapter.errors import (
    AdapterError,
    BadInput,
    DependencyUnavailable,
    InvalidResource,
    MessageTooLarge,
    NoHer2Result,
    QueueUnavailable,
    UnreadableMessage,
    UnreadableValue,
)
from adapter.fhir.outcome import operation_outcome

FHIR_JSON: Final = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


class RequestRefused(AdapterError):
    """The HTTP request itself is refused (credentials, route, size, media type)."""

    def __init__(self, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})


class MissingCredentials(RequestRefused):
    """No `Authorization: Bearer <key>` header."""


class WrongCredentials(RequestRefused):
    """A bearer key that is not one of ADAPTER_API_KEYS."""


class RouteNotFound(RequestRefused):
    """No such route (or no such job)."""


class MethodNotAllowed(RequestRefused):
    """The route exists; the method does not."""


class BodyTooLarge(RequestRefused):
    """A body over MAX_BODY_BYTES."""


class UnsupportedMediaType(RequestRefused):
    """A Content-Type other than application/fhir+json or application/json."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: HTTPStatus
    code: str | None  # FHIR R4 issue-type; None: bad input's own (adapter.fhir.outcome)
    reason: str  # label of her2_messages_rejected_total
    severity: str = "error"
    diagnostics: str | None = None  # fixed text where the error's own could name a secret


_UNAVAILABLE: Final = "a service the adapter needs is unavailable; retry later"

OUTCOMES: Final[Mapping[type[BaseException], Outcome]] = {
    # Bad input: the status and the label here; the issue code is the one the command line
    # gives the same error (adapter/fhir/outcome.py).
    UnreadableMessage: Outcome(HTTPStatus.BAD_REQUEST, None, "not-json"),
    InvalidResource: Outcome(HTTPStatus.BAD_REQUEST, None, "invalid-fhir"),
    UnreadableValue: Outcome(HTTPStatus.UNPROCESSABLE_ENTITY, None, "unreadable-value"),
    NoHer2Result: Outcome(HTTPStatus.UNPROCESSABLE_ENTITY, None, "no-her2-result"),
    MessageTooLarge: Outcome(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, None, "too-large"),
    BadInput: Outcome(HTTPStatus.BAD_REQUEST, None, "invalid-fhir"),
    MissingCredentials: Outcome(HTTPStatus.UNAUTHORIZED, "login", "unauthenticated"),
    WrongCredentials: Outcome(HTTPStatus.FORBIDDEN, "forbidden", "forbidden"),
    RouteNotFound: Outcome(HTTPStatus.NOT_FOUND, "not-found", "not-found"),
    MethodNotAllowed: Outcome(HTTPStatus.METHOD_NOT_ALLOWED, "not-supported", "method"),
    BodyTooLarge: Outcome(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too-long", "too-large"),
    UnsupportedMediaType: Outcome(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "not-supported", "media-type"),
    QueueUnavailable: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE, "transient", "queue-unavailable", diagnostics=_UNAVAILABLE
    ),
    DependencyUnavailable: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE, "transient", "dependency", diagnostics=_UNAVAILABLE
    ),
    redis.RedisError: Outcome(
        HTTPStatus.SERVICE_UNAVAILABLE, "transient", "queue-unavailable", diagnostics=_UNAVAILABLE
    ),
}
UNEXPECTED: Final = Outcome(HTTPStatus.INTERNAL_SERVER_ERROR, "exception", "internal")


def outcome_for(error: BaseException) -> Outcome:
    """The row of `error`'s nearest class in OUTCOMES; UNEXPECTED when there is none."""
    for cls in type(error).__mro__:
        if cls in OUTCOMES:
            return OUTCOMES[cls]
    return UNEXPECTED


def outcome_body(error: BaseException, correlation_id: str) -> dict[str, Any]:
    """The OperationOutcome (JSON) answering `error`.

    Bad input names its field (`expression`); a refused request says why; an unexpected error
    says only that it happened and the correlation id to find it in the logs.
    """
    row = outcome_for(error)
    if isinstance(error, BadInput):
        return operation_outcome(error)
    if row is UNEXPECTED:
        text = f"internal error; correlation id {correlation_id}"
    else:
        text = row.diagnostics or str(error)
    assert row.code is not None  # only bad input takes its code from its own table
    return outcome_of(row.severity, row.code, text)


def outcome_of(severity: str, code: str, diagnostics: str) -> dict[str, Any]:
    """A one-issue OperationOutcome."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def error_response(error: BaseException, correlation_id: str) -> FhirJSONResponse:
    """The HTTP response for `error`: its status, its OperationOutcome, its headers."""
    row = outcome_for(error)
    headers = {"X-Correlation-Id": correlation_id}
    if isinstance(error, RequestRefused):
        headers.update(error.headers)
    if row.status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers["Retry-After"] = "5"
    return FhirJSONResponse(
        outcome_body(error, correlation_id), status_code=row.status, headers=headers
    )
