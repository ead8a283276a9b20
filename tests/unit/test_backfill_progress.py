"""The backfill's progress display (adapter/commands/backfill.py): what a person watching the
terminal, or reading the log of a scheduled run, sees."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from adapter.backfill_store import BackfillProgress
from adapter.commands.backfill import ProgressBar, render, summary


def progress(line: int, *, interpreted: int = 0, refused: int = 0) -> BackfillProgress:
    return BackfillProgress(
        id="0123456789abcdef0123456789abcdef",
        file="archive.ndjson",
        lines=200,
        offset=0,
        line=line,
        queued=line - refused,
        refused=refused,
        batches=line // 100,
        interpreted=interpreted,
        failed=0,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=None,
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_the_share_of_lines_read_and_the_workers_counts() -> None:
    text = render(progress(50, interpreted=20, refused=1), width=8, rate=12.4)
    assert text.startswith("[##......]  25%  50/200 lines  queued 49  refused 1")
    assert "interpreted 20" in text
    assert text.endswith("12 msg/s")


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_a_refusal_gets_its_own_line() -> None:
    terminal = Terminal()
    bar = ProgressBar("archive.ndjson", terminal)
    bar.show(progress(100))
    bar.say("her2-adapter: archive.ndjson: line 7: not JSON")
    bar.done(progress(200, interpreted=200))
    shown = terminal.getvalue()
    assert "\r\x1b[2K" + "her2-adapter: archive.ndjson: line 7: not JSON\n" in shown  # bar cleared
    last_bar = shown.rstrip("\n").rsplit("\x1b[2K", 1)[1]
    assert "100%  200/200 lines  queued 200  refused 0  interpreted 200" in last_bar
    assert shown.count("\n") == 2  # the refusal and the last bar, left standing


def test_in_a_log_each_update_is_a_line_naming_the_file() -> None:
    log = io.StringIO()
    bar = ProgressBar("archive.ndjson", log)
    bar.show(progress(100))
    bar.show(progress(150))  # within ten seconds of the last line: not written
    bar.done(progress(200, interpreted=200))
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("archive.ndjson: [") for line in lines)
    assert "\r" not in log.getvalue()


def test_the_last_line_counts_every_outcome() -> None:
    done = progress(200, interpreted=197, refused=3)
    assert summary("archive.ndjson", done, waited=True) == (
        "archive.ndjson: 200 lines: 197 queued, 3 refused, 197 interpreted, 0 dead-lettered "
        "(backfill 0123456789ab)"
    )
    assert "interpreted" not in summary("archive.ndjson", done, waited=False)
