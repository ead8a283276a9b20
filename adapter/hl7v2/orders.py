"""Orders and specimens of an ORU^R01 (hl7v2-contract.md 3, "Orders and specimens").

Each OBR starts an order; the OBX after it belong to it, also those inside a following SPM
group. The specimen of an OBX is the SPM whose group it sits in; an OBX before its order's first
SPM takes that first SPM; without any SPM, the order's OBR-3.1 (filler order number, the
accession), else OBR-2.1. The key is namespaced by the sending facility (MSH-4.1). An OBX before
any OBR has no specimen: it is named by the message (MSH-10) and grouped by its subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from adapter.hl7v2.parse import ParsedMessage

_ISH_WORDS: Final = re.compile(r"\b(ISH|FISH|CISH|SISH|DISH)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SpecimenKey:
    """A specimen as v2 names it: its value (SPM-2 or OBR-3.1/2.1) within the sender."""

    facility: str
    value: str
    source: str  # "SPM-2", "OBR-3", "OBR-2" or "MSH-10" (no order)

    @property
    def key(self) -> str:
        """The correlation key: `<facility>|<value>` (contract 3)."""
        return f"{self.facility}|{self.value}"


@dataclass(slots=True)
class Specimen:
    """One specimen of the message with the fields its site is read from (contract 3, 1.4)."""

    key: SpecimenKey
    spm: Any | None = None  # SPM segment
    obr: Any | None = None  # OBR segment of the order


@dataclass(slots=True)
class Order:
    """One OBR with its SPM groups, and what OBR-4 says about it."""

    obr: Any | None
    her2: bool = False  # OBR-4 (code or text) names HER2
    ish: bool = False  # ... and ISH / FISH / CISH / SISH / DISH
    specimens: list[Specimen] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PlacedObx:
    """An OBX with its 1-based index among the message's OBX, its order and specimen."""

    segment: Any
    index: int
    order: Order
    specimen: Specimen


def place_observations(parsed: ParsedMessage, facility: str, control_id: str) -> list[PlacedObx]:
    """Every OBX of the message, in order, with the order and specimen it belongs to."""
    orders: list[Order] = []
    pending: list[tuple[Any, int, Order, Specimen | None]] = []
    current: Order | None = None
    group: Specimen | None = None
    loose = Order(None)
    for name, index, segment in parsed.segments:
        if name == "OBR":
            current, group = _order(parsed, segment), None
            orders.append(current)
        elif name == "SPM" and current is not None:
            group = _spm_specimen(parsed, segment, current, facility)
            current.specimens.append(group)
        elif name == "OBX":
            pending.append((segment, index, current or loose, group))
    placed: list[PlacedObx] = []
    message_specimen = Specimen(SpecimenKey(facility, control_id, "MSH-10"))
    for segment, index, order, specimen in pending:
        chosen = specimen or (order.specimens[0] if order.specimens else None)
        if chosen is None:
            chosen = _obr_specimen(parsed, order, facility) if order.obr is not None else None
        if chosen is None or not chosen.key.value:  # nothing names it: the message does
            chosen = Specimen(message_specimen.key, chosen and chosen.spm, order.obr)
        placed.append(PlacedObx(segment, index, order, chosen))
    return placed


def _order(parsed: ParsedMessage, obr: Any) -> Order:
    names = " ".join(parsed.value(obr, 4, 1, n) for n in (1, 2, 4, 5))
    her2 = "HER2" in names.upper()
    return Order(obr, her2=her2, ish=her2 and bool(_ISH_WORDS.search(names)))


def _spm_specimen(parsed: ParsedMessage, spm: Any, order: Order, facility: str) -> Specimen:
    # SPM-2 is EIP: component 2 the filler's id, component 1 the placer's; subcomponent 1 of
    # each is the entity identifier.
    value = parsed.value(spm, 2, 1, 2, 1) or parsed.value(spm, 2, 1, 1, 1)
    if value:
        return Specimen(SpecimenKey(facility, value, "SPM-2"), spm, order.obr)
    fallback = _obr_specimen(parsed, order, facility)
    return Specimen(fallback.key, spm, order.obr)


def _obr_specimen(parsed: ParsedMessage, order: Order, facility: str) -> Specimen:
    filler = parsed.value(order.obr, 3, 1, 1)
    if filler:
        return Specimen(SpecimenKey(facility, filler, "OBR-3"), None, order.obr)
    placer = parsed.value(order.obr, 2, 1, 1)
    return Specimen(SpecimenKey(facility, placer, "OBR-2"), None, order.obr)
