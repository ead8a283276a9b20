"""The console's Flow from counters and per-minute counts: totals by door and reason, counts in
the window grouped into points, and latency quantiles estimated from histogram buckets."""

from __future__ import annotations

import pytest

from adapter.metrics import BUCKETS, SEP
from adapter.service.flow import door_flows, quantile


def test_quantile_interpolates_within_the_bucket_the_rank_falls_in() -> None:
    in_buckets = [0] * len(BUCKETS)
    in_buckets[BUCKETS.index(0.1)] = 10  # ten observations in (0.05, 0.1]
    assert quantile(0.5, in_buckets, 10) == pytest.approx(0.075)
    assert quantile(0.99, in_buckets, 10) == pytest.approx(0.0995)


def test_quantile_above_the_last_bound_is_the_last_bound_and_none_without_observations() -> None:
    assert quantile(0.5, [0] * len(BUCKETS), 3) == BUCKETS[-1]
    assert quantile(0.5, [0] * len(BUCKETS), 0) is None


def test_door_flows_count_totals_reasons_and_the_window_per_door() -> None:
    totals = {
        "her2_messages_received_total|http": "5",
        "her2_messages_rejected_total|http" + SEP + "not-json": "2",
        "her2_messages_rejected_total|http" + SEP + "media-type": "1",
        "her2_dead_lettered_total|mllp" + SEP + "bad-input": "1",
        "her2_writeback_seconds_count|": "9",  # not a figure of the Flow
    }
    minutes = [
        (0, {"her2_messages_received_total|http": 2}),
        (60, {}),
        (
            120,
            {
                "her2_messages_received_total|http": 1,
                f"her2_end_to_end_seconds_in|http{SEP}0.1": 1,
                "her2_end_to_end_seconds_count|http": 1,
            },
        ),
    ]
    flows = {flow.door: flow for flow in door_flows(totals, minutes, per_point=2)}

    assert set(flows) == {"http", "mllp"}  # backfill only once it has counted
    http = flows["http"]
    assert http.totals["received"] == 5
    assert http.totals["refused"] == 3
    assert http.reasons["refused"] == {"media-type": 1, "not-json": 2}
    assert flows["mllp"].reasons["dead-lettered"] == {"bad-input": 1}
    assert http.in_window["received"] == 3
    assert [p.counts["received"] for p in http.points] == [2, 1]  # two minutes, then one
    assert http.latency[0.5] == pytest.approx(0.075)
    assert http.points[0].latency[0.5] is None
