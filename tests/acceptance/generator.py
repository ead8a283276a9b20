"""Seeded generator of contract-shaped HER2 messages, with the status each must get.

An acceptance check of our own, built like the held-out one: random values around every
threshold, in the input shapes of adapter-contract.md 1.2, and an expectation computed by
`oracle`, written straight from the contract's tables (2.1, 2.2, 2.5) and independent of
the core's row tables. Numbers are written as JSON numbers with their exact text.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

D = Decimal
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
IHC_ANSWERS = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}
SITES = {  # site name -> (SNOMED code, text, contract group)
    "breast": ("76752008", "Breast", "breast"),
    "stomach": ("69695003", "Stomach", "gastric"),
    "gej": ("25271004", "Gastro-oesophageal junction", "gastric"),
    "oesophagus": ("32849002", "Oesophagus", "gastric"),
    "colon": ("71854001", "Colon", "other"),
    "lung": ("39607008", "Lung", "other"),
}
RATIOS = ["1.99", "2.0", "2.01", "1.5", "1.8", "2.2", "2.5", "3.1", "0.9", "5.3"]
# Bounds that settle every threshold they meet (her2-reference.md 4.5, first rows).
SETTLED_RATIOS = ["> 2.2", ">= 2.0", "> 2.0", "< 2.0", "less than 1.8", "greater than 2.2", "<1.8"]
SETTLED_AVERAGES = ["> 6.5", ">= 6.0", "< 4.0", "< 3.5"]
AVERAGES = ["3.99", "4.0", "4.01", "5.99", "6.0", "6.01", "2.4", "3.5", "4.8", "7.2", "12.1"]


@dataclass
class Spec:
    """What a generated case holds, in the oracle's terms."""

    site: str | None  # None: no site named (breast assumed)
    ihc: str | None  # "0", "0 ultralow", "0 null", "1+", "2+", "3+", "unsc+", "unsc-", "failed"
    ratio: str | None = None
    her2: str | None = None
    cep17: str | None = None
    call: str | None = None  # "positive" / "negative" / "failed"
    recount: tuple[str, str] | None = None  # (ratio, her2)
    extra: dict[str, Any] = field(default_factory=dict)


WORDS = {"greater than": ">", "less than": "<"}


def point(text: str) -> Decimal:
    """A value standing for a number as written; a bound (which always settles the thresholds
    in these messages) stands for a value just inside it."""
    for word, sign in WORDS.items():
        text = text.replace(word, sign)
    text = text.replace(" ", "")
    for sign, shift in ((">=", D(0)), ("<=", D(0)), (">", D(1)), ("<", D("-0.001"))):
        if text.startswith(sign):
            return D(text[len(sign) :]) + shift
    return D(text)


def _exact_ratio_at_least_2(spec: Spec) -> bool | None:
    if spec.ratio is not None:
        return point(spec.ratio) >= 2
    if spec.her2 is not None and spec.cep17 is not None:
        return point(spec.her2) >= 2 * D(spec.cep17)
    return None


def _group(ratio_high: bool, her2: Decimal) -> int:
    if ratio_high:
        return 1 if her2 >= 4 else 2
    return 3 if her2 >= 6 else (4 if her2 >= 4 else 5)


def oracle(spec: Spec) -> tuple[str, str | None]:
    """(status, category) by the contract's tables, for one case without ties or bounds."""
    ihc = {"unsc+": "3+", "unsc-": "01", "failed": None}.get(spec.ihc or "", spec.ihc)
    score = ihc.split()[0] if ihc else None
    low_ihc = score in ("0", "1+", "01")
    ratio_high = _exact_ratio_at_least_2(spec)
    call = None if spec.call == "failed" else spec.call
    failed = spec.ihc == "failed" or spec.call == "failed"
    group = "breast" if spec.site is None else SITES[spec.site][2]
    if group == "breast":
        status = _breast(score, low_ihc, ratio_high, spec, call, failed)
    else:
        status = _gastric(score, low_ihc, ratio_high, spec, call, failed)
    if group != "breast":
        return status, None
    if status == "Positive":
        return status, "HER2-positive"
    if status != "Negative" or ihc in (None, "01"):
        return status, None
    category = {"1+": "HER2-low", "2+": "HER2-low", "0": "HER2-0"}.get(ihc)
    return status, category or {"0 ultralow": "HER2-ultralow", "0 null": "HER2-null"}[ihc]


def _breast(score, low_ihc, ratio_high, spec, call, failed) -> str:  # type: ignore[no-untyped-def]
    if score == "3+":
        return "Positive"
    if ratio_high is not None and spec.her2 is not None:
        group = _group(ratio_high, point(spec.her2))
        if spec.recount is not None:
            recount = _group(D(spec.recount[0]) >= 2, D(spec.recount[1]))
            if recount != group:
                return "Pending"
        if group == 1:
            return "Positive"
        if group == 5 or low_ihc:
            return "Negative"
        if score is None or spec.recount is None:
            return "Pending"
        return "Positive" if group == 3 else "Negative"
    if spec.her2 is not None:  # single-probe
        her2 = point(spec.her2)
        if her2 >= 6:
            return "Positive"
        return "Negative" if her2 < 4 or low_ihc else "Pending"
    if ratio_high is not None:
        return "Negative" if not ratio_high and low_ihc else "Pending"
    if call is not None:
        return "Positive" if call == "positive" else "Negative"
    if low_ihc:
        return "Negative"
    if score == "2+":
        return "Equivocal"
    return "Indeterminate" if failed else "Pending"


def _gastric(score, low_ihc, ratio_high, spec, call, failed) -> str:  # type: ignore[no-untyped-def]
    if score == "3+":
        return "Positive"
    if ratio_high is not None:
        return "Positive" if ratio_high else "Negative"
    if spec.her2 is not None:
        return "Pending"
    if call is not None:
        return "Positive" if call == "positive" else "Negative"
    if low_ihc:
        return "Negative"
    if score == "2+":
        return "Equivocal"
    return "Indeterminate" if failed else "Pending"


# --- message building ----------------------------------------------------------------------


def Raw(text: str) -> dict[str, str]:  # noqa: N802 - reads as a value constructor
    """A JSON number to be written with its exact decimal text ("2.0" stays "2.0")."""
    return {RAW: text}


RAW = "__exact_number__"
RAW_PATTERN = re.compile(r'\{"' + RAW + r'":"([0-9.eE+-]+)"\}')


def dumps(message: dict[str, Any]) -> str:
    return RAW_PATTERN.sub(r"\1", json.dumps(message, separators=(",", ":")))


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


class MessageBuilder:
    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng, self.n, self.entries = rng, n, []  # type: ignore[var-annotated]
        self.subject = f"Patient/p{n}"
        self.specimen = f"Specimen/s{n}"

    def observation(self, suffix: str, codes: list[str], **fields: Any) -> dict[str, Any]:
        obs = {
            "resourceType": "Observation",
            "id": f"m{self.n}-{suffix}",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": c} for c in codes]},
            "subject": {"reference": self.subject},
            "specimen": {"reference": self.specimen},
            **fields,
        }
        self.entries.append(obs)
        return obs

    def number(self, text: str) -> dict[str, Any]:
        if not text[0].isdigit():  # a bound
            plain = text
            for word, sign in WORDS.items():
                plain = plain.replace(word, sign)
            sign, value = plain[: len(plain) - len(plain.lstrip("<>="))], plain.lstrip("<>= ")
            if self.rng.random() < 0.5 and not any(w in text for w in WORDS):
                return {"valueQuantity": {"value": Raw(value), "comparator": sign}}
            return {"valueString": text}
        shape = self.rng.choice(["qty", "qty-unit", "int-or-str", "qty"])
        if shape == "qty-unit":
            return {"valueQuantity": {"value": Raw(text), "unit": "{ratio}"}}
        if shape == "int-or-str":
            return {"valueString": text}
        return {"valueQuantity": {"value": Raw(text)}}

    def bundle(self, site: str | None) -> dict[str, Any]:
        specimen: dict[str, Any] = {"resourceType": "Specimen", "id": f"s{self.n}"}
        if site is not None:
            code, text, _ = SITES[site]
            body = _coding(SCT, code) if self.rng.random() < 0.6 else {"text": text}
            specimen["collection"] = {"bodySite": body}
        resources = [
            {"resourceType": "Patient", "id": f"p{self.n}"},
            specimen,
            *self.entries,
        ]
        kind = self.rng.choice(["collection", "transaction", "batch", "searchset"])
        entries = []
        for r in resources:
            entry: dict[str, Any] = {
                "fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}",
                "resource": r,
            }
            if kind in ("transaction", "batch"):
                entry["request"] = {"method": "POST", "url": r["resourceType"]}
            entries.append(entry)
        # references by Type/id resolve to the entries (contract 1.3)
        return {"resourceType": "Bundle", "type": kind, "entry": entries}


def ihc_fields(rng: random.Random, ihc: str) -> dict[str, Any]:
    if ihc == "unsc+":
        return {
            "valueCodeableConcept": rng.choice(
                [_coding(LOINC, "LA6576-8"), _coding(SCT, "10828004"), {"text": "positive"}]
            )
        }
    if ihc == "unsc-":
        return {
            "valueCodeableConcept": rng.choice(
                [_coding(LOINC, "LA6577-6"), _coding(SCT, "260385009"), {"text": "negative"}]
            )
        }
    if ihc == "failed":
        return rng.choice(
            [
                {"valueCodeableConcept": _coding(LOINC, "LA11884-6")},
                {"valueCodeableConcept": {"text": "unscorable"}},
                {
                    "dataAbsentReason": _coding(
                        "http://terminology.hl7.org/CodeSystem/data-absent-reason", "error"
                    )
                },
            ]
        )
    score, _, sub = ihc.partition(" ")
    if sub:
        text = rng.choice([f"0 ({sub})", f"0 {sub}"])
        return rng.choice([{"valueString": text}, {"valueCodeableConcept": {"text": text}}])
    shape = rng.choice(["code", "text", "string", "integer", "score-text"])
    if shape == "code":
        return {"valueCodeableConcept": _coding(LOINC, IHC_ANSWERS[score])}
    if shape == "integer":
        return {"valueInteger": int(score[0])}
    text = f"Score {score}" if shape == "score-text" else score
    return {"valueString": text} if shape == "string" else {"valueCodeableConcept": {"text": text}}


def build(spec: Spec, n: int, rng: random.Random) -> dict[str, Any]:
    b = MessageBuilder(rng, n)
    if spec.ihc is not None:
        codes = rng.choice([["85319-2"], ["18474-7"], ["48676-1", "85319-2"]])
        b.observation("ihc", codes, **ihc_fields(rng, spec.ihc))
    numbers = [("49683-6", spec.ratio), ("74860-8", spec.her2), ("74861-6", spec.cep17)]
    numbers = [(code, value) for code, value in numbers if value is not None]
    if numbers:
        shape = rng.choice(["separate", "panel", "members"])
        if shape == "panel":
            b.observation(
                "panel",
                ["74885-5"],
                component=[
                    {"code": _coding(LOINC, code), **b.number(value)} for code, value in numbers
                ],
            )
        else:
            members = [
                b.observation(f"ish-{code}", [code], **b.number(value)) for code, value in numbers
            ]
            if shape == "members":
                for m in members:
                    del m["specimen"]
                b.observation(
                    "panel",
                    ["74885-5"],
                    hasMember=[{"reference": f"Observation/{m['id']}"} for m in members],
                )
    if spec.call is not None:
        value = {
            "positive": rng.choice(
                [_coding(LOINC, "LA6576-8"), _coding(SCT, "52101004"), {"text": "amplified"}]
            ),
            "negative": rng.choice(
                [_coding(LOINC, "LA6577-6"), _coding(SCT, "2667000"), {"text": "not amplified"}]
            ),
            "failed": rng.choice([_coding(LOINC, "LA11884-6"), {"text": "technical failure"}]),
        }[spec.call]
        b.observation(
            "ish", [rng.choice(["85318-4", "31150-6", "96893-3"])], valueCodeableConcept=value
        )
    if spec.recount is not None:
        b.observation(
            "recount",
            ["74885-5"],
            method={"text": rng.choice(["Blinded recount", "second observer, blinded"])},
            component=[
                {
                    "code": _coding(LOINC, "49683-6"),
                    "valueQuantity": {"value": Raw(spec.recount[0])},
                },
                {
                    "code": _coding(LOINC, "74860-8"),
                    "valueQuantity": {"value": Raw(spec.recount[1])},
                },
            ],
        )
    return b.bundle(spec.site)


def random_spec(rng: random.Random) -> Spec:
    site = rng.choice(
        [None, "breast", "breast", "breast", "stomach", "gej", "oesophagus", "colon", "lung"]
    )
    ihc = rng.choice(
        [None, "0", "0 ultralow", "0 null", "1+", "2+", "2+", "3+", "unsc+", "unsc-", "failed"]
    )
    kind = rng.choice(
        ["none", "dual", "dual", "dual", "computed", "single", "ratio", "qual", "recount", "failed"]
    )
    spec = Spec(site, ihc)
    if kind in ("dual", "recount"):
        spec.ratio, spec.her2 = rng.choice(RATIOS), rng.choice(AVERAGES)
        if kind == "dual" and rng.random() < 0.3:
            spec.ratio = rng.choice(SETTLED_RATIOS)
        if kind == "dual" and rng.random() < 0.3:
            spec.her2 = rng.choice(SETTLED_AVERAGES)
    if kind == "recount":
        spec.ihc = "2+"
        spec.recount = (rng.choice(RATIOS), rng.choice(AVERAGES))
    if kind == "computed":
        spec.her2 = rng.choice(AVERAGES)
        spec.cep17 = rng.choice(["1.0", "2.0", "2.005", "3.0", "1.995", "2.5", "3.02"])
    if kind == "single":
        spec.her2 = rng.choice(AVERAGES)
    if kind == "ratio":
        spec.ratio = rng.choice(RATIOS)
    if kind == "qual":
        spec.call = rng.choice(["positive", "negative"])
    if kind == "failed":
        spec.call = "failed"
    if spec.ihc is None and kind == "none":
        spec.ihc = "1+"
    return spec
