"""One case as FHIR resources: Patient p{n}, Specimen s{n} (its organ in
`collection.bodySite` or `type`, or in the Observations' `bodySite`), and the reports as
Observations, as components of a 74885-5 panel or of a 48676-1 status reported earlier, as
members of a panel (`hasMember`), or as a blinded recount (`method.text`). Withdrawn reports
are `entered-in-error` (or `cancelled`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from tests.contract import fhir_values as fv
from tests.contract.grammar import Chooser
from tests.contract.model import ORGANS, Case, Measure, Report, Score

Json = dict[str, Any]
CODES: Final = {
    Measure.IHC: (["85319-2"], ["18474-7"], ["48676-1", "85319-2"]),
    Measure.RATIO: (["49683-6"], ["49683-6"], ["85318-4"], ["31150-6"], ["96893-3"]),
    Measure.HER2: (["74860-8"],),
    Measure.CEP17: (["74861-6"],),
    Measure.CALL: (["85318-4"], ["31150-6"], ["96893-3"]),
}
GENERIC_KINDS: Final = (
    {"text": "Tissue"},
    {"coding": [fv.coding("http://terminology.hl7.org/CodeSystem/v2-0487", "TISS")]},
    {"coding": [fv.coding(fv.SCT, "119376003")], "text": "tissue specimen"},
)
RECOUNT_METHODS: Final = ("Blinded recount", "second observer, BLINDED", "recount")


def organ_concept(c: Chooser, organ: str) -> Json:
    """By SNOMED CT code, by text, or by a coding with only a display (1.4)."""
    entry = ORGANS[organ]
    text = c.pick(entry.texts)
    spelling = c.pick(("code", "code only", "text", "display"))
    if spelling == "code only":
        return {"coding": [fv.coding(fv.SCT, entry.snomed)]}
    if spelling == "code":
        return {"coding": [{**fv.coding(fv.SCT, entry.snomed), "display": text}]}
    if spelling == "display":
        return {"coding": [{"display": text}]}
    return {"text": text}


class CaseWriter:
    """The resources of one case n, and its inputs."""

    def __init__(self, c: Chooser, n: int, case: Case, *, alone: bool) -> None:
        self.c, self.n, self.case = c, n, case
        self.resources: list[Json] = []
        self.inputs: list[tuple[str, Report | None]] = []  # (resource id, report)
        self.with_specimen = not alone or c.chance(50)
        place = "observation" if alone else c.pick(("collection", "observation", "type"))
        self.body_site = organ_concept(c, case.organ) if case.organ else None
        self.place = place if case.organ else None

    def observation(
        self, suffix: str, codes: list[str], report: Report | None, **more: Any
    ) -> Json:
        obs: Json = {
            "resourceType": "Observation",
            "id": f"c{self.n}-{suffix}",
            "status": report.status.value if report else "final",
            "code": {"coding": [fv.coding(fv.LOINC, code) for code in codes]},
            "subject": {"reference": f"Patient/p{self.n}"},
        }
        if report is not None and report.withdrawn:
            obs["status"] = self.c.pick(("entered-in-error", "entered-in-error", "cancelled"))
        if report is not None and report.time is not None:
            when = report.time.isoformat()
            field_name = self.c.pick(("issued", "effectiveDateTime"))
            obs[field_name] = when
        if self.with_specimen:
            obs["specimen"] = {"reference": f"Specimen/s{self.n}"}
        if self.place == "observation":
            obs["bodySite"] = self.body_site
        obs.update(more)
        self.resources.append(obs)
        return obs

    def single(self, suffix: str, report: Report) -> None:
        """One report as its own Observation; an IHC 0 sub-class may be a component."""
        value = report.value
        if isinstance(value, Score) and value.subclass and self.c.chance(40):
            fields = {
                **fv.plain_zero(self.c),
                "component": [fv.subclass_component(self.c, value.subclass)],
            }
        else:
            fields = fv.value_fields(self.c, report.measure, value)
        if report.recount:
            fields["method"] = {"text": self.c.pick(RECOUNT_METHODS)}
        self.observation(suffix, list(self.c.pick(CODES[report.measure])), report, **fields)
        self.inputs.append((f"c{self.n}-{suffix}", report))

    def panel(self, suffix: str, reports: list[Report], holder: list[str], value: Json) -> None:
        """Reports as components of one Observation (a 74885-5 panel, an ISH result, or a
        48676-1)."""
        components = [
            {
                "code": {"coding": [fv.coding(fv.LOINC, self.c.pick(CODES[r.measure])[-1])]},
                **fv.value_fields(self.c, r.measure, r.value),  # a sub-class in the text
            }
            for r in reports
        ]
        more: Json = {"component": components, **value}
        if reports[0].recount:
            more["method"] = {"text": self.c.pick(RECOUNT_METHODS)}
        self.observation(suffix, holder, reports[0], **more)
        self.inputs += [(f"c{self.n}-{suffix}", r) for r in reports]

    def members(self, suffix: str, reports: list[Report]) -> None:
        """Separate Observations listed by a 74885-5 panel (`hasMember`)."""
        ids = []
        for i, report in enumerate(reports):
            self.single(f"{suffix}m{i}", report)
            ids.append(f"c{self.n}-{suffix}m{i}")
        self.observation(
            suffix,
            ["74885-5"],
            reports[0],
            hasMember=[{"reference": f"Observation/{i}"} for i in ids],
        )
        if reports[0].recount:
            self.resources[-1]["method"] = {"text": self.c.pick(RECOUNT_METHODS)}

    def write(self) -> None:
        """Every report of the case, grouped as the chooser likes."""
        groups: dict[tuple[Any, ...], list[Report]] = defaultdict(list)
        for report in self.case.reports:
            key = (report.recount, report.status, report.time, report.withdrawn)
            if report.measure in (Measure.RATIO, Measure.HER2, Measure.CEP17):
                groups[key].append(report)
            else:
                groups[(*key, id(report))].append(report)
        for g, reports in enumerate(groups.values()):
            distinct = len({r.measure for r in reports}) == len(reports)
            shape = self.c.pick(("single", "panel", "members")) if distinct else "single"
            if len(reports) == 1 and not reports[0].recount:
                shape = "single"
            if shape == "panel":  # a 74885-5 panel, or any HER2 ISH Observation (1.2)
                holder = self.c.pick(("74885-5", "74885-5", "85318-4", "31150-6"))
                self.panel(f"g{g}", reports, [holder], {})
            elif shape == "members":
                self.members(f"g{g}", reports)
            else:
                for i, report in enumerate(reports):
                    self.single(f"g{g}r{i}", report)
        if self.case.reported_status:
            self.observation(
                "reported",
                ["48676-1"],
                None,
                **fv.reported_status(self.c, self.case.reported_status),
            )

    def specimen(self) -> Json:
        specimen: Json = {
            "resourceType": "Specimen",
            "id": f"s{self.n}",
            "subject": {"reference": f"Patient/p{self.n}"},
        }
        if self.place == "type":
            specimen["type"] = self.body_site
        elif self.c.chance(40):
            specimen["type"] = self.c.pick(GENERIC_KINDS)
        if self.place == "collection":
            specimen["collection"] = {"bodySite": self.body_site}
        return specimen
