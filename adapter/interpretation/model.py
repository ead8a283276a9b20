"""Values of the interpretation core: the facts it reads and the interpretation it returns.

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


# --- the interpretation ----------------------------------------------------------------------


class Status(enum.Enum):
    POSITIVE = "Positive"
    NEGATIVE = "Negative"
    EQUIVOCAL = "Equivocal"
    INDETERMINATE = "Indeterminate"
    PENDING = "Pending"


class NextStep(enum.Enum):
    """What the laboratory does next (contract 2.3; codes exactly as written there)."""

    REFLEX_ISH = "reflex-ish"
    IHC_SAME_TISSUE = "ihc-same-tissue"
    BLINDED_RECOUNT = "blinded-recount"
    ADJUDICATION = "adjudication"
    DUAL_PROBE_ISH = "dual-probe-ish"
    HER2_AVERAGE = "her2-average"


class IshGroup(enum.IntEnum):
    """Dual-probe ISH groups of ASCO/CAP 2018, Figure 3."""

    G1 = 1
    G2 = 2
    G3 = 3
    G4 = 4
    G5 = 5


class Category(enum.Enum):
    """HER2 expression category: a reporting comment, never a status (contract 2.5)."""

    HER2_POSITIVE = "HER2-positive"
    HER2_LOW = "HER2-low"
    HER2_ULTRALOW = "HER2-ultralow"
    HER2_NULL = "HER2-null"
    HER2_0 = "HER2-0"


class Flag(enum.Enum):
    """Flags of contract sections 1-2, carried as output components."""

    RATIO_COMPUTED = "ratio-computed"
    SITE_ASSUMED = "site-assumed"
    IHC_SCORE_NOT_REPORTED = "ihc-score-not-reported"
    BOUND_NOT_DECISIVE = "bound-not-decisive"
    CONFLICTING_RESULTS = "conflicting-results"
    ISH_VALUES_INCONSISTENT = "ish-values-inconsistent"
    FAILED_TEST = "failed-test"
    NO_ISH_GROUP = "no-ish-group"
    ISH_IHC_DISCORDANT = "ish-ihc-discordant"
    COPY_NUMBER_REVIEW = "copy-number-review"
    REPORTED_STATUS_DIFFERS = "reported-status-differs"


class Guideline(enum.Enum):
    ASCO_CAP_2018 = "ASCO/CAP 2018 (Wolff et al., J Clin Oncol 2018;36:2105)"
    ASCO_CAP_2023 = "ASCO/CAP 2023 (Wolff et al., J Clin Oncol 2023;41:3867)"
    CAP_ASCP_ASCO_2016 = "CAP/ASCP/ASCO 2016 (Bartley et al., Arch Pathol Lab Med 2016;140:1345)"
    FDA_2024_TUMOUR_AGNOSTIC = "US FDA 2024, trastuzumab deruxtecan in IHC 3+ solid tumours"
    FDA_2025_ULTRALOW = (
        "US FDA 2025, trastuzumab deruxtecan in HER2-low/-ultralow (DESTINY-Breast06)"
    )
    CONTRACT = "adapter contract"


@dataclass(frozen=True, slots=True)
class Citation:
    guideline: Guideline
    section: str

    def __str__(self) -> str:
        return f"{self.guideline.value}, {self.section}"


@dataclass(frozen=True, slots=True)
class RuleApplied:
    """One step of the explanation trace: which rule fired, in words, and its source."""

    rule: str  # stable id, e.g. "breast.ihc-3+"
    statement: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Comment:
    """A sentence the conclusion must carry (group comments, 2023 comment, ...)."""

    key: str
    text: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class ChoiceOutcome:
    """One way of reading a case decided over several choices (contract 1.2, 1.3)."""

    description: str  # the values chosen, e.g. "IHC 2+; ratio < 2.0 (from <= 2.0)"
    status: Status
    next_step: NextStep | None
    ish_group: IshGroup | None


@dataclass(frozen=True, slots=True)
class Interpretation:
    """The decision for one case, with everything a pathologist needs to check it."""

    status: Status
    next_step: NextStep | None
    ish_group: IshGroup | None
    category: Category | None
    flags: tuple[Flag, ...]  # in Flag declaration order, no repeats
    comments: tuple[Comment, ...]
    trace: tuple[RuleApplied, ...]
    facts: tuple[str, ...]  # the values used, as sentences ("IHC score 2+ (Observation/a)")
    site: TumourSite
    preliminary: bool  # a value chosen to decide came from a preliminary report (contract 1.4)
    choices: tuple[ChoiceOutcome, ...] = ()  # more than one only when decided over choices
    sources: tuple[str, ...] = ()  # references of the values the decision used
    readings: tuple[str, ...] = ()  # the values decided with, one line per way of reading

    @property
    def is_final(self) -> bool:
        """Output status `final` (contract 2.3): not Equivocal, not Pending, not preliminary."""
        return self.status not in (Status.EQUIVOCAL, Status.PENDING) and not self.preliminary
