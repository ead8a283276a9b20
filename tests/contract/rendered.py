"""What a renderer hands to the doors: the message, how each case is named in the output,
and the HER2-role inputs it must account for (the invariant of issue 18)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.contract.model import Report


@dataclass(frozen=True, slots=True)
class Input:
    """A HER2-role input as the output must name it, and the report it carries (None: a
    panel whose members carry the values). The service may name it Observation/{id} (`local`),
    the name the EHR's FHIR server knows it by."""

    case: int
    reference: str
    local: str
    report: Report | None


@dataclass
class Rendered:
    message: Any  # FHIR JSON (dict), or HL7 v2 messages (list of str, more when split)
    keys: dict[str, int] = field(default_factory=dict)  # case key in the output -> case
    inputs: list[Input] = field(default_factory=list)  # FHIR: each input by its reference
    sent: dict[int, Counter[str]] = field(default_factory=dict)  # v2: HER2 OBX per test
