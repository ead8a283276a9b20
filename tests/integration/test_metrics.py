"""The shared metrics against the machine's real Redis: what every process adds, rendered."""

from __future__ import annotations

import re

import pytest
import redis

from adapter.metrics import Metrics

pytestmark = pytest.mark.integration


def _samples(text: str, name: str) -> dict[str, float]:
    """{label text: value} of the samples of `name` in a Prometheus text exposition."""
    found = re.findall(rf"^{name}(?:\{{(.*)\}})? (\S+)$", text, flags=re.MULTILINE)
    return {labels: float(value) for labels, value in found}


def test_histogram_buckets_render_cumulative(redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    metrics = Metrics(redis_db)
    for seconds in (0.003, 0.02, 0.02, 0.7, 45.0):  # the last is above every bound
        metrics.observe("her2_writeback_seconds", seconds)
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
