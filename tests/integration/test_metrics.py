"""The shared metrics against the machine's real Redis: what every process adds, rendered."""

from __future__ import annotations

import re

import pytest
import redis

from adapter.metrics import KEY as METRICS_KEY
from adapter.metrics import Metrics, Tally

pytestmark = pytest.mark.integration


def _samples(text: str, name: str) -> dict[str, float]:
    """{label text: value} of the samples of `name` in a Prometheus text exposition."""
    found = re.findall(rf"^{name}(?:\{{(.*)\}})? (\S+)$", text, flags=re.MULTILINE)
    return {labels: float(value) for labels, value in found}


def test_histogram_buckets_render_cumulative(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    metrics = Metrics(redis_db)
    with metrics.batch() as tally:  # one round trip for all five
        for seconds in (0.003, 0.02, 0.02, 0.7, 45.0):  # the last is above every bound
            tally.observe("her2_writeback_seconds", seconds)
    text = metrics.render().decode()
    buckets = _samples(text, "her2_writeback_seconds_bucket")
    assert buckets['le="0.005"'] == 1
    assert buckets['le="0.01"'] == 1
    assert buckets['le="0.025"'] == 3
    assert buckets['le="0.5"'] == 3
    assert buckets['le="1.0"'] == 4
    assert buckets['le="30.0"'] == 4
    assert buckets['le="+Inf"'] == 5
    assert _samples(text, "her2_writeback_seconds_count") == {"": 5}
    assert _samples(text, "her2_writeback_seconds_sum")[""] == pytest.approx(45.743)


def test_labelled_counters_are_exposed_by_the_prometheus_client_with_every_label(
    redis_db: redis.Redis,
) -> None:
    redis_db.flushdb()
    metrics = Metrics(redis_db)
    metrics.incr("her2_messages_rejected_total", door="http", reason="not-json")
    metrics.incr("her2_messages_rejected_total", door="http", reason="not-json")
    metrics.incr("her2_messages_rejected_total", door="mllp", reason="bad-value")
    text = metrics.render().decode()
    assert _samples(text, "her2_messages_rejected_total") == {
        'door="http",reason="not-json"': 2,
        'door="mllp",reason="bad-value"': 1,
    }
    assert _samples(text, "her2_jobs_resubmitted_total") == {"": 0}  # unlabelled: shown at 0
    assert "# TYPE her2_messages_rejected_total counter" in text


def test_a_labelled_histogram_renders_per_label(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    metrics = Metrics(redis_db)
    with metrics.batch() as tally:
        tally.observe("her2_end_to_end_seconds", 0.03, door="http")
        tally.observe("her2_end_to_end_seconds", 2.0, door="mllp")
    text = metrics.render().decode()
    buckets = _samples(text, "her2_end_to_end_seconds_bucket")
    assert buckets['door="http",le="0.025"'] == 0
    assert buckets['door="http",le="0.05"'] == 1
    assert buckets['door="mllp",le="1.0"'] == 0
    assert buckets['door="mllp",le="+Inf"'] == 1
    assert _samples(text, "her2_end_to_end_seconds_count") == {'door="http"': 1, 'door="mllp"': 1}


def test_counts_stored_before_the_door_label_was_added_render_as_door_unknown(
    redis_db: redis.Redis,
) -> None:
    redis_db.flushdb()
    redis_db.hset(METRICS_KEY, "her2_dead_lettered_total|bad-input", 3)  # as an older release
    metrics = Metrics(redis_db)
    metrics.incr("her2_dead_lettered_total", door="http", reason="bad-input")
    text = metrics.render().decode()
    assert _samples(text, "her2_dead_lettered_total") == {
        'door="http",reason="bad-input"': 1,
        'door="unknown",reason="bad-input"': 3,
    }


def test_a_tally_counts_inside_the_transaction_that_queues_a_job(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    metrics, tally = Metrics(redis_db), Tally()
    tally.incr("her2_messages_accepted_total", door="http")
    pipe = redis_db.pipeline(transaction=True)
    pipe.lpush("queue", "job")
    tally.add_to(pipe)
    assert metrics.value("her2_messages_accepted_total", door="http") == 0  # not yet executed
    pipe.execute()
    assert metrics.value("her2_messages_accepted_total", door="http") == 1
