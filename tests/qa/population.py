"""A generated population of HER2 cases of known composition, for the QA report's tests.

Four laboratories over two months, each named the way a real feed names it: LAB-NORMAL by its
inputs' performer identifier, LAB-OVER by an Organization inside the Bundle, "Under Lab" by the
MessageHeader's sender, SMALL-LAB over HL7 v2 (MSH-4); a few cases name no laboratory
(`unknown`). LAB-OVER over-calls (breast positivity about 42%), "Under Lab" under-calls (about
2%, and every dual-probe case in ISH group 4), LAB-NORMAL is normal (10.0% of its dual-probe
cases in groups 2-4: on the limit, not above it), SMALL-LAB has too few cases. Some cases are
sent twice: first the IHC 2+ alone, later with the ISH (only the later report counts).

Every message carries a distinctive patient name, birth date, MRN and accession number, which
no QA output may contain. What each case must count as is written here by hand from the
contracts' tables (`Kind`), independent of the adapter's code.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

LOINC: Final = "http://loinc.org"
SCT: Final = "http://snomed.info/sct"
SITES: Final = {"breast": "76752008", "gastric": "69695003"}
IHC_ANSWERS: Final = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}
POSITIVE_ANSWER: Final = "LA6576-8"
PERIODS: Final = {"2026-01": "2026-01-{day:02d}T10:00:00+01:00", "2026-02": "2026-02-{day:02d}"}
V2_FACILITY: Final = "SMALL-LAB"


@dataclass(frozen=True)
class Kind:
    """What a case holds and what it must count as (qa-report-contract.md 4)."""

    site: str
    ihc: str | None  # "0", "1+", "2+", "3+", "failed"
    ish: tuple[str, str, str] | None = None  # ratio, HER2 and CEP17 per cell
    reported_positive: bool = False  # a 48676-1 input reporting Positive
    # expected:
    status: str = ""
    group: int | None = None
    discordant: bool = False
    her2_low: bool = False

    @property
    def ihc_score(self) -> str | None:
        return None if self.ihc == "failed" else self.ihc


G1, G3, G4, G5 = (
    ("2.5", "6.0", "2.4"),
    ("1.8", "6.5", "3.6"),
    ("1.6", "4.8", "3.0"),
    ("1.5", "3.0", "2.0"),
)
KINDS: Final = {
    "pos3": Kind("breast", "3+", status="positive"),
    "neg1": Kind("breast", "1+", status="negative", her2_low=True),
    "neg0": Kind("breast", "0", status="negative"),
    "eq2": Kind("breast", "2+", status="equivocal"),
    "g1_2": Kind("breast", "2+", G1, status="positive", group=1),
    "g5_2": Kind("breast", "2+", G5, status="negative", group=5, her2_low=True),
    "g4_1": Kind("breast", "1+", G4, status="negative", group=4, her2_low=True),
    "g3_0": Kind("breast", "0", G3, status="negative", group=3),
    "g4_2": Kind("breast", "2+", G4, status="pending", group=4),  # blinded recount next
    "disc3_5": Kind("breast", "3+", G5, status="positive", group=5, discordant=True),
    "disc0_1": Kind("breast", "0", G1, status="positive", group=1, discordant=True),
    "failed": Kind("breast", "failed", status="indeterminate"),
    "rep_differs": Kind("breast", "1+", reported_positive=True, status="negative", her2_low=True),
    "rep_same": Kind("breast", "3+", reported_positive=True, status="positive"),
    "gpos3": Kind("gastric", "3+", status="positive"),
    "gneg1": Kind("gastric", "1+", status="negative"),
    "geq2": Kind("gastric", "2+", status="equivocal"),
    "gpos2r": Kind("gastric", "2+", G1, status="positive"),
}
# laboratory -> how many cases of each kind, per period
PLANS: Final[dict[str, dict[str, int]]] = {
    "LAB-NORMAL": {
        "pos3": 12,
        "g1_2": 4,
        "disc3_5": 1,
        "rep_same": 2,
        "neg1": 40,
        "neg0": 30,
        "g5_2": 13,
        "g4_1": 1,
        "rep_differs": 2,
        "eq2": 6,
        "g4_2": 1,
        "failed": 1,
        "gpos3": 6,
        "gpos2r": 2,
        "gneg1": 25,
        "geq2": 2,
    },
    "LAB-OVER": {"pos3": 30, "g1_2": 8, "disc0_1": 2, "neg1": 35, "neg0": 20, "eq2": 5},
    "Under Lab": {"pos3": 3, "neg1": 60, "neg0": 40, "g4_1": 25, "eq2": 4},
    V2_FACILITY: {"pos3": 3, "neg1": 10, "eq2": 2},
    "unknown": {"neg1": 3},
}
FLAGS: Final = {  # (lab, site, period) -> flags; every other row has none
    **{("LAB-OVER", "breast", p): ("positivity-high",) for p in PERIODS},
    **{("Under Lab", "breast", p): ("positivity-low", "ish-groups-high") for p in PERIODS},
    **{(V2_FACILITY, "breast", p): ("small-sample",) for p in PERIODS},
    **{("unknown", "breast", p): ("small-sample",) for p in PERIODS},
    # all laboratories together: Under Lab's group 4 cases are half the dual-probe cases
    **{("all", "breast", p): ("ish-groups-high",) for p in PERIODS},
}
SENT_TWICE: Final = ("g1_2", "g5_2")  # first as IHC 2+ alone, then complete


@dataclass(frozen=True)
class Case:
    number: int
    lab: str
    period: str
    kind: Kind
    name: str  # the kind's name

    @property
    def patient(self) -> dict[str, str]:
        """Distinctive patient data that must never reach a QA output."""
        n = self.number
        return {
            "family": f"Marlowbridge{n:04d}x",
            "given": f"Quintessa{n:04d}y",
            "birth": f"19{41 + n % 50}-07-{1 + n % 28:02d}",
            "mrn": f"MRN-ZX{n:05d}Q",
            "accession": f"ACC-QQ{n:05d}K",
        }

    @property
    def time(self) -> str:
        return PERIODS[self.period].format(day=1 + self.number % 27)


def population() -> list[Case]:
    cases, number = [], 0
    for lab, plan in PLANS.items():
        for period in PERIODS:
            for name, count in plan.items():
                for _ in range(count):
                    number += 1
                    cases.append(Case(number, lab, period, KINDS[name], name))
    return cases


def expected_counts(cases: list[Case]) -> dict[tuple[str, str, str], Counter[str]]:
    """Per (lab, site, period) and per `all`: every numerator and denominator, counted from
    the kinds."""
    rows: dict[tuple[str, str, str], Counter[str]] = {}
    for case in cases:
        k = case.kind
        for lab in (case.lab, "all"):
            c = rows.setdefault((lab, k.site, case.period), Counter())
            c["cases"] += 1
            c[k.status] += 1
            c["ihc_scored"] += k.ihc_score is not None
            c["ihc_2plus"] += k.ihc == "2+"
            c["dual"] += k.ish is not None
            c["group_2_4"] += k.group in (2, 3, 4)
            c["both"] += k.ish is not None and k.ihc_score is not None
            c["discordant"] += k.discordant
            c["her2_low"] += k.her2_low
            c["reported"] += k.reported_positive
            c["differs"] += k.reported_positive and k.status != "positive"
    return rows


# --- messages ---------------------------------------------------------------------------------


def fhir_message(case: Case, *, ihc_only: bool = False) -> dict[str, Any]:
    """One FHIR Bundle with the case's Patient, Specimen and Observations."""
    n, k, p = case.number, case.kind, case.patient
    patient = {
        "resourceType": "Patient",
        "id": f"p{n}",
        "identifier": [{"system": "urn:example:mrn", "value": p["mrn"]}],
        "name": [{"family": p["family"], "given": [p["given"]]}],
        "birthDate": p["birth"],
    }
    specimen = {
        "resourceType": "Specimen",
        "id": f"s{n}",
        "identifier": [{"system": "urn:example:accession", "value": p["accession"]}],
        "subject": {"reference": f"Patient/p{n}"},
        "collection": {"bodySite": {"coding": [{"system": SCT, "code": SITES[k.site]}]}},
    }
    performer = _performer(case)
    observations = []
    if k.ihc is not None:
        value = (
            {"valueString": "unscorable"}
            if k.ihc == "failed"
            else {
                "valueCodeableConcept": {"coding": [{"system": LOINC, "code": IHC_ANSWERS[k.ihc]}]}
            }
        )
        observations.append(_observation(case, "ihc", "85319-2", value, performer))
    if k.ish is not None and not ihc_only:
        ratio, her2, cep17 = k.ish
        value = {
            "valueQuantity": {"value": float(ratio), "unit": "{ratio}"},
            "component": [
                {"code": _code("74860-8"), "valueQuantity": {"value": float(her2)}},
                {"code": _code("74861-6"), "valueQuantity": {"value": float(cep17)}},
            ],
        }
        observations.append(_observation(case, "ish", "49683-6", value, performer))
    if k.reported_positive:
        value = {"valueCodeableConcept": {"coding": [{"system": LOINC, "code": POSITIVE_ANSWER}]}}
        observations.append(_observation(case, "st", "48676-1", value, performer))
    resources: list[dict[str, Any]] = [*observations, patient, specimen]
    bundle_type = "collection"
    if case.lab == "LAB-OVER":
        resources.append(
            {
                "resourceType": "Organization",
                "id": "org-over",
                "identifier": [{"system": "urn:example:labs", "value": "LAB-OVER"}],
                "name": "Over Lab",
            }
        )
    if case.lab == "Under Lab":
        bundle_type = "message"
        resources.insert(
            0,
            {
                "resourceType": "MessageHeader",
                "id": f"h{n}",
                "eventCoding": {"system": "urn:example:events", "code": "her2-result"},
                "source": {"endpoint": "urn:example:lis"},
                "sender": {"display": "Under Lab"},
            },
        )
    entries = [{"fullUrl": f"urn:uuid:{_uuid(r)}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": bundle_type, "entry": entries}


def _performer(case: Case) -> list[dict[str, Any]] | None:
    if case.lab == "LAB-NORMAL":
        return [{"identifier": {"system": "urn:example:labs", "value": "LAB-NORMAL"}}]
    if case.lab == "LAB-OVER":
        return [
            {"reference": f"urn:uuid:{_uuid({'resourceType': 'Organization', 'id': 'org-over'})}"}
        ]
    return None


def _observation(
    case: Case, suffix: str, loinc: str, value: dict[str, Any], performer: Any
) -> dict[str, Any]:
    n = case.number
    resource = {
        "resourceType": "Observation",
        "id": f"{suffix}{n}",
        "status": "final",
        "code": _code(loinc),
        "subject": {"reference": f"Patient/p{n}"},
        "specimen": {"reference": f"Specimen/s{n}"},
        "effectiveDateTime": case.time,
        **value,
    }
    if performer:
        resource["performer"] = performer
    return resource


def _code(loinc: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": loinc}]}


def _uuid(resource: dict[str, Any]) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resource['resourceType']}/{resource['id']}"))


def v2_message(case: Case) -> str:
    """One ORU^R01 (IHC only) from the sending facility SMALL-LAB."""
    n, k, p = case.number, case.kind, case.patient
    date = case.time[:10].replace("-", "")
    segments = [
        f"MSH|^~\\&|LIS|{V2_FACILITY}|EHR|HOSP|{date}120000||ORU^R01^ORU_R01|M{n}|P|2.5.1",
        f"PID|1||{p['mrn']}^^^HOSP^MR||{p['family']}^{p['given']}||{p['birth'].replace('-', '')}",
        f"OBR|1||{p['accession']}|HER2^HER2 IHC|||{date}",
        f"SPM|1|^{p['accession']}||TISS^Tissue^HL70487||||{SITES[k.site]}^{k.site}^SCT",
        f"OBX|1|ST|85319-2^HER2 IHC^LN||{k.ihc}||||||F",
    ]
    return "\r".join(segments) + "\r"


def ndjson(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)
