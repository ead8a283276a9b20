"""`her2-adapter qa`: the laboratory QA report (qa-report-contract.md).

    her2-adapter qa [--period month|quarter|year|all] [--format csv|json|html|fhir] SOURCE...
    her2-adapter qa [--period ...] [--format ...] --fhir-server URL

Reads the adapter's reports (files, directories of sink Bundles, `-`; or a FHIR server with the
service's authentication), counts each case once by its latest report and prints one row per
laboratory x site x period plus an `all` row per site and period. Exit 0; 2 when a source could
not be read (one line each on standard error naming it; the rest is still counted and printed);
1 when the mappings or benchmark bands are broken or the settings are unsafe.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

from adapter.commands import startup

if TYPE_CHECKING:
    from adapter.fhir.report_facts import ReportFacts, ReportReader

EXIT_OK, EXIT_CANNOT_START, EXIT_UNREADABLE = 0, 1, 2
FORMATS: Final = ("csv", "json", "html", "fhir")
Problem = Callable[[str], None]


def register(commands: Any) -> None:
    """Add `qa` to the subcommands of `her2-adapter`."""
    from adapter.qa.periods import GRANULARITIES

    qa = commands.add_parser(
        "qa",
        help="laboratory QA report: HER2 positivity and mix per laboratory, site and period",
        description="Count the adapter's reports (files written by interpret or the directory "
        "sink, '-' for standard input, or --fhir-server) per laboratory, site and period, "
        "against the literature's bands.",
    )
    qa.add_argument("--period", choices=GRANULARITIES, default="month")
    qa.add_argument("--format", choices=FORMATS, default="csv")
    qa.add_argument(
        "--fhir-server", metavar="URL", help="read the reports from this FHIR server instead"
    )
    qa.add_argument("sources", nargs="*", metavar="SOURCE", help="files or directories, '-'")
    qa.set_defaults(run=run, parser=qa)


def run(args: argparse.Namespace) -> int:
    from adapter.benchmarks import load_benchmarks
    from adapter.errors import MappingError
    from adapter.fhir.report_facts import ReportReader
    from adapter.mapping_files import default_mappings, mappings_directory
    from adapter.qa.measure_report import require_concepts
    from adapter.qa.report import QaReport

    if bool(args.fhir_server) == bool(args.sources):
        args.parser.error("give either SOURCE... or --fhir-server URL")
    try:
        mappings = default_mappings()
        benchmarks = load_benchmarks(mappings_directory())
        if args.format == "fhir":
            require_concepts(mappings)
    except MappingError as error:
        return _say(f"her2-adapter: mappings: {error}", EXIT_CANNOT_START)
    reader = ReportReader(mappings)
    problems: list[str] = []

    def problem(line: str) -> None:
        problems.append(line)
        _say(f"her2-adapter: {line}")

    if args.fhir_server:
        reports = _server_reports(args.fhir_server, reader, problem)
        if reports is None:
            return EXIT_CANNOT_START
    else:
        reports = _file_reports(args.sources, reader, problem)
    with QaReport(mappings, benchmarks, args.period) as report:
        report.count(reports)
        sys.stdout.write(report.render(args.format))
        for reason, cases in sorted(report.not_counted().items()):
            _say(f"warning: {cases} case(s) not counted: {reason}")
    return EXIT_UNREADABLE if problems else EXIT_OK


def _file_reports(
    sources: list[str], reader: ReportReader, problem: Problem
) -> Iterator[ReportFacts]:
    from adapter.qa.sources import source_reports

    for name in sources:
        yield from source_reports(name, reader, problem)


def _server_reports(
    url: str, reader: ReportReader, problem: Problem
) -> Iterator[ReportFacts] | None:
    """The server's reports, read with the service's settings (FHIR_SERVER_TOKEN or OAuth2,
    FHIR_TIMEOUT_SECONDS); None when the settings are refused (said on standard error)."""
    import httpx

    from adapter.errors import DependencyUnavailable, WriteRejected
    from adapter.fhir_auth import outbound_auth
    from adapter.fhir_server import FhirServer
    from adapter.qa.server import server_reports

    try:
        settings = startup.settings()
    except startup.CannotStart as error:
        _say(f"her2-adapter qa: {error}")
        return None
    client = httpx.Client(timeout=settings.fhir_timeout_seconds)
    server = FhirServer(client, url, outbound_auth(settings))

    def reports() -> Iterator[ReportFacts]:
        try:
            yield from server_reports(server, reader)
        except (DependencyUnavailable, WriteRejected) as error:
            problem(f"{url}: cannot be read: {error}")
        finally:
            client.close()

    return reports()


def _say(line: str, status: int = EXIT_OK) -> int:
    sys.stderr.write(line + "\n")
    return status
