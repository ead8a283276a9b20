"""Structured logs: one JSON object per line on standard error (STYLE.md R14).

Every line holds `ts`, `level`, `logger` and `event` (the log message, a fixed sentence), plus
the fields passed explicitly through `extra=` (job id, correlation id, door, reason, status,
duration). Nothing else of a record is emitted: not its arguments' repr, not a traceback's
exception message. Patient data (names, birth dates, identifiers, values, resource bodies)
must never be passed to a logger; exceptions are logged as their type and the frames they
passed through, because an exception's message can quote the input.

Libraries log what they like (Celery attaches a task's arguments, that is the message body, to
its "received" line as `extra={"data": ...}`), so only the project's own loggers (`adapter`,
`her2`, `workers`) may add fields; uvicorn's messages (addresses, process ids) are formatted;
every other library's line is its fixed message template, never its arguments.

    configure_logging("INFO")
    log.info("message accepted", extra={"job_id": job.job_id, "door": "http"})
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Final, TextIO

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's ANSI copy of the message
)
# Loggers whose `extra=` fields are ours, reviewed to carry ids and codes only.
_OWN: Final = frozenset({"adapter", "her2", "workers"})
# Loggers of libraries that log request lines or payload-bearing messages at INFO.
_QUIET: Final = {"uvicorn.access": logging.WARNING, "httpx": logging.WARNING}


class JsonFormatter(logging.Formatter):
    """A LogRecord -> one JSON line of fixed fields and explicit extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _event(record),
        }
        if record.name.split(".", 1)[0] in _OWN:
            for key, value in vars(record).items():
                if key not in _STANDARD and not key.startswith("_"):
                    line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["frames"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
                for frame in traceback.extract_tb(record.exc_info[2])
            ][-8:]
        return json.dumps(line, ensure_ascii=False, default=str)


def _event(record: logging.LogRecord) -> str:
    """The record's message: formatted for uvicorn (its arguments are addresses and process
    ids), the bare template for everyone else (arguments could carry input text)."""
    if record.args and record.name.split(".", 1)[0] == "uvicorn":
        try:
            return record.getMessage()
        except (TypeError, ValueError):
            return str(record.msg)
    return str(record.msg)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every logger's records to `stream` (standard error) as JSON lines at `level`.

    Replaces the root logger's handlers, so calling it twice does not duplicate lines.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
