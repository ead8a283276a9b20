"""Reading the adapter's output (adapter-contract.md 3) back: per case its status, next step,
ISH group, category and site-assumed flag, the inputs it names, and the values its
conclusion lists under "Results used"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from tests.contract.model import Measure

Json = dict[str, Any]
STATUS_CODES: Final = {
    "LA6576-8": "Positive",
    "LA6577-6": "Negative",
    "LA11885-3": "Equivocal",
    "LA11884-6": "Indeterminate",
}
NEXT_STEPS: Final = frozenset(
    {
        "reflex-ish",
        "ihc-same-tissue",
        "blinded-recount",
        "adjudication",
        "dual-probe-ish",
        "her2-average",
    }
)
CATEGORIES: Final = frozenset({"HER2-low", "HER2-ultralow", "HER2-null", "HER2-0", "HER2-positive"})
# How the conclusion labels each measure (the product's words, kept in this one place), and
# the other labels of its "Results used" line (a test not done, a status reported earlier).
LABELS: Final = {
    Measure.IHC: "IHC score",
    Measure.RATIO: "HER2/CEP17 ratio",
    Measure.HER2: "average HER2 signals per cell",
    Measure.CEP17: "average CEP17 signals per cell",
    Measure.CALL: "ISH result",
}
OTHER_LABELS: Final = ("ISH", "HER2 status reported with the results")
FACT: Final = re.compile(
    r"^(?P<recount>recount: )?(?:(?P<label>"
    + "|".join(map(re.escape, (*LABELS.values(), *OTHER_LABELS)))
    + r"): )?(?P<value>.*) \[(?P<ref>[^\],]*)(?P<marks>[^\]]*)\]"
    + r"(?: \(tied reports that differ\))?$"
)


@dataclass(frozen=True, slots=True)
class Fact:
    label: str  # "IHC score", ... with "recount: " in front for a recount's values
    value: str  # as the conclusion shows it: "1+", "< 2.2", "0 (ultralow)", "test failed"
    reference: str
    superseded: bool = False  # listed, but set aside by precedence (contract 1.3)


@dataclass(frozen=True, slots=True)
class CaseOutput:
    status: str
    next_step: str | None
    group: int | None
    category: str | None
    site_assumed: bool
    derived_from: frozenset[str]
    results: frozenset[str]
    entities: frozenset[str]
    facts: tuple[Fact, ...]
    specimen: str | None
    subject: str | None

    @property
    def summary(self) -> tuple[str, str | None, int | None, str | None, bool]:
        return (self.status, self.next_step, self.group, self.category, self.site_assumed)


def facts_of(conclusion: str) -> tuple[Fact, ...]:
    """The "Results used: label: value [ref]; value [ref] (tied ...); ..." line, parsed."""
    line = next((x for x in conclusion.splitlines() if x.startswith("Results used: ")), "")
    facts: list[Fact] = []
    label = ""
    for token in line.removeprefix("Results used: ").removesuffix(".").split("; "):
        match = FACT.match(token)
        if not match:
            continue
        if match["label"]:
            label = (match["recount"] or "") + match["label"]
        superseded = "superseded" in match["marks"]
        facts.append(Fact(label, match["value"], match["ref"], superseded))
    return tuple(facts)


def _refs(items: list[Json] | None, key: str | None = None) -> frozenset[str]:
    refs = set()
    for item in items or ():
        holder = item.get(key) if key else item
        if isinstance(holder, dict) and isinstance(holder.get("reference"), str):
            refs.add(holder["reference"])
    return frozenset(refs)


def _codes(concept: Json | None) -> list[str]:
    return [c.get("code", "") for c in (concept or {}).get("coding", [])]


def read_case(observation: Json, report: Json, provenance: Json) -> CaseOutput:
    value = _codes(observation.get("valueCodeableConcept"))
    components = {
        code: c for c in observation.get("component", []) for code in _codes(c.get("code"))
    }
    status = STATUS_CODES.get(value[0], "Pending") if value else "no value"
    steps = [code for code in (*value, *components) if code in NEXT_STEPS]
    group = components.get("ish-group", {}).get("valueInteger")
    return CaseOutput(
        status=status,
        next_step=steps[0] if steps else None,
        group=group,
        category=next((code for code in components if code in CATEGORIES), None),
        site_assumed="site-assumed" in components,
        derived_from=_refs(observation.get("derivedFrom")),
        results=_refs(report.get("result")),
        entities=_refs(provenance.get("entity"), "what"),
        facts=facts_of(report.get("conclusion", "")),
        specimen=(observation.get("specimen") or {}).get("reference"),
        subject=(observation.get("subject") or {}).get("reference"),
    )


def cases_of(bundle: Json) -> list[tuple[CaseOutput, Json]]:
    """Every case of an output Bundle (found through its Provenance's targets), with the
    resources of the Bundle by fullUrl and by Type/id (a write-back transaction refers by the
    latter) for the caller to look references up in."""
    by_url: dict[str, Json] = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        for name in (entry.get("fullUrl"), f"{resource.get('resourceType')}/{resource.get('id')}"):
            if name:
                by_url[name] = resource
    found = []
    for provenance in {id(r): r for r in by_url.values()}.values():
        if provenance.get("resourceType") != "Provenance":
            continue
        targets = [by_url.get(t.get("reference")) for t in provenance.get("target", [])]
        observation = next(t for t in targets if t and t["resourceType"] == "Observation")
        report = next(t for t in targets if t and t["resourceType"] == "DiagnosticReport")
        found.append((read_case(observation, report, provenance), by_url))
    return found
