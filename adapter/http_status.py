"""The one table of the write-back (STYLE.md R12): an HTTP status -> the error it becomes.

A fault that may pass (network, timeout, 5xx, 408, 429) is `DependencyUnavailable`, which the
worker retries; a 401 or 403 is `AuthorizationRefused` and any other 4xx `WriteRejected`, both
permanent and carrying the server's OperationOutcome. A 412 or 409 is `StaleWrite`: the write
was built on a version another worker has since replaced (the worker settles the case again).
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from adapter.errors import (
    AdapterError,
    AuthorizationRefused,
    DependencyUnavailable,
    StaleWrite,
    WriteRejected,
)

# The one table: HTTP status -> the error it becomes (first matching row wins).
STATUS_ERRORS: Final[tuple[tuple[range, type[AdapterError]], ...]] = (
    (range(408, 409), DependencyUnavailable),  # request timeout
    (range(429, 430), DependencyUnavailable),  # too many requests: back off and retry
    (range(500, 600), DependencyUnavailable),  # server fault, gateway down
    (range(412, 413), StaleWrite),  # If-Match names a version the server no longer holds
    (range(409, 410), StaleWrite),  # a version conflict, as some servers answer it
    (range(401, 402), AuthorizationRefused),  # token refused (after one fresh token)
    (range(403, 404), AuthorizationRefused),  # token lacks the scope or the client the rights
    (range(400, 500), WriteRejected),  # the request itself is refused: retrying cannot help
)


def raise_for_status(response: httpx.Response, action: str) -> None:
    """Return for a 2xx; raise the error `STATUS_ERRORS` names for any other status."""
    status = response.status_code
    if 200 <= status < 300:
        return
    for statuses, error in STATUS_ERRORS:
        if status in statuses:
            outcome = _outcome(response)
            message = f"{action}: HTTP {status}"
            if issubclass(error, WriteRejected):
                raise error(message, status=status, outcome=outcome)
            raise error(message)
    raise DependencyUnavailable(f"{action}: unexpected HTTP {status}")


def _outcome(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return (
        body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    )
