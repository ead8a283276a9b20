"""adapter.log: JSON lines of fixed fields; only our own loggers add fields; no exception text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from adapter.log import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_own_logger_line_has_fixed_fields_and_its_extras(stream: io.StringIO) -> None:
    logging.getLogger("adapter.api").info("message accepted", extra={"job_id": "j-1"})
    (line,) = lines(stream)
    assert line["event"] == "message accepted"
    assert line["job_id"] == "j-1"
    assert {"ts", "level", "logger"} <= set(line)


def test_library_extras_and_arguments_are_never_written(stream: io.StringIO) -> None:
    body = '{"name": [{"family": "Quixotica"}]}'
    logging.getLogger("celery.worker.strategy").info(
        "Task %(name)s received: %(args)s", {"name": "t", "args": body}, extra={"data": body}
    )
    text = stream.getvalue()
    assert "Quixotica" not in text
    assert lines(stream)[0]["event"] == "Task %(name)s received: %(args)s"


def test_uvicorn_messages_are_formatted(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    assert lines(stream)[0]["event"] == "Started server process [42]"


def test_exception_is_its_type_and_frames_never_its_message(stream: io.StringIO) -> None:
    try:
        raise ValueError("'Quixotica' is not a number")
    except ValueError:
        logging.getLogger("adapter.api").exception("unexpected error")
    (line,) = lines(stream)
    assert line["exception"] == "ValueError"
    assert line["frames"]
    assert "Quixotica" not in stream.getvalue()
