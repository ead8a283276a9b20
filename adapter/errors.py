"""Errors the adapter raises on purpose.

    AdapterError
    ├── BadInput                 input the adapter cannot accept; never retried
    │   ├── UnreadableMessage    not a file, not UTF-8, not JSON            (HTTP 400)
    │   ├── InvalidResource      JSON that is not a valid FHIR R4 resource   (HTTP 400)
    │   ├── UnreadableValue      a HER2 IHC/ISH value that cannot be read    (HTTP 422)
    │   ├── NoHer2Result         no HER2 IHC or ISH result in the message    (HTTP 422)
    │   └── MessageTooLarge      more Bundle entries than a message may hold (HTTP 413)
    ├── MappingError             a file in mappings/ is malformed (start-up fails)
    ├── ClientKeyError           FHIR_OAUTH_PRIVATE_KEY cannot be used (start-up fails)
    ├── QueueUnavailable         the broker cannot take the job now          (HTTP 503)
    ├── DependencyUnavailable    FHIR server / network / Redis fault; the worker retries
    │   └── StaleWrite           the FHIR server refused a write built on an older version
    │                            (412/409): the case is reloaded and settled again
    └── WriteRejected            the FHIR server refused the request (4xx); permanent,
        │                        dead-lettered; carries the server's OperationOutcome
        └── AuthorizationRefused the token server refused the adapter's credentials, or the
                                 FHIR server its token (401/403)

Every BadInput names the offending field as a FHIRPath `expression` rooted at the resource
(`Observation.valueQuantity.value`) and, for a resource inside a Bundle, `within` names the
entry (`Bundle.entry[2].resource`), so the sender can find and fix it.
"""

from __future__ import annotations

from typing import Any


class AdapterError(Exception):
    """Base of every error the adapter raises on purpose."""


class BadInput(AdapterError):
    """The input cannot be interpreted; the same input will always fail the same way."""

    def __init__(
        self, message: str, expression: str | None = None, within: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.within = within

    def located(self, within: str) -> BadInput:
        """Return this error placed inside a Bundle entry (`Bundle.entry[2].resource`)."""
        self.within = within
        return self

    @property
    def expressions(self) -> tuple[str, ...]:
        """FHIRPaths for OperationOutcome.issue.expression: resource-rooted, then bundle-rooted."""
        if self.expression is None:
            return (self.within,) if self.within else ()
        if self.within is None:
            return (self.expression,)
        _, _, rest = self.expression.partition(".")
        return (self.expression, f"{self.within}.{rest}" if rest else self.within)

    def __str__(self) -> str:
        where = self.within + " " if self.within else ""
        return f"{where}{self.expression}: {self.message}" if self.expression else self.message


class UnreadableMessage(BadInput):
    """Bytes that are not UTF-8, text that is not JSON, a file that cannot be read."""


class InvalidResource(BadInput):
    """JSON that is not a FHIR R4 resource or Bundle the adapter accepts."""


class UnreadableValue(BadInput):
    """An IHC or ISH value (or component) that cannot be read: the message is rejected whole."""


class NoHer2Result(BadInput):
    """The message holds no HER2 IHC or ISH result (a reported status alone is not one)."""


class MessageTooLarge(BadInput):
    """More Bundle entries than a HER2 message may hold: refused before it is validated."""


class MappingError(AdapterError):
    """A mapping file is malformed; the message names the file and the entry."""


class ClientKeyError(AdapterError):
    """FHIR_OAUTH_PRIVATE_KEY is unreadable, not a private key, or not of FHIR_OAUTH_ALGORITHM's
    type; the message names the file, never its content."""


class QueueUnavailable(AdapterError):
    """The broker (Redis) did not confirm the job: nothing was queued; the sender may retry."""


class DependencyUnavailable(AdapterError):
    """A FHIR server, network or Redis fault that may pass: the worker retries with backoff."""


class StaleWrite(DependencyUnavailable):
    """The FHIR server refused a write whose `If-Match` names a version it no longer holds
    (412, or 409 on a version conflict): another worker wrote the case meanwhile. The worker
    reloads the case and settles its message again; escaping that, it is retried as any
    transient fault."""


class WriteRejected(AdapterError):
    """The FHIR server refused the request with a 4xx: retrying the same request cannot help.

    `status` is the HTTP status; `outcome` the server's OperationOutcome (JSON), if it sent one.
    """

    def __init__(
        self, message: str, *, status: int | None = None, outcome: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome


class AuthorizationRefused(WriteRejected):
    """Refused for who the adapter is: the token server refused its client authentication or
    scope (a wrong key, client id or secret), or the FHIR server its token (401, 403).
    Retrying cannot help until the configuration or the EHR's registration is fixed."""
