"""What the laboratory QA report counts, coded on the status Observation (qa-report-contract.md 4).

A report read back from the EHR years later must still be countable without its inputs, so the
48676-1 Observation carries, beside its value, components (category, ISH group, flags) and
next step, four extensions of our own (StructureDefinitions in `docs/fhir/`):

- `her2-site-group`: Coding `site-breast` / `site-gastric` / `site-other`, the rule set applied;
- `her2-ihc-used`: Coding `ihc-0` ... `ihc-3+`, `ihc-positive` ..., one per IHC value decided with;
- `her2-ish-used`: Coding `ish-dual-probe-ratio` / `ish-single-probe` / `ish-qualitative`, one
  per kind of ISH result decided with;
- `her2-reported-status`: boolean, a reported status (a 48676-1 input) came with the results.

Extensions, not components: the reader takes IHC/ISH-coded components as results wherever they
appear (adapter-contract.md 1.1), and the components of our CodeSystem are read by consumers as
category + ISH group + next step + flags. The codes are concepts of our CodeSystem (mappings/).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from adapter.fhir.case import Case
from adapter.fhir.grouping import listed
from adapter.fhir.values import IHC_VALUES
from adapter.interpretation.ish import IshKind
from adapter.interpretation.model import IhcValue, SiteGroup
from adapter.interpretation.readings import read_case
from adapter.mappings import CODESYSTEM_URL, Mappings

STRUCTURE_DEFINITIONS: Final = "https://her2-fhir-adapter.org/fhir/StructureDefinition/"
SITE_GROUP_URL: Final = STRUCTURE_DEFINITIONS + "her2-site-group"
IHC_USED_URL: Final = STRUCTURE_DEFINITIONS + "her2-ihc-used"
ISH_USED_URL: Final = STRUCTURE_DEFINITIONS + "her2-ish-used"
REPORTED_STATUS_URL: Final = STRUCTURE_DEFINITIONS + "her2-reported-status"

IHC_CONCEPTS: Final = {value: concept for concept, value in IHC_VALUES.items()}
ISH_CONCEPTS: Final = {
    IshKind.DUAL_PROBE: "ish-dual-probe-ratio",
    IshKind.RATIO_ONLY: "ish-dual-probe-ratio",  # a ratio without the average is still one
    IshKind.SINGLE_PROBE: "ish-single-probe",
    IshKind.QUALITATIVE: "ish-qualitative",
}
SITE_CONCEPTS: Final = {group: f"site-{group.value}" for group in SiteGroup}
# The IHC concepts that are a score (the unscored answers are IHC used, but no score).
IHC_SCORES: Final = {"ihc-0": "0", "ihc-0-null": "0", "ihc-0-ultralow": "0"} | {
    f"ihc-{score}": score for score in ("1+", "2+", "3+")
}


@dataclass(frozen=True, slots=True)
class CodedFacts:
    """The extensions of one status Observation, read back."""

    site: SiteGroup | None  # None: written before these extensions existed
    ihc: tuple[str, ...]  # IHC concepts used, in the order written
    ish: tuple[str, ...]  # ISH kind concepts used
    reported_status: bool

    @property
    def ihc_score(self) -> str | None:
        """The one IHC score decided with ("0", "1+", "2+", "3+"); None when no IHC score was
        used: no IHC, an answer without a score, or tied values that differ."""
        scores = {IHC_SCORES.get(concept) for concept in self.ihc}
        return scores.pop() if len(scores) == 1 else None

    @property
    def dual_probe(self) -> bool:
        return "ish-dual-probe-ratio" in self.ish


def qa_extensions(case: Case, mappings: Mappings) -> list[dict[str, Any]]:
    """The extensions of a case's status Observation (read from the core's own readings)."""
    readings = read_case(case.findings).choices
    ihc = dict.fromkeys(IHC_CONCEPTS[r.ihc] for r in readings if isinstance(r.ihc, IhcValue))
    counts = [count for r in readings for count in (r.first, r.recount) if count is not None]
    ish = dict.fromkeys(ISH_CONCEPTS[c.ish.kind] for c in counts if c.ish.kind in ISH_CONCEPTS)
    return [
        _coded(SITE_GROUP_URL, SITE_CONCEPTS[case.findings.site.group], mappings),
        *(_coded(IHC_USED_URL, concept, mappings) for concept in ihc),
        *(_coded(ISH_USED_URL, concept, mappings) for concept in ish),
        {"url": REPORTED_STATUS_URL, "valueBoolean": bool(case.findings.reported_status)},
    ]


def read_qa_extensions(observation: dict[str, Any]) -> CodedFacts:
    """The coded facts of a status Observation; unknown codes are ignored."""
    extensions = [e for e in listed(observation.get("extension")) if isinstance(e, dict)]
    sites = {concept: group for group, concept in SITE_CONCEPTS.items()}
    site = next(iter(_codes(extensions, SITE_GROUP_URL, sites)), None)
    reported = any(
        e.get("url") == REPORTED_STATUS_URL and e.get("valueBoolean") is True for e in extensions
    )
    return CodedFacts(
        site=sites.get(site) if site else None,
        ihc=tuple(_codes(extensions, IHC_USED_URL, IHC_VALUES)),
        ish=tuple(_codes(extensions, ISH_USED_URL, set(ISH_CONCEPTS.values()))),
        reported_status=reported,
    )


def _coded(url: str, concept: str, mappings: Mappings) -> dict[str, Any]:
    target = mappings.concept(concept)
    coding = {"system": CODESYSTEM_URL, "code": target.code}
    return {
        "url": url,
        "valueCoding": coding | ({"display": target.display} if target.display else {}),
    }


def _codes(extensions: list[dict[str, Any]], url: str, known: Iterable[str]) -> list[str]:
    allowed = set(known)
    found = []
    for extension in extensions:
        coding = extension.get("valueCoding") if extension.get("url") == url else None
        if (
            isinstance(coding, dict)
            and coding.get("system") == CODESYSTEM_URL
            and coding.get("code") in allowed
        ):
            found.append(coding["code"])
    return found
