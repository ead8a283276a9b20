"""OperationOutcome for bad input (contract 4 and 5): issue type by error, field as FHIRPath."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from adapter.errors import (
    BadInput,
    InvalidResource,
    NoHer2Result,
    UnreadableMessage,
    UnreadableValue,
)
from adapter.fhir.outcome import exception_outcome, issue_code, operation_outcome


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnreadableMessage("not JSON"), "structure"),
        (InvalidResource("not a FHIR resource"), "invalid"),
        (UnreadableValue('IHC score "4+" is not one of 0, 1+, 2+, 3+'), "value"),
        (NoHer2Result("no HER2 IHC or ISH result"), "not-found"),
        (BadInput("something else"), "invalid"),
    ],
)
def test_each_bad_input_gets_its_issue_type(error: BadInput, code: str) -> None:
    assert issue_code(error) == code
    assert operation_outcome(error)["issue"][0]["code"] == code


def test_a_subclass_inherits_its_parents_issue_type() -> None:
    class NegativeRatio(UnreadableValue):
        pass

    assert issue_code(NegativeRatio("ratio is negative")) == "value"


def test_outcome_names_the_field_resource_rooted_then_bundle_rooted() -> None:
    error = UnreadableValue(
        'ratio "abc" is not a number', "Observation.valueString", "Bundle.entry[2].resource"
    )
    outcome = operation_outcome(error, diagnostics_prefix="line 4: ")
    (issue,) = outcome["issue"]
    assert issue["severity"] == "error"
    assert issue["expression"] == [
        "Observation.valueString",
        "Bundle.entry[2].resource.valueString",
    ]
    assert issue["diagnostics"].startswith("line 4: ")
    assert "Observation.valueString" in issue["diagnostics"]
    OperationOutcome.model_validate(outcome)


def test_outcome_without_a_field_has_no_expression() -> None:
    (issue,) = operation_outcome(UnreadableMessage("not JSON"))["issue"]
    assert "expression" not in issue
    assert issue["diagnostics"] == "not JSON"


def test_exception_outcome_says_where_and_nothing_of_the_input() -> None:
    diagnostics = "line 3: internal error: KeyError"
    outcome = exception_outcome(diagnostics)
    OperationOutcome.model_validate(outcome)
    assert outcome["issue"] == [
        {"severity": "error", "code": "exception", "diagnostics": diagnostics}
    ]
