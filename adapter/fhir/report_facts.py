"""The adapter's reports read back for the laboratory QA report (qa-report-contract.md 3, 4).

A case is known by the business identifier its DiagnosticReport and status Observation share
(`REPORT_ID_SYSTEM`); `report_pairs` finds each report's status Observation by it, and
`ReportReader` turns the pair into the few facts the QA report counts (`ReportFacts`). Nothing
that identifies a patient is read: subject, specimen and conclusion are never looked at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from adapter.fhir.grouping import listed
from adapter.fhir.laboratory import written_laboratory
from adapter.fhir.observations import parse_fhir_datetime
from adapter.fhir.qa_extensions import read_qa_extensions
from adapter.fhir.report import LOINC, REPORT_ID_SYSTEM, STATUS_CONCEPTS
from adapter.interpretation.decision import Category, Flag, Status
from adapter.interpretation.model import SiteGroup
from adapter.mappings import CODESYSTEM_URL, Mappings

JsonDict = dict[str, Any]
UNKNOWN_LABORATORY: Final = "unknown"
ENTERED_IN_ERROR: Final = "entered-in-error"
NO_STATUS_OBSERVATION: Final = "status Observation missing"
NO_QA_FACTS: Final = "status Observation without its QA extensions (written before them)"
ISH_GROUPS_2_TO_4: Final = frozenset({2, 3, 4})


@dataclass(frozen=True, slots=True)
class CaseFigures:
    """What one counted case adds to its row (qa-report-contract.md 4)."""

    status: Status
    site: SiteGroup
    ihc_score: str | None  # "0", "1+", "2+", "3+"; None: no IHC score used
    ihc_used: bool  # any IHC value, a score or an answer without one
    ish_used: bool
    dual_probe: bool
    ish_group: int | None
    discordant: bool
    her2_low: bool
    reported_status: bool
    status_differs: bool


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """One report as the QA report sees it: which case, how recent, and what it counts."""

    case: str  # the business identifier's value
    version: int | None  # meta.versionId
    issued: datetime | None
    laboratory: str
    time: str | None  # effectiveDateTime, else issued, as written
    figures: CaseFigures | None  # None: not counted, for the reason in `not_counted`
    not_counted: str | None = None


def report_pairs(resources: Iterable[JsonDict]) -> Iterator[tuple[JsonDict, JsonDict | None]]:
    """(DiagnosticReport, its status Observation or None) for every adapter report among
    `resources`; the n-th report of a case goes with the n-th status Observation of it."""
    reports: list[tuple[str, JsonDict]] = []
    observations: dict[str, list[JsonDict]] = defaultdict(list)
    for resource in resources:
        case = case_identifier(resource)
        if case is None:
            continue
        if resource.get("resourceType") == "DiagnosticReport":
            reports.append((case, resource))
        elif resource.get("resourceType") == "Observation" and _is_status_observation(resource):
            observations[case].append(resource)
    for case, report in reports:
        waiting = observations.get(case)
        yield report, waiting.pop(0) if waiting else None


def case_identifier(resource: JsonDict) -> str | None:
    """The value of the adapter's business identifier (report and status Observation)."""
    for identifier in listed(resource.get("identifier")):
        if isinstance(identifier, dict) and identifier.get("system") == REPORT_ID_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) and value else None
    return None


class ReportReader:
    """Reads reports into `ReportFacts`; the status answers are looked up once."""

    def __init__(self, mappings: Mappings) -> None:
        self._mappings = mappings
        self._answers: dict[tuple[str, str], Status] = {}
        for status, concept in STATUS_CONCEPTS.items():
            target = mappings.outbound_status(concept)
            self._answers[(target.system, target.code)] = status

    def read(self, report: JsonDict, observation: JsonDict | None) -> ReportFacts:
        """The facts of one report; `figures` is None for a report that is not counted."""
        meta = report.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        issued = _text(report.get("issued"))
        laboratory = written_laboratory(report.get("performer"))
        figures, not_counted = None, None
        if report.get("status") == ENTERED_IN_ERROR:
            not_counted = ENTERED_IN_ERROR
        elif observation is None:
            not_counted = NO_STATUS_OBSERVATION
        else:
            figures = self._figures(observation)
            not_counted = None if figures is not None else NO_QA_FACTS
        return ReportFacts(
            case=case_identifier(report) or "",
            version=int(version) if isinstance(version, str) and version.isdigit() else None,
            issued=parse_fhir_datetime(issued) if issued else None,
            laboratory=laboratory.name if laboratory is not None else UNKNOWN_LABORATORY,
            time=_text(report.get("effectiveDateTime")) or issued,
            figures=figures,
            not_counted=not_counted,
        )

    def _figures(self, observation: JsonDict) -> CaseFigures | None:
        coded = read_qa_extensions(observation)
        status = self._status(observation)
        if coded.site is None or status is None:
            return None
        codes: set[str] = set()
        group = None
        for component in listed(observation.get("component")):
            code = _our_code(component.get("code") if isinstance(component, dict) else None)
            if code == "ish-group" and isinstance(component.get("valueInteger"), int):
                group = component["valueInteger"]
            elif code is not None:
                codes.add(code)
        return CaseFigures(
            status=status,
            site=coded.site,
            ihc_score=coded.ihc_score,
            ihc_used=bool(coded.ihc),
            ish_used=bool(coded.ish),
            dual_probe=coded.dual_probe,
            ish_group=group,
            discordant=Flag.ISH_IHC_DISCORDANT.value in codes,
            her2_low=Category.HER2_LOW.value in codes,
            reported_status=coded.reported_status,
            status_differs=Flag.REPORTED_STATUS_DIFFERS.value in codes,
        )

    def _status(self, observation: JsonDict) -> Status | None:
        """The HER2 status of the output value (adapter-contract.md 2.3): a LOINC answer, or
        a next-step code of our CodeSystem for Pending."""
        value = observation.get("valueCodeableConcept")
        for coding in listed(value.get("coding") if isinstance(value, dict) else None):
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            if (system, code) in self._answers:
                return self._answers[(system, code)]
            concept = self._mappings.concepts.get(code) if system == CODESYSTEM_URL else None
            if concept is not None and concept.kind == "next-step":
                return Status.PENDING
        return None


def _is_status_observation(resource: JsonDict) -> bool:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return any(
        isinstance(c, dict) and (c.get("system"), c.get("code")) == (LOINC, "48676-1")
        for c in listed(codings)
    )


def _our_code(code: Any) -> str | None:
    """The code of our CodeSystem in a CodeableConcept, or None."""
    for coding in listed(code.get("coding") if isinstance(code, dict) else None):
        if isinstance(coding, dict) and coding.get("system") == CODESYSTEM_URL:
            value = coding.get("code")
            return value if isinstance(value, str) else None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
