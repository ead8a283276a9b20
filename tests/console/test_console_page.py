"""What the console shows: every figure equals what `/metrics` renders for its metric and door,
reasons included; dead letters can be replayed and discarded from the page (a confirmation, then
the result); recent cases are searched by accession; no patient name or birth date is ever shown;
the per-minute series the charts read is bounded."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapter.backfill_store import BackfillStore
from adapter.dead_letters import DeadLetterQueue
from adapter.heartbeat import LISTENERS, WORKERS, beat, forget
from adapter.job_store import JobState, JobStore
from adapter.metrics import SERIES_PREFIX, SERIES_SECONDS, Metrics
from adapter.queue import InterpretJob
from adapter.recent_cases import LIMIT, RecentCase, RecentCases
from tests.console.conftest import KEY, figures, hidden, log_in
from tests.security.test_no_leaks import BIRTH, FAMILY, GIVEN, phi_message
from tests.support.phi import phi_found

pytestmark = pytest.mark.integration

ROOT: Final = Path(__file__).resolve().parents[2]
BEARER: Final = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/fhir+json"}


def prometheus(client: TestClient) -> list[Any]:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def expected(samples: list[Any], figure: dict[str, Any]) -> float:
    """What /metrics says for one figure: its metric's samples of its door (and reason)."""
    return sum(
        s.value
        for s in samples
        if s.name == figure["data-metric"]
        and s.labels.get("door") == figure["data-door"]
        and figure.get("data-reason", s.labels.get("reason")) == s.labels.get("reason")
    )


def dead_letter(client: redis.Redis, door: str = "http", body: str = "{}") -> InterpretJob:
    job = InterpretJob(job_id=uuid.uuid4().hex, door=door, received_at=datetime.now(UTC), body=body)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "value",
                "diagnostics": "ratio is not a number",
                "expression": ["Observation.component[0]"],
            }
        ],
    }
    DeadLetterQueue(client, 3600).add(job, "bad-input", outcome)
    return job


def test_every_figure_equals_what_metrics_renders(
    client: TestClient, redis_db: redis.Redis
) -> None:
    good = (ROOT / "examples/fhir/breast-ihc3plus.json").read_bytes()
    for _ in range(2):
        assert client.post("/fhir/Observation", content=good, headers=BEARER).status_code == 202
    assert client.post("/fhir", content=b"{", headers=BEARER).status_code == 400
    wrong_type = {**BEARER, "Content-Type": "text/plain"}
    assert client.post("/fhir/Observation", content=good, headers=wrong_type).status_code == 415
    metrics = Metrics(redis_db)
    with metrics.batch() as tally:  # what the MLLP door and a worker count
        tally.incr("her2_messages_received_total", door="mllp")
        tally.incr("her2_messages_rejected_total", door="mllp", reason="bad-message")
        tally.incr("her2_jobs_processed_total", door="http")
        tally.incr("her2_reports_written_total", door="http")
        tally.incr("her2_dead_lettered_total", door="mllp", reason="write-rejected")
        tally.incr("her2_writeback_retries_total", door="http", reason="fhir-unavailable")
        tally.observe("her2_end_to_end_seconds", 0.3, door="http")
    log_in(client)

    page = client.get("/console").text
    samples = prometheus(client)
    totals = [f for f in figures(page) if "data-window" not in f]
    assert len({(f["data-metric"], f["data-door"]) for f in totals}) >= 14
    for figure in totals:
        assert float(figure["text"].strip()) == expected(samples, figure), figure
    shown = {
        (f["data-metric"].split("_")[1], f["data-door"], f["data-reason"])
        for f in totals
        if "data-reason" in f
    }
    assert shown == {
        ("messages", "http", "not-json"),
        ("messages", "http", "media-type"),
        ("messages", "mllp", "bad-message"),
        ("dead", "mllp", "write-rejected"),
    }
    hour = {
        (f["data-metric"], f["data-door"]): f["text"].split()[0]
        for f in figures(page)
        if f.get("data-window") == "hour" and "data-quantile" not in f
    }
    assert hour[("her2_messages_accepted_total", "http")] == "2"  # counted this minute
    p50 = next(
        f for f in figures(page) if f.get("data-quantile") == "0.5" and f["data-door"] == "http"
    )
    assert "ms" in p50["text"] or " s" in p50["text"]


def test_refused_reasons_are_shown_by_door(client: TestClient) -> None:
    assert client.post("/fhir", content=b"{", headers=BEARER).status_code == 400
    log_in(client)
    reasons = [f for f in figures(client.get("/console").text) if "data-reason" in f]
    refused = {
        (f["data-door"], f["data-reason"])
        for f in reasons
        if f["data-metric"] == "her2_messages_rejected_total"
    }
    assert len(refused) == 1
    ((door, reason),) = refused
    assert door == "http"
    assert reason


def test_a_dead_letter_is_replayed_from_the_page_after_a_confirmation(
    client: TestClient, redis_db: redis.Redis
) -> None:
    job = dead_letter(redis_db)
    csrf = log_in(client)
    page = client.get("/console").text
    assert f'data-dead-letter="{job.job_id}"' in page
    assert "ratio is not a number" in page
    assert "Observation.component[0]" in page
    confirm = client.get(f"/console/dead-letters/{job.job_id}/replay")
    assert confirm.status_code == 200
    assert "Yes, replay it" in confirm.text
    assert DeadLetterQueue(redis_db, 3600).get(job.job_id) is not None  # nothing done yet

    done = client.post(f"/console/dead-letters/{job.job_id}/replay", data={"csrf": csrf})
    assert done.status_code == 200
    assert 'data-result="replayed"' in done.text
    assert DeadLetterQueue(redis_db, 3600).get(job.job_id) is None
    record = JobStore(redis_db, 3600).get(job.job_id)
    assert record is not None
    assert record.state is JobState.QUEUED
    again = client.post(f"/console/dead-letters/{job.job_id}/replay", data={"csrf": csrf})
    assert again.status_code == 404
    assert 'data-result="not-found"' in again.text


def test_a_dead_letter_is_discarded_from_the_page(
    client: TestClient, redis_db: redis.Redis
) -> None:
    job = dead_letter(redis_db, door="mllp")
    csrf = log_in(client)
    confirm = client.get(f"/console/dead-letters/{job.job_id}/discard")
    assert hidden(confirm.text, "csrf") == csrf
    done = client.post(f"/console/dead-letters/{job.job_id}/discard", data={"csrf": csrf})
    assert 'data-result="discarded"' in done.text
    assert DeadLetterQueue(redis_db, 3600).size() == 0
    assert f'data-dead-letter="{job.job_id}"' not in client.get("/console").text


def test_recent_cases_are_searched_by_accession(client: TestClient, redis_db: redis.Redis) -> None:
    cases = RecentCases(redis_db, 3600)
    pipe = redis_db.pipeline()
    lines = [
        RecentCase(f"ACC-{n:03d}", "Positive", "", f"r{n}", 1, "final", "http", datetime.now(UTC))
        for n in range(LIMIT + 5)
    ]
    cases.noted(lines).add_to(pipe)
    pipe.execute()
    assert redis_db.llen("her2:recent-cases") == LIMIT  # bounded
    log_in(client)
    page = client.get("/console", params={"accession": "acc-504"}).text
    assert 'data-case="ACC-504"' in page
    assert 'data-case="ACC-503"' not in page
    assert 'data-report="r504"' in page


def test_backfill_runs_are_shown_with_their_counts(
    client: TestClient, redis_db: redis.Redis
) -> None:
    store = BackfillStore(redis_db)
    store.begin("b" * 64, "cases.ndjson", 12)
    store.finish("b" * 64, offset=100, line=12, refused=2)
    log_in(client)
    page = client.get("/console").text
    assert f'data-backfill="{"b" * 64}"' in page
    assert "cases.ndjson" in page
    assert "12 / 12" in page


def test_live_workers_and_listeners_are_shown_with_their_last_heartbeat(
    client: TestClient, redis_db: redis.Redis
) -> None:
    beat(redis_db, WORKERS, "worker-1@host", 5)
    beat(redis_db, LISTENERS, "mllp-1@host", 5)
    log_in(client)
    page = client.get("/console").text
    assert 'data-process="worker-1@host"' in page
    assert 'data-process="mllp-1@host"' in page
    forget(redis_db, WORKERS, "worker-1@host")
    assert 'data-process="worker-1@host"' not in client.get("/console").text
    assert redis_db.hkeys(WORKERS.last_beats) == []


def test_no_patient_name_or_birth_date_is_ever_shown(
    client: TestClient, redis_db: redis.Redis
) -> None:
    dead_letter(redis_db, body=phi_message().decode())
    assert client.post("/fhir", content=phi_message(), headers=BEARER).status_code == 202
    log_in(client)
    pages = [client.get("/console"), client.get("/console?window=day")]
    letter = DeadLetterQueue(redis_db, 3600).list()[0]
    pages.append(client.get(f"/console/dead-letters/{letter.id}/replay"))
    for page in pages:
        assert not phi_found(page.text, [FAMILY, GIVEN, BIRTH]), page.url


def test_the_series_keeps_a_minute_per_hash_that_expires(redis_db: redis.Redis) -> None:
    with Metrics(redis_db).batch() as tally:
        tally.incr("her2_messages_received_total", door="http")
    keys = [k.decode() for k in redis_db.scan_iter(SERIES_PREFIX + "*")]
    assert len(keys) == 1
    assert int(keys[0].removeprefix(SERIES_PREFIX)) % 60 == 0
    assert 0 < redis_db.ttl(keys[0]) <= SERIES_SECONDS
    minutes = Metrics(redis_db).minutes(1440, datetime.now(UTC).timestamp())
    assert len(minutes) == 1440
    assert sum(counts.get("her2_messages_received_total|http", 0) for _, counts in minutes) == 1
    json.dumps(minutes)  # plain data


def test_a_minute_once_over_is_read_once(redis_db: redis.Redis) -> None:
    now = datetime.now(UTC).timestamp()
    old = int(now // 60) * 60 - 600  # ten minutes ago: over
    current = int(now // 60) * 60
    field = "her2_messages_received_total|http"
    redis_db.hset(SERIES_PREFIX + str(old), field, 3)
    redis_db.hset(SERIES_PREFIX + str(current), field, 1)
    metrics = Metrics(redis_db)
    first = dict(metrics.minutes(60, now))
    redis_db.hset(SERIES_PREFIX + str(old), field, 99)  # not read again
    redis_db.hset(SERIES_PREFIX + str(current), field, 2)  # still counting: read again
    second = dict(metrics.minutes(60, now))
    assert first[old][field] == second[old][field] == 3
    assert second[current][field] == 2


def test_now_shows_the_age_of_the_oldest_pending_job(client: TestClient) -> None:
    log_in(client)
    assert 'data-figure="oldest-pending">none pending<' in client.get("/console").text
    good = (ROOT / "examples/fhir/breast-ihc3plus.json").read_bytes()
    assert client.post("/fhir/Observation", content=good, headers=BEARER).status_code == 202
    page = client.get("/console").text  # no worker here: the job stays pending
    assert 'data-figure="oldest-pending">none pending<' not in page
    assert re.search(r'data-figure="oldest-pending">\d+ ms<', page)
