"""The fast chart drawing gives the same bytes as the plain one, on random and real inputs.

`app.charts.svg.trend_svg` formats coordinates in batches, reuses them for the line and the
points, and draws the band, axes, marks and legend once per scale. The oracle below is the plain
drawing it replaced, one point and one coordinate at a time. Both must agree byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from markupsafe import escape

from app.charts import FEEDBACK_WINDOW_MIN, PAST_WINDOW_MIN, VITAL_SCALES, Mark, trend_svg, vital_trend_svg
from app.charts.svg import (
    _FONT,
    _FUTURE,
    _PAST,
    _POINT_R,
    _Frame,
    _legend,
    _marks,
    _n,
    _normal_band,
    _texts,
    _x_axis,
    _y_axis,
)
from app.charts.text import (
    Reading,
    band_status,
    describe_trend,
    format_rel_time,
    format_value,
    readings_in_window,
)
from app.services import case_screen
from simulator import load_scenario, simulate

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

Coords = list[tuple[float, float] | None]


def _coords(readings: Sequence[Reading], frame: _Frame) -> Coords:
    out: Coords = []
    for r in readings:
        out.append(None if r.value is None else (frame.x(r.t_min), frame.y(r.value)))
    return out


def _line_path(coords: Coords, start: tuple[float, float] | None = None) -> str:
    parts: list[str] = []
    pen_down = False
    for position in [start, *coords] if start is not None else coords:
        if position is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{_n(position[0])} {_n(position[1])}")
        pen_down = True
    return " ".join(parts)


def _point(
    reading: Reading,
    position: tuple[float, float],
    *,
    y_range: tuple[float, float],
    unit: str,
    decimals: int,
    normal_range: tuple[float, float] | None,
    future: bool,
) -> str:
    value = reading.value
    assert value is not None
    cx, cy = position
    tip = escape(f"{format_rel_time(reading.t_min)}: {format_value(value, decimals)} {unit}")
    status = band_status(value, normal_range, decimals)
    classes = ["chart-pt"]
    if future:
        classes.append("chart-pt-future")
    if status in ("above", "below"):
        classes.append(f"chart-pt-{status}")
    colour = _FUTURE if future else _PAST
    fill = "#ffffff" if future else colour
    lo, hi = y_range
    if value > hi or value < lo:
        classes.append("chart-pt-clipped")
        d = 1 if value > hi else -1
        shape = (
            f'<path class="{" ".join(classes)}" d="M{_n(cx - 4)} {_n(cy)} L{_n(cx + 4)} {_n(cy)} '
            f'L{_n(cx)} {_n(cy - 6 * d)} Z" fill="{fill}" stroke="{colour}" stroke-width="1.5">'
        )
        return f"{shape}<title>{tip} (off scale)</title></path>"
    return (
        f'<circle class="{" ".join(classes)}" cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(_POINT_R)}" '
        f'fill="{fill}" stroke="{colour}" stroke-width="1.5"><title>{tip}</title></circle>'
    )


def reference_svg(
    times_min: Sequence[float],
    values: Sequence[float | None],
    *,
    label: str,
    unit: str,
    y_range: tuple[float, float],
    normal_range: tuple[float, float] | None,
    chart_id: str,
    x_range: tuple[float, float],
    marks: Sequence[Mark],
    future_times: Sequence[float] | None = None,
    future_values: Sequence[float | None] | None = None,
    decimals: int = 0,
    width: int = 640,
    height: int = 200,
) -> str:
    frame = _Frame(float(width), float(height), x_range, y_range)
    past = readings_in_window(times_min, values, x_range)
    future = (
        readings_in_window(future_times, future_values, x_range)
        if future_times is not None and future_values is not None
        else []
    )
    desc = describe_trend(
        past, label=label, unit=unit, normal_range=normal_range, decimals=decimals, future=future
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" id="{chart_id}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'font-family="{_FONT}" font-size="13">',
        f'<title id="{chart_id}-title">{escape(label)} ({escape(unit)})</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        *_normal_band(frame, normal_range),
        *_x_axis(frame),
        *_y_axis(frame, decimals=decimals, unit=unit),
        *_marks(frame, marks),
    ]
    past_xy = _coords(past, frame)
    future_xy = _coords(future, frame)
    past_path = _line_path(past_xy)
    if past_path:
        parts.append(
            f'<path class="chart-line chart-past" d="{past_path}" fill="none" stroke="{_PAST}" '
            'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    if future:
        start = past_xy[-1] if past_xy else None
        parts.append(
            f'<path class="chart-line chart-future" d="{_line_path(future_xy, start)}" fill="none" '
            f'stroke="{_FUTURE}" stroke-width="2" stroke-dasharray="6 4" stroke-linejoin="round"/>'
        )
    parts.append('<g class="chart-points">')
    for series, positions, is_future in ((past, past_xy, False), (future, future_xy, True)):
        for reading, position in zip(series, positions, strict=True):
            if position is not None:
                parts.append(
                    _point(
                        reading,
                        position,
                        y_range=y_range,
                        unit=unit,
                        decimals=decimals,
                        normal_range=normal_range,
                        future=is_future,
                    )
                )
    parts.append("</g>")
    if future_times is not None:
        parts.extend(_legend(frame))
    parts.append("</svg>")
    return "\n".join(parts)


def _random_chart(rng: random.Random, i: int) -> dict[str, object]:
    """Inputs that reach every branch: gaps, NaN, off-scale values, odd sizes, marks at the edges."""
    scale = VITAL_SCALES[rng.choice(sorted(VITAL_SCALES))]
    lo, hi = scale.y_range
    x_range = rng.choice([PAST_WINDOW_MIN, FEEDBACK_WINDOW_MIN, (-600.0, 60.0)])

    def value() -> float | None:
        r = rng.random()
        if r < 0.1:
            return None
        if r < 0.15:
            return float("nan")
        if r < 0.3:
            return rng.uniform(lo - 50, hi + 50)
        return round(rng.uniform(lo, hi), rng.choice([0, 1, 2]))

    times = sorted(rng.uniform(x_range[0] - 200, x_range[1] + 100) for _ in range(rng.randint(0, 40)))
    chart: dict[str, object] = {
        "times_min": times,
        "values": [value() for _ in times],
        "label": rng.choice([scale.label, "A <b> & 'c'"]),
        "unit": rng.choice(
            [scale.unit, 'u&"<'],
        ),
        "y_range": scale.y_range,
        "normal_range": rng.choice([scale.normal_range, None, (lo - 10, lo - 5), (10.5, 20.25)]),
        "decimals": rng.choice([0, 1, 2]),
        "chart_id": f"c-{i}",
        "x_range": x_range,
        "marks": rng.choice(
            [
                (),
                (Mark(0.0, "Alert"),),
                (Mark(0.0, "Now"), Mark(-2870.0, "A<b"), Mark(-50.0, "x&y")),
                (Mark(-1.0, "x"),),
            ]
        ),
        "width": rng.choice([640, 300, 77]),
        "height": rng.choice([200, 150, 61]),
    }
    if rng.random() < 0.5:
        future_times = sorted(rng.uniform(-100, 800) for _ in range(rng.randint(0, 10)))
        chart["future_times"] = future_times
        chart["future_values"] = [value() for _ in future_times]
    return chart


@pytest.mark.parametrize("seed", range(4))
def test_random_charts_match_the_plain_drawing(seed: int) -> None:
    rng = random.Random(seed)
    for i in range(250):
        chart = _random_chart(rng, i)
        assert str(trend_svg(**chart)) == reference_svg(**chart), chart  # type: ignore[arg-type]


def test_batch_coordinate_text_matches_one_at_a_time() -> None:
    values = [-0.04, -0.0, 0.0, 0.05, 0.25, 0.35, 1e-9, -10.0, -10.04, 10.0, 123.45, 99.95, 640.0, -0.06]
    rng = random.Random(3)
    values += [rng.uniform(-700, 700) for _ in range(2000)]
    assert _texts(values) == [_n(v) for v in values]
    assert _texts([-0.04, -0.0, 5.0]) == ["0", "0", "5"]
    assert _texts([]) == []


@pytest.mark.parametrize(
    "name", ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure", "gi-bleed-upper"]
)
def test_real_cases_match_the_plain_drawing(name: str) -> None:
    case = simulate(load_scenario(SCENARIOS / f"{name}.yaml"), 11)
    view, answer = case.view, case.answer
    future = {s.key: s for s in answer.future_vitals}
    band = case_screen.SPO2_SCALE2_BAND if view.patient.spo2_scale == 2 else None
    for series in view.vitals:
        if series.key not in VITAL_SCALES:
            continue
        scale = VITAL_SCALES[series.key]
        for after in (False, True):
            fut = future.get(series.key)
            kwargs: dict[str, object] = {
                "x_range": FEEDBACK_WINDOW_MIN if after else PAST_WINDOW_MIN,
                "marks": (Mark(0.0, "Alert"),),
                "future_times": (list(fut.times_min) if fut else []) if after else None,
                "future_values": (list(fut.values) if fut else []) if after else None,
            }
            normal = band if series.key == "spo2" and band else scale.normal_range
            fast = vital_trend_svg(
                series.key,
                list(series.times_min),
                list(series.values),
                chart_id="c",
                band_override=band if series.key == "spo2" else None,
                **kwargs,  # type: ignore[arg-type]
            )
            plain = reference_svg(
                list(series.times_min),
                list(series.values),
                label=scale.label,
                unit=scale.unit,
                y_range=scale.y_range,
                normal_range=normal,
                decimals=scale.decimals,
                chart_id="c",
                **kwargs,  # type: ignore[arg-type]
            )
            assert str(fast) == plain
