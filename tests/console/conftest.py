"""The operations console through FastAPI's TestClient against a real Redis (a database of its
own, TEST_CONSOLE_REDIS_DB, default 5, flushed before and after each test); the browser tests
(test_console_browser.py) run it in a real `serve` with a worker and the FHIR test server."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import pytest
import redis

with warnings.catch_warnings():  # starlette's TestClient warns about httpx at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from adapter.api.app import create_app
from adapter.settings import Settings
from tests.support.redis_db import emptied, redis_url_for_tests

REDIS_URL: Final = redis_url_for_tests(int(os.environ.get("TEST_CONSOLE_REDIS_DB", "5")))
KEY: Final = "console-key-Wq83"
OTHER_KEY: Final = "console-key-Jn26"


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    with emptied(REDIS_URL) as client:
        yield client


@pytest.fixture
def client(redis_db: redis.Redis, tmp_path: Path) -> Iterator[TestClient]:
    assert redis_db.ping()
    settings = Settings(
        redis_url=REDIS_URL, adapter_api_keys=f"{KEY},{OTHER_KEY}", sink_dir=tmp_path / "sink"
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def log_in(client: TestClient, key: str = KEY) -> str:
    """Log in through the form as a person does; returns the session's CSRF token."""
    form = client.get("/console/login")
    token = hidden(form.text, "login_token")
    answer = client.post("/console/login", data={"key": key, "login_token": token})
    assert answer.status_code == 200, answer.text  # followed to /console
    assert str(answer.url).endswith("/console")
    return hidden(answer.text, "csrf")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


class Figures(HTMLParser):
    """Every element carrying `data-metric`: its data-* attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    VOID: Final = frozenset({"meta", "link", "input", "br", "img", "hr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        data = {k: v or "" for k, v in attrs if k.startswith("data-")}
        entry = {**data, "text": ""} if "data-metric" in data else None
        self._open.append(entry or {})
        if entry is not None:
            self.found.append(entry)

    def handle_endtag(self, _tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for entry in self._open:
            if "data-metric" in entry:
                entry["text"] += data


def figures(html: str) -> list[dict[str, Any]]:
    parser = Figures()
    parser.feed(html)
    return parser.found
