"""Put `interpret`'s output where the service would: the directory sink, or a FHIR server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapter.fhir.report import transaction_bundle
from adapter.fhir.report_facts import case_identifier

JsonDict = dict[str, Any]


def printed_bundles(path: Path) -> Iterator[JsonDict]:
    """The Bundles `interpret` printed to a file: NDJSON lines, or one indented Bundle."""
    text = path.read_text()
    if text.startswith("{\n"):
        yield json.loads(text)
        return
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def case_transactions(path: Path) -> Iterator[JsonDict]:
    """One transaction of PUTs per case, as the write-back sends it: a case's resources start
    at its status Observation (the v2 form prints each case's inputs after its report)."""
    for bundle in printed_bundles(path):
        cases: list[list[JsonDict]] = []
        for entry in bundle["entry"]:
            resource = entry["resource"]
            starts = resource["resourceType"] == "Observation" and case_identifier(resource)
            if starts or not cases:
                cases.append([])
            cases[-1].append(resource)
        yield from (transaction_bundle(resources) for resources in cases)
