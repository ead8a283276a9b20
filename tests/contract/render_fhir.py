"""Cases as FHIR JSON messages (adapter-contract.md 1): an Observation alone, or a Bundle of
any accepted type (its fullUrls absolute, urn:uuid or absent) holding one or several cases."""

from __future__ import annotations

import uuid
from typing import Any, Final

from tests.contract import fhir_values as fv
from tests.contract.fhir_case import CaseWriter
from tests.contract.grammar import Chooser
from tests.contract.model import Case, Mark
from tests.contract.rendered import Input, Rendered

Json = dict[str, Any]
BUNDLE_TYPES: Final = (
    "collection", "transaction", "batch", "message", "document", "searchset",
)  # fmt: skip
BASE: Final = "http://lab.example.org/fhir/"


def _joined(writer: CaseWriter) -> bool:
    """The whole case as one Observation: a 74885-5 panel, or a 48676-1 carrying the status
    reported earlier with every result as a component (as real feeds send it)."""
    reports = writer.case.reports
    first = reports[0]
    same = all(
        (r.status, r.time, r.withdrawn, r.recount) == (first.status, first.time, False, False)
        for r in reports
    )
    if not same or len({r.measure for r in reports}) != len(reports):
        return False
    if any(r.value is Mark.NOT_PERFORMED or r.value is Mark.FAILED for r in reports):
        return False
    if writer.case.reported_status:
        value = fv.reported_status(writer.c, writer.case.reported_status)
        writer.panel("all", list(reports), ["48676-1"], value)
    else:
        writer.panel("all", list(reports), ["74885-5"], {})
    return True


def render_fhir(c: Chooser, cases: list[tuple[int, Case]]) -> Rendered:
    """One message holding `cases` (numbered n): an Observation alone where one case fits in
    one Observation and the chooser likes it, else a Bundle of a type the chooser picks."""
    if len(cases) == 1 and c.chance(20):
        n, case = cases[0]
        writer = CaseWriter(c, n, case, alone=True)
        if _joined(writer):
            return _rendered(writer.resources[0], [writer], {}, {})
    writers = [CaseWriter(c, n, case, alone=False) for n, case in cases]
    for writer in writers:
        writer.write()
    return _bundle(c, writers)


def _rendered(
    message: Json, writers: list[CaseWriter], full_urls: dict[str, str], renamed: dict[str, str]
) -> Rendered:
    """Inputs are named by their entry's fullUrl, else Observation/{id} (contract 3); a case
    by its specimen reference as the Observations write it, else by its subject."""
    rendered = Rendered(message)
    for w in writers:
        specimen = f"Specimen/s{w.n}"
        key = renamed.get(specimen, specimen) if w.with_specimen else f"Patient/p{w.n}"
        rendered.keys[key] = rendered.keys[specimen] = w.n  # the service may name it locally
        for rid, report in w.inputs:
            local = f"Observation/{rid}"
            rendered.inputs.append(Input(w.n, full_urls.get(local, local), local, report))
    return rendered


def _bundle(c: Chooser, writers: list[CaseWriter]) -> Rendered:
    kind = c.pick(BUNDLE_TYPES)
    styles = (
        ("absolute", "uuid", "none")
        if kind in ("collection", "searchset")
        else ("absolute", "uuid")
    )
    style = c.pick(styles)
    resources: list[Json] = []
    for w in writers:
        resources.append({"resourceType": "Patient", "id": f"p{w.n}"})
        if w.with_specimen:
            resources.append(w.specimen())
        resources += w.resources
    if kind == "message":
        resources.insert(0, _message_header())
    if kind == "document":
        resources.insert(0, _composition(writers[0].n))
    full_urls: dict[str, str] = {}
    entries = []
    for r in resources:
        local = f"{r['resourceType']}/{r['id']}"
        entry: Json = {"resource": r}
        if style == "absolute":
            full_urls[local] = entry["fullUrl"] = BASE + local
        elif style == "uuid":
            full_urls[local] = entry["fullUrl"] = (
                f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, BASE + local)}"
            )
        if kind in ("transaction", "batch"):
            entry["request"] = {"method": "PUT", "url": local}
        if kind == "searchset":
            entry["search"] = {"mode": "match" if r["resourceType"] == "Observation" else "include"}
        entries.append(entry)
    renamed: dict[str, str] = {}
    if style == "uuid":  # a urn:uuid entry is reached by its own name only
        renamed = full_urls
        _rewrite_references(resources, renamed)
    bundle: Json = {"resourceType": "Bundle", "type": kind, "entry": entries}
    if kind in ("document", "message"):
        bundle["timestamp"] = "2025-03-06T10:00:00+00:00"
    if kind == "document":
        bundle["identifier"] = {"system": "urn:example:documents", "value": resources[0]["id"]}
    return _rendered(bundle, writers, full_urls, renamed)


def _rewrite_references(value: Any, urls: dict[str, str]) -> None:
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref in urls:
            value["reference"] = urls[ref]
        for item in value.values():
            _rewrite_references(item, urls)
    elif isinstance(value, list):
        for item in value:
            _rewrite_references(item, urls)


def _message_header() -> Json:
    return {
        "resourceType": "MessageHeader",
        "id": "header",
        "eventCoding": fv.coding("urn:example:events", "her2-result"),
        "source": {"endpoint": "http://lab.example.org/lis"},
    }


def _composition(n: int) -> Json:
    return {
        "resourceType": "Composition",
        "id": f"doc{n}",
        "status": "final",
        "type": {"coding": [fv.coding(fv.LOINC, "60568-3")]},
        "subject": {"reference": f"Patient/p{n}"},
        "date": "2025-03-06T10:00:00+00:00",
        "author": [{"display": "Pathology laboratory"}],
        "title": "HER2 results",
    }
