"""The output resources of a one-case message, as the pipeline builds them (for the tests of
what a report carries and how it reads back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapter.fhir.findings import read_message
from adapter.fhir.report import case_resources
from adapter.interpretation.interpret import interpret
from adapter.mapping_files import default_mappings
from tests.builders import her2_bundle

RECORDED = datetime(2026, 2, 1, tzinfo=UTC)


def case_outputs(*resources: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """(status Observation, DiagnosticReport, Provenance) of the one case of the resources
    (one resource is the message itself; several go in a collection Bundle)."""
    message = her2_bundle(*resources) if len(resources) > 1 else resources[0]
    (case,) = read_message(message, default_mappings()).cases
    return case_resources(case, interpret(case.findings), default_mappings(), recorded=RECORDED)
