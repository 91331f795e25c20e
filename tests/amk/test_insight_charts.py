"""The server-drawn charts (amk.insight.charts): standalone SVG, every text escaped, one shape
per value, no external resource (the simulator's report uses them too)."""

import xml.etree.ElementTree as ET

from amk.insight.charts import bar_chart_svg, line_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314  our own chart's output, in a test


HOSTILE = '<script>alert("x")</script> & "quotes"'


def test_bar_chart_draws_one_bar_per_value_and_escapes_text():
    svg = bar_chart_svg(
        HOSTILE, ["Aarhus", HOSTILE, "Viborg"], {"Aktiveret": [50, 100, 0], HOSTILE: [1, 2, 3]}, "%"
    )
    root = _parse(svg)  # well-formed: the hostile text did not break out
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert len(bars) == 6
    heights = [float(b.get("height")) for b in bars]
    # The tallest bar (100) fills the plot; 50 is half of it; 0 draws nothing.
    assert heights[2] == max(heights)
    assert heights[0] == heights[2] / 2
    assert heights[4] == 0
    assert "href" not in svg
    assert "url(" not in svg


def test_line_chart_draws_one_line_per_series():
    svg = line_chart_svg(
        "Dækning",
        list(range(24)),
        {"1 km": [float(h) for h in range(24)], "2 km": [1.0] * 24},
        x_label="Time",
        y_label="Andel",
    )
    root = _parse(svg)
    lines = root.findall(f".//{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points").split()) == 24


def test_empty_and_non_finite_values_still_draw():
    for svg in (
        bar_chart_svg("Tom", [], {}),
        bar_chart_svg("NaN", ["a"], {"s": [float("nan")]}),
        line_chart_svg("Tom", [], {}, x_label="x", y_label="y"),
    ):
        assert _parse(svg).tag == f"{SVG}svg"
