"""Counters and timings shared by every process of the service, kept in Redis.

The API, the MLLP listener and each worker are separate processes (often on separate hosts), so
an in-process Prometheus registry would show only the API's own share. Every process adds to
one Redis hash instead, and `GET /metrics` renders it in the Prometheus text format.

Names and labels are fixed here, in one table, so a typo fails loudly instead of creating a new
series. Label values are codes (reasons, statuses), never patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import redis

KEY: Final = "her2:metrics"
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class Metric:
    help: str
    kind: str  # "counter" or "histogram"
    labels: tuple[str, ...] = ()


METRICS: Final[Mapping[str, Metric]] = {
    "her2_messages_received_total": Metric("Messages received, by door", "counter", ("door",)),
    "her2_messages_accepted_total": Metric(
        "Messages accepted and queued, by door", "counter", ("door",)
    ),
    "her2_messages_rejected_total": Metric(
        "Messages rejected, by door and reason", "counter", ("door", "reason")
    ),
    "her2_cases_interpreted_total": Metric(
        "Cases interpreted, by HER2 status", "counter", ("status",)
    ),
    "her2_writeback_seconds": Metric("Write-back latency per Bundle", "histogram"),
    "her2_writeback_retries_total": Metric(
        "Write-back attempts retried, by reason", "counter", ("reason",)
    ),
    "her2_dead_lettered_total": Metric(
        "Jobs moved to the dead-letter queue, by reason", "counter", ("reason",)
    ),
    "her2_jobs_resubmitted_total": Metric(
        "Accepted jobs the broker lost, submitted again by the sweeper", "counter"
    ),
    "her2_mllp_acks_total": Metric("MLLP acknowledgements sent, by code", "counter", ("code",)),
    "her2_hl7v2_patterns_total": Metric(
        "HL7 v2 HER2 results read, by coding pattern", "counter", ("pattern",)
    ),
    "her2_hl7v2_not_interpreted_total": Metric(
        "HL7 v2 messages acknowledged AA without a HER2 result (nothing queued)", "counter"
    ),
}


class Metrics:
    """Adds to and renders the shared metrics; writes are best effort, never failing a job."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def incr(self, name: str, **labels: str) -> None:
        """Add one to a counter."""
        self.incr_each((name, labels))

    def incr_each(self, *series: tuple[str, Mapping[str, str]]) -> None:
        """Add one to each (name, labels) counter, in one round trip."""
        fields = [_field(name, labels) for name, labels in series]
        try:
            pipe = self._redis.pipeline(transaction=False)
            for field in fields:
                pipe.hincrby(KEY, field, 1)
            pipe.execute()
        except redis.RedisError:
            return  # counting must not turn a good message into a failure

    def observe(self, name: str, seconds: float) -> None:
        metric = METRICS[name]
        if metric.kind != "histogram":
            raise ValueError(f"{name} is a {metric.kind}, not a histogram")
        # Only the one bucket the value falls in is counted (`_in`, not cumulative; None: above
        # the last bound); render() adds them up into Prometheus's cumulative `_bucket`s.
        bucket = next((bound for bound in BUCKETS if seconds <= bound), None)
        try:
            pipe = self._redis.pipeline(transaction=False)
            if bucket is not None:
                pipe.hincrby(KEY, f"{name}_in|le={bucket}", 1)
            pipe.hincrby(KEY, f"{name}_count|", 1)
            pipe.hincrbyfloat(KEY, f"{name}_sum|", seconds)
            pipe.execute()
        except redis.RedisError:
            return

    def render(self) -> str:
        """The Prometheus text exposition of every metric (zero where nothing was counted)."""
        stored = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in self._redis.hgetall(KEY).items()
        }
        lines: list[str] = []
        for name, metric in METRICS.items():
            lines.append(f"# HELP {name} {metric.help}")
            lines.append(f"# TYPE {name} {metric.kind}")
            if metric.kind == "histogram":
                cumulative = 0
                for bound in BUCKETS:
                    cumulative += int(stored.get(f"{name}_in|le={bound}", "0"))
                    lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
                total = stored.get(f"{name}_count|", "0")
                lines.append(f'{name}_bucket{{le="+Inf"}} {total}')
                lines.append(f"{name}_count {total}")
                lines.append(f"{name}_sum {stored.get(f'{name}_sum|', '0')}")
                continue
            series = [(k, v) for k, v in stored.items() if k.split("|", 1)[0] == name]
            if not series and not metric.labels:
                lines.append(f"{name} 0")
            for key, value in sorted(series):
                label_text = key.split("|", 1)[1]
                lines.append(f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}")
        return "\n".join(lines) + "\n"


def _field(name: str, labels: Mapping[str, str]) -> str:
    metric = METRICS[name]  # KeyError: an unknown metric is a programming error
    if set(labels) != set(metric.labels):
        raise ValueError(f"{name} takes labels {metric.labels}, got {tuple(labels)}")
    label_text = ",".join(f'{k}="{_escape(labels[k])}"' for k in metric.labels)
    return f"{name}|{label_text}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
