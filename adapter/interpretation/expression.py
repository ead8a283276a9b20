"""The HER2 expression category and the eligibility comments of a breast result.

Contract 2.4 and 2.5 (her2-reference.md 2.4, 3.4): a reporting comment beside the status, never
a replacement for it. Breast only; Equivocal, Pending and Indeterminate get none, and neither
does a Negative whose IHC score is unknown (no IHC, a failed IHC, an unscored negative).
"""

from __future__ import annotations

from typing import Final

from adapter.interpretation import sources as src
from adapter.interpretation.decision import Category, Comment, Status
from adapter.interpretation.model import IhcScore, IhcSubclass, IhcValue

ZERO_CATEGORY: Final = {
    IhcSubclass.ULTRALOW: Category.HER2_ULTRALOW,
    IhcSubclass.NULL: Category.HER2_NULL,
    None: Category.HER2_0,
}


def category(status: Status, ihc: IhcValue | None) -> Category | None:
    """The category of a breast result (contract 2.5)."""
    if status is Status.POSITIVE:
        return Category.HER2_POSITIVE
    if status is not Status.NEGATIVE or ihc is None:
        return None
    if ihc.score in (IhcScore.ONE, IhcScore.TWO):
        return Category.HER2_LOW
    if ihc.score is IhcScore.ZERO:
        return ZERO_CATEGORY[ihc.subclass]
    return None  # "0 or 1+" from an unscored negative: 0 versus low is unknown


def eligibility_comments(status: Status, ihc: IhcValue | None) -> tuple[Comment, ...]:
    """The 2023 HER2-low comment, the 2025 ultralow note, or the note that a score is needed."""
    if status is not Status.NEGATIVE:
        return ()
    match category(status, ihc):
        case Category.HER2_LOW:
            return (src.HER2_LOW_2023,)
        case Category.HER2_ULTRALOW:
            return (src.ULTRALOW_NOTE,)
        case None:
            return (src.SCORE_NEEDED,)
        case _:
            return ()
