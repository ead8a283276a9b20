"""The operations console in a real browser: Debian's chromium driven by Playwright, against a
real `her2-adapter serve`, a worker, Redis and the FHIR test server.

Log in (a wrong key refused first), post good and refused messages, read the page's figures
against `/metrics`, see the refused reason, replay a dead letter from the page and watch its
case land, discard another, keep the layout at 1280 and 390 px, find no serious or critical
axe-core violation, use it from the keyboard, log out; a missing session and a POST without
the CSRF token are refused. The screenshot in the README (docs/console.png) is taken here
(CONSOLE_SCREENSHOT=docs/console.png).

Playwright's own browser download is not used: the system's chromium is passed as
`executable_path` (`--no-sandbox` as root). Without chromium the test is skipped, saying how to
install it (scripts/check installs it where apt-get can).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from adapter.dead_letters import DeadLetterQueue
from adapter.job_store import JobState, JobStore
from tests.integration.conftest import ehr_holds
from tests.support.fhir_server import FhirTestServer, free_port
from tests.support.npm_packages import ensure_npm_packages
from tests.support.processes import WorkerProcess, wait_for
from tests.support.redis_db import emptied, redis_url_for_tests
from tests.support.serve import ServeProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT: Final = Path(__file__).resolve().parents[2]
CHROMIUM: Final = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
REDIS_URL: Final = redis_url_for_tests(int(os.environ.get("TEST_CONSOLE_BROWSER_REDIS_DB", "4")))
KEY: Final = "browser-key-Rt59"
AXE: Final = ROOT / "tests" / "console" / "axe"
# The README's picture (docs/console.png) is taken here when CONSOLE_SCREENSHOT names where to
# save it (`CONSOLE_SCREENSHOT=docs/console.png scripts/test tests/console`); otherwise into the
# test's temporary directory, so a test run never changes a tracked file.
SCREENSHOT_TO: Final = os.environ.get("CONSOLE_SCREENSHOT")
GOOD: Final = ROOT / "examples" / "fhir" / "breast-ihc2plus-ish-group1.json"
REPLAYED: Final = ROOT / "examples" / "fhir" / "gastric-ihc2plus-ish-ratio.json"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("console-browser")
    with (
        emptied(REDIS_URL) as client,
        FhirTestServer(free_port(), quiet=True) as fhir,
    ):
        env = {
            "REDIS_URL": REDIS_URL,
            "ADAPTER_API_KEYS": KEY,
            "FHIR_SERVER_URL": fhir.base_url,
            "WORKER_HEARTBEAT_SECONDS": "1",
            "SINK_DIR": str(tmp / "sink"),
        }
        serve = ServeProcess(free_port(), env, tmp / "serve.log").start()
        worker = WorkerProcess(serve.env, tmp / "worker.log").start()
        try:
            yield {"url": serve.base_url, "redis": client, "fhir": fhir}
        finally:
            worker.stop()
            serve.stop()


def bearer(**more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}", **more}


def metrics(url: str) -> list[Any]:
    text = httpx.get(f"{url}/metrics", headers=bearer()).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def fetch(reference: str) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": reference}}


def names(example: Path) -> dict[str, Any]:
    """A references-only message naming the example's Observations (the worker reads them)."""
    entries = json.loads(example.read_text())["entry"]
    observations = [
        e["resource"]["id"] for e in entries if e["resource"]["resourceType"] == "Observation"
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [fetch(f"Observation/{i}") for i in observations],
    }


def post(url: str, message: dict[str, Any]) -> str:
    """POST a message; its job id."""
    answer = httpx.post(
        f"{url}/fhir",
        content=json.dumps(message),
        headers=bearer(**{"Content-Type": "application/fhir+json"}),
    )
    assert answer.status_code == 202, answer.text
    return str(answer.headers["content-location"].rsplit("/", 1)[1])


def settled(client: redis.Redis, job_id: str) -> bool:
    record = JobStore(client, 3600).get(job_id)
    return record is not None and record.state is not JobState.QUEUED


def test_the_console_in_a_browser(browser: Any, deployment: dict[str, Any], tmp_path: Path) -> None:
    url, client = deployment["url"], deployment["redis"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    # without a session: the login page; a wrong key is refused
    page.goto(f"{url}/console")
    assert page.url.endswith("/console/login")
    page.fill("#key", "not-the-key")
    page.keyboard.press("Enter")
    page.locator("#login-error").wait_for(timeout=10_000)

    # traffic: two good messages, one refused, one dead letter of a good message to replay
    for _ in range(2):
        posted = httpx.post(
            f"{url}/fhir",
            content=GOOD.read_bytes(),
            headers=bearer(**{"Content-Type": "application/fhir+json"}),
        )
        assert posted.status_code == 202
        job_id = posted.headers["content-location"].rsplit("/", 1)[1]
        wait_for(lambda job_id=job_id: settled(client, job_id), 60, "a job to finish")
    refused = httpx.post(
        f"{url}/fhir", content=b"{", headers=bearer(**{"Content-Type": "application/fhir+json"})
    )
    assert refused.status_code == 400
    # two that dead-letter: they name results the FHIR server does not hold (yet)
    to_replay = post(url, names(REPLAYED))
    to_discard = post(url, {**names(REPLAYED), "entry": [fetch("Observation/never-stored")]})
    for job_id in (to_replay, to_discard):
        wait_for(lambda job_id=job_id: settled(client, job_id), 60, "a job to dead-letter")
    assert DeadLetterQueue(client, 3600).size() == 2

    # log in from the keyboard
    page.goto(f"{url}/console/login")
    page.focus("#key")
    page.keyboard.type(KEY)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/console")

    # the figures equal /metrics; the refused reason is shown
    samples = metrics(url)
    cells = page.locator("[data-metric][data-door]:not([data-window]):not([data-quantile])")
    assert cells.count() >= 14
    for i in range(cells.count()):
        cell = cells.nth(i)
        name, door = cell.get_attribute("data-metric"), cell.get_attribute("data-door")
        reason = cell.get_attribute("data-reason")
        wanted = sum(
            s.value
            for s in samples
            if s.name == name
            and s.labels.get("door") == door
            and (reason is None or s.labels.get("reason") == reason)
        )
        assert float(cell.inner_text()) == wanted, (name, door, reason)
    assert page.locator('[data-metric="her2_messages_rejected_total"][data-reason]').count() == 1
    accepted = page.locator(
        '[data-metric="her2_messages_accepted_total"][data-door="http"]:not([data-window])'
    )
    assert accepted.inner_text().strip() == "4"  # two good, two that dead-letter later

    # accessibility: axe-core finds no serious or critical violation
    ensure_npm_packages(AXE)
    # evaluated through the DevTools protocol: the page's CSP (rightly) refuses a script tag
    page.evaluate((AXE / "node_modules" / "axe-core" / "axe.min.js").read_text())
    found = page.evaluate("async () => (await axe.run()).violations")
    serious = [(v["id"], v["impact"]) for v in found if v["impact"] in ("serious", "critical")]
    assert not serious, serious

    # the top of the page down to the dead letters, as the README shows it
    top = {"x": 0, "y": 0, "width": 1280, "height": 1900}
    shot = Path(SCREENSHOT_TO) if SCREENSHOT_TO else tmp_path / "console.png"
    page.screenshot(path=str(shot), full_page=True, clip=top)
    assert shot.stat().st_size > 10_000  # a picture of the page, not a blank

    # the cause put right (the EHR now holds the results), then replayed from the page, from
    # the keyboard: a confirmation, then the result, then the case lands
    row = page.locator(f'[data-dead-letter="{to_replay}"]')
    assert row.locator('[data-reason="write-rejected"]').count() == 1
    ehr_holds(
        deployment["fhir"], *(e["resource"] for e in json.loads(REPLAYED.read_text())["entry"])
    )
    row.locator("a", has_text="Replay").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Yes, replay it").click()
    page.locator('[data-result="replayed"]').wait_for(timeout=10_000)
    wait_for(lambda: settled(client, to_replay), 60, "the replayed job to finish")
    record = JobStore(client, 3600).get(to_replay)
    assert record is not None
    assert record.state is JobState.DONE
    page.goto(f"{url}/console#cases")
    report = next(ref for ref in record.written if ref.startswith("DiagnosticReport/"))
    assert page.locator(f'[data-report="{report.split("/")[1]}"]').count() >= 1

    # discard another
    page.goto(f"{url}/console/dead-letters/{to_discard}/discard")
    page.get_by_role("button", name="Yes, discard it").click()
    page.locator('[data-result="discarded"]').wait_for(timeout=10_000)
    page.goto(f"{url}/console")
    assert page.locator("[data-dead-letter]").count() == 0

    # the layout holds at 390 px: nothing wider than the window
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/console")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    # a POST without the CSRF token is refused, with the session's own cookie
    answer = page.request.post(f"{url}/console/logout", form={"csrf": "forged"})
    assert answer.status == 403

    # log out: the console leads to the login page again
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{url}/console/login")
    page.goto(f"{url}/console")
    assert page.url.endswith("/console/login")
    page.close()
