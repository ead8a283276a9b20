"""`her2-adapter backfill FILE`: a bulk backfill through the service (adapter/service/backfill.py).

    her2-adapter backfill [--batch N] [--site SITE] [--no-wait] [--restart] FILE

Reads FILE (one FHIR message per line, as `interpret --ndjson`), refuses a bad line as the HTTP
door would (one line on standard error naming its number and the field), queues the others in
batches for the workers and, unless `--no-wait`, follows them until every message is
interpreted or dead-lettered. Progress on standard error: a bar redrawn in place on a terminal,
a line every ten seconds otherwise. Running it again resumes where it stopped; once complete it
says so and sends nothing (`--restart` sends the whole file again).

Exit 0 when every line was interpreted (or queued, with `--no-wait`); 2 when any line was
refused or dead-lettered; 1 when it cannot start (settings, mappings, Redis, an unreadable FILE).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from adapter.commands import PROG, startup

if TYPE_CHECKING:
    from adapter.backfill_store import BackfillProgress
    from adapter.errors import BadInput

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def register(commands: Any) -> None:
    """Add `backfill` to the subcommands of `her2-adapter`."""
    from adapter.interpretation.model import SiteGroup
    from adapter.service.backfill import DEFAULT_BATCH

    backfill = commands.add_parser(
        "backfill",
        help="send an NDJSON file of past results through the service, resumably",
        description="Queue every message of an NDJSON file (one FHIR Observation or Bundle per "
        "line) for the workers, in batches, and follow them until interpreted. Run it again "
        "to resume after a stop. Needs REDIS_URL and running workers.",
    )
    backfill.add_argument("file", metavar="FILE", type=Path, help="NDJSON file of messages")
    backfill.add_argument(
        "--batch",
        type=_positive,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"messages per task and per transaction Bundle (default {DEFAULT_BATCH})",
    )
    backfill.add_argument(
        "--site",
        choices=[group.value for group in SiteGroup],
        help="tumour site for every case, overriding what the messages name",
    )
    backfill.add_argument(
        "--no-wait",
        action="store_true",
        help="exit once every line is queued, without following the workers",
    )
    backfill.add_argument(
        "--restart",
        action="store_true",
        help="forget how far this file was sent and send every line again",
    )
    backfill.set_defaults(run=run, parser=backfill)


def run(args: argparse.Namespace) -> int:
    from adapter.backfill_store import BackfillStore
    from adapter.job_store import JobStore
    from adapter.queue import make_celery
    from adapter.redis_client import Replication, redis_client
    from adapter.service import backfill

    settings = startup.settings()
    mappings = startup.mappings()
    startup.redis_reachable(settings)
    if not args.file.is_file():
        raise startup.CannotStart(f"{args.file}: no such file")
    client = redis_client(settings)
    services = backfill.BackfillServices(
        redis=client,
        celery=make_celery(settings),
        jobs=JobStore(client, settings.job_retention_seconds, replication=Replication.of(settings)),
        progress=BackfillStore(client),
        mappings=mappings,
        can_fetch=settings.fhir_server_url is not None,
    )
    shown = str(args.file)
    bar = ProgressBar(shown, sys.stderr)

    def refused(line: int, error: BadInput) -> None:
        bar.say(f"{PROG}: {shown}: line {line}: {error}")

    options = backfill.Options(batch_size=args.batch, site=_site(args.site), restart=args.restart)
    try:
        read, sent = backfill.run(args.file, services, options, refused=refused, progress=bar.show)
    except OSError as error:
        raise startup.CannotStart(f"{shown}: cannot be read: {error.strerror or error}") from None
    final = read if args.no_wait else backfill.wait_until_settled(services, read.id, bar.show)
    bar.done(final)
    line = summary(shown, final, waited=not args.no_wait)
    if not sent:
        line += "; already complete: nothing sent (--restart sends it again)"
    print(line)  # noqa: T201 - the command's answer
    return EXIT_BAD_INPUT if final.refused or final.failed else EXIT_OK


def summary(shown: str, progress: BackfillProgress, *, waited: bool) -> str:
    """The one line a run ends with."""
    counts = f"{progress.line:,} lines: {progress.queued:,} queued, {progress.refused:,} refused"
    if waited:
        counts += f", {progress.interpreted:,} interpreted, {progress.failed:,} dead-lettered"
    return f"{shown}: {counts} (backfill {progress.id[:12]})"


class ProgressBar:
    """The run's progress on `stream`: redrawn in place on a terminal, otherwise one line
    every `LINE_SECONDS` (a log keeps a trace without a line per batch)."""

    WIDTH: Final = 24
    REDRAW_SECONDS: Final = 0.1
    LINE_SECONDS: Final = 10.0

    def __init__(self, shown: str, stream: TextIO) -> None:
        self.shown, self.stream = shown, stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False
        self.settled_before: int | None = None  # settled when this run first looked

    def show(self, progress: BackfillProgress) -> None:
        now = time.monotonic()
        if now - self.last < (self.REDRAW_SECONDS if self.tty else self.LINE_SECONDS):
            return
        self.last = now
        self._draw(progress, now)

    def say(self, line: str) -> None:
        """A line of its own (a refused line), above the bar."""
        self._clear()
        print(line, file=self.stream, flush=True)

    def done(self, progress: BackfillProgress) -> None:
        self._draw(progress, time.monotonic())
        if self.tty:
            print(file=self.stream, flush=True)
            self.drawn = False

    def _draw(self, progress: BackfillProgress, now: float) -> None:
        if self.settled_before is None:
            self.settled_before = progress.settled
        rate = (progress.settled - self.settled_before) / max(now - self.started, 1e-9)
        text = render(progress, self.WIDTH, rate)
        self._clear()
        if self.tty:
            self.stream.write(text)
            self.drawn = True
        else:
            self.stream.write(f"{self.shown}: {text}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.drawn = False


def render(progress: BackfillProgress, width: int, rate: float) -> str:
    """`[#########...............]  37%  37,000/100,000 lines  queued 36,990  interpreted ...`:
    the bar is the share of the file's lines read; the counts follow the workers, `rate`
    (messages settled per second in this run) too."""
    share = progress.line / progress.lines if progress.lines else 1.0
    filled = round(share * width)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}  "
        f"{progress.line:,}/{progress.lines:,} lines  queued {progress.queued:,}  "
        f"refused {progress.refused:,}  interpreted {progress.interpreted:,}  "
        f"dead-lettered {progress.failed:,}  {rate:,.0f} msg/s"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _site(value: str | None) -> Any:
    from adapter.interpretation.model import SiteGroup

    return SiteGroup(value) if value else None
