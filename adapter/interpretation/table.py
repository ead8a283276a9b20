"""The shape of a decision table: what a reading is classed as, and one row of a table.

A table is an ordered tuple of `Row`s; the first row whose every column matches the reading
decides. Each row carries its rule id, its sentence and its guideline citation, so the
explanation trace is the list of rows that fired.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from adapter.interpretation.decision import (
    Citation,
    Comment,
    Flag,
    IshGroup,
    NextStep,
    RuleApplied,
    Status,
)
from adapter.interpretation.ish import (
    AVERAGE_HIGH,
    RATIO_CUT,
    IshKind,
    IshReading,
    SingleProbeZone,
    dual_probe_group,
    single_probe_zone,
)
from adapter.interpretation.model import IhcScore, IhcValue, IshCall
from adapter.interpretation.sources import FAILED_TESTS, NOTHING_USABLE


class IhcClass(enum.Enum):
    THREE = "IHC 3+"
    TWO = "IHC 2+"
    ZERO_ONE = "IHC 0 or 1+"
    NONE = "no IHC"


class IshClass(enum.Enum):
    G1 = "ISH group 1"
    G2 = "ISH group 2"
    G3 = "ISH group 3"
    G4 = "ISH group 4"
    G5 = "ISH group 5"
    RATIO_HIGH = "ISH ratio >= 2.0"  # ratio without a group (breast: no average)
    RATIO_LOW = "ISH ratio < 2.0"
    SINGLE_HIGH = "single-probe average >= 6.0"
    SINGLE_MIDDLE = "single-probe average >= 4.0 and < 6.0"
    SINGLE_LOW = "single-probe average < 4.0"
    POSITIVE = "ISH positive (no numbers)"
    NEGATIVE = "ISH negative (no numbers)"
    NONE = "no usable ISH"


class RecountClass(enum.Enum):
    NONE = "no recount"
    SAME = "recount in the same group"
    OTHER = "recount in another group"


GROUP_CLASS: Final = {
    IshGroup.G1: IshClass.G1,
    IshGroup.G2: IshClass.G2,
    IshGroup.G3: IshClass.G3,
    IshGroup.G4: IshClass.G4,
    IshGroup.G5: IshClass.G5,
}
CLASS_GROUP: Final = {cls: group for group, cls in GROUP_CLASS.items()}
SINGLE_CLASS: Final = {
    SingleProbeZone.HIGH: IshClass.SINGLE_HIGH,
    SingleProbeZone.MIDDLE: IshClass.SINGLE_MIDDLE,
    SingleProbeZone.LOW: IshClass.SINGLE_LOW,
}
GROUPS_2_TO_4: Final = frozenset({IshClass.G2, IshClass.G3, IshClass.G4})
ANY_IHC: Final = frozenset(IhcClass)
ANY_ISH: Final = frozenset(IshClass)
ANY_RECOUNT: Final = frozenset(RecountClass)


def ihc_class(ihc: IhcValue | None) -> IhcClass:
    if ihc is None:
        return IhcClass.NONE
    return {
        IhcScore.THREE: IhcClass.THREE,
        IhcScore.TWO: IhcClass.TWO,
    }.get(ihc.score, IhcClass.ZERO_ONE)


def ish_class(reading: IshReading, *, with_groups: bool) -> IshClass:
    """Class of one count; `with_groups` False reads a dual-probe count by its ratio only."""
    kind = reading.kind
    if kind is IshKind.DUAL_PROBE and with_groups:
        assert reading.ratio is not None
        assert reading.her2 is not None
        return GROUP_CLASS[dual_probe_group(reading.ratio, reading.her2)]
    if kind in (IshKind.DUAL_PROBE, IshKind.RATIO_ONLY):
        assert reading.ratio is not None
        return IshClass.RATIO_HIGH if reading.ratio >= RATIO_CUT else IshClass.RATIO_LOW
    if kind is IshKind.SINGLE_PROBE:
        assert reading.her2 is not None
        return SINGLE_CLASS[single_probe_zone(reading.her2)]
    if kind is IshKind.QUALITATIVE:
        return IshClass.POSITIVE if reading.call is IshCall.POSITIVE else IshClass.NEGATIVE
    return IshClass.NONE  # nothing, or a CEP17 average alone, which decides nothing


def high_copy_number(reading: IshReading) -> bool:
    return reading.her2 is not None and reading.her2 >= AVERAGE_HIGH


@dataclass(frozen=True, slots=True)
class Situation:
    """What a table row is matched against."""

    ihc: IhcClass
    ish: IshClass
    recount: RecountClass = RecountClass.NONE
    failed: bool = False  # some test failed (matters only when nothing remains)


@dataclass(frozen=True, slots=True)
class Row:
    rule: str
    ihc: frozenset[IhcClass]
    ish: frozenset[IshClass]
    recount: frozenset[RecountClass]
    status: Status
    next_step: NextStep | None
    statement: str
    citation: Citation
    failed: bool | None = None  # None: either

    def matches(self, situation: Situation) -> bool:
        return (
            situation.ihc in self.ihc
            and situation.ish in self.ish
            and situation.recount in self.recount
            and (self.failed is None or self.failed == situation.failed)
        )

    @property
    def applied(self) -> RuleApplied:
        return RuleApplied(self.rule, self.statement, self.citation)


def row(
    rule: str,
    status: Status,
    statement: str,
    citation: Citation,
    *,
    ihc: frozenset[IhcClass] | set[IhcClass] = ANY_IHC,
    ish: frozenset[IshClass] | set[IshClass] = ANY_ISH,
    recount: frozenset[RecountClass] | set[RecountClass] = ANY_RECOUNT,
    next_step: NextStep | None = None,
    failed: bool | None = None,
) -> Row:
    return Row(
        rule,
        frozenset(ihc),
        frozenset(ish),
        frozenset(recount),
        status,
        next_step,
        statement,
        citation,
        failed,
    )


# The last rows of every table (contract 2.1, and 2.2 "failed tests as in 2.1"): when no IHC
# and no ISH remains, a failed test makes the case Indeterminate; with nothing failed (an ISH
# reported only as "equivocal", or a CEP17 count alone), no status exists yet.
NO_RESULT_ROWS: Final = (
    row(
        "any-site.every-test-failed",
        Status.INDETERMINATE,
        "every test failed: the specimen cannot be assessed",
        FAILED_TESTS,
        ish={IshClass.NONE},
        ihc={IhcClass.NONE},
        failed=True,
    ),
    row(
        "any-site.nothing-usable",
        Status.PENDING,
        "no usable IHC or ISH result remains (an 'equivocal' ISH or a CEP17 count alone "
        "decides nothing): IHC on the same tissue is needed",
        NOTHING_USABLE,
        ish={IshClass.NONE},
        ihc={IhcClass.NONE},
        failed=False,
        next_step=NextStep.IHC_SAME_TISSUE,
    ),
)


def first_match(table: tuple[Row, ...], situation: Situation) -> Row:
    """The deciding row. Tables end in rows covering every situation, so one always matches."""
    return next(r for r in table if r.matches(situation))


def discordant(
    ihc: IhcValue | None,
    found: Situation,
    against_ihc_3: frozenset[IshClass],
    against_ihc_0: frozenset[IshClass],
) -> bool:
    """IHC 3+ meeting a negative ISH class, or IHC 0 (scored 0, not "0 or 1+") meeting a
    positive one; each table names its classes (contract 2.1; her2-reference.md Q11)."""
    if found.ihc is IhcClass.THREE:
        return found.ish in against_ihc_3
    return ihc is not None and ihc.score is IhcScore.ZERO and found.ish in against_ihc_0


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one reading under one table."""

    status: Status
    next_step: NextStep | None
    ish_group: IshGroup | None
    flags: frozenset[Flag]
    comments: tuple[Comment, ...]  # depend on this reading's status
    notes: tuple[Comment, ...]  # hold whatever the status (failed tests, discordance, ...)
    trace: tuple[RuleApplied, ...]
