"""The v2 codes the reader needs, looked up in `mappings/` (STYLE.md R7: codes are data).

`v2-coding-systems` (names -> FHIR system URIs), `v2-result-status` (OBX-11 -> Observation
status), `v2-cap-checklist` (CAP keys -> roles and answers), `v2-labels` (text labels -> roles or
rules), and, read backwards, the FHIR maps: the LOINC code of a role and the answer coding (or
text form) the FHIR reader knows for a concept. A new key or label is a data change only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from adapter.mappings import Mappings, Target, normalise_text

CODING_SYSTEM_NAMES: Final = "https://her2-fhir-adapter.org/fhir/v2-coding-system-name"
RESULT_STATUS_TABLE: Final = "http://terminology.hl7.org/CodeSystem/v2-0085"
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
CAP_ECC: Final = "http://cap.org/eCC"
LOCAL_SYSTEM_PREFIX: Final = "urn:her2-fhir-adapter:v2:coding-system:"
STANDARD_SYSTEMS: Final = frozenset({LOINC, SNOMED, CAP_ECC})
IGNORED_STATUSES: Final = frozenset({"registered", "cancelled"})  # I, O, N, U: not written


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """How to say an answer concept so the FHIR reader reads it: a coding, else a text form."""

    system: str | None
    code: str | None
    text: str | None


class V2Codes:
    """Lookups over the loaded mappings, built once per `Mappings`."""

    def __init__(self, mappings: Mappings) -> None:
        self.mappings = mappings
        self._role_codes: dict[str, str] = {}
        self._answers: dict[str, AnswerForm] = {}
        for (concern, system, code), targets in mappings.by_code.items():
            for target in targets:
                if concern == "role" and system == LOINC:
                    self._role_codes.setdefault(target.code, code)
                elif concern == "answer" and system in (LOINC, SNOMED):
                    known = self._answers.get(target.code)
                    if known is None or (known.system != LOINC and system == LOINC):
                        self._answers[target.code] = AnswerForm(system, code, None)
        for (concern, text), targets in mappings.by_text.items():
            for target in targets:
                if concern == "answer" and target.code not in self._answers:
                    self._answers[target.code] = AnswerForm(None, None, text)

    def system_uri(self, name: str) -> str | None:
        """The FHIR system of a v2 coding system name; a local urn for an unknown name."""
        name = name.strip()
        if not name:
            return None
        for key in (name, name.upper()):
            targets = self.mappings.code_targets("v2-coding-system", CODING_SYSTEM_NAMES, key)
            if targets:
                return targets[0].code
        return LOCAL_SYSTEM_PREFIX + quote(name, safe="")

    def is_standard(self, system: str | None) -> bool:
        """LOINC, SNOMED CT or CAP: not a local coding system (contract 3, labelled text)."""
        return system in STANDARD_SYSTEMS

    def result_status(self, obx11: str) -> str | None:
        """The Observation.status of an OBX-11 value ('' is final); None for an unknown one."""
        code = obx11.strip().upper()
        if not code:
            return "final"
        targets = self.mappings.code_targets("v2-result-status", RESULT_STATUS_TABLE, code)
        return targets[0].code if targets else None

    def cap_targets(self, code: str) -> tuple[Target, ...]:
        """Role or answer of a CAP checklist code; the key is the part before the first '.'."""
        key = code.strip().lstrip("+").split(".", 1)[0]
        return self.mappings.code_targets("v2-cap", CAP_ECC, key)

    def label(self, text: str) -> Target | None:
        """The role or rule of a text label (compared without case, spaces, trailing colon)."""
        form = normalise_text(text).rstrip(":").strip()
        targets = self.mappings.text_targets("v2-label", form) if form else ()
        return targets[0] if targets else None

    def role_code(self, role: str) -> str:
        """The LOINC code the FHIR reader reads as `role` (the first listed in the role map)."""
        return self._role_codes[role]

    def answer_form(self, concept: str) -> AnswerForm | None:
        """A LOINC (else SNOMED) answer coding for the concept, else a text form; None if none."""
        return self._answers.get(concept)

    def answer_text_targets(self, text: str) -> tuple[Target, ...]:
        """What the FHIR reader's text forms make of a text (matched whole)."""
        return self.mappings.text_targets("answer", text)
