"""The console's SVG charts: a line per series broken at gaps, a dot for a lone value, a title
and a description a screen reader reads, nothing a Content-Security-Policy would refuse."""

from __future__ import annotations

from adapter.api.charts import Line, line_chart


def test_a_chart_draws_each_run_of_values_and_a_lone_value_as_a_dot() -> None:
    svg = str(
        line_chart("HTTP latency", "s", [0, 60, 120, 180], [Line("p50", [0.1, 0.2, None, 0.4])])
    )
    assert svg.count("<polyline") == 1
    assert svg.count("<circle") == 1
    assert "<title>HTTP latency</title>" in svg
    assert "latest: p50: 0.4 s" in svg
    assert "style=" not in svg
    assert "<script" not in svg


def test_a_title_is_escaped_and_an_empty_chart_still_draws() -> None:
    svg = str(line_chart('<b>"x"</b>', "/min", [], [Line("received", [])]))
    assert "<b>" not in svg
    assert "latest: received: none" in svg
