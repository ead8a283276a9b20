"""A batch of generated cases and its messages: the same facts as FHIR JSON and as HL7 v2.

Cases are numbered from `start`, so the keys (Specimen/s{n}, ACC{n}) of every batch of one
run differ and batches can share a service. Each of the three streams (cases, FHIR spellings,
v2 spellings) has its own generator derived from the seed: a new spelling of one door never
changes the cases or the other door's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.contract.grammar import Chooser, SeededChooser, draw_case
from tests.contract.model import Case
from tests.contract.oracle import Expected, expect
from tests.contract.render_fhir import render_fhir
from tests.contract.render_v2 import render_v2
from tests.contract.rendered import Rendered
from tests.contract.v2_values import NotExpressible


@dataclass
class Batch:
    cases: dict[int, Case]
    expected: dict[int, Expected]
    fhir: list[Rendered] = field(default_factory=list)
    v2: list[Rendered] = field(default_factory=list)
    v2_skipped: list[int] = field(default_factory=list)  # cases v2 has no form for


def _groups(c: Chooser, numbers: list[int]) -> list[list[int]]:
    """Most messages hold one case; some join two or three (contract 1.3)."""
    groups, i = [], 0
    while i < len(numbers):
        size = c.pick((2, 3)) if c.chance(12) else 1
        groups.append(numbers[i : i + size])
        i += size
    return groups


def make_batch(seed: int, count: int, start: int = 0) -> Batch:
    """`count` cases drawn from `seed`, numbered from `start`, and their messages."""
    drawing, fhir, v2 = (SeededChooser(f"{seed}:{start}:{stream}") for stream in range(3))
    cases = {n: draw_case(drawing) for n in range(start, start + count)}
    return batch_of(cases, fhir, v2)


def batch_of(cases: dict[int, Case], fhir: Chooser, v2: Chooser) -> Batch:
    """The messages of `cases`, spelled by the two choosers."""
    batch = Batch(cases, {n: expect(case) for n, case in cases.items()})
    for group in _groups(fhir, list(cases)):
        batch.fhir.append(render_fhir(fhir, [(n, cases[n]) for n in group]))
    for group in _groups(v2, list(cases)):
        try:
            batch.v2.append(render_v2(v2, [(n, cases[n]) for n in group], f"M{group[0]}"))
            continue
        except NotExpressible:
            pass
        for n in group:
            try:
                batch.v2.append(render_v2(v2, [(n, cases[n])], f"M{n}"))
            except NotExpressible:
                batch.v2_skipped.append(n)
    return batch
