"""interpret(findings) -> Interpretation: picks the table by site and combines the readings.

Total by design (STYLE.md R4): Equivocal, Pending and Indeterminate are statuses, never
exceptions. A case read several ways (tied values, open bounds) is decided once per reading;
one status for all stands, otherwise the case is Pending (contract 1.2, 1.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from adapter.interpretation import breast, gastric
from adapter.interpretation import sources as src
from adapter.interpretation.decision import (
    Category,
    ChoiceOutcome,
    Comment,
    Flag,
    Interpretation,
    NextStep,
    RuleApplied,
    Status,
)
from adapter.interpretation.expression import category, eligibility_comments
from adapter.interpretation.model import (
    Her2Findings,
    Reported,
    SiteGroup,
    T,
    TumourSite,
    ValuesNotAccounted,
)
from adapter.interpretation.readings import Reading, Readings, read_case
from adapter.interpretation.selection import select
from adapter.interpretation.table import Decision

SITE_RULES: Final = {
    SiteGroup.BREAST: RuleApplied(
        "site.breast", "breast rules: ASCO/CAP 2018, affirmed 2023", src.FIG3_GROUPS
    ),
    SiteGroup.GASTRIC: RuleApplied(
        "site.gastric",
        "gastric / gastro-oesophageal rules: CAP/ASCP/ASCO 2016 (no ISH groups)",
        src.GASTRIC_2016,
    ),
    SiteGroup.OTHER: RuleApplied(
        "site.other",
        "site other than breast or the upper gastrointestinal tract: gastric rules "
        "(tumour-agnostic practice)",
        src.TUMOUR_AGNOSTIC,
    ),
}
SITE_ASSUMED_RULE: Final = RuleApplied(
    "site.assumed", "no tumour site named: breast assumed", src.SITE_RULES
)
CONFLICT_RULE: Final = RuleApplied(
    "choice.conflicting-results",
    "reports of one measure tie and differ: the case is decided with each value in turn",
    src.PRECEDENCE,
)
BOUND_RULE: Final = RuleApplied(
    "choice.bound-not-decisive",
    "a bounded number leaves a threshold open: the case is decided with a value on each side",
    src.BOUNDS,
)
INCONSISTENT_RULE: Final = RuleApplied(
    "ish.values-inconsistent",
    "the reported ratio differs from HER2 average / CEP17 average of the same count by more "
    "than rounding (0.1 or 5 %): the reported ratio and the quotient are decided as tied values",
    src.INCONSISTENT_RATIO,
)
DISAGREE_RULE: Final = RuleApplied(
    "choice.disagree", "the choices give different statuses: status pending", src.PRECEDENCE
)
COMPUTED_RULE: Final = RuleApplied(
    "ish.ratio-computed",
    "no ratio reported: ratio = average HER2 / average CEP17, compared exactly",
    src.COMPUTED_RATIO,
)
FAILED_RULE: Final = RuleApplied(
    "test.failed", "a failed test counts as absent; the others decide", src.FAILED_TESTS
)
REPORTED_RULE: Final = RuleApplied(
    "reported-status.differs",
    "the HER2 status reported with the results differs; it is never used to decide",
    src.REPORTED_STATUS,
)


def interpret(findings: Her2Findings) -> Interpretation:
    """Decide one case. Never raises for clinical content: every case gets a status."""
    site = findings.site
    readings = read_case(findings)
    decided = [(reading, _decide(reading, site.group)) for reading in readings.choices]
    outcomes = {(d.status, d.next_step) for _, d in decided}
    agreed = len(outcomes) == 1
    if agreed:
        status, next_step = next(iter(outcomes))
    else:
        status, next_step = Status.PENDING, _undecided_next_step(readings)

    groups = {d.ish_group for _, d in decided}
    categories: set[Category | None] = {
        category(d.status, r.ihc) if site.group is SiteGroup.BREAST else None for r, d in decided
    }
    flags = _flags(site, readings, decided)
    reported = select(findings.reported_status)
    if any(c.value.value != status.value for c in reported.candidates):
        flags.add(Flag.REPORTED_STATUS_DIFFERS)
    _check_accounted(findings, (*readings.listed, *findings.reported_status))

    trace = [SITE_RULES[site.group], *([SITE_ASSUMED_RULE] if site.assumed else [])]
    trace += _case_rules(flags)
    trace += [rule for _, d in decided for rule in d.trace]
    if not agreed:
        trace.append(DISAGREE_RULE)
    if Flag.REPORTED_STATUS_DIFFERS in flags:
        trace.append(REPORTED_RULE)

    return Interpretation(
        status=status,
        next_step=next_step,
        # The group is given wherever every reading agrees on it, Pending ones too (1.3).
        ish_group=groups.pop() if len(groups) == 1 else None,
        category=categories.pop() if agreed and len(categories) == 1 else None,
        flags=tuple(f for f in Flag if f in flags),
        comments=_comments(site, decided, agreed),
        trace=_unique(trace),
        facts=readings.facts
        + tuple(
            f"HER2 status reported with the results: {c.value.value} [{c.source.reference}]"
            for c in reported.candidates
        ),
        site=site,
        preliminary=any(r.preliminary for r, _ in decided),
        choices=tuple(ChoiceOutcome(r.text, d.status, d.next_step, d.ish_group) for r, d in decided)
        if len(decided) > 1
        else (),
        sources=tuple(dict.fromkeys(readings.sources)),
        readings=_unique(r.text for r, _ in decided),
    )


def _check_accounted(findings: Her2Findings, listed: tuple[Reported[object], ...]) -> None:
    """Every value the case was sent is listed in its conclusion, or nothing is reported."""
    shown = {id(r) for r in listed}
    missing = [r.source.reference for r in findings.reports() if id(r) not in shown]
    if missing:
        raise ValuesNotAccounted(f"values of {', '.join(missing)} are not listed")


def _decide(reading: Reading, site: SiteGroup) -> Decision:
    if site is SiteGroup.BREAST:
        return breast.decide(reading)
    return gastric.decide(reading, site)


def _undecided_next_step(readings: Readings) -> NextStep:
    """Contract 1.3 (tied values: adjudication) before 1.2 (an open ratio, else the average)."""
    if readings.conflicting:
        return NextStep.ADJUDICATION
    if readings.ratio_open:
        return NextStep.DUAL_PROBE_ISH
    return NextStep.HER2_AVERAGE if readings.average_open else NextStep.ADJUDICATION


def _flags(
    site: TumourSite, readings: Readings, decided: list[tuple[Reading, Decision]]
) -> set[Flag]:
    flags = {flag for _, d in decided for flag in d.flags}
    for reading, _ in decided:
        counts = [reading.first] + ([reading.recount] if reading.recount else [])
        if reading.ihc_failed or any(c.failed for c in counts):
            flags.add(Flag.FAILED_TEST)
        if any(c.ratio_computed for c in counts):
            flags.add(Flag.RATIO_COMPUTED)
        if reading.ihc is not None and not reading.ihc.score_reported:
            flags.add(Flag.IHC_SCORE_NOT_REPORTED)
    if site.assumed:
        flags.add(Flag.SITE_ASSUMED)
    if readings.ratio_open or readings.average_open:
        flags.add(Flag.BOUND_NOT_DECISIVE)
    if readings.conflicting:
        flags.add(Flag.CONFLICTING_RESULTS)
    if readings.inconsistent:
        flags.add(Flag.ISH_VALUES_INCONSISTENT)
    return flags


def _case_rules(flags: set[Flag]) -> list[RuleApplied]:
    rules = []
    if Flag.FAILED_TEST in flags:
        rules.append(FAILED_RULE)
    if Flag.RATIO_COMPUTED in flags:
        rules.append(COMPUTED_RULE)
    if Flag.ISH_VALUES_INCONSISTENT in flags:
        rules.append(INCONSISTENT_RULE)
    if Flag.CONFLICTING_RESULTS in flags:
        rules.append(CONFLICT_RULE)
    if Flag.BOUND_NOT_DECISIVE in flags:
        rules.append(BOUND_RULE)
    return rules


def _comments(
    site: TumourSite, decided: list[tuple[Reading, Decision]], agreed: bool
) -> tuple[Comment, ...]:
    """Status comments every reading agrees on, then notes that hold whatever the status."""
    per_reading = [
        d.comments
        + (eligibility_comments(d.status, r.ihc) if site.group is SiteGroup.BREAST else ())
        for r, d in decided
    ]
    shared = [c for c in per_reading[0] if all(c in other for other in per_reading[1:])]
    notes = [note for _, d in decided for note in d.notes]
    for reading, _ in decided:
        notes += _reading_notes(reading)
    if site.group is SiteGroup.OTHER:
        notes.append(src.OTHER_SITE_PRACTICE)
    if site.organ == "oesophagus":
        notes.append(src.OESOPHAGEAL_ADENOCARCINOMA)
    return _unique((shared if agreed else []) + notes)


def _reading_notes(reading: Reading) -> list[Comment]:
    notes = []
    if reading.ihc_failed:
        notes.append(src.failed_test_note("IHC"))
    counts = [reading.first] + ([reading.recount] if reading.recount else [])
    if any(c.failed for c in counts):
        notes.append(src.failed_test_note("ISH"))
    if any(c.equivocal for c in counts):
        notes.append(src.ISH_EQUIVOCAL_NOT_USED)
    return notes


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))
