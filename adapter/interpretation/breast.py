"""Breast: ASCO/CAP 2018 (affirmed 2023), as adapter-contract.md 2.1 tabulates it.

One row per line of the contract's table; the first row that matches decides. The recount rows
follow her2-reference.md Q6: IHC 3+ decides whatever the counts; otherwise counts in different
groups go to adjudication with no group.
"""

from __future__ import annotations

from typing import Final

from adapter.interpretation import sources as src
from adapter.interpretation.decision import Flag, IshGroup, NextStep, Status
from adapter.interpretation.ish import IshKind, group_of
from adapter.interpretation.readings import Reading
from adapter.interpretation.table import (
    ANY_IHC,
    CLASS_GROUP,
    GROUPS_2_TO_4,
    NO_RESULT_ROWS,
    Decision,
    IhcClass,
    IshClass,
    RecountClass,
    Situation,
    discordant,
    first_match,
    ihc_class,
    ish_class,
    row,
)

NOT_3 = ANY_IHC - {IhcClass.THREE}
# ISH classes discordant with IHC 3+ / with IHC 0 (contract 2.1; her2-reference.md Q11)
NEGATIVE_ISH: Final = frozenset({IshClass.G5, IshClass.NEGATIVE, IshClass.SINGLE_LOW})
POSITIVE_ISH: Final = frozenset({IshClass.G1, IshClass.POSITIVE, IshClass.SINGLE_HIGH})

BREAST_TABLE: Final = (
    row(
        "breast.ihc-3+",
        Status.POSITIVE,
        "IHC 3+ is HER2-positive, whatever the ISH",
        src.FIG1_IHC,
        ihc={IhcClass.THREE},
    ),
    row(
        "breast.recount-other-group",
        Status.PENDING,
        "the blinded recount falls in another group than the first count: the laboratory "
        "adjudicates",
        src.FIGS4_6_WORKUP,
        ihc=NOT_3,
        recount={RecountClass.OTHER},
        next_step=NextStep.ADJUDICATION,
    ),
    row(
        "breast.group-1",
        Status.POSITIVE,
        "ISH group 1 is HER2-positive, whatever the IHC",
        src.FIG3_GROUPS,
        ish={IshClass.G1},
    ),
    row(
        "breast.group-5",
        Status.NEGATIVE,
        "ISH group 5 is HER2-negative unless IHC is 3+",
        src.FIG3_GROUPS,
        ish={IshClass.G5},
    ),
    row(
        "breast.groups-2-4-no-ihc",
        Status.PENDING,
        "ISH group 2, 3 or 4 needs IHC on sections of the same tissue",
        src.FIGS4_6_WORKUP,
        ish=GROUPS_2_TO_4,
        ihc={IhcClass.NONE},
        next_step=NextStep.IHC_SAME_TISSUE,
    ),
    row(
        "breast.groups-2-4-ihc-0-1",
        Status.NEGATIVE,
        "ISH group 2, 3 or 4 with IHC 0 or 1+ is HER2-negative, with the group's comment",
        src.FIGS4_6_WORKUP,
        ish=GROUPS_2_TO_4,
        ihc={IhcClass.ZERO_ONE},
    ),
    row(
        "breast.groups-2-4-ihc-2-no-recount",
        Status.PENDING,
        "ISH group 2, 3 or 4 with IHC 2+ needs a blinded recount by a second observer",
        src.FIGS4_6_WORKUP,
        ish=GROUPS_2_TO_4,
        ihc={IhcClass.TWO},
        recount={RecountClass.NONE},
        next_step=NextStep.BLINDED_RECOUNT,
    ),
    row(
        "breast.group-3-ihc-2-recount-agrees",
        Status.POSITIVE,
        "ISH group 3 with IHC 2+, confirmed by the blinded recount, is HER2-positive",
        src.FIG5_GROUP3,
        ish={IshClass.G3},
        ihc={IhcClass.TWO},
        recount={RecountClass.SAME},
    ),
    row(
        "breast.groups-2-4-ihc-2-recount-agrees",
        Status.NEGATIVE,
        "ISH group 2 or 4 with IHC 2+, confirmed by the blinded recount, is HER2-negative, "
        "with the group's comment",
        src.FIGS4_6_WORKUP,
        ish={IshClass.G2, IshClass.G4},
        ihc={IhcClass.TWO},
        recount={RecountClass.SAME},
    ),
    row(
        "breast.single-probe-6+",
        Status.POSITIVE,
        "single-probe average HER2 of 6.0 or more is positive",
        src.FIG2_SINGLE_PROBE,
        ish={IshClass.SINGLE_HIGH},
    ),
    row(
        "breast.single-probe-below-4",
        Status.NEGATIVE,
        "single-probe average HER2 below 4.0 is negative unless IHC is 3+",
        src.FIG2_SINGLE_PROBE,
        ish={IshClass.SINGLE_LOW},
    ),
    row(
        "breast.single-probe-4-6-ihc-0-1",
        Status.NEGATIVE,
        "single-probe average HER2 of 4.0 to below 6.0 with IHC 0 or 1+ is negative",
        src.FIG2_SINGLE_PROBE,
        ish={IshClass.SINGLE_MIDDLE},
        ihc={IhcClass.ZERO_ONE},
    ),
    row(
        "breast.single-probe-4-6",
        Status.PENDING,
        "single-probe average HER2 of 4.0 to below 6.0 with IHC 2+ or no IHC needs a "
        "dual-probe ISH",
        src.FIG2_SINGLE_PROBE,
        ish={IshClass.SINGLE_MIDDLE},
        next_step=NextStep.DUAL_PROBE_ISH,
    ),
    row(
        "breast.ish-positive",
        Status.POSITIVE,
        "ISH reported positive without numbers is read as group 1 (no group assigned)",
        src.FIG3_GROUPS,
        ish={IshClass.POSITIVE},
    ),
    row(
        "breast.ish-negative",
        Status.NEGATIVE,
        "ISH reported negative without numbers is read as group 5 (no group assigned)",
        src.FIG3_GROUPS,
        ish={IshClass.NEGATIVE},
    ),
    row(
        "breast.ratio-below-2-ihc-0-1",
        Status.NEGATIVE,
        "a ratio below 2.0 without the HER2 average is group 3, 4 or 5; with IHC 0 or 1+ each "
        "of them is negative",
        src.FIG3_GROUPS,
        ish={IshClass.RATIO_LOW},
        ihc={IhcClass.ZERO_ONE},
    ),
    row(
        "breast.ratio-without-average",
        Status.PENDING,
        "a ratio without the average HER2 count leaves the group open: the average is needed",
        src.FIG3_GROUPS,
        ish={IshClass.RATIO_LOW, IshClass.RATIO_HIGH},
        next_step=NextStep.HER2_AVERAGE,
    ),
    row(
        "breast.ihc-0-1",
        Status.NEGATIVE,
        "IHC 0 or 1+ without ISH is HER2-negative",
        src.FIG1_IHC,
        ish={IshClass.NONE},
        ihc={IhcClass.ZERO_ONE},
    ),
    row(
        "breast.ihc-2",
        Status.EQUIVOCAL,
        "IHC 2+ is equivocal: reflex ISH on the same specimen",
        src.FIG1_IHC,
        ish={IshClass.NONE},
        ihc={IhcClass.TWO},
        next_step=NextStep.REFLEX_ISH,
    ),
    *NO_RESULT_ROWS,
)


def situation(reading: Reading) -> tuple[Situation, IshGroup | None]:
    """Class a reading for the breast table, with the ISH group to report."""
    first = ish_class(reading.first.ish, with_groups=True)
    recount = RecountClass.NONE
    if reading.recount is not None and reading.recount.ish.kind is not IshKind.NONE:
        recount_group = group_of(reading.recount.ish)
        same = recount_group is not None and recount_group == CLASS_GROUP.get(first)
        recount = RecountClass.SAME if same else RecountClass.OTHER
    failed = reading.ihc_failed or reading.first.failed
    return Situation(ihc_class(reading.ihc), first, recount, failed), CLASS_GROUP.get(first)


def decide(reading: Reading) -> Decision:
    found, group = situation(reading)
    deciding = first_match(BREAST_TABLE, found)
    if deciding.next_step is NextStep.ADJUDICATION:
        group = None  # counts in different groups: no group (her2-reference.md Q6)
    flags = set()
    notes = []
    if found.ish in (IshClass.POSITIVE, IshClass.NEGATIVE):
        flags.add(Flag.NO_ISH_GROUP)
        notes.append(src.QUALITATIVE_ISH)
    if discordant(reading.ihc, found, NEGATIVE_ISH, POSITIVE_ISH):
        flags.add(Flag.ISH_IHC_DISCORDANT)
        notes.append(src.DISCORDANT)
    comments = []
    if deciding.status is Status.NEGATIVE and group in (IshGroup.G2, IshGroup.G3, IshGroup.G4):
        comments.append(src.GROUP_COMMENTS[int(group)])
    return Decision(
        status=deciding.status,
        next_step=deciding.next_step,
        ish_group=group,
        flags=frozenset(flags),
        comments=tuple(comments),
        notes=tuple(notes),
        trace=(deciding.applied,),
    )
