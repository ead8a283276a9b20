"""One line per case for a person at a terminal (`her2-adapter interpret --format text`).

The line shows what decided the case: status and next step, the IHC score, the ISH numbers
and group, the expression category and the flags. The full reasoning is in the report's
conclusion; this is a summary, never a second source of truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from adapter.case import Case
from adapter.interpretation.model import (
    FailedTest,
    Flag,
    IhcValue,
    Interpretation,
    IshCall,
    IshCount,
    Number,
    Reported,
)

T = TypeVar("T")


def summary_line(case: Case, interpretation: Interpretation) -> str:
    """Return the case as one line: `key: status (next step); IHC ...; ISH ...; group; ...`."""
    used = set(interpretation.sources)
    site = interpretation.site
    status = interpretation.status.value
    if interpretation.next_step is not None:
        status += f" (next step {interpretation.next_step.value})"
    if interpretation.preliminary:
        status += ", preliminary"
    parts = [
        f"{case.key}: {status}",
        f"site {site.group.value}" + (" (assumed)" if site.assumed else ""),
        "IHC " + (_values(case.findings.ihc, used, _ihc_text) or "none"),
        "ISH " + (_ish_text(case.findings.first_count, used, interpretation) or "none"),
    ]
    if not case.findings.recount.is_empty():
        parts.append(
            "recount " + (_ish_text(case.findings.recount, used, interpretation) or "none")
        )
    group = interpretation.ish_group
    parts.append(f"group {group.value}" if group is not None else "no ISH group")
    category = interpretation.category
    parts.append(category.value if category is not None else "no category")
    flags = ", ".join(flag.value for flag in interpretation.flags)
    parts.append(f"flags {flags}" if flags else "no flags")
    return "; ".join(parts)


def _chosen(values: tuple[Reported[T], ...], used: set[str]) -> list[T]:
    """The values the decision used; all of them when the interpretation names no sources."""
    chosen = [
        reported.value for reported in values if not used or reported.source.reference in used
    ]
    unique: list[T] = []
    for value in chosen or [reported.value for reported in values]:
        if value not in unique:
            unique.append(value)
    return unique


def _values(values: tuple[Reported[T], ...], used: set[str], text: Callable[[T], str]) -> str:
    return " / ".join(text(value) for value in _chosen(values, used))


def _ihc_text(value: IhcValue | FailedTest) -> str:
    if isinstance(value, FailedTest):
        return "failed"
    text = value.score.value
    if value.subclass is not None:
        text += f" ({value.subclass.value})"
    if not value.score_reported:
        text += " (unscored answer)"
    return text


def _number_text(value: Number | FailedTest) -> str:
    return "failed" if isinstance(value, FailedTest) else str(value)


def _call_text(value: IshCall | FailedTest) -> str:
    return "failed" if isinstance(value, FailedTest) else value.value


def _ish_text(count: IshCount, used: set[str], interpretation: Interpretation) -> str:
    parts = []
    if count.ratio:
        parts.append("ratio " + _values(count.ratio, used, _number_text))
    elif Flag.RATIO_COMPUTED in interpretation.flags:
        computed = _computed_ratio(
            _chosen(count.her2_per_cell, used), _chosen(count.cep17_per_cell, used)
        )
        if computed is not None:
            parts.append(f"ratio {computed} (computed)")
    if count.her2_per_cell:
        parts.append("HER2 " + _values(count.her2_per_cell, used, _number_text) + "/cell")
    if count.cep17_per_cell:
        parts.append("CEP17 " + _values(count.cep17_per_cell, used, _number_text) + "/cell")
    if count.call:
        parts.append(_values(count.call, used, _call_text))
    return ", ".join(parts)


def _computed_ratio(
    her2: Iterable[Number | FailedTest], cep17: Iterable[Number | FailedTest]
) -> str | None:
    """HER2 / CEP17 to four decimals, for display only; the core compares the exact quotient."""
    exact_her2 = [n.value for n in her2 if isinstance(n, Number) and n.comparator is None]
    exact_cep17 = [n.value for n in cep17 if isinstance(n, Number) and n.comparator is None]
    if len(exact_her2) != 1 or len(exact_cep17) != 1 or exact_cep17[0] == 0:
        return None
    return str((exact_her2[0] / exact_cep17[0]).quantize(Decimal("0.0001")))
