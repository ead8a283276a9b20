"""`her2-adapter interpret` (adapter-contract.md 4 and 5; hl7v2-contract.md 1).

    her2-adapter interpret [--site SITE] [--format json|text] FILE...
    her2-adapter interpret [--site SITE] [--format json|text] --ndjson FILE
    her2-adapter interpret [--site SITE] [--format json|text] --hl7v2 FILE...

Settles every case of every message in-process, with no service (`adapter.service.offline`).
Exit status 0 when every message was good, 2 when any was not (bad input is one line on
standard error naming the file and the field; a stack trace is never the message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from adapter.commands import PROG, startup
from adapter.errors import BadInput, UnreadableMessage
from adapter.fhir.json_input import parse_json
from adapter.fhir.json_output import dumps
from adapter.fhir.outcome import exception_outcome, operation_outcome
from adapter.fhir.report import collection_bundle
from adapter.interpretation.model import SiteGroup
from adapter.mappings import Mappings
from adapter.service.offline import InterpretedMessage, interpret_message, interpret_v2_file
from adapter.service.settle import InterpretedCase
from adapter.service.summary import summary_line

STDIN = "-"
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def register(commands: Any) -> None:
    """Add `interpret` to the subcommands of `her2-adapter`."""
    interpret = commands.add_parser(
        "interpret",
        help="interpret messages and print the output resources",
        description="Interpret FHIR messages (an Observation or a Bundle per file, '-' for "
        "standard input) and print one collection Bundle of every case's output resources.",
    )
    interpret.add_argument(
        "--site",
        choices=[group.value for group in SiteGroup],
        help="tumour site for every case, overriding what the message names",
    )
    interpret.add_argument(
        "--format",
        choices=["json", "text"],
        default="json",
        help="json: a FHIR Bundle (default); text: one line per case for a person",
    )
    interpret.add_argument(
        "--ndjson",
        metavar="FILE",
        help="read one message per line; print one line per non-blank input line",
    )
    interpret.add_argument(
        "--hl7v2",
        action="store_true",
        help="the files hold HL7 v2 ORU^R01 messages (one or more each; MLLP framing ignored)",
    )
    interpret.add_argument("files", nargs="*", metavar="FILE", help="message files, '-' = stdin")
    interpret.set_defaults(run=run, parser=interpret)


def run(args: argparse.Namespace) -> int:
    if (args.ndjson is None) == (not args.files):
        args.parser.error("give either FILE... or --ndjson FILE")
    run = Run(
        mappings=startup.mappings(),
        site=SiteGroup(args.site) if args.site else None,
        text=args.format == "text",
        recorded=datetime.now(UTC),  # one time for the whole run
    )
    if args.ndjson is not None:
        if args.hl7v2:
            args.parser.error("--hl7v2 reads FILE..., not --ndjson")
        return run.ndjson(args.ndjson)
    if args.hl7v2:
        return run.hl7v2_files(args.files)
    return run.files(args.files)


class Run:
    """One `interpret` invocation: its settings and the two reading modes."""

    def __init__(
        self, *, mappings: Mappings, site: SiteGroup | None, text: bool, recorded: datetime
    ) -> None:
        self.mappings = mappings
        self.site = site
        self.text = text
        self.recorded = recorded

    def interpret(self, data: bytes) -> InterpretedMessage:
        """Parse and interpret one message; raises BadInput."""
        return interpret_message(
            parse_json(data), self.mappings, site=self.site, recorded=self.recorded
        )

    def files(self, names: Sequence[str]) -> int:
        """One message per file; one Bundle of every case of every good file."""
        resources: list[dict[str, Any]] = []
        any_good, status = False, EXIT_OK
        for name in names:
            shown = _shown(name)
            try:
                message = self.interpret(_read(name))
            except BadInput as error:
                _say(f"{PROG}: {shown}: {error}")
                status = EXIT_BAD_INPUT
                continue
            except Exception as error:  # a bug must not print a trace or stop the other files
                _say(f"{PROG}: internal error while reading {shown}: {type(error).__name__}")
                status = EXIT_BAD_INPUT
                continue
            any_good = True
            resources.extend(self._good(shown, message.warnings, message.cases, message.resources))
        self._print_bundle(resources, any_good)
        return status

    def _good(
        self,
        where: str,
        warnings: Sequence[str],
        cases: Sequence[InterpretedCase],
        resources: Sequence[dict[str, Any]],
    ) -> Sequence[dict[str, Any]]:
        """Say a good message's warnings (and, in text form, its cases); return its resources
        for the one Bundle printed at the end."""
        for warning in warnings:
            _say(f"warning: {where}: {warning}")
        if self.text:
            for case in cases:
                _print(f"{where}: {summary_line(case.case, case.interpretation)}")
        return resources

    def hl7v2_files(self, names: Sequence[str]) -> int:
        """HL7 v2 files, each of one or more messages; one Bundle of every case of every file.

        A bad message is one line naming the file, the message's number and the field; the
        good ones are still printed; exit 2 when any message was bad (hl7v2-contract.md 1).
        """
        resources: list[dict[str, Any]] = []
        any_good, status = False, EXIT_OK
        for name in names:
            shown = _shown(name)
            try:
                data = _read(name)
            except BadInput as error:
                _say(f"{PROG}: {shown}: {error}")
                status = EXIT_BAD_INPUT
                continue
            for result in interpret_v2_file(
                data, self.mappings, site=self.site, recorded=self.recorded
            ):
                where = f"{shown}: message {result.number}"
                if result.error is not None or result.internal_error is not None:
                    problem = result.error or f"internal error: {result.internal_error}"
                    _say(f"{PROG}: {where}: {problem}")
                    status = EXIT_BAD_INPUT
                    continue
                any_good = True
                resources.extend(self._good(where, result.warnings, result.cases, result.resources))
        self._print_bundle(resources, any_good)
        return status

    def _print_bundle(self, resources: list[dict[str, Any]], any_good: bool) -> None:
        """The one collection Bundle of the files' cases (none when every file was bad)."""
        if any_good and not self.text:
            _print(dumps(collection_bundle(resources), indent=2))

    def ndjson(self, name: str) -> int:
        """One message per line; exactly one output line per non-blank input line, in order."""
        shown = _shown(name)
        try:
            opened = _open(name)
        except BadInput as error:
            _say(f"{PROG}: {shown}: {error}")
            return EXIT_BAD_INPUT
        with opened as stream:
            try:
                return self._ndjson_lines(shown, _lines(stream))
            except OSError as error:  # the file went away or the disk failed while reading
                _say(f"{PROG}: {shown}: cannot be read: {error.strerror or error}")
                return EXIT_BAD_INPUT

    def _ndjson_lines(self, shown: str, lines: Iterator[tuple[int, bytes]]) -> int:
        status = EXIT_OK
        for number, line in lines:
            where = f"line {number}"
            try:
                message = self.interpret(line)
            except BadInput as error:
                status = EXIT_BAD_INPUT
                self._bad_line(operation_outcome(error, diagnostics_prefix=f"{where}: "))
                continue
            except Exception as error:  # a bug must not print a trace or stop the other lines
                status = EXIT_BAD_INPUT
                diagnostics = f"{where}: internal error: {type(error).__name__}"
                self._bad_line(exception_outcome(diagnostics))
                continue
            for warning in message.warnings:
                _say(f"warning: {shown}: {where}: {warning}")
            if self.text:
                summaries = (summary_line(c.case, c.interpretation) for c in message.cases)
                _print(f"{where}: " + " | ".join(summaries))
            else:
                _print(dumps(collection_bundle(message.resources)))
        return status

    def _bad_line(self, outcome: dict[str, Any]) -> None:
        if self.text:
            _print("; ".join(issue["diagnostics"] for issue in outcome["issue"]))
        else:
            _print(dumps(outcome))


def _read(name: str) -> bytes:
    """The bytes of file `name` ('-' = standard input); raises UnreadableMessage."""
    try:
        return sys.stdin.buffer.read() if name == STDIN else Path(name).read_bytes()
    except OSError as error:
        raise UnreadableMessage(f"cannot be read: {error.strerror or error}") from error


def _open(name: str) -> AbstractContextManager[BinaryIO]:
    """File `name` ('-' = standard input, left open) to read bytes; raises UnreadableMessage."""
    if name == STDIN:
        return nullcontext(sys.stdin.buffer)
    try:
        return open(name, "rb")  # closed by the caller's `with`
    except OSError as error:
        raise UnreadableMessage(f"cannot be read: {error.strerror or error}") from error


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line) for each non-blank line, read one at a time (an archive of
    any size runs in the memory of one line); blank lines are counted."""
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line.rstrip(b"\r\n")


def _shown(name: str) -> str:
    return "<stdin>" if name == STDIN else name


def _print(line: str, stream: TextIO | None = None) -> None:
    print(line, file=stream or sys.stdout)


def _say(line: str) -> None:
    _print(line, sys.stderr)
