"""A case: the HER2 findings of one specimen with what the output needs to point back to.

Both translations (FHIR in `adapter.fhir`, HL7 v2 in `adapter.hl7v2`) produce `Case`s; the
report builder and the service consume them without knowing which door a result came through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapter.interpretation.model import Her2Findings


@dataclass(frozen=True, slots=True)
class Laboratory:
    """The laboratory of a case (qa-report-contract.md 2), as the report's `performer` names it:
    by an identifier's value, else by a display (which may be the reference as written)."""

    identifier_value: str | None = None
    identifier_system: str | None = None
    display: str | None = None

    @property
    def name(self) -> str:
        """How the QA report groups cases: the identifier's value, else the display."""
        return self.identifier_value or self.display or ""


@dataclass(frozen=True, slots=True)
class Case:
    """One case (contract 1.3): one interpretation, one report."""

    key: str  # correlation key, stable across messages: "specimen|<ref>", "subject|<ref>", ...
    findings: Her2Findings
    subject: dict[str, Any] | None  # FHIR Reference (JSON), copied to the outputs
    specimen: dict[str, Any] | None  # FHIR Reference (JSON), copied to the outputs
    inputs: tuple[str, ...]  # the case's input Observations, as the input names them
    laboratory: Laboratory | None = None  # None: no input or message names one
    # The clinically relevant time, a FHIR dateTime exactly as an input gave it (a year-only
    # "2010" stays a year): the latest effective[x] of the inputs, else their latest issued.
    effective: str | None = None


@dataclass(frozen=True, slots=True)
class MessageReading:
    """What one message holds: its cases, and warnings about what was skipped."""

    cases: tuple[Case, ...]
    warnings: tuple[str, ...] = ()
