"""One message in, its interpreted cases out: steps [4] -> [5] -> [6] run in-process.

The command line calls this directly; the worker calls the same function, so a message gives
the same output whichever entry point read it. Nothing here does I/O: the caller reads the
message and decides what to do with the resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.case import Case
from adapter.fhir.findings import read_entries
from adapter.fhir.report import case_resources
from adapter.fhir.validation import Entry, message_entries
from adapter.interpretation.interpret import interpret
from adapter.interpretation.model import Interpretation, SiteGroup
from adapter.mappings import Mappings

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class InterpretedCase:
    """One case with its interpretation and the three output resources (contract 3)."""

    case: Case
    interpretation: Interpretation
    observation: JsonDict  # the 48676-1 status Observation
    diagnostic_report: JsonDict
    provenance: JsonDict

    @property
    def resources(self) -> tuple[JsonDict, JsonDict, JsonDict]:
        return (self.observation, self.diagnostic_report, self.provenance)


@dataclass(frozen=True, slots=True)
class InterpretedMessage:
    """Every case of one message, in the order the message gave them, and its warnings."""

    cases: tuple[InterpretedCase, ...]
    warnings: tuple[str, ...] = ()  # e.g. a case with only a reported status was skipped

    @property
    def resources(self) -> list[JsonDict]:
        """The output resources of every case, case by case (Observation, report, Provenance)."""
        return [resource for case in self.cases for resource in case.resources]


def interpret_message(
    resource: JsonDict,
    mappings: Mappings,
    *,
    site: SiteGroup | None = None,
    recorded: datetime,
    provenance_entities: Sequence[JsonDict] = (),
) -> InterpretedMessage:
    """Read `resource` (an Observation or a Bundle), interpret each case, build its outputs.

    `site` overrides the tumour site the message names (`--site`); `recorded` is the time of
    the run, stamped on the Provenance and the report. Raises a `BadInput` subclass when the
    message cannot be accepted; then nothing of it is interpreted (contract 5).
    """
    entries, warnings = message_entries(resource, mappings)
    return interpret_entries(
        entries,
        mappings,
        site=site,
        recorded=recorded,
        provenance_entities=provenance_entities,
        warnings=warnings,
    )


def interpret_entries(
    entries: Sequence[Entry],
    mappings: Mappings,
    *,
    site: SiteGroup | None = None,
    recorded: datetime,
    provenance_entities: Sequence[JsonDict] = (),
    warnings: Sequence[str] = (),
) -> InterpretedMessage:
    """`interpret_message` for entries `message_entries` validated already (the v2 door's
    dry run did): read, interpret and build without validating the message again."""
    reading = read_entries(entries, mappings, site=site, warnings=warnings)
    cases = []
    for case in reading.cases:
        interpretation = interpret(case.findings)
        observation, report, provenance = case_resources(
            case, interpretation, mappings, recorded=recorded, extra_entities=provenance_entities
        )
        cases.append(InterpretedCase(case, interpretation, observation, report, provenance))
    return InterpretedMessage(tuple(cases), reading.warnings)
