"""The codes the adapter understands, as lookups: which LOINC code is an IHC score, which answer
means "positive", which body site is gastric (STYLE.md R7: codes are data).

`Mappings` is built once per process from the JSON files in `mappings/` (`mapping_files.py`
loads and checks them); everything that reads a code asks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

CODESYSTEM_URL: Final = "https://her2-fhir-adapter.org/fhir/CodeSystem/her2-adapter"
TEXT_SYSTEM: Final = "https://her2-fhir-adapter.org/fhir/text-form"  # group.source of text forms
ORGAN_PROPERTY: Final = CODESYSTEM_URL + "#organ"


@dataclass(frozen=True, slots=True)
class Target:
    """One meaning of a source code or text: a concept of our CodeSystem (or an external code)."""

    code: str
    kind: str  # the concept's `kind` property; "external" for outbound targets
    system: str = CODESYSTEM_URL
    display: str | None = None
    organ: str | None = None  # site targets: the organ's name for the report


def normalise_text(text: str) -> str:
    """Text as the text maps key it: lower case, blanks collapsed, no trailing full stop."""
    return " ".join(text.split()).lower().rstrip(".").strip()


@dataclass(frozen=True, slots=True)
class Mappings:
    """Frozen lookups over every mapping file (build with `load_mappings`)."""

    concepts: Mapping[str, Target]  # our CodeSystem: code -> concept (kind, display)
    by_code: Mapping[tuple[str, str, str], tuple[Target, ...]]  # (concern, system, code)
    by_text: Mapping[tuple[str, str], tuple[Target, ...]]  # (concern, normalised text)
    # (concern, system): what any code of that system not listed means (group.unmapped fixed)
    by_system: Mapping[tuple[str, str], tuple[Target, ...]]

    def code_targets(
        self, concern: str, system: str | None, code: str | None
    ) -> tuple[Target, ...]:
        """Every target of (system, code) in a concern; the system's `unmapped` target for a
        code not listed; empty when neither is given."""
        if not system or not code:
            return ()
        return self.by_code.get((concern, system, code)) or self.by_system.get(
            (concern, system), ()
        )

    def text_targets(self, concern: str, text: str | None) -> tuple[Target, ...]:
        """Every target of a text form in a concern (matched whole after `normalise_text`)."""
        if not text:
            return ()
        return self.by_text.get((concern, normalise_text(text)), ())

    def text_forms(self, concern: str) -> tuple[tuple[str, tuple[Target, ...]], ...]:
        """Every (normalised text, targets) of a concern, for searching names inside free text."""
        return tuple((text, targets) for (c, text), targets in self.by_text.items() if c == concern)

    def role(self, system: str | None, code: str | None) -> str | None:
        """The input role of a coding (`ihc-score`, `ish-ratio`, ...), or None: not HER2."""
        targets = self.code_targets("role", system, code)
        return targets[0].code if targets else None

    def concept(self, code: str) -> Target:
        """A concept of our CodeSystem; KeyError for an unknown code (a programming error)."""
        return self.concepts[code]

    def outbound_status(self, status_concept: str) -> Target:
        """The LOINC answer for `status-positive` etc. (contract 2.3); KeyError for Pending."""
        return self.by_code[("status-out", CODESYSTEM_URL, status_concept)][0]
