"""The contract's decision tables for ONE reading, written straight from adapter-contract.md
2.1 (breast), 2.2 (gastric and other sites) and 2.5 (expression category).

A reading is one choice of every value (ties and open bounds are expanded by `oracle`): the
IHC as the tables know it, and what the first count (and a breast recount) says after its
ratio side (>= 2.0 or not) and HER2 average zone (< 4.0, 4.0 to < 6.0, >= 6.0) are fixed.
Deliberately independent of `adapter.interpretation`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.contract.model import Mark, Score, Unscored

# What the tables read from the IHC: "3+", "2+", "low" (0, 1+ or an unscored negative),
# or None (no IHC, a failed IHC, not performed).
Ihc = Score | Unscored | Mark | None


@dataclass(frozen=True, slots=True)
class Count:
    """One ISH count as a reading sees it; every field None means no usable ISH."""

    ratio_high: bool | None = None  # ratio (reported or computed) >= 2.0
    zone: int | None = None  # HER2 average: 0 below 4.0, 1 from 4.0 to below 6.0, 2 from 6.0
    call: str | None = None  # positive / negative: a qualitative answer without numbers

    @property
    def group(self) -> int | None:
        """ASCO/CAP 2018 Figure 3 (contract 2.1), for a dual-probe count."""
        if self.ratio_high is None or self.zone is None:
            return None
        if self.ratio_high:
            return 1 if self.zone >= 1 else 2
        return (5, 4, 3)[self.zone]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # Positive / Negative / Equivocal / Indeterminate / Pending
    next_step: str | None = None
    group: int | None = None
    category: str | None = None


def ihc_class(ihc: Ihc) -> str | None:
    """An unscored answer counts as its score (contract 1.2): positive 3+, equivocal 2+."""
    if isinstance(ihc, Score):
        return ihc.score if ihc.score in ("2+", "3+") else "low"
    if isinstance(ihc, Unscored):
        return {"positive": "3+", "equivocal": "2+", "negative": "low"}[ihc.answer]
    return None


def decide(site: str, ihc: Ihc, first: Count, recount: Count | None, failed: bool) -> Outcome:
    """Status, next step, group and category of one reading. `failed`: a test failed."""
    if site == "breast":
        outcome = _breast(ihc_class(ihc), first, recount, failed)
        return Outcome(outcome.status, outcome.next_step, outcome.group, _category(outcome, ihc))
    return _gastric(ihc_class(ihc), first, failed)


def _no_ish(ihc: str | None, failed: bool) -> Outcome:
    if ihc == "3+":
        return Outcome("Positive")
    if ihc == "low":
        return Outcome("Negative")
    if ihc == "2+":
        return Outcome("Equivocal", "reflex-ish")
    # Nothing usable left: Indeterminate only when a test failed (2.1, "every test failed");
    # nothing failed (an equivocal ISH, a CEP17 average alone) is Pending (README decision).
    return Outcome("Indeterminate") if failed else Outcome("Pending", "ihc-same-tissue")


def _breast(ihc: str | None, first: Count, recount: Count | None, failed: bool) -> Outcome:
    group = first.group
    if group is not None:
        if recount is not None and recount.group != group:
            # 2.1 "recount in another group"; with IHC 3+ the first count's group is kept
            # (the recount "is only reported": her2-reference Q6) - our reading.
            if ihc == "3+":
                return Outcome("Positive", group=group)
            return Outcome("Pending", "adjudication")
        if ihc == "3+" or group == 1:
            return Outcome("Positive", group=group)
        if group == 5 or ihc == "low":
            return Outcome("Negative", group=group)
        if ihc is None:
            return Outcome("Pending", "ihc-same-tissue", group)
        if recount is None:
            return Outcome("Pending", "blinded-recount", group)
        return Outcome("Positive" if group == 3 else "Negative", group=group)
    if ihc == "3+":
        return Outcome("Positive")
    if first.ratio_high is not None:  # a ratio without a HER2 average
        if not first.ratio_high and ihc == "low":
            return Outcome("Negative")
        return Outcome("Pending", "her2-average")
    if first.zone is not None:  # single-probe
        if first.zone == 2:
            return Outcome("Positive")
        if first.zone == 0 or ihc == "low":
            return Outcome("Negative")
        return Outcome("Pending", "dual-probe-ish")
    if first.call is not None:  # as group 1 / group 5, no group
        return Outcome("Positive" if first.call == "positive" else "Negative")
    return _no_ish(ihc, failed)


def _gastric(ihc: str | None, first: Count, failed: bool) -> Outcome:
    """2.2: the first count decides (a recount is a breast work-up step: README decision)."""
    if ihc == "3+":
        return Outcome("Positive")
    if first.ratio_high is not None:
        return Outcome("Positive" if first.ratio_high else "Negative")
    if first.zone is not None:
        return Outcome("Pending", "dual-probe-ish")
    if first.call is not None:
        return Outcome("Positive" if first.call == "positive" else "Negative")
    return _no_ish(ihc, failed)


def _category(outcome: Outcome, ihc: Ihc) -> str | None:
    """2.5, breast only. An unscored equivocal counts as 2+ and so is HER2-low when Negative:
    2.5 withholds a category only from the no-score Negatives it lists - our reading."""
    if outcome.status == "Positive":
        return "HER2-positive"
    if outcome.status != "Negative":
        return None
    if isinstance(ihc, Unscored):
        return "HER2-low" if ihc.answer == "equivocal" else None
    if not isinstance(ihc, Score):
        return None
    if ihc.score != "0":
        return "HER2-low"
    return {"null": "HER2-null", "ultralow": "HER2-ultralow"}.get(ihc.subclass or "", "HER2-0")
