"""ISH: what one count says, its dual-probe group, and the single-probe zones.

Thresholds are written exactly as the figures write them: ">=" and "<" (her2-reference.md 3.1);
a value on a threshold falls on the ">=" side.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from adapter.interpretation.decision import Citation, IshGroup
from adapter.interpretation.model import IshCall
from adapter.interpretation.sources import FIG3_GROUPS

RATIO_CUT: Final = Fraction(2)  # HER2/CEP17 ratio >= 2.0
AVERAGE_LOW: Final = Fraction(4)  # average HER2 signals per cell >= 4.0
AVERAGE_HIGH: Final = Fraction(6)  # average HER2 signals per cell >= 6.0


class IshKind(enum.Enum):
    """What one ISH count holds once failed and unusable values are set aside."""

    DUAL_PROBE = "dual-probe"  # ratio (reported or computed) and average HER2
    RATIO_ONLY = "ratio without HER2 average"
    SINGLE_PROBE = "single-probe"  # average HER2, no CEP17, no ratio
    QUALITATIVE = "qualitative"  # positive / negative call, no numbers
    CEP17_ONLY = "CEP17 average only"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class IshReading:
    """One ISH count as decided in one choice: point values, no bounds left."""

    ratio: Fraction | None = None
    her2: Fraction | None = None
    cep17: Fraction | None = None
    call: IshCall | None = None  # only POSITIVE / NEGATIVE reach here

    @property
    def kind(self) -> IshKind:
        # Numbers decide when present (her2-reference.md 4.2); a ratio is always dual-probe
        # material, even when bounded (contract 1.2).
        if self.ratio is not None:
            return IshKind.DUAL_PROBE if self.her2 is not None else IshKind.RATIO_ONLY
        if self.her2 is not None:  # with a CEP17 average the ratio would have been computed
            return IshKind.SINGLE_PROBE
        if self.call is not None:
            return IshKind.QUALITATIVE
        return IshKind.CEP17_ONLY if self.cep17 is not None else IshKind.NONE


@dataclass(frozen=True, slots=True)
class GroupRow:
    group: IshGroup
    ratio: Callable[[Fraction], bool]
    her2: Callable[[Fraction], bool]
    citation: Citation


DUAL_PROBE_GROUPS: Final = (
    #        group        ratio                  HER2 signals per cell
    GroupRow(IshGroup.G1, lambda r: r >= RATIO_CUT, lambda h: h >= AVERAGE_LOW, FIG3_GROUPS),
    GroupRow(IshGroup.G2, lambda r: r >= RATIO_CUT, lambda h: h < AVERAGE_LOW, FIG3_GROUPS),
    GroupRow(IshGroup.G3, lambda r: r < RATIO_CUT, lambda h: h >= AVERAGE_HIGH, FIG3_GROUPS),
    GroupRow(
        IshGroup.G4,
        lambda r: r < RATIO_CUT,
        lambda h: AVERAGE_LOW <= h < AVERAGE_HIGH,
        FIG3_GROUPS,
    ),
    GroupRow(IshGroup.G5, lambda r: r < RATIO_CUT, lambda h: h < AVERAGE_LOW, FIG3_GROUPS),
)


def dual_probe_group(ratio: Fraction, her2: Fraction) -> IshGroup:
    """The one ASCO/CAP 2018 Figure 3 group a ratio and average fall in."""
    (row,) = (row for row in DUAL_PROBE_GROUPS if row.ratio(ratio) and row.her2(her2))
    return row.group


def group_of(reading: IshReading) -> IshGroup | None:
    """The dual-probe group of a count, or None when it has no ratio and average."""
    if reading.kind is not IshKind.DUAL_PROBE:
        return None
    assert reading.ratio is not None  # by IshKind.DUAL_PROBE
    assert reading.her2 is not None
    return dual_probe_group(reading.ratio, reading.her2)


class SingleProbeZone(enum.Enum):
    """ASCO/CAP 2018 Figure 2: average HER2 signals per cell on a single-probe assay."""

    HIGH = ">= 6.0"
    MIDDLE = ">= 4.0 and < 6.0"
    LOW = "< 4.0"


def single_probe_zone(her2: Fraction) -> SingleProbeZone:
    if her2 >= AVERAGE_HIGH:
        return SingleProbeZone.HIGH
    return SingleProbeZone.MIDDLE if her2 >= AVERAGE_LOW else SingleProbeZone.LOW
