"""The case model: what one HER2 case reports, in the contracts' terms, before any spelling.

A case is a specimen's reports (adapter-contract.md 1.1-1.3): each report one value of one
measure (IHC score, ISH ratio, HER2 average, CEP17 average, qualitative ISH answer), with the
status and time of the Observation or OBX that carried it, withdrawn or not, first count or
blinded recount; and the organ the message names (1.4). The renderers spell these
facts as FHIR JSON or HL7 v2; the oracle decides them; neither looks at the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final


class Measure(enum.Enum):
    IHC = "ihc"
    RATIO = "ratio"
    HER2 = "her2"  # average HER2 signals per cell
    CEP17 = "cep17"  # average CEP17 signals per cell
    CALL = "call"  # qualitative ISH answer

    @property
    def is_number(self) -> bool:
        return self in (Measure.RATIO, Measure.HER2, Measure.CEP17)


class Status(enum.Enum):
    """The status of the Observation (OBX-11) that reported a value (contract 1.3)."""

    PRELIMINARY = "preliminary"
    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"

    @property
    def rank(self) -> int:
        """`amended` or `corrected` beats `final` beats `preliminary`."""
        return {"preliminary": 1, "final": 2}.get(self.value, 3)


class Mark(enum.Enum):
    """A test that gave no value: failed (counts as absent, named) or not performed."""

    FAILED = "failed"
    NOT_PERFORMED = "not-performed"  # dataAbsentReason not-performed: absent, not failed


SCORES: Final = ("0", "1+", "2+", "3+")
SUBCLASSES: Final = ("null", "ultralow")
ANSWERS: Final = ("positive", "negative", "equivocal")  # unscored IHC, or qualitative ISH
COMPARATORS: Final = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Score:
    """An IHC score; `subclass` only with score 0."""

    score: str
    subclass: str | None = None


@dataclass(frozen=True, slots=True)
class Unscored:
    """An IHC answer without a score: positive (3+), negative (0 or 1+), equivocal (2+)."""

    answer: str


@dataclass(frozen=True, slots=True)
class Call:
    """A qualitative ISH answer: positive, negative, or equivocal (counts as not given)."""

    answer: str


@dataclass(frozen=True, slots=True)
class Number:
    """An ISH number as written ("2.0" stays "2.0"), exact or bounded."""

    text: str
    comparator: str | None = None

    @property
    def value(self) -> Decimal:
        return Decimal(self.text)

    def __str__(self) -> str:
        return f"{self.comparator} {self.text}" if self.comparator else self.text


Value = Score | Unscored | Call | Number | Mark


def value_text(value: Value) -> str:
    """A value as a person writes it: "0 ultralow", "unscored negative", "< 2.2", "failed"."""
    if isinstance(value, Score):
        return f"{value.score} {value.subclass or ''}".strip()
    if isinstance(value, Unscored):
        return f"unscored {value.answer}"
    if isinstance(value, Call):
        return value.answer
    return value.value if isinstance(value, Mark) else str(value)


@dataclass(frozen=True, slots=True)
class Report:
    """One value of one measure as one input reported it."""

    measure: Measure
    value: Value
    status: Status = Status.FINAL
    time: datetime | None = None  # `issued` / `effective[x]`; OBX-14
    withdrawn: bool = False  # entered-in-error; OBX-11 X/D/W
    recount: bool = False  # blinded recount (method.text), never in v2

    @property
    def live(self) -> bool:
        """A report the case is decided with (before precedence)."""
        return not self.withdrawn and self.value is not Mark.NOT_PERFORMED

    def __str__(self) -> str:
        text = value_text(self.value)
        when = self.time.strftime("%d %b") if self.time else ""
        marks = [self.status.value, when, "withdrawn" * self.withdrawn, "recount" * self.recount]
        return f"{self.measure.value} {text} ({', '.join(m for m in marks if m)})"


@dataclass(frozen=True, slots=True)
class Organ:
    snomed: str
    texts: tuple[str, ...]
    group: str  # breast / gastric / other


# Contract 1.4 names the first seven; "any other named organ" is other (issue 18, class 3).
ORGANS: Final = {
    "breast": Organ("76752008", ("Breast", "Left breast", "Breast structure"), "breast"),
    "stomach": Organ("69695003", ("Stomach", "Stomach structure"), "gastric"),
    "gej": Organ("25271004", ("Gastro-oesophageal junction",), "gastric"),
    "oesophagus": Organ("32849002", ("Oesophagus",), "gastric"),
    "colon": Organ("71854001", ("Colon",), "other"),
    "rectum": Organ("34402009", ("Rectum",), "other"),
    "lung": Organ("39607008", ("Lung",), "other"),
    "bladder": Organ("89837001", ("Urinary bladder",), "other"),
    "kidney": Organ("64033007", ("Kidney",), "other"),
    "ovary": Organ("15497006", ("Ovary",), "other"),
    "endometrium": Organ("2739003", ("Endometrium",), "other"),
}


@dataclass(frozen=True, slots=True)
class Case:
    """One specimen's reports, the organ the message names (a key of ORGANS; None: nothing
    names one, breast assumed) and a 48676-1 answer reported earlier, if any."""

    reports: tuple[Report, ...]
    organ: str | None = "breast"
    reported_status: str | None = None

    @property
    def site_group(self) -> str:
        return "breast" if self.organ is None else ORGANS[self.organ].group

    def __str__(self) -> str:
        reported = f"; 48676-1 {self.reported_status}" if self.reported_status else ""
        return f"{self.organ or 'no organ'}: " + "; ".join(map(str, self.reports)) + reported

    def live(self, measure: Measure, *, recount: bool = False) -> list[Report]:
        return [r for r in self.reports if r.measure is measure and r.recount is recount and r.live]

    @property
    def has_recount(self) -> bool:
        return any(r.recount for r in self.reports)

    @property
    def has_not_performed(self) -> bool:
        return any(r.value is Mark.NOT_PERFORMED for r in self.reports)
