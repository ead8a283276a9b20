"""Which version of a case's report a write-back may replace (issue 15: no stale write-back).

Every transaction of a case writes its DiagnosticReport, and atomically: so fencing the write on
the report's version fences the status Observation and the Provenance written with it.

- The stored case knows the versions of its last write (`CaseMeta.versions`): each PUT names
  its version (`If-Match`), and a write built upon an older case is refused (`StaleWrite`).
- The stored case knows no version of its report (a new case, a state that expired or was
  lost with a Redis primary), or a write upon the versions it knows was refused although no
  newer state was saved meanwhile: the server may hold a report no saved state knows of (its
  writer crashed, stalled or lost its Redis primary between its write and its save, and is
  retried itself). The report is then read from the server (the one extra FHIR read):
  - none: written without a precondition;
  - it names inputs this case lacks: the case is not written now (`DependencyUnavailable`,
    retried): that writer's save (or retry) brings them, and the report never loses facts;
  - it is the report this write would make (same inputs, status and conclusion): not written
    again, its version is learnt (a job redelivered after its write landed);
  - otherwise it is replaced, fenced on its version; once it was final, the new version is
    amended (adapter-contract.md 3: report versions only move forward).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from adapter.errors import DependencyUnavailable
from adapter.fhir.server_references import for_server
from adapter.fhir_server import DirectorySink, FhirServer
from adapter.service.case_state import StoredCase
from adapter.service.settle import AMENDED, Settlement

JsonDict = dict[str, Any]
FINAL_STATUSES = frozenset({"final", AMENDED})
# What two builds of one report may differ in without being different reports.
_VOLATILE = ("meta", "issued", "text")
_NAMED_UUID = re.compile(
    r"(?:urn:uuid:|\b[A-Z][A-Za-z]+/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def if_match(stored: StoredCase, refused: Mapping[str, str] | None) -> dict[str, str]:
    """The versions a write upon `stored` must find on the server: those it knows, unless a
    write built upon these very versions was refused (`refused`): then none are known."""
    known = stored.meta.versions
    return {} if refused is not None and refused == known else dict(known)


def fenced(
    stored: StoredCase,
    settled: Settlement,
    refused: Mapping[str, str] | None,
    target: FhirServer | DirectorySink,
    resettle: Callable[[StoredCase], Settlement],
) -> tuple[Settlement, list[JsonDict], dict[str, str]]:
    """(the settlement to write, its resources as the server gets them, the versions they must
    match) for a settlement that writes (module docstring); no resources: the server already
    holds this report. `resettle` settles the same arrival upon a changed stored case.
    Raises DependencyUnavailable when the server's report names inputs this case lacks, or as
    the read raises."""
    versions = if_match(stored, refused)
    resources = for_server(list(settled.write), settled.state.all_entries())
    report = _report(resources)
    name = f"DiagnosticReport/{report['id']}"
    if name in versions or isinstance(target, DirectorySink):
        return settled, resources, versions
    current = target.current(name)
    if current is None:
        return settled, resources, versions
    if not _inputs(current) <= _inputs(report):
        raise DependencyUnavailable(
            "the server's report names inputs this case's state lacks: written by a worker "
            "that has not saved yet"
        )
    version = str((current.get("meta") or {}).get("versionId", ""))
    versions = {**versions, name: version} if version else versions
    if _same(current, report):
        return settled, [], versions
    if current.get("status") in FINAL_STATUSES and not stored.meta.final_reported:
        settled = resettle(replace(stored, meta=replace(stored.meta, final_reported=True)))
        resources = for_server(list(settled.write), settled.state.all_entries())
    return settled, resources, versions


def _report(resources: list[JsonDict]) -> JsonDict:
    return next(r for r in resources if r["resourceType"] == "DiagnosticReport")


def _inputs(report: JsonDict) -> set[str]:
    return {_named(ref) for ref in report.get("result") or ()}


def _same(current: JsonDict, report: JsonDict) -> bool:
    return bool(_content(current) == _content(report))


def _content(value: Any) -> Any:
    """A resource as compared: without what changes from build to build, and each uuid the
    adapter gave a resource by itself: a server stores `urn:uuid:<id>` of its own Bundle as
    `Type/<id>`, in references and (Medplum) in text that names them."""
    if isinstance(value, dict):
        return {k: _content(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_content(v) for v in value]
    if isinstance(value, str):
        return _NAMED_UUID.sub(r"\1", value)
    return value


def _named(reference: JsonDict) -> str:
    """The id a reference names (`urn:uuid:<id>` and `Type/<id>` alike), else its logical
    identifier or description."""
    ref = reference.get("reference")
    if isinstance(ref, str):
        return ref.removeprefix("urn:uuid:").rsplit("/", 1)[-1]
    return repr(reference.get("identifier") or reference.get("display"))
