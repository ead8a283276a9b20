"""Values of the interpretation core: the facts it reads (the decision it returns: decision.py).

Everything here is a frozen value: enums, frozen dataclasses and `Decimal`. Reported numbers
are never turned into `float`; they are compared exactly as the laboratory wrote them
(adapter-contract.md 1.2: 1.99 stays below 2.0).

The facts (`Her2Findings`) are what a translation layer (FHIR, HL7 v2) hands to the core:
every value it found for each measure, with the result status and time of the report it came
from. Choosing between several values of one measure (adapter-contract.md 1.3) is a rule, so it
happens in the core, not in the translation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

# --- facts ---------------------------------------------------------------------------------


class ValuesNotAccounted(Exception):
    """A HER2 value that was read is neither decided with nor listed: a bug, never a report.

    Every IHC or ISH input either contributes its value to its case (listed in the results
    used, its source in the report) or its message is refused naming it (issue 18); the
    translation and the core check their counts and raise this where they differ.
    """


class ResultStatus(enum.IntEnum):
    """Status of the report a value came from, ranked for precedence (contract 1.3).

    `amended` and `corrected` share the top rank; `entered-in-error`, `cancelled` and
    `registered` never reach the core (contract 1.1).
    """

    PRELIMINARY = 1
    FINAL = 2
    AMENDED = 3


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value was reported: the input's reference, its status and its time."""

    reference: str  # as the input names it: "Observation/{id}" or the entry's fullUrl
    status: ResultStatus = ResultStatus.FINAL
    issued: datetime | None = None  # `issued`, else `effective[x]`; timezone-aware


class FailedTest(enum.Enum):
    """A test that was done but gave no result (contract 1.2, "Failed test")."""

    FAILED = "failed"


FAILED = FailedTest.FAILED

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Reported(Generic[T_co]):
    """One value of one measure, as one input reported it."""

    value: T_co
    source: Source

    @property
    def preliminary(self) -> bool:
        """Reported in a preliminary report (contract 1.4)."""
        return self.source.status is ResultStatus.PRELIMINARY


class IhcScore(enum.Enum):
    ZERO = "0"
    ONE = "1+"
    TWO = "2+"
    THREE = "3+"
    ZERO_OR_ONE = "0 or 1+"  # an unscored negative answer (contract 1.2)


class IhcSubclass(enum.Enum):
    """Sub-class of IHC 0 (her2-reference.md 2.3); reported only when the input states it."""

    NULL = "null"
    ULTRALOW = "ultralow"


@dataclass(frozen=True, slots=True)
class IhcValue:
    score: IhcScore
    subclass: IhcSubclass | None = None  # only with IhcScore.ZERO
    score_reported: bool = True  # False: a positive / negative / equivocal answer, no score


class Comparator(enum.Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True, slots=True)
class Number:
    """A reported number, exact or bounded ("> 2.2", `valueQuantity.comparator`)."""

    value: Decimal
    comparator: Comparator | None = None

    def __str__(self) -> str:
        return f"{self.comparator.value} {self.value}" if self.comparator else str(self.value)


class IshCall(enum.Enum):
    """A qualitative ISH answer (contract 1.2, "ISH qualitative")."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"  # counts as ISH not given (contract 1.2)


@dataclass(frozen=True, slots=True)
class IshCount:
    """Every value reported for one ISH count (the first count, or the blinded recount)."""

    ratio: tuple[Reported[Number | FailedTest], ...] = ()
    her2_per_cell: tuple[Reported[Number | FailedTest], ...] = ()
    cep17_per_cell: tuple[Reported[Number | FailedTest], ...] = ()
    call: tuple[Reported[IshCall | FailedTest], ...] = ()  # qualitative answer or failed ISH

    def is_empty(self) -> bool:
        return not (self.ratio or self.her2_per_cell or self.cep17_per_cell or self.call)


class SiteGroup(enum.Enum):
    """Which rule set applies (contract 1.4)."""

    BREAST = "breast"
    GASTRIC = "gastric"  # stomach, gastro-oesophageal junction, oesophagus
    OTHER = "other"  # any other named organ: gastric rules, tumour-agnostic practice


@dataclass(frozen=True, slots=True)
class TumourSite:
    group: SiteGroup
    organ: str | None = None  # the organ as named ("oesophagus", "colon"), for the report
    assumed: bool = False  # nothing named a site: breast assumed, flag `site-assumed`
    overridden: bool = False  # set by `--site`


class ReportedStatus(enum.Enum):
    """A HER2 status the sender reported earlier (48676-1); never used to decide (contract 2.6)."""

    POSITIVE = "Positive"
    NEGATIVE = "Negative"
    EQUIVOCAL = "Equivocal"


@dataclass(frozen=True, slots=True)
class Her2Findings:
    """All HER2 facts of one case (one specimen), as reported, before any choice is made."""

    site: TumourSite
    ihc: tuple[Reported[IhcValue | FailedTest], ...] = ()
    first_count: IshCount = field(default_factory=IshCount)
    recount: IshCount = field(default_factory=IshCount)  # method.text "recount" / "blinded"
    reported_status: tuple[Reported[ReportedStatus], ...] = ()
    # Tests reported as not done (dataAbsentReason not-performed ...): absent for the decision
    # (contract 1.2) but listed with the results, so every input the case was sent shows.
    not_done: tuple[Reported[str], ...] = ()  # value: the test, e.g. "IHC", "ISH ratio"

    def reports(self) -> tuple[Reported[object], ...]:
        """Every value of every measure, whatever its field: what the conclusion must list.

        Walks the fields generically, so a measure added later is counted even where the
        code that lists the values forgets it (`interpret` then refuses to report)."""
        found: list[Reported[object]] = []
        for holder in (self, self.first_count, self.recount):
            for item in fields(holder):
                value = getattr(holder, item.name)
                if isinstance(value, tuple):
                    found.extend(v for v in value if isinstance(v, Reported))
        return tuple(found)

    def has_result(self) -> bool:
        """True when the case holds an IHC or ISH value (failed ones included)."""
        return bool(self.ihc) or not self.first_count.is_empty() or not self.recount.is_empty()
