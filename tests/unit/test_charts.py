"""Structural tests of the server-side SVG trend charts: parse the markup, check what it draws."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from app.charts import (
    FEEDBACK_WINDOW_MIN,
    PAST_WINDOW_MIN,
    VITAL_SCALES,
    Mark,
    trend_svg,
    trend_table_rows,
    vital_table_rows,
    vital_trend_svg,
)
from app.charts.scales import nice_ticks, time_ticks
from app.charts.text import band_status, format_rel_time

NS = "{http://www.w3.org/2000/svg}"
EVERY_2H_48H = [-2880.0 + 120 * i for i in range(25)]  # -48h .. 0, 25 readings


def parse(markup: object) -> ET.Element:
    return ET.fromstring(str(markup))


def find_all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    found = root.iter(f"{NS}{tag}")
    if cls is None:
        return list(found)
    return [e for e in found if cls in (e.get("class") or "").split()]


def points(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if "chart-pt" in (e.get("class") or "").split()]


def axis_label_x(root: ET.Element, text: str) -> float:
    group = find_all(root, "g", "chart-axis-x")[0]
    return float(next(t.get("x") for t in group if t.text == text))  # type: ignore[arg-type]


def axis_label_y(root: ET.Element, text: str) -> float:
    group = find_all(root, "g", "chart-axis-y")[0]
    return float(next(t.get("y") for t in group if t.text == text))  # type: ignore[arg-type]


def hr_chart(values: list[float | None], **kwargs: object) -> ET.Element:
    return parse(vital_trend_svg("hr", EVERY_2H_48H[: len(values)], values, chart_id="hr", **kwargs))  # type: ignore[arg-type]


# --- accessibility and CSP --------------------------------------------------------------------------


def test_svg_is_labelled_image_with_title_and_desc() -> None:
    root = hr_chart([88.0] * 25)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title = root.find(f"{NS}title")
    desc = root.find(f"{NS}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == title.get("id") == "hr-title"
    assert root.get("aria-describedby") == desc.get("id") == "hr-desc"
    assert title.text == "Heart rate (/min)"
    # Title and desc come first so assistive tech finds them.
    assert [c.tag for c in list(root)[:2]] == [f"{NS}title", f"{NS}desc"]


def test_no_inline_style_script_or_event_handlers() -> None:
    markup = str(
        vital_trend_svg(
            "hr",
            EVERY_2H_48H,
            [90.0 + i for i in range(25)],
            chart_id="c",
            x_range=FEEDBACK_WINDOW_MIN,
            future_times=[60.0, 120.0],
            future_values=[150.0, 200.0],
        )
    )
    root = parse(markup)
    for element in root.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
    assert not find_all(root, "script")
    assert "<style" not in markup


def test_label_and_unit_are_escaped() -> None:
    root = parse(
        trend_svg(
            [-60.0],
            [1.0],
            label="<b>Pain</b> & score",
            unit="/10",
            y_range=(0, 10),
            normal_range=None,
            chart_id="pain",
        )
    )
    title = root.find(f"{NS}title")
    assert title is not None and title.text == "<b>Pain</b> & score (/10)"
    assert not find_all(root, "b")


@pytest.mark.parametrize("bad_id", ["1hr", 'a"b', "", "hr chart"])
def test_chart_id_must_be_a_safe_identifier(bad_id: str) -> None:
    with pytest.raises(ValueError, match="chart_id"):
        vital_trend_svg("hr", [0.0], [80.0], chart_id=bad_id)


# --- what is drawn --------------------------------------------------------------------------------


def test_one_point_per_recorded_value_and_none_breaks_the_line() -> None:
    values: list[float | None] = [80.0] * 25
    values[3] = None
    values[10] = None
    values[11] = None
    root = hr_chart(values)
    assert len(points(root)) == 22
    (line,) = find_all(root, "path", "chart-past")
    d = line.get("d") or ""
    # Three runs of readings: 0-2, 4-9, 12-24.
    assert d.count("M") == 3
    assert d.count("L") == (3 - 1) + (6 - 1) + (13 - 1)


def test_points_follow_values_and_time() -> None:
    root = hr_chart([60.0, 100.0, 140.0])
    circles = find_all(root, "circle", "chart-pt")
    assert [float(c.get("cy") or 0) for c in circles] == [
        pytest.approx(axis_label_y(root, label), abs=0.1) for label in ("60", "100", "140")
    ]
    xs = [float(c.get("cx") or 0) for c in circles]
    assert xs == sorted(xs)
    assert xs[0] == pytest.approx(axis_label_x(root, "-48h"), abs=0.1)


def test_readings_outside_the_window_are_not_drawn() -> None:
    root = parse(vital_trend_svg("hr", [-3000.0, -60.0, 30.0], [80.0, 82.0, 84.0], chart_id="w"))
    assert len(points(root)) == 1


def test_alert_marker_sits_on_time_zero() -> None:
    past_only = hr_chart([80.0] * 25)
    (mark,) = find_all(past_only, "g", "chart-mark")
    line = mark.find(f"{NS}line")
    assert line is not None
    assert float(line.get("x1") or 0) == pytest.approx(axis_label_x(past_only, "0"))
    assert mark.findtext(f"{NS}text") == "Alert"

    feedback = hr_chart([80.0] * 25, x_range=FEEDBACK_WINDOW_MIN)
    (mark,) = find_all(feedback, "g", "chart-mark")
    x_mark = float(mark.find(f"{NS}line").get("x1") or 0)  # type: ignore[union-attr]
    left, right = axis_label_x(feedback, "-48h"), axis_label_x(feedback, "+12h")
    assert (x_mark - left) / (right - left) == pytest.approx(48 / 60, abs=0.001)


def test_custom_marks_and_marks_outside_window() -> None:
    root = hr_chart(
        [80.0] * 25, marks=[Mark(-720.0, "Paracetamol"), Mark(600.0, "Later"), Mark(0.0, "Alert")]
    )
    labels = [g.findtext(f"{NS}text") for g in find_all(root, "g", "chart-mark")]
    assert labels == ["Paracetamol", "Alert"]


def test_time_axis_labels() -> None:
    past = [t.text for t in find_all(hr_chart([80.0]), "g", "chart-axis-x")[0]]
    assert past == ["-48h", "-36h", "-24h", "-12h", "0"]
    feedback = [
        t.text for t in find_all(hr_chart([80.0], x_range=FEEDBACK_WINDOW_MIN), "g", "chart-axis-x")[0]
    ]
    assert feedback == ["-48h", "-36h", "-24h", "-12h", "0", "+12h", "+24h"]


def test_fixed_y_scale_does_not_depend_on_data() -> None:
    low = [t.text for t in find_all(hr_chart([60.0, 62.0]), "g", "chart-axis-y")[0]]
    high = [t.text for t in find_all(hr_chart([150.0, 155.0]), "g", "chart-axis-y")[0]]
    assert low == high == [str(v) for v in range(20, 181, 20)]


def test_normal_band_spans_its_range() -> None:
    root = hr_chart([80.0])
    (band,) = find_all(root, "rect", "chart-normal")
    y_top = float(band.get("y") or 0)
    y_bottom = y_top + float(band.get("height") or 0)
    # Band 51–90 /min: its top (90) is halfway between the 80 and 100 gridlines, its bottom (51) is
    # 9/20 of the way from the 60 gridline down to the 40 one.
    y80, y100 = axis_label_y(root, "80"), axis_label_y(root, "100")
    assert y_top == pytest.approx(y80 + (y100 - y80) * 0.5, abs=0.1)
    y40, y60 = axis_label_y(root, "40"), axis_label_y(root, "60")
    assert y_bottom == pytest.approx(y60 + (y40 - y60) * (9 / 20), abs=0.1)


def test_no_band_for_diastolic() -> None:
    root = parse(vital_trend_svg("dbp", [-60.0], [70.0], chart_id="dbp"))
    assert not find_all(root, "rect", "chart-normal")


def test_off_scale_values_are_clamped_and_marked() -> None:
    root = hr_chart([200.0, 10.0, 80.0])
    clipped = [p for p in points(root) if "chart-pt-clipped" in (p.get("class") or "")]
    assert len(clipped) == 2
    d_high = clipped[0].get("d") or ""
    ys = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d_high)[1::2]]
    assert min(ys) < axis_label_y(root, "180") == pytest.approx(ys[0])  # base on the top edge, tip above
    assert "off scale" in (clipped[0].findtext(f"{NS}title") or "")
    ys_low = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", clipped[1].get("d") or "")[1::2]]
    assert max(ys_low) > axis_label_y(root, "20") == pytest.approx(ys_low[0])  # tip below the bottom edge


def test_point_tooltips_and_abnormal_classes() -> None:
    root = hr_chart([88.0, 124.0, 45.0])
    circles = find_all(root, "circle")
    assert [c.findtext(f"{NS}title") for c in circles] == ["-48h: 88 /min", "-46h: 124 /min", "-44h: 45 /min"]
    assert [c.get("class") for c in circles] == [
        "chart-pt",
        "chart-pt chart-pt-above",
        "chart-pt chart-pt-below",
    ]


# --- future (feedback page) -------------------------------------------------------------------------


def feedback_chart() -> ET.Element:
    return parse(
        vital_trend_svg(
            "hr",
            EVERY_2H_48H,
            [90.0 + i for i in range(25)],
            chart_id="fb",
            x_range=FEEDBACK_WINDOW_MIN,
            future_times=[120.0, 240.0, 360.0, 480.0],
            future_values=[120.0, None, 130.0, 135.0],
        )
    )


def test_future_is_dashed_hollow_and_joined_to_last_reading() -> None:
    root = feedback_chart()
    (future_line,) = [p for p in find_all(root, "path", "chart-future") if p.get("d")]
    assert future_line.get("stroke-dasharray")
    (past_line,) = find_all(root, "path", "chart-past")
    assert not past_line.get("stroke-dasharray")
    last_past = (past_line.get("d") or "").split()[-2:]
    first_future = (future_line.get("d") or "").split()[:2]
    assert first_future == ["M" + last_past[0].lstrip("L"), last_past[1]]
    assert (future_line.get("d") or "").count("M") == 2  # joined run, then a gap at +4h
    future_points = find_all(root, "circle", "chart-pt-future")
    assert len(future_points) == 3
    assert all(p.get("fill") == "#ffffff" for p in future_points)


def test_legend_only_with_future() -> None:
    legend = find_all(feedback_chart(), "g", "chart-legend")
    assert len(legend) == 1
    texts = [t.text for t in legend[0].iter(f"{NS}text")]
    assert texts == ["Before alert", "After alert (what happened)"]
    assert not find_all(hr_chart([80.0]), "g", "chart-legend")


def test_future_requires_both_series() -> None:
    with pytest.raises(ValueError, match="future"):
        vital_trend_svg("hr", [0.0], [80.0], chart_id="x", future_times=[60.0])


# --- desc sentence ---------------------------------------------------------------------------------


def test_desc_summarises_the_trend() -> None:
    values = [88.0] * 21 + [100.0, 112.0, 124.0]
    root = parse(vital_trend_svg("hr", EVERY_2H_48H[1:], values, chart_id="hr"))
    assert root.findtext(f"{NS}desc") == (
        "Heart rate: 24 readings over 46 h, from 88 to 124 /min; last 124 /min, "
        "3 readings above the normal range."
    )


def test_desc_counts_missing_below_and_future() -> None:
    root = parse(
        vital_trend_svg(
            "temp",
            [-240.0, -180.0, -120.0, -60.0],
            [35.5, None, 37.0, 38.4],
            chart_id="t",
            x_range=FEEDBACK_WINDOW_MIN,
            future_times=[60.0, 120.0],
            future_values=[38.9, 39.2],
        )
    )
    assert root.findtext(f"{NS}desc") == (
        "Temperature: 3 readings over 3 h, from 35.5 to 38.4 °C; last 38.4 °C, 1 above and 1 below "
        "the normal range. 1 due reading not recorded. After the alert: 2 readings over 1 h, from 38.9 "
        "to 39.2 °C; last 39.2 °C, 2 readings above the normal range."
    )


def test_desc_all_normal_single_and_empty() -> None:
    assert hr_chart([70.0, 72.0]).findtext(f"{NS}desc") == (
        "Heart rate: 2 readings over 2 h, from 70 to 72 /min; last 72 /min, all within the normal range."
    )
    single = parse(vital_trend_svg("rr", [-30.0], [26.0], chart_id="rr"))
    assert single.findtext(f"{NS}desc") == (
        "Respiratory rate: 1 reading, 26 /min at -30m, 1 reading above the normal range."
    )
    empty = parse(vital_trend_svg("spo2", [], [], chart_id="s"))
    assert empty.findtext(f"{NS}desc") == "Oxygen saturation (SpO2): no readings."
    assert not find_all(empty, "path", "chart-past")
    assert not points(empty)


# --- determinism and output size ------------------------------------------------------------------


def test_output_is_deterministic_and_rounded() -> None:
    values = [88.123456 + 1.7 * i for i in range(25)]
    a = str(vital_trend_svg("hr", EVERY_2H_48H, values, chart_id="hr"))
    b = str(vital_trend_svg("hr", list(EVERY_2H_48H), list(values), chart_id="hr"))
    assert a == b
    numbers = re.findall(r'(?:cx|cy|x|y|x1|x2|y1|y2|width|height)="(-?[\d.]+)"', a)
    assert numbers
    assert all(len(n.partition(".")[2]) <= 1 for n in numbers)
    other = str(vital_trend_svg("hr", EVERY_2H_48H, values, chart_id="hr2"))
    assert other.replace('"hr2', '"hr') == a


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError, match="times"):
        vital_trend_svg("hr", [0.0, -60.0], [80.0], chart_id="hr")


# --- scales -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        # NEWS2 boundary checks from clinical-reference §1.3: the band is the 0-point range.
        ("hr", 50, "below"),
        ("hr", 51, "normal"),
        ("hr", 90, "normal"),
        ("hr", 91, "above"),
        ("rr", 11, "below"),
        ("rr", 12, "normal"),
        ("rr", 20, "normal"),
        ("rr", 21, "above"),
        ("sbp", 110, "below"),
        ("sbp", 111, "normal"),
        ("sbp", 219, "normal"),
        ("sbp", 220, "above"),
        ("spo2", 95, "below"),
        ("spo2", 96, "normal"),
        ("temp", 36.0, "below"),
        ("temp", 36.1, "normal"),
        ("temp", 38.0, "normal"),
        ("temp", 38.04, "normal"),  # shown as 38.0 (§1.1: band the displayed value)
        ("temp", 38.06, "above"),  # shown as 38.1
        ("temp", 38.1, "above"),
        ("dbp", 200, "unbanded"),
    ],
)
def test_vital_bands_match_news2_zero_score_boundaries(key: str, value: float, expected: str) -> None:
    scale = VITAL_SCALES[key]
    assert band_status(value, scale.normal_range, scale.decimals) == expected


@pytest.mark.parametrize("key", sorted(VITAL_SCALES))
def test_each_scale_holds_its_band_and_has_round_ticks(key: str) -> None:
    scale = VITAL_SCALES[key]
    lo, hi = scale.y_range
    if scale.normal_range is not None:
        assert lo < scale.normal_range[0] < scale.normal_range[1] <= hi
    ticks = nice_ticks(lo, hi)
    assert 4 <= len(ticks) <= 9
    assert ticks[0] >= lo and ticks[-1] <= hi


def test_nice_ticks() -> None:
    assert nice_ticks(0, 40) == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    assert nice_ticks(34, 41) == [34, 35, 36, 37, 38, 39, 40, 41]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(36.0, 36.8, max_intervals=4) == [36.0, 36.2, 36.4, 36.6, 36.8]
    with pytest.raises(ValueError):
        nice_ticks(5, 5)


def test_time_ticks_always_include_alert_time() -> None:
    assert time_ticks(*PAST_WINDOW_MIN) == [-2880, -2160, -1440, -720, 0]
    assert time_ticks(*FEEDBACK_WINDOW_MIN) == [-2880, -2160, -1440, -720, 0, 720, 1440]
    assert time_ticks(-90, 0) == [-90, -75, -60, -45, -30, -15, 0]
    assert 0 in time_ticks(-100, 50)


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(0, "0"), (-2880, "-48h"), (720, "+12h"), (-90, "-1h 30m"), (-30, "-30m"), (0.2, "0")],
)
def test_format_rel_time(minutes: float, label: str) -> None:
    assert format_rel_time(minutes) == label


# --- data-table alternative ---------------------------------------------------------------------------


def test_table_rows_match_chart_points() -> None:
    values: list[float | None] = [88.0, None, 95.0, 45.0]
    times = EVERY_2H_48H[:4]
    rows = vital_table_rows("hr", times, values)
    assert [r.time_label for r in rows] == ["-48h", "-46h", "-44h", "-42h"]
    assert [r.value_text for r in rows] == ["88 /min", "—", "95 /min", "45 /min"]
    assert [r.status for r in rows] == ["normal", "missing", "above", "below"]
    assert [r.note for r in rows] == ["", "not recorded", "above normal range", "below normal range"]
    drawn = points(parse(vital_trend_svg("hr", times, values, chart_id="hr")))
    assert len(drawn) == sum(r.value is not None for r in rows)


def test_table_rows_include_future_in_order() -> None:
    rows = trend_table_rows(
        [-60.0, -120.0],
        [36.84, 37.0],
        unit="°C",
        normal_range=(36.1, 38.0),
        x_range=FEEDBACK_WINDOW_MIN,
        decimals=1,
        future_times=[60.0],
        future_values=[39.0],
    )
    assert [(r.time_label, r.value_text, r.after_alert) for r in rows] == [
        ("-2h", "37.0 °C", False),
        ("-1h", "36.8 °C", False),
        ("+1h", "39.0 °C", True),
    ]


def test_band_override_for_scale_2_patient() -> None:
    # §1.1: a documented scale-2 patient's 0-point band is 88–92 %, so 89 % is not "below".
    rows = vital_table_rows("spo2", [-60.0], [89.0], band_override=(88, 92))
    assert rows[0].status == "normal"
    root = parse(vital_trend_svg("spo2", [-60.0], [89.0], chart_id="s2", band_override=(88, 92)))
    assert "all within the normal range" in (root.findtext(f"{NS}desc") or "")
