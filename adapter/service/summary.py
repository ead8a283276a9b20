"""One line per case for a person at a terminal (`her2-adapter interpret --format text`).

The line shows what decided the case: status and next step, the values the core decided with
(IHC score, ISH numbers; one reading per way a case was read when it was read several ways),
the group, the expression category and the flags. The full reasoning is in the report's
conclusion; this is a summary, never a second source of truth.
"""

from __future__ import annotations

from adapter.fhir.case import Case
from adapter.interpretation.decision import Interpretation


def summary_line(case: Case, interpretation: Interpretation) -> str:
    """Return the case as one line: `key: status (next step); site; values; group; ...`."""
    site = interpretation.site
    status = interpretation.status.value
    if interpretation.next_step is not None:
        status += f" (next step {interpretation.next_step.value})"
    if interpretation.preliminary:
        status += ", preliminary"
    parts = [
        f"{case.key}: {status}",
        f"site {site.group.value}" + (" (assumed)" if site.assumed else ""),
        " / ".join(interpretation.readings),
    ]
    group = interpretation.ish_group
    parts.append(f"group {group.value}" if group is not None else "no ISH group")
    category = interpretation.category
    parts.append(category.value if category is not None else "no category")
    flags = ", ".join(flag.value for flag in interpretation.flags)
    parts.append(f"flags {flags}" if flags else "no flags")
    return "; ".join(parts)
