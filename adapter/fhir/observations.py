"""One input Observation -> the facts it reports (contract 1.1, 1.2), each with its source.

Roles come from `code` by LOINC code through `mappings/` (never display text). Where `code`
holds several HER2 codings, an IHC or ISH code sets the role over 48676-1 (contract 1.1).
Components with IHC/ISH codes are results wherever they appear, a 48676-1 included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from adapter.errors import BadInput, UnreadableValue
from adapter.fhir.validation import Entry
from adapter.fhir.values import Measure, read_ihc, read_ish, read_reported_status, read_subclass
from adapter.interpretation.model import (
    IhcScore,
    IhcValue,
    ResultStatus,
    Source,
    ValuesNotAccounted,
)
from adapter.mappings import Mappings

IGNORED_STATUSES: Final = frozenset({"entered-in-error", "cancelled", "registered"})
RESULT_STATUSES: Final = {
    "preliminary": ResultStatus.PRELIMINARY,
    "final": ResultStatus.FINAL,
    "amended": ResultStatus.AMENDED,
    "corrected": ResultStatus.AMENDED,
}
# The test each result role reports, as the conclusion names a test not done (contract 1.2).
NOT_DONE_TESTS: Final = {
    "ihc-score": "IHC",
    "ish-result": "ISH",
    "ish-panel": "ISH",
    "ish-ratio": "ISH HER2/CEP17 ratio",
    "ish-her2-average": "ISH average HER2 signals per cell",
    "ish-cep17-average": "ISH average CEP17 signals per cell",
}
RESULT_ROLES: Final = frozenset(NOT_DONE_TESTS)


@dataclass(frozen=True, slots=True)
class Fact:
    """One value of one measure, where it came from and where it sits (for later checks)."""

    measure: Measure
    value: Any
    source: Source
    recount: bool  # method.text says "recount" / "blinded" (contract 1.2)
    path: str  # FHIRPath of the value's holder, e.g. "Observation.component[2]"
    entry: Entry


def role_of(holder: dict[str, Any], mappings: Mappings, path: str) -> str | None:
    """The HER2 role of an Observation or component by its codes; None when not HER2."""
    code = holder.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    roles = {
        r
        for c in codings or ()
        if isinstance(c, dict)
        if (r := mappings.role(c.get("system"), c.get("code")))
    }
    results = roles & RESULT_ROLES
    if len(results) > 1:
        raise UnreadableValue(
            f"codes of different HER2 tests in one code ({', '.join(sorted(results))})",
            expression=f"{path}.code",
        )
    if results:
        return results.pop()
    return "reported-status" if "reported-status" in roles else None


def is_her2_input(resource: dict[str, Any], mappings: Mappings) -> bool:
    """True for a HER2 Observation of a counted status, or one carrying HER2 components."""
    return resource.get("status") not in IGNORED_STATUSES and _carries_her2(resource, mappings)


def is_her2_withdrawal(resource: dict[str, Any], mappings: Mappings) -> bool:
    """True for a HER2 Observation marked `entered-in-error`: it withdraws an earlier result
    (issue 4), so a message holding only withdrawals is still a message to process."""
    return resource.get("status") == "entered-in-error" and _carries_her2(resource, mappings)


def _carries_her2(resource: dict[str, Any], mappings: Mappings) -> bool:
    if resource.get("resourceType") != "Observation":
        return False
    holders = [resource, *(c for c in resource.get("component") or () if isinstance(c, dict))]
    return any(_quiet_role(h, mappings) for h in holders)


def _quiet_role(holder: dict[str, Any], mappings: Mappings) -> str | None:
    try:
        return role_of(holder, mappings, "Observation")
    except UnreadableValue:
        return "ambiguous"  # an input all the same; reading it reports the error


def issued_of(resource: dict[str, Any]) -> datetime | None:
    """`issued`, else `effective[x]` (dateTime, instant, period.start), timezone-aware."""
    period = resource.get("effectivePeriod")
    for raw in (
        resource.get("issued"),
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("start") if isinstance(period, dict) else None,
    ):
        if isinstance(raw, str):
            return parse_fhir_datetime(raw)
    return None


def parse_fhir_datetime(raw: str) -> datetime | None:
    """A FHIR date/dateTime/instant; a partial date is its first moment, a naive time is UTC."""
    text = raw.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_observation(
    entry: Entry, reference: str, mappings: Mappings, *, recount: bool = False
) -> tuple[tuple[Fact, ...], tuple[str, ...]]:
    """Every fact of one HER2 Observation, with warnings; errors are located in the entry."""
    try:
        return _read(entry, reference, mappings, recount)
    except BadInput as error:
        raise entry.locate(error) from error


def _read(
    entry: Entry, reference: str, mappings: Mappings, recount: bool
) -> tuple[tuple[Fact, ...], tuple[str, ...]]:
    resource = entry.resource
    # Statuses outside the table (e.g. "unknown") are read as final: the sender published the
    # value as a result; the interpretation still names its source.
    source = Source(
        reference,
        RESULT_STATUSES.get(resource.get("status", ""), ResultStatus.FINAL),
        issued_of(resource),
    )
    method = resource.get("method")
    method_text = (method.get("text") or "") if isinstance(method, dict) else ""
    recount = recount or any(word in method_text.lower() for word in ("recount", "blinded"))
    facts: list[Fact] = []
    warnings: list[str] = []

    def read(holder: dict[str, Any], path: str, role: str) -> Fact | None:
        """The fact of one holder; None only for a reported status not understood."""
        if role == "ihc-score":
            ihc = read_ihc(holder, path, mappings)
            value = ihc if ihc is not None else NOT_DONE_TESTS[role]
            return Fact(Measure.IHC if ihc else Measure.NOT_DONE, value, source, False, path, entry)
        if role == "reported-status":
            status = read_reported_status(holder, mappings) if _has_value(holder) else None
            if status is None:
                if _has_value(holder):
                    warnings.append(
                        f"{reference}: {path}: reported HER2 status not understood; skipped"
                    )
                return None
            return Fact(Measure.STATUS, status, source, False, path, entry)
        found = read_ish(holder, path, role, mappings)
        if found is None:
            return Fact(Measure.NOT_DONE, NOT_DONE_TESTS[role], source, recount, path, entry)
        return Fact(found[0], found[1], source, recount, path, entry)

    role = role_of(resource, mappings, "Observation")
    components = [
        (f"Observation.component[{index}]", component)
        for index, component in enumerate(resource.get("component") or ())
    ]
    roles = [(path, c, role_of(c, mappings, path)) for path, c in components]
    # Without a value of its own, an Observation whose components or members carry the HER2
    # results is their container (a 74885-5 panel, a ratio Observation holding the averages:
    # contract 1.2); any other HER2 result without a value is refused by the value reader.
    holds = any(r for _, _, r in roles) or bool(resource.get("hasMember"))
    holders = [(path, c, r) for path, c, r in roles if r is not None]
    if role is not None and not (
        holds and not _has_value(resource) and "dataAbsentReason" not in resource
    ):
        holders.insert(0, ("Observation", resource, role))
    for path, holder, holder_role in holders:
        fact = read(holder, path, holder_role)
        if fact is not None:
            facts.append(fact)
        elif holder_role in RESULT_ROLES:
            # Every IHC/ISH holder gives a value, "not done" or an error: anything else would
            # decide the case without a result it was sent (issue 18). Never a report.
            raise ValuesNotAccounted(f"{reference}: {path}: a {holder_role} gave no value")
    if role == "ihc-score":
        for path, component, component_role in roles:
            if component_role is None:
                _apply_subclass(facts, component, path, mappings)
    return tuple(facts), tuple(warnings)


def _has_value(holder: dict[str, Any]) -> bool:
    return any(key.startswith("value") for key in holder)


def _apply_subclass(
    facts: list[Fact], component: dict[str, Any], path: str, mappings: Mappings
) -> None:
    """Attach an IHC 0 sub-class given in a component to the Observation's own IHC value."""
    subclass = read_subclass(component, mappings)
    own = next((f for f in facts if f.measure is Measure.IHC and f.path == "Observation"), None)
    if subclass is None or own is None or not isinstance(own.value, IhcValue):
        return
    value: IhcValue = own.value
    if value.score is not IhcScore.ZERO or (value.subclass not in (None, subclass)):
        raise UnreadableValue(
            f"sub-class {subclass.value!r} contradicts IHC {value.score.value}"
            + (f" {value.subclass.value}" if value.subclass else ""),
            expression=path,
        )
    facts[facts.index(own)] = Fact(
        own.measure, IhcValue(IhcScore.ZERO, subclass), own.source, own.recount, own.path, own.entry
    )
