"""The adapter's reports from files (qa-report-contract.md 3): what `interpret` printed (one
JSON Bundle, or NDJSON: one per line), the directory sink's Bundles, `-` for standard input.

A file is read as NDJSON when its first non-blank line is a whole JSON value, else as one JSON
document. NDJSON and directories stream: one Bundle is held at a time. A problem (a file that
cannot be read, a line that is not JSON) is handed to `problems` as one line naming the source
and, for NDJSON, the line; everything else is still read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final

from adapter.fhir.grouping import listed
from adapter.fhir.report_facts import ReportFacts, ReportReader, report_pairs

STDIN: Final = "-"
SINK_TEMPORARY: Final = ".tmp-"  # a sink file still being written (adapter.fhir_server)
Problems = Callable[[str], None]


def source_reports(name: str, reader: ReportReader, problems: Problems) -> Iterator[ReportFacts]:
    """Every report of one SOURCE: a file, a directory of sink Bundles, or `-`."""
    if name == STDIN:
        yield from _stream(sys.stdin.buffer, "<stdin>", reader, problems)
        return
    path = Path(name)
    if path.is_dir():
        try:
            files = [e.path for e in os.scandir(path) if _is_bundle_file(e)]
        except OSError as error:
            problems(f"{name}: cannot be read: {error.strerror or error}")
            return
        for file in files:
            yield from _file(file, reader, problems)
        return
    yield from _file(name, reader, problems)


def _is_bundle_file(entry: os.DirEntry[str]) -> bool:
    return entry.name.endswith(".json") and not entry.name.startswith(SINK_TEMPORARY)


def _file(name: str, reader: ReportReader, problems: Problems) -> Iterator[ReportFacts]:
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as error:
        problems(f"{name}: cannot be read: {error.strerror or error}")
        return
    with stream:
        yield from _stream(stream, name, reader, problems)


def _stream(
    stream: IO[bytes], shown: str, reader: ReportReader, problems: Problems
) -> Iterator[ReportFacts]:
    numbered = ((n, line) for n, line in enumerate(stream, start=1) if line.strip())
    try:
        number, line = next(numbered, (0, b""))
        first = _parsed(line) if number else None
        if first is _NOT_JSON:  # not a whole value: one indented document, read whole
            yield from _document(_parsed(line + stream.read()), shown, reader, problems)
            return
        if number:
            yield from _document(first, f"{shown}: line {number}", reader, problems)
        for number, line in numbered:
            yield from _document(_parsed(line), f"{shown}: line {number}", reader, problems)
    except OSError as error:
        problems(f"{shown}: cannot be read: {error.strerror or error}")


_NOT_JSON: Final = object()


def _parsed(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


def _document(
    document: Any, where: str, reader: ReportReader, problems: Problems
) -> Iterator[ReportFacts]:
    if document is _NOT_JSON:
        problems(f"{where}: not JSON")
        return
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        problems(f"{where}: not a FHIR resource")
        return
    for report, observation in report_pairs(_resources(document)):
        yield reader.read(report, observation)


def _resources(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """A Bundle's resources (any type: collection, transaction, searchset), or the resource."""
    if document["resourceType"] != "Bundle":
        return [document]
    return (
        e["resource"]
        for e in listed(document.get("entry"))
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    )
