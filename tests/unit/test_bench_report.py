"""The pure parts of scripts/bench.py: percentiles and the figures table (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bench_report import Figure, Report, Target, number, percentile, summary, table


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentile_of_one_value_is_that_value_and_order_does_not_matter() -> None:
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_percentile_refuses_no_values_and_a_rank_outside_0_100() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_a_ratio_target_reads_the_value_against_its_baseline_from_the_same_run() -> None:
    report = Report()
    report.add(Figure("A", 400.0, "msg/s"))
    report.add(Figure("service", 240.0, "msg/s", Target(">=", 0.5, "A")))
    report.add(Figure("slow", 100.0, "msg/s", Target(">=", 0.5, "A")))
    rows = {row.name: row for row in report.rows()}
    assert rows["service"].ratio == pytest.approx(0.6)
    assert rows["service"].met is True
    assert rows["slow"].met is False
    assert rows["A"].met is None


def test_an_absolute_target_compares_the_value_itself() -> None:
    report = Report()
    report.add(Figure("p99", 9.99, "ms", Target("<", 10)))
    report.add(Figure("rss", 200.0, "MB", Target("<", 200)))
    assert [row.met for row in report.rows()] == [True, False]


def test_a_figure_not_measured_has_no_verdict_and_shows_n_a_with_its_note() -> None:
    report = Report()
    report.add(Figure("A", None, "msg/s"))
    report.add(Figure("mllp", None, "", Target(">=", 1000), note="not available"))
    report.add(Figure("ratio to missing A", 5.0, "msg/s", Target(">=", 1, "A")))
    assert [row.met for row in report.rows()] == [None, None, None]
    text = table(report)
    assert "n/a" in text
    assert "mllp: not available" in text


def test_table_has_one_line_per_figure_under_a_header_and_json_keeps_every_column() -> None:
    report = Report()
    report.add(Figure("A", 1234.5, "msg/s"))
    report.add(Figure("cli", 900.0, "msg/s", Target(">=", 0.7, "A")))
    lines = table(report).splitlines()
    assert lines[0].split()[:2] == ["figure", "value"]
    assert "0.73x" in lines[3]
    assert "yes" in lines[3]
    assert report.as_json()[1] == {
        "figure": "cli",
        "value": 900.0,
        "unit": "msg/s",
        "baseline": "A",
        "ratio": pytest.approx(900 / 1234.5),
        "target": ">= 0.7x",
        "met": True,
        "note": None,
    }


def test_numbers_keep_three_significant_digits_and_group_thousands() -> None:
    assert number(1234.5) == "1,234"
    assert number(9.876) == "9.88"
    assert number(None) == "n/a"


def test_the_summary_shows_each_target_per_run_and_whether_every_run_met_it() -> None:
    runs = []
    for service, p99 in ((240.0, 9.0), (180.0, 12.0)):
        report = Report()
        report.add(Figure("A", 400.0, "msg/s"))
        report.add(Figure("3 p99", p99, "ms", Target("<", 10)))
        report.add(Figure("2 service", service, "msg/s", Target(">=", 0.5, "A")))
        runs.append(report)
    runs[0].add(Figure("7 rss growth", 3.0, "MB", Target("<=", 16)))  # measured in run 1 only
    lines = summary(runs).splitlines()
    assert lines[0].split() == ["target", "run", "1", "run", "2", "every", "run"]
    rows = [line.split() for line in lines[2:]]
    assert rows[0] == ["2", "service", "(>=", "0.5x)", "0.60x", "yes", "0.45x", "NO", "NO"]
    assert rows[1] == ["3", "p99", "(<", "10)", "9", "ms", "yes", "12", "ms", "NO", "NO"]
    assert rows[2] == ["7", "rss", "growth", "(<=", "16)", "3", "MB", "yes", "-", "yes"]
