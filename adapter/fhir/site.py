"""The tumour site of a case (contract 1.4): which rule set applies.

Read from `Observation.bodySite`, else the case's Specimen (`collection.bodySite`, then
`type`), by SNOMED CT code or organ name. A generic specimen kind ("Tissue", v2-0487 TISS,
"core needle biopsy") names no site; any other organ, known to the maps or not, is "other".
Only where nothing names an organ is breast assumed (flag `site-assumed`): assuming breast for a
bladder applies the wrong guideline table (issue 18).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from adapter.fhir.validation import Entry
from adapter.interpretation.model import SiteGroup, TumourSite
from adapter.mappings import Mappings, Target, normalise_text

GROUPS: Final = {
    "site-breast": SiteGroup.BREAST,
    "site-gastric": SiteGroup.GASTRIC,
    "site-other": SiteGroup.OTHER,
}
NO_SITE: Final = "site-none"
SNOMED: Final = "http://snomed.info/sct"


def case_site(
    members: Sequence[Entry], specimen: Entry | None, mappings: Mappings, override: SiteGroup | None
) -> TumourSite:
    """The site of a case; `override` (from `--site`) wins over everything the input says."""
    if override is not None:
        return TumourSite(override, overridden=True)
    candidates: list[tuple[Any, bool]] = [(m.resource.get("bodySite"), True) for m in members]
    if specimen is not None:
        collection = specimen.resource.get("collection")
        if isinstance(collection, dict):
            candidates.append((collection.get("bodySite"), True))
        candidates.append((specimen.resource.get("type"), False))
    for concept, is_body_site in candidates:
        site = site_of(concept, mappings, is_body_site=is_body_site)
        if site is not None:
            return site
    return TumourSite(SiteGroup.BREAST, assumed=True)


def site_of(concept: Any, mappings: Mappings, *, is_body_site: bool) -> TumourSite | None:
    """The site a CodeableConcept names, or None when it names none.

    A body site names a site whatever it holds. A specimen type names one by a SNOMED CT code
    or by a name (text, or a coding's display) that is not only specimen words ("Core needle
    biopsy"): "Urinary bladder" is an organ, so the case is "other", never breast assumed.
    """
    if not isinstance(concept, dict):
        return None
    codings = [c for c in concept.get("coding") or () if isinstance(c, dict)]
    text = concept.get("text") if isinstance(concept.get("text"), str) else None
    generic = False
    for coding in codings:
        for target in mappings.code_targets("site", coding.get("system"), coding.get("code")):
            if target.code == NO_SITE:
                generic = True
            else:
                return _site(target, coding.get("display"))
    for target in mappings.text_targets("site", text):
        if target.code == NO_SITE:
            generic = True
        else:
            return _site(target, text)
    # An organ named inside longer text: "left breast, core biopsy". Displays count here: a
    # site is not a result, and "Left breast structure" is as good a name as any text.
    names = [t for t in (text, *(c.get("display") for c in codings)) if isinstance(t, str)]
    words = [normalise_text(t) for t in names]
    for form, targets in sorted(mappings.text_forms("site"), key=lambda item: -len(item[0])):
        if targets[0].code != NO_SITE and any(
            re.search(rf"\b{re.escape(form)}\b", w) for w in words
        ):
            return _site(targets[0], form)
    if generic:
        return None
    name = next((n for n in words if n), None)
    if name is not None:
        return (
            TumourSite(SiteGroup.OTHER, organ=name)
            if is_body_site or _organ(name, mappings)
            else None
        )
    if codings and (is_body_site or any(c.get("system") == SNOMED for c in codings)):
        code = next((c.get("code") for c in codings if isinstance(c.get("code"), str)), None)
        return TumourSite(SiteGroup.OTHER, organ=code)
    return None


def _organ(name: str, mappings: Mappings) -> bool:
    """True when a name holds a word that is not a specimen word (`site-none` in the maps)."""
    return any(
        not any(t.code == NO_SITE for t in mappings.text_targets("site", word))
        for word in re.findall(r"[^\W\d_]+", name)
    )


def _site(target: Target, name: str | None) -> TumourSite:
    organ = target.organ or (normalise_text(name) if name else None)
    return TumourSite(GROUPS[target.code], organ=organ)
