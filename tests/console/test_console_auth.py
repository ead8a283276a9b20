"""The console's door: the same API keys through a login form, a signed session cookie, a CSRF
token on every POST, no-store and a Content-Security-Policy without inline script; without a
session every console URL leads to the login page, and the JSON API keeps its bearer keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest
import redis
from fastapi.testclient import TestClient

from adapter.api.app import create_app
from adapter.api.console_session import COOKIE
from adapter.dead_letters import DeadLetterQueue
from adapter.queue import InterpretJob
from adapter.settings import Settings
from tests.console.conftest import KEY, OTHER_KEY, REDIS_URL, hidden, log_in

pytestmark = pytest.mark.integration

CONSOLE_URLS: Final = (
    ("GET", "/console"),
    ("GET", "/console?window=day"),
    ("GET", "/console/dead-letters/j-1/replay"),
    ("POST", "/console/dead-letters/j-1/replay"),
    ("POST", "/console/dead-letters/j-1/discard"),
    ("POST", "/console/logout"),
)


@pytest.mark.parametrize(("method", "url"), CONSOLE_URLS)
def test_every_console_url_without_a_session_leads_to_the_login_page(
    client: TestClient, method: str, url: str
) -> None:
    answer = client.request(method, url, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"
    assert answer.headers["cache-control"] == "no-store"


def test_a_wrong_key_is_refused_and_opens_no_session(client: TestClient) -> None:
    token = hidden(client.get("/console/login").text, "login_token")
    answer = client.post("/console/login", data={"key": KEY + "x", "login_token": token})
    assert answer.status_code == 403
    assert "not accepted" in answer.text
    assert COOKIE not in answer.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_login_post_without_the_form_token_is_refused(client: TestClient) -> None:
    client.get("/console/login")
    answer = client.post("/console/login", data={"key": KEY})
    assert answer.status_code == 403
    assert 'data-refused="csrf"' in answer.text
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_signed_httponly_strict_and_expires(client: TestClient) -> None:
    token = hidden(client.get("/console/login").text, "login_token")
    answer = client.post(
        "/console/login", data={"key": OTHER_KEY, "login_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert re.search(r"Max-Age=28800", cookie)
    assert "Path=/console" in cookie
    assert KEY not in cookie
    assert OTHER_KEY not in cookie


def test_a_tampered_cookie_is_no_session(client: TestClient) -> None:
    log_in(client)
    value = client.cookies[COOKIE]
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_every_console_page_is_no_store_with_a_csp_and_no_inline_script(
    client: TestClient,
) -> None:
    pages = [client.get("/console/login")]
    log_in(client)
    pages += [client.get("/console"), client.get("/console?window=day")]
    for page in pages:
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page.text, re.S)
        assert all("src=" in attrs and not body.strip() for attrs, body in scripts), scripts
        assert " style=" not in page.text
        assert "<style" not in page.text
        assert not re.search(r"<[^>]+\son[a-z]+=", page.text), "an inline event handler"


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, redis_db: redis.Redis
) -> None:
    job = InterpretJob(job_id="dl-csrf", door="http", received_at="2026-01-01T00:00:00Z", body="{}")
    DeadLetterQueue(redis_db, 3600).add(job, "bad-input", {"resourceType": "OperationOutcome"})
    csrf = log_in(client)
    for data in ({}, {"csrf": csrf + "x"}):
        answer = client.post("/console/dead-letters/dl-csrf/discard", data=data)
        assert answer.status_code == 403
        assert 'data-refused="csrf"' in answer.text
        assert client.post("/console/logout", data=data).status_code == 403
    assert DeadLetterQueue(redis_db, 3600).get("dl-csrf") is not None
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_logging_out_ends_the_session_even_for_a_copy_of_its_cookie(client: TestClient) -> None:
    csrf = log_in(client)
    copy = client.cookies[COOKIE]
    answer = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"
    client.cookies.set(COOKIE, copy)
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_json_api_keeps_its_bearer_keys(client: TestClient) -> None:
    log_in(client)
    assert client.get("/metrics").status_code == 401  # a console session is no API key
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200


def test_an_open_demo_api_still_opens_no_console_without_a_configured_key(
    redis_db: redis.Redis, tmp_path: Path
) -> None:
    assert redis_db.ping()
    settings = Settings(redis_url=REDIS_URL, adapter_demo_mode=True, sink_dir=tmp_path / "sink")
    with TestClient(create_app(settings)) as open_client:
        for key in ("", "anything"):
            token = hidden(open_client.get("/console/login").text, "login_token")
            answer = open_client.post("/console/login", data={"key": key, "login_token": token})
            assert answer.status_code == 403
        assert open_client.get("/console", follow_redirects=False).status_code == 303
