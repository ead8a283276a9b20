"""Counters and timings shared by every process of the service, kept in Redis.

The API, the MLLP listener and each worker are separate processes (often on separate hosts), so
an in-process Prometheus registry would show only the API's own share. Every process adds to
one Redis hash instead; `GET /metrics` exposes it through `prometheus-client` (a collector over
the hash, `RedisCollector`), so the text format is the library's, not ours.

Names and labels are fixed here, in one table, so a typo fails loudly instead of creating a new
series. Label values are codes (reasons, statuses), never patient data. Hash fields:
`<name>|<label values joined by SEP>` for counters; `<name>_in|<label values, then the bound>` (the
one bucket a value fell in; none above the last), `<name>_count|<label values>` and
`<name>_sum|<label values>` for histograms.

The operations console plots the per-door counts over time (`SERIES`): each of those is also
added to the hash of its minute (`her2:metrics:minute:<epoch of the minute>`), in the same
pipeline or MULTI, and that hash expires after `SERIES_SECONDS`. So the series holds at most a
day of minutes, each with one field per series seen in it: its size is bounded by the labels'
values, never by the traffic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import redis
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

KEY: Final = "her2:metrics"
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEP: Final = "\x1f"  # between label values in a field: no code holds it
SERIES_PREFIX: Final = "her2:metrics:minute:"
SERIES_SECONDS: Final = 25 * 3600  # the console's day of minutes, and an hour to spare
# A minute's hash takes no more counts this long after it began: its minute, and time for a
# count sent at its end (and a host clock a little behind) to arrive.
CLOSED_AFTER_SECONDS: Final = 180


@dataclass(frozen=True, slots=True)
class Definition:
    help: str
    kind: str  # "counter" or "histogram"
    labels: tuple[str, ...] = ()


METRICS: Final[Mapping[str, Definition]] = {
    "her2_messages_received_total": Definition("Messages received, by door", "counter", ("door",)),
    "her2_messages_accepted_total": Definition(
        "Messages accepted and queued, by door", "counter", ("door",)
    ),
    "her2_messages_rejected_total": Definition(
        "Messages rejected, by door and reason", "counter", ("door", "reason")
    ),
    "her2_cases_interpreted_total": Definition(
        "Cases interpreted, by HER2 status", "counter", ("status",)
    ),
    "her2_jobs_processed_total": Definition(
        "Jobs a worker finished (every case of the message settled), by door", "counter", ("door",)
    ),
    "her2_reports_written_total": Definition(
        "Case reports written back (a transaction Bundle each), by door", "counter", ("door",)
    ),
    "her2_end_to_end_seconds": Definition(
        "From a message's receipt at its door to its job finished, by door", "histogram", ("door",)
    ),
    "her2_writeback_seconds": Definition("Write-back latency per Bundle", "histogram"),
    "her2_writeback_retries_total": Definition(
        "Jobs retried after a transient fault, by door and reason", "counter", ("door", "reason")
    ),
    "her2_dead_lettered_total": Definition(
        "Jobs moved to the dead-letter queue, by door and reason", "counter", ("door", "reason")
    ),
    "her2_jobs_resubmitted_total": Definition(
        "Accepted jobs the broker lost, submitted again by the sweeper", "counter"
    ),
    "her2_mllp_acks_total": Definition("MLLP acknowledgements sent, by code", "counter", ("code",)),
    "her2_hl7v2_patterns_total": Definition(
        "HL7 v2 HER2 results read, by coding pattern", "counter", ("pattern",)
    ),
    "her2_hl7v2_not_interpreted_total": Definition(
        "HL7 v2 messages acknowledged AA without a HER2 result (nothing queued)", "counter"
    ),
}

# What the series keeps: the per-door flow the console plots (adapter/service/flow.py), no more.
SERIES: Final = frozenset(
    {
        "her2_messages_received_total",
        "her2_messages_accepted_total",
        "her2_messages_rejected_total",
        "her2_jobs_processed_total",
        "her2_reports_written_total",
        "her2_end_to_end_seconds",
        "her2_writeback_retries_total",
        "her2_dead_lettered_total",
    }
)


class Tally:
    """Metric updates gathered to be sent in one round trip: by `Metrics.batch`, or inside
    another transaction (`JobStore.enqueue(..., also=tally)`, so a message is counted accepted
    in the MULTI that queues it)."""

    def __init__(self) -> None:
        self._counts: list[tuple[str, int]] = []
        self._sums: list[tuple[str, float]] = []
        self._series: list[str] = []  # the fields of `_counts` the series keeps too

    def incr(self, name: str, **labels: str) -> None:
        """Add one to a counter."""
        self._count(name, _field(name, labels))

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Count `seconds` in a histogram."""
        definition = METRICS[name]
        if definition.kind != "histogram":
            raise ValueError(f"{name} is a {definition.kind}, not a histogram")
        values = _field(name, labels).split("|", 1)[1]
        # Only the one bucket the value falls in is counted (`_in`, not cumulative; None: above
        # the last bound); the collector adds them up into Prometheus's cumulative `_bucket`s.
        bucket = next((bound for bound in BUCKETS if seconds <= bound), None)
        if bucket is not None:
            self._count(name, f"{name}_in|{values}{SEP if values else ''}{bucket}")
        self._count(name, f"{name}_count|{values}")
        self._sums.append((f"{name}_sum|{values}", seconds))

    def _count(self, name: str, field: str) -> None:
        self._counts.append((field, 1))
        if name in SERIES:
            self._series.append(field)

    def add_to(self, pipe: redis.client.Pipeline) -> None:
        """Queue the updates on `pipe` (the caller executes it): the totals, and the counts of
        the console's metrics in this minute's hash of the series."""
        for field, amount in self._counts:
            pipe.hincrby(KEY, field, amount)
        for field, seconds in self._sums:
            pipe.hincrbyfloat(KEY, field, seconds)
        if self._series:
            minute = series_key(time.time())
            for field in self._series:
                pipe.hincrby(minute, field, 1)
            pipe.expire(minute, SERIES_SECONDS)

    def __bool__(self) -> bool:
        return bool(self._counts or self._sums)


class Metrics:
    """Adds to and renders the shared metrics; writes are best effort, never failing a job."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._closed: dict[int, dict[str, int]] = {}  # minute -> its counts, once it is over

    def incr(self, name: str, **labels: str) -> None:
        """Add one to a counter, now."""
        with self.batch() as tally:
            tally.incr(name, **labels)

    @contextmanager
    def batch(self) -> Iterator[Tally]:
        """A tally sent in one round trip when the block ends (also when it raised: what was
        counted happened)."""
        tally = Tally()
        try:
            yield tally
        finally:
            self.send(tally)

    def send(self, tally: Tally) -> None:
        if not tally:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            tally.add_to(pipe)
            pipe.execute()
        except redis.RedisError:
            return  # counting must not turn a good message into a failure

    def value(self, name: str, **labels: str) -> int:
        """One counter's current value (0 when nothing was counted)."""
        return int(self._redis.hget(KEY, _field(name, labels)) or 0)

    def totals(self) -> dict[str, str]:
        """Every stored field and its value (the fields' form is this module's docstring)."""
        return _stored(self._redis)

    def minutes(self, count: int, now: float) -> list[tuple[int, dict[str, int]]]:
        """The counts of the last `count` minutes up to `now` (epoch seconds), oldest first,
        as (epoch of the minute, field -> count): one round trip for the minutes not read yet.

        A minute over `CLOSED_AFTER_SECONDS` old takes no more counts, so it is read once and
        kept in this object (at most a day of them): a day's chart reads a minute or two, not
        1,440 hashes."""
        last = int(now // 60) * 60
        starts = [last - 60 * back for back in range(count - 1, -1, -1)]
        wanted = [start for start in starts if start not in self._closed]
        pipe = self._redis.pipeline(transaction=False)
        for start in wanted:
            pipe.hgetall(SERIES_PREFIX + str(start))
        read = dict(zip(wanted, pipe.execute(), strict=True))
        for start, counts in read.items():
            parsed = {_text(k): int(v) for k, v in counts.items()}
            read[start] = parsed
            if start < now - CLOSED_AFTER_SECONDS:
                self._closed[start] = parsed
        # list(): another render may add a minute meanwhile (the API renders in threads)
        for start in [s for s in list(self._closed) if s <= now - SERIES_SECONDS]:
            self._closed.pop(start, None)
        return [(start, read[start] if start in read else self._closed[start]) for start in starts]

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (zero where nothing was counted)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(RedisCollector(self._redis))
        return generate_latest(registry)


class RedisCollector(Collector):
    """The shared hash as Prometheus metric families, read in one round trip per scrape."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def collect(self) -> Iterator[Metric]:
        stored = _stored(self._redis)
        for name, definition in METRICS.items():
            if definition.kind == "histogram":
                yield _histogram(name, definition, stored)
                continue
            family = CounterMetricFamily(name, definition.help, labels=definition.labels)
            series = {k: v for k, v in stored.items() if k.split("|", 1)[0] == name}
            if not series and not definition.labels:
                family.add_metric([], 0)
            for field, value in sorted(series.items()):
                values = field.split("|", 1)[1]
                family.add_metric(_label_values(definition, values), float(value))
            yield family


def _label_values(definition: Definition, values: str) -> list[str]:
    """A stored field's label values. A field counted before a label was added to its metric
    (`door`, first, on the retries and dead letters) lacks it: `unknown`, so an upgrade keeps
    the old counts instead of failing the scrape."""
    if not definition.labels:
        return []
    found = values.split(SEP)
    return ["unknown"] * (len(definition.labels) - len(found)) + found


def _stored(client: redis.Redis) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in client.hgetall(KEY).items()}


def series_key(now: float) -> str:
    """The hash of the series that counts made at `now` (epoch seconds) go to."""
    return SERIES_PREFIX + str(int(now // 60) * 60)


def _histogram(name: str, definition: Definition, stored: Mapping[str, str]) -> Metric:
    family = HistogramMetricFamily(name, definition.help, labels=definition.labels)
    prefix = f"{name}_count|"
    seen = sorted(k.removeprefix(prefix) for k in stored if k.startswith(prefix))
    for values in seen if definition.labels else [""]:
        cumulative, buckets = 0, []
        for bound in BUCKETS:
            cumulative += int(stored.get(f"{name}_in|{values}{SEP if values else ''}{bound}", "0"))
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", int(stored.get(f"{name}_count|{values}", "0"))))
        family.add_metric(
            values.split(SEP) if values else [],
            buckets,
            sum_value=float(stored.get(f"{name}_sum|{values}", "0")),
        )
    return family


def _field(name: str, labels: Mapping[str, str]) -> str:
    definition = METRICS[name]  # KeyError: an unknown metric is a programming error
    if set(labels) != set(definition.labels):
        raise ValueError(f"{name} takes labels {definition.labels}, got {tuple(labels)}")
    return f"{name}|" + SEP.join(labels[k] for k in definition.labels)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
