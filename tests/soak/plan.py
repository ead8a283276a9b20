"""The soak's messages and the expectation each case must meet, from one seed.

Cases come from the acceptance generator (`tests/acceptance/generator.py`: random values around
every threshold, in every input shape). Each case is then split the way a laboratory sends it:
IHC in one message, ISH in another, each message carrying the Patient and the Specimen. On top:
duplicates, ISH before IHC, amended / corrected IHC versions (sent after the case's first
report), bursts of 8 messages for one specimen posted at the same moment, and a few messages
that pass ingest but fail in the worker for good (a references-only Bundle naming an
Observation on the FHIR server whose value is unreadable): those, and only those, must end in
the dead-letter queue.

Patients carry distinctive names, birth dates and MRNs, so the logs can be scanned for them.
The expectation of every case is the core's own: `interpret_message` run offline on the case's
final set of inputs (the whole case in one collection Bundle).
"""

from __future__ import annotations

import copy
import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapter.fhir.json_input import parse_json
from adapter.mappings import Mappings
from adapter.service.offline import interpret_message
from tests.acceptance.generator import build, dumps, ihc_fields, random_spec

JsonDict = dict[str, Any]
MRN_SYSTEM = "urn:oid:1.2.36.146.595.217.0.1"
BAD_CODE = "85319-2"  # HER2 IHC, with a value no mapping reads


@dataclass
class Message:
    """One POST: its body and what it is for."""

    case: int
    kind: str  # ihc | ish | whole | dup | amend | burst | bad
    body: str
    route: str = "/fhir"
    after: list[int] = field(default_factory=list)  # message ids whose jobs must be done first


@dataclass
class SoakCase:
    n: int
    bundle: JsonDict  # the whole case as the generator built it (Patient, Specimen, inputs)
    phi: list[str]  # name, birth date, MRN: never to be seen in a log
    amended: bool = False  # an amended / corrected IHC version is sent after the first report
    original_ihc: JsonDict | None = None  # the IHC Observation before its amendment


@dataclass
class Expectation:
    status: str  # DiagnosticReport.status
    conclusion: list[tuple[str, str]]  # (system, code) of DiagnosticReport.conclusionCode
    report_id: str  # the business identifier value


@dataclass
class Plan:
    cases: list[SoakCase]
    messages: list[Message]  # in posting order; burst members are posted together
    bursts: list[list[int]]  # message ids posted at the same moment
    bad: dict[str, JsonDict]  # Observation id -> resource to put on the FHIR server first
    phi: list[str]
    values: list[str]  # result values as written (for the log scan)


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n)).capitalize()


def _patient(rng: random.Random, n: int) -> tuple[JsonDict, list[str]]:
    family, given = "Qz" + _word(rng, 8), "Xy" + _word(rng, 6)
    birth = f"19{rng.randint(25, 69)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    mrn = f"MRN-{rng.randint(10**8, 10**9 - 1)}"
    patient = {
        "resourceType": "Patient",
        "id": f"p{n}",
        "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
        "name": [{"family": family, "given": [given]}],
        "birthDate": birth,
    }
    return patient, [family, given, birth, mrn]


def _split(bundle: JsonDict) -> tuple[list[JsonDict], list[JsonDict], list[JsonDict]]:
    """(support entries, IHC entries, other input entries) of a generated case Bundle."""
    support, ihc, ish = [], [], []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Observation":
            support.append(entry)
        elif resource["id"].endswith("-ihc"):
            ihc.append(entry)
        else:
            ish.append(entry)
    return support, ihc, ish


def _with(bundle: JsonDict, entries: list[JsonDict]) -> str:
    return dumps({**bundle, "entry": entries})


def _amendment(rng: random.Random, ihc: JsonDict) -> JsonDict:
    """A newer version of the IHC Observation (same id), with another score."""
    resource = copy.deepcopy(ihc["resource"])
    for name in [k for k in resource if k.startswith("value") or k == "dataAbsentReason"]:
        del resource[name]
    resource.update(ihc_fields(rng, rng.choice(["0", "1+", "2+", "3+"])))
    resource["status"] = rng.choice(["amended", "corrected"])
    return {**ihc, "resource": resource}


def make_plan(total: int, seed: int, bursts: int = 1, bad: int = 5) -> Plan:
    """About `total` messages (bursts and bad messages included)."""
    rng = random.Random(seed)
    cases: list[SoakCase] = []
    messages: list[Message] = []
    deferred: list[Message] = []
    burst_ids: list[list[int]] = []
    n = 0
    while len(messages) + len(deferred) < total - 8 * bursts - bad:
        n += 1
        bundle = build(random_spec(rng), n, rng)
        patient, phi = _patient(rng, n)
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["resource"] = patient
        case = SoakCase(n, bundle, phi)
        cases.append(case)
        support, ihc, ish = _split(bundle)
        parts = [("ihc", support + ihc), ("ish", support + ish)] if ihc and ish else []
        if not parts:
            parts = [("whole", bundle["entry"])]
        if rng.random() < 0.35:
            parts.reverse()  # ISH before IHC
        first = len(messages)
        for kind, entries in parts:
            messages.append(Message(n, kind, _with(bundle, entries)))
        if rng.random() < 0.1:  # sent twice, the second copy a little later
            messages.append(Message(n, "dup", messages[first + rng.randrange(len(parts))].body))
        if ihc and rng.random() < 0.08:
            amended = _amendment(rng, ihc[0])
            case.amended, case.original_ihc = True, ihc[0]["resource"]
            _replace(bundle, amended)
            after = list(range(first, first + len(parts)))
            deferred.append(Message(n, "amend", _with(bundle, [*support, amended]), after=after))
    _shuffle_nearby(rng, messages, window=24)
    for message in deferred:  # amendments: in the second half, once the case was reported
        messages.insert(rng.randrange(len(messages) // 2, len(messages) + 1), message)
    _renumber_after(messages)
    bad_resources = {}
    for i in range(bad):
        oid = f"soak-bad-{seed}-{i}"
        bad_resources[oid] = _bad_observation(oid, n + 1 + i)
        body = {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": f"Observation/{oid}"}]}  # fmt: skip
        messages.insert(rng.randrange(len(messages) + 1), Message(0, "bad", json.dumps(body)))
    _renumber_after(messages)
    for b in range(bursts):
        _add_burst(rng, messages, cases, n + bad + 1 + b)
    for b in range(bursts):
        burst_ids.append([i for i, m in enumerate(messages) if m.case == n + bad + 1 + b])
    phi = [p for case in cases for p in case.phi]
    return Plan(cases, messages, burst_ids, bad_resources, phi, _values(cases))


def _replace(bundle: JsonDict, entry: JsonDict) -> None:
    bundle["entry"] = [
        entry if e["resource"].get("id") == entry["resource"]["id"] else e for e in bundle["entry"]
    ]


def _shuffle_nearby(rng: random.Random, messages: list[Message], window: int) -> None:
    """Out of order, but only within a window: a real feed is roughly chronological."""
    for start in range(0, len(messages), window):
        chunk = messages[start : start + window]
        rng.shuffle(chunk)
        messages[start : start + window] = chunk


def _renumber_after(messages: list[Message]) -> None:
    """`after` was written as positions at creation time; make them the final positions."""
    by_case: dict[int, list[int]] = {}
    for i, m in enumerate(messages):
        if m.kind in ("ihc", "ish", "whole"):
            by_case.setdefault(m.case, []).append(i)
    for m in messages:
        if m.kind == "amend":
            m.after = by_case.get(m.case, [])


def _add_burst(rng: random.Random, messages: list[Message], cases: list[SoakCase], n: int) -> None:
    """Eight messages for one specimen: IHC, ISH parts and repeats, posted at one moment."""
    while True:
        bundle = build(random_spec(rng), n, rng)
        support, ihc, ish = _split(bundle)
        if ihc and ish:
            break
    patient, phi = _patient(rng, n)
    support = [{**e, "resource": patient} if e["resource"]["resourceType"] == "Patient" else e
               for e in support]  # fmt: skip
    bundle["entry"] = support + ihc + ish
    cases.append(SoakCase(n, bundle, phi))
    # ISH Observations alone too, unless they are panel members: a member names no specimen
    # and joins its case only beside its panel (contract 1.3), so splitting them off would
    # make another case of the subject, not a burst on this specimen.
    alone = len(ish) > 1 and all("specimen" in e["resource"] for e in ish)
    parts = [support + ihc, support + ish, *([*support, e] for e in ish if alone)]
    bodies = [_with(bundle, parts[i % len(parts)]) for i in range(8)]
    at = rng.randrange(len(messages) // 8, max(len(messages) // 4, len(messages) // 8 + 1))
    for offset, body in enumerate(bodies):
        messages.insert(at + offset, Message(n, "burst", body))
    _renumber_after(messages)


def _bad_observation(oid: str, n: int) -> JsonDict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": BAD_CODE}]},
        "subject": {"reference": f"Patient/p{n}"},
        "specimen": {"reference": f"Specimen/s{n}"},
        "valueString": "see comment: score pending review by second pathologist",
    }


def _values(cases: list[SoakCase]) -> list[str]:
    """Numeric result values with two or more decimals as written (distinct enough to scan)."""
    found: set[str] = set()
    for case in cases:
        for entry in case.bundle["entry"]:
            text = dumps(entry["resource"])
            for part in text.replace("{", ",").replace("}", ",").split(","):
                if '"value"' in part or "valueString" in part:
                    raw = part.split(":", 1)[1].strip('" ')
                    if (
                        "." in raw
                        and len(raw.split(".")[1]) >= 2
                        and raw.replace(".", "").isdigit()
                    ):
                        found.add(raw)
    return sorted(found)


def expectations(plan: Plan, mappings: Mappings) -> dict[int, Expectation]:
    """What the core says of each case's final inputs (status, conclusion, report id)."""
    recorded = datetime(2020, 1, 1, tzinfo=UTC)
    result = {}
    for case in plan.cases:
        message = parse_json(dumps(case.bundle).encode())
        (interpreted,) = interpret_message(message, mappings, recorded=recorded).cases
        report = interpreted.diagnostic_report
        status = report["status"]
        if case.amended and status == "final" and _first_report_final(case, mappings):
            status = "amended"
        result[case.n] = Expectation(
            status=status,
            conclusion=_codes(report),
            report_id=report["identifier"][0]["value"],
        )
    return result


def _first_report_final(case: SoakCase, mappings: Mappings) -> bool:
    """Whether the report before the amendment was final (then the re-issue says amended)."""
    original = copy.deepcopy(case.bundle)
    for entry in original["entry"]:
        resource = entry["resource"]
        if resource.get("status") in ("amended", "corrected"):
            entry["resource"] = case.original_ihc
    message = parse_json(dumps(original).encode())
    recorded = datetime(2020, 1, 1, tzinfo=UTC)
    (interpreted,) = interpret_message(message, mappings, recorded=recorded).cases
    return bool(interpreted.diagnostic_report["status"] == "final")


def _codes(report: JsonDict) -> list[tuple[str, str]]:
    return sorted(
        (coding.get("system", ""), coding.get("code", ""))
        for concept in report.get("conclusionCode") or []
        for coding in concept.get("coding") or []
    )
