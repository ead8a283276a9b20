"""OperationOutcome for bad input: what the command line prints for a bad NDJSON line and the
HTTP API returns for a rejected message (adapter-contract.md 4 and 5).

One table maps each `BadInput` type to its FHIR issue type (R4 value set `issue-type`); the
lookup walks the error's MRO, so a subclass inherits its parent's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fhir.resources.R4B.operationoutcome import OperationOutcome

from adapter.errors import (
    BadInput,
    InvalidResource,
    MessageTooLarge,
    NoHer2Result,
    UnreadableMessage,
    UnreadableValue,
)

ISSUE_CODES: Final[Mapping[type[BadInput], str]] = {
    UnreadableMessage: "structure",  # not a file, not UTF-8, not JSON
    InvalidResource: "invalid",  # JSON, but not a FHIR resource the adapter accepts
    UnreadableValue: "value",  # an IHC or ISH value that cannot be read
    NoHer2Result: "not-found",  # nothing to interpret
    MessageTooLarge: "too-long",  # more entries than a message may hold
    BadInput: "invalid",
}


def issue_code(error: BadInput) -> str:
    """Return the FHIR issue type code for `error`: its own row, else its nearest parent's."""
    for cls in type(error).__mro__:
        if cls in ISSUE_CODES:
            return ISSUE_CODES[cls]
    return "invalid"  # unreachable while BadInput has a row; a safe default all the same


def operation_outcome(error: BadInput, *, diagnostics_prefix: str = "") -> dict[str, Any]:
    """Return an OperationOutcome (JSON dict) with one `error` issue describing `error`.

    `diagnostics` is `diagnostics_prefix` followed by the error as text (it names the field);
    `expression` holds the error's FHIRPaths, resource-rooted first, then Bundle-rooted.
    The result is validated as an R4B OperationOutcome before it is returned.
    """
    issue: dict[str, Any] = {
        "severity": "error",
        "code": issue_code(error),
        "diagnostics": f"{diagnostics_prefix}{error}",
    }
    if error.expressions:
        issue["expression"] = list(error.expressions)
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    validated: dict[str, Any] = OperationOutcome.model_validate(outcome).model_dump(
        mode="json", exclude_none=True
    )
    return validated


def exception_outcome(diagnostics: str) -> dict[str, Any]:
    """Return an OperationOutcome for an unexpected failure: code `exception`, no trace.

    `diagnostics` says where it happened (a line number, a correlation id), never the input.
    """
    return error_outcome("exception", diagnostics)


def error_outcome(code: str, diagnostics: str) -> dict[str, Any]:
    """Return an OperationOutcome with one `error` issue of type `code` (R4 `issue-type`)."""
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    validated: dict[str, Any] = OperationOutcome.model_validate(outcome).model_dump(
        mode="json", exclude_none=True
    )
    return validated
