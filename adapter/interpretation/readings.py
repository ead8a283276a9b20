"""From the reported facts to the readings a case is decided with.

A case usually has one reading. It has several when values of one measure are tied and differ
(contract 1.3) or when a bound leaves a threshold open (contract 1.2): the case is then decided
once per reading, and `interpret.py` combines the outcomes. One ISH count's readings are
`counts.py`'s; the values the conclusion lists, `facts.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

from adapter.interpretation.counts import CountOption, count_options, count_reports
from adapter.interpretation.facts import ihc_fact, ihc_text, listed_facts
from adapter.interpretation.model import FailedTest, Her2Findings, IhcValue, IshCount, Reported
from adapter.interpretation.selection import select_ihc


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading a case: one value per measure, every bound on one side."""

    ihc: IhcValue | None
    first: CountOption
    recount: CountOption | None
    ihc_failed: bool
    preliminary: bool

    @property
    def text(self) -> str:
        """The values of this reading: "IHC 2+; ISH ratio 1.8, HER2 6.01 per cell"."""
        parts = [f"IHC {ihc_text(self.ihc)}" if self.ihc else "no IHC"]
        if self.ihc_failed:
            parts = ["IHC failed"]
        parts.append(self.first.text)
        if self.recount is not None:
            parts.append(f"recount {self.recount.text}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Readings:
    choices: tuple[Reading, ...]
    conflicting: bool = False  # tied values that differ (contract 1.3)
    ratio_open: bool = False  # a reported ratio bound leaves 2.0 open (contract 1.2)
    average_open: bool = False  # an average bound (or a ratio computed from one) is open
    inconsistent: bool = False  # the reported ratio contradicts its own averages (1.2)
    facts: tuple[str, ...] = field(default=())
    listed: tuple[Reported[object], ...] = ()  # every value the facts show, for the account
    sources: tuple[str, ...] = field(default=())


def read_case(findings: Her2Findings) -> Readings:
    """Every reading of a case, with what made it several."""
    site = findings.site.group
    ihc = select_ihc(findings.ihc)
    first_count, recount = findings.first_count, findings.recount
    if first_count.is_empty():  # only marked counts: the earliest mark-free one is missing
        first_count, recount = recount, IshCount()
    first, first_state = count_options(first_count, site, first=True)
    second: list[CountOption | None] = [None]
    second_state = None
    if not recount.is_empty():
        options, second_state = count_options(recount, site, first=False)
        second = list(options)
    choices = []
    for ihc_option, first_option, recount_option in product(ihc.options(), first, second):
        ihc_value = ihc_option.value if ihc_option is not None else None
        choices.append(
            Reading(
                ihc=ihc_value if isinstance(ihc_value, IhcValue) else None,
                first=first_option,
                recount=recount_option,
                ihc_failed=isinstance(ihc_value, FailedTest),
                preliminary=(ihc_option is not None and ihc_option.preliminary)
                or first_option.preliminary
                or (recount_option is not None and recount_option.preliminary),
            )
        )
    states = [s for s in (first_state, second_state) if s is not None]
    facts = listed_facts("IHC score", findings.ihc, ihc, ihc_fact) + first_state.facts
    if second_state is not None:
        facts += tuple(f"recount: {fact}" for fact in second_state.facts)
    facts += tuple(f"{n.value}: not performed [{n.source.reference}]" for n in findings.not_done)
    listed = (*findings.ihc, *count_reports(first_count), *count_reports(recount))
    return Readings(
        choices=tuple(choices),
        conflicting=ihc.conflicting or any(s.conflicting for s in states),
        ratio_open=any(s.ratio_open for s in states),
        average_open=any(s.average_open for s in states),
        inconsistent=first_state.inconsistent,
        facts=facts,
        listed=(*listed, *findings.not_done),
        sources=ihc.sources() + tuple(src for s in states for src in s.sources),
    )
