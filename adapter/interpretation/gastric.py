"""Gastric, gastro-oesophageal junction, oesophagus (CAP/ASCP/ASCO 2016) and other sites.

Contract 2.2: positivity is defined by IHC 3+ or an ISH ratio of 2.0 or more; there are no ISH
groups. Sites of the "other" group use the same rules (tumour-agnostic practice) and say so.
A blinded recount is part of the breast work-up only; here the first count decides.
"""

from __future__ import annotations

from typing import Final

from adapter.interpretation import sources as src
from adapter.interpretation.decision import Flag, NextStep, Status
from adapter.interpretation.model import SiteGroup
from adapter.interpretation.readings import Reading
from adapter.interpretation.table import (
    NO_RESULT_ROWS,
    Decision,
    IhcClass,
    IshClass,
    Situation,
    discordant,
    first_match,
    high_copy_number,
    ihc_class,
    ish_class,
    row,
)

SINGLE_PROBE: Final = frozenset({IshClass.SINGLE_HIGH, IshClass.SINGLE_MIDDLE, IshClass.SINGLE_LOW})
C = src.GASTRIC_2016
# ISH discordant with IHC 3+ / with IHC 0: by the ratio here, no groups or single-probe zones
NEGATIVE_ISH: Final = frozenset({IshClass.RATIO_LOW, IshClass.NEGATIVE})
POSITIVE_ISH: Final = frozenset({IshClass.RATIO_HIGH, IshClass.POSITIVE})

GASTRIC_TABLE: Final = (
    row("gastric.ihc-3+", Status.POSITIVE, "IHC 3+ is HER2-positive", C, ihc={IhcClass.THREE}),
    row(
        "gastric.ratio-2-or-more",
        Status.POSITIVE,
        "an ISH ratio of 2.0 or more (or ISH positive) is HER2-positive, whatever the IHC",
        C,
        ish={IshClass.RATIO_HIGH, IshClass.POSITIVE},
    ),
    row(
        "gastric.ratio-below-2",
        Status.NEGATIVE,
        "an ISH ratio below 2.0 (or ISH negative) is HER2-negative unless IHC is 3+",
        C,
        ish={IshClass.RATIO_LOW, IshClass.NEGATIVE},
    ),
    row(
        "gastric.average-without-ratio",
        Status.PENDING,
        "an average HER2 count without a ratio does not decide (positivity is defined by the "
        "ratio; a low average can hide a ratio of 2.0 or more): dual-probe ISH is needed",
        C,
        ish=SINGLE_PROBE,
        next_step=NextStep.DUAL_PROBE_ISH,
    ),
    row(
        "gastric.ihc-0-1",
        Status.NEGATIVE,
        "IHC 0 or 1+ without ISH is HER2-negative",
        C,
        ish={IshClass.NONE},
        ihc={IhcClass.ZERO_ONE},
    ),
    row(
        "gastric.ihc-2",
        Status.EQUIVOCAL,
        "IHC 2+ is equivocal: reflex ISH",
        C,
        ish={IshClass.NONE},
        ihc={IhcClass.TWO},
        next_step=NextStep.REFLEX_ISH,
    ),
    *NO_RESULT_ROWS,
)


def decide(reading: Reading, site: SiteGroup) -> Decision:
    found = Situation(
        ihc=ihc_class(reading.ihc),
        ish=ish_class(reading.first.ish, with_groups=False),
        failed=reading.ihc_failed or reading.first.failed,
    )
    deciding = first_match(GASTRIC_TABLE, found)
    flags, notes, comments = set(), [], []
    if deciding.rule == "gastric.ratio-below-2" and high_copy_number(reading.first.ish):
        flags.add(Flag.COPY_NUMBER_REVIEW)
        notes.append(src.COPY_NUMBER_REVIEW)
    if discordant(reading.ihc, found, NEGATIVE_ISH, POSITIVE_ISH):
        flags.add(Flag.ISH_IHC_DISCORDANT)
        notes.append(src.DISCORDANT)
    ish_only_positive = deciding.status is Status.POSITIVE and found.ihc is not IhcClass.THREE
    if site is SiteGroup.OTHER and ish_only_positive:
        comments.append(src.TUMOUR_AGNOSTIC_RESTS_ON_IHC3)
    return Decision(
        status=deciding.status,
        next_step=deciding.next_step,
        ish_group=None,  # no groups outside breast (her2-reference.md Q12)
        flags=frozenset(flags),
        comments=tuple(comments),
        notes=tuple(notes),
        trace=(deciding.applied,),
    )
