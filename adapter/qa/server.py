"""The adapter's reports from a FHIR server (qa-report-contract.md 3, `--fhir-server`).

A paged search of the DiagnosticReports carrying the adapter's business identifier; for each
page, one search for their status Observations by the same identifiers. One page is held at a
time; the server's `next` links (or `_offset`, `adapter.fhir_server.FhirServer.search`) page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from adapter.fhir.report import LOINC, REPORT_ID_SYSTEM
from adapter.fhir.report_facts import ReportFacts, ReportReader, case_identifier, report_pairs
from adapter.fhir_server import FhirServer

PAGE: Final = 100  # reports per page
# Identifiers per Observation search: 40 x ~82 characters keeps the URL near 3.3 kB, under
# the 8 kB many servers and proxies accept.
IDENTIFIERS_PER_SEARCH: Final = 40


def server_reports(server: FhirServer, reader: ReportReader) -> Iterator[ReportFacts]:
    """Every adapter report on the server, with its status Observation. Raises
    DependencyUnavailable or WriteRejected (refused, e.g. 401) as the client does."""
    search = {"identifier": f"{REPORT_ID_SYSTEM}|", "_count": str(PAGE)}
    for page in server.search("DiagnosticReport", search):
        reports = [
            e["resource"]
            for e in page.get("entry") or ()
            if e.get("resource", {}).get("resourceType") == "DiagnosticReport"
        ]
        cases = list(dict.fromkeys(c for r in reports if (c := case_identifier(r))))
        observations = []
        for start in range(0, len(cases), IDENTIFIERS_PER_SEARCH):
            chunk = cases[start : start + IDENTIFIERS_PER_SEARCH]
            wanted = {
                "identifier": ",".join(f"{REPORT_ID_SYSTEM}|{case}" for case in chunk),
                "code": f"{LOINC}|48676-1",
                "_count": str(len(chunk)),
            }
            for found in server.search("Observation", wanted):
                observations += [e["resource"] for e in found.get("entry") or ()]
        for report, observation in report_pairs([*reports, *observations]):
            yield reader.read(report, observation)
