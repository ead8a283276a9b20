"""The conclusion a pathologist reads and signs: status first, then why.

Layout: the status line (a Pending case opens with "HER2 status pending" and the next step, so
it can never be read as a result), the site and rule set, the values used, the group and
category, each reading when the case was decided over several, the rules applied with their
citations, the comments, the flags.
"""

from __future__ import annotations

from typing import Final

from adapter.interpretation.decision import Interpretation, NextStep, Status

NEXT_STEP_TEXT: Final = {
    NextStep.REFLEX_ISH: "reflex ISH on the same specimen",
    NextStep.IHC_SAME_TISSUE: "IHC on sections of the same tissue block used for ISH",
    NextStep.BLINDED_RECOUNT: (
        "a blinded recount of at least 20 cells by a second observer, including the IHC 2+ area"
    ),
    NextStep.ADJUDICATION: "adjudication by the laboratory (third reader or consensus)",
    NextStep.DUAL_PROBE_ISH: "a dual-probe ISH test (HER2/CEP17 ratio)",
    NextStep.HER2_AVERAGE: "the average HER2 signals per cell of the ISH count",
}
STATUS_TEXT: Final = {
    Status.POSITIVE: "HER2 status: POSITIVE.",
    Status.NEGATIVE: "HER2 status: NEGATIVE.",
    Status.EQUIVOCAL: "HER2 status: EQUIVOCAL (IHC 2+); not a status to treat on.",
    Status.INDETERMINATE: "HER2 status: INDETERMINATE (the specimen could not be assessed).",
}


def headline(interpretation: Interpretation) -> str:
    """The first line: the status, or that it is pending and what comes next."""
    step = interpretation.next_step
    if interpretation.status is Status.PENDING:
        assert step is not None  # Pending always names its next step
        return f"HER2 status pending: {NEXT_STEP_TEXT[step]} is needed."
    text = STATUS_TEXT[interpretation.status]
    if interpretation.preliminary:
        text += " Preliminary: it rests on a preliminary result."
    if step is not None:
        text += f" Next step: {NEXT_STEP_TEXT[step]}."
    return text


def conclusion_text(interpretation: Interpretation) -> str:
    """The whole conclusion, one statement per line."""
    it = interpretation
    site = it.site
    where = site.organ or site.group.value
    if site.assumed:
        where = "not named (breast assumed)"
    elif site.overridden:
        where = f"{site.group.value} (set by the operator)"
    lines = [headline(it), f"Tumour site: {where}."]
    if it.facts:
        lines.append("Results used: " + "; ".join(it.facts) + ".")
    if it.ish_group is not None:
        lines.append(f"ISH group {int(it.ish_group)} (ASCO/CAP 2018, Figure 3).")
    if it.category is not None:
        lines.append(
            f"HER2 expression category: {it.category.value} (a reporting comment, not a status)."
        )
    if it.choices:
        lines.append("Decided over several readings:")
        for choice in it.choices:
            outcome = choice.status.value
            if choice.next_step is not None:
                outcome += f" ({choice.next_step.value})"
            if choice.ish_group is not None:
                outcome += f", group {int(choice.ish_group)}"
            lines.append(f"- {choice.description}: {outcome}")
    lines.append("Rules applied:")
    lines += [f"- {rule.statement} [{rule.citation}]" for rule in it.trace]
    if it.comments:
        lines.append("Comments:")
        lines += [f"- {comment.text} [{comment.citation}]" for comment in it.comments]
    if it.flags:
        lines.append("Flags: " + ", ".join(flag.value for flag in it.flags) + ".")
    return "\n".join(lines)
