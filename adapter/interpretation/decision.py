"""The decision the core returns for one case: its status, next step, ISH group, category,
flags, and the trace a pathologist checks it by (the rules applied, with their citations).

Everything here is a frozen value, as in `model.py` (the facts the core reads).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from adapter.interpretation.model import TumourSite


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
