"""Server-side SVG trend charts for vital signs.

Why hand-rolled SVG (style guide §4): it travels inside an htmx fragment, works with JavaScript off,
needs no CSP exception and renders byte-identical text for identical input, so tests can parse it.

Drawing, back to front: normal band, gridlines, axis labels, event markers (the alert), the recorded
line (solid; a missing value breaks it), the points, then optionally what happened after the alert
(dashed line, hollow points, legend). Colours are SVG presentation attributes that app.css may
override through the ``chart-*`` classes; there is no inline ``style`` and no script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from markupsafe import Markup, escape

from app.charts.scales import PAST_WINDOW_MIN, VITAL_SCALES, nice_ticks, time_ticks
from app.charts.text import (
    Reading,
    TrendRow,
    band_status,
    describe_trend,
    format_rel_time,
    format_value,
    readings_in_window,
    trend_table_rows,
)

__all__ = ["ALERT_MARK", "Mark", "trend_svg", "vital_table_rows", "vital_trend_svg"]


@dataclass(frozen=True)
class Mark:
    """A labelled vertical line at a time relative to the alert (minutes)."""

    t_min: float
    label: str


ALERT_MARK = Mark(0.0, "Alert")

# Plot margins in viewBox units: room for y labels on the left, time labels below, legend/marker
# labels above.
_LEFT, _RIGHT, _TOP, _BOTTOM = 46.0, 20.0, 26.0, 24.0
_POINT_R = 3.0
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

# Colours chosen for ≥ 4.5:1 text contrast on white (WCAG AA) and for lines that stay distinct in
# greyscale; the dash pattern, not the colour, is what tells recorded and future apart.
_INK = "#2b3640"
_GRID = "#d5dbe1"
_BAND_FILL = "#e1f1e5"
_BAND_EDGE = "#8fbf9b"
_PAST = "#17497f"
_FUTURE = "#5a2d82"
_MARK = "#a1001c"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _n(x: float) -> str:
    """Coordinate text: one decimal, no trailing zero, no "-0", so output is stable and short."""
    text = f"{x:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class _Frame:
    """Maps data (minutes, vital units) to viewBox coordinates."""

    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @property
    def plot_left(self) -> float:
        return _LEFT

    @property
    def plot_right(self) -> float:
        return self.width - _RIGHT

    @property
    def plot_top(self) -> float:
        return _TOP

    @property
    def plot_bottom(self) -> float:
        return self.height - _BOTTOM

    def xs(self, t: Sequence[float]) -> npt.NDArray[np.float64]:
        scaled = np.interp(np.asarray(t, dtype=float), self.x_range, (self.plot_left, self.plot_right))
        return np.asarray(scaled, dtype=np.float64)

    def ys(self, v: Sequence[float]) -> npt.NDArray[np.float64]:
        # np.interp clamps, which is what we want for off-scale readings (they get a triangle marker).
        scaled = np.interp(np.asarray(v, dtype=float), self.y_range, (self.plot_bottom, self.plot_top))
        return np.asarray(scaled, dtype=np.float64)

    def x(self, t: float) -> float:
        return float(self.xs([t])[0])

    def y(self, v: float) -> float:
        return float(self.ys([v])[0])


def _texts(values: Sequence[float]) -> list[str]:
    """``_n`` for many numbers with one formatting call for the lot (the same text, byte for byte:
    ``"%.1f"`` and ``f"{x:.1f}"`` are the same conversion)."""
    if not values:
        return []
    texts = (("%.1f " * len(values)) % tuple(values)).replace(".0 ", " ").split()
    if "-0" in texts:
        texts = ["0" if t == "-0" else t for t in texts]
    return texts


# A reading's place in the viewBox: (x, y) and the same as coordinate text; None when it is missing.
_Position = tuple[float, float, str, str] | None


def _positions(readings: Sequence[Reading], frame: _Frame) -> list[_Position]:
    """Viewbox position of each reading, scaled in one numpy call and formatted in one more."""
    times = [r.t_min for r in readings if r.value is not None]
    values = [r.value for r in readings if r.value is not None]
    if not values:
        return [None] * len(readings)
    xs = frame.xs(times).tolist()
    ys = frame.ys(values).tolist()
    placed = iter(zip(xs, ys, _texts(xs), _texts(ys), strict=True))
    return [None if r.value is None else next(placed) for r in readings]


def _line_path(positions: Sequence[_Position], start: _Position = None) -> str:
    """Path data with a new ``M`` after every missing value, so gaps stay visible as gaps."""
    parts: list[str] = []
    pen_down = False
    for position in [start, *positions] if start is not None else positions:
        if position is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{position[2]} {position[3]}")
        pen_down = True
    return " ".join(parts)


def _points(
    readings: Sequence[Reading],
    positions: Sequence[_Position],
    *,
    y_range: tuple[float, float],
    unit: str,
    decimals: int,
    normal_range: tuple[float, float] | None,
    future: bool,
) -> list[str]:
    """One marker per recorded reading: a circle, or a triangle on the edge when off the scale."""
    colour = _FUTURE if future else _PAST
    paint = f'fill="{"#ffffff" if future else colour}" stroke="{colour}" stroke-width="1.5"'
    base = "chart-pt chart-pt-future" if future else "chart-pt"
    radius = _n(_POINT_R)
    unit_text = escape(unit)  # times and numbers need no escaping; the unit is escaped once
    lo, hi = y_range
    out: list[str] = []
    for reading, position in zip(readings, positions, strict=True):
        value = reading.value
        if position is None or value is None:
            continue
        tip = f"{format_rel_time(reading.t_min)}: {format_value(value, decimals)} {unit_text}"
        status = band_status(value, normal_range, decimals)
        classes = f"{base} chart-pt-{status}" if status in ("above", "below") else base
        if value > hi or value < lo:
            # Off the fixed scale: a triangle on the edge pointing the way the value went.
            cx, cy, x_text, y_text = position
            d = 1 if value > hi else -1  # 1 = tip upwards
            out.append(
                f'<path class="{classes} chart-pt-clipped" d="M{_n(cx - 4)} {y_text} L{_n(cx + 4)} {y_text} '
                f'L{x_text} {_n(cy - 6 * d)} Z" {paint}><title>{tip} (off scale)</title></path>'
            )
        else:
            out.append(
                f'<circle class="{classes}" cx="{position[2]}" cy="{position[3]}" r="{radius}" {paint}>'
                f"<title>{tip}</title></circle>"
            )
    return out


def _y_axis(frame: _Frame, *, decimals: int, unit: str) -> list[str]:
    out = ['<g class="chart-grid chart-grid-y">']
    labels = [f'<g class="chart-axis chart-axis-y" fill="{_INK}" text-anchor="end">']
    tick_decimals = decimals if any(not float(t).is_integer() for t in nice_ticks(*frame.y_range)) else 0
    for tick in nice_ticks(*frame.y_range):
        y = _n(frame.y(tick))
        out.append(
            f'<line x1="{_n(frame.plot_left)}" y1="{y}" x2="{_n(frame.plot_right)}" y2="{y}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
        )
        labels.append(
            f'<text x="{_n(frame.plot_left - 6)}" y="{y}" dy="0.35em">{format_value(tick, tick_decimals)}</text>'
        )
    out.append("</g>")
    labels.append("</g>")
    unit_label = (
        f'<text class="chart-unit" x="{_n(frame.plot_left - 6)}" y="{_n(frame.plot_top - 10)}" '
        f'fill="{_INK}" text-anchor="end">{escape(unit)}</text>'
    )
    return [*out, *labels, unit_label]


def _x_axis(frame: _Frame) -> list[str]:
    grid = ['<g class="chart-grid chart-grid-x">']
    labels = [f'<g class="chart-axis chart-axis-x" fill="{_INK}" text-anchor="middle">']
    for tick in time_ticks(*frame.x_range):
        x = _n(frame.x(tick))
        grid.append(
            f'<line x1="{x}" y1="{_n(frame.plot_top)}" x2="{x}" y2="{_n(frame.plot_bottom)}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
        )
        labels.append(f'<text x="{x}" y="{_n(frame.plot_bottom + 16)}">{format_rel_time(tick)}</text>')
    grid.append("</g>")
    labels.append("</g>")
    frame_box = (
        f'<rect class="chart-frame" x="{_n(frame.plot_left)}" y="{_n(frame.plot_top)}" '
        f'width="{_n(frame.plot_right - frame.plot_left)}" height="{_n(frame.plot_bottom - frame.plot_top)}" '
        f'fill="none" stroke="{_GRID}" stroke-width="1"/>'
    )
    return [*grid, frame_box, *labels]


def _normal_band(frame: _Frame, normal_range: tuple[float, float] | None) -> list[str]:
    if normal_range is None:
        return []
    lo, hi = normal_range
    y_lo, y_hi = frame.y(lo), frame.y(hi)
    if y_lo <= y_hi:  # band entirely off the scale
        return []
    return [
        f'<rect class="chart-normal" x="{_n(frame.plot_left)}" y="{_n(y_hi)}" '
        f'width="{_n(frame.plot_right - frame.plot_left)}" height="{_n(y_lo - y_hi)}" '
        f'fill="{_BAND_FILL}" stroke="{_BAND_EDGE}" stroke-width="1"/>'
    ]


def _marks(frame: _Frame, marks: Sequence[Mark]) -> list[str]:
    out: list[str] = []
    x0, x1 = frame.x_range
    for mark in marks:
        if not x0 <= mark.t_min <= x1:
            continue
        x = frame.x(mark.t_min)
        near_right = frame.plot_right - x < 30
        near_left = x - frame.plot_left < 30
        anchor = "end" if near_right else "start" if near_left else "middle"
        out.append(
            f'<g class="chart-mark" data-t-min="{_n(mark.t_min)}">'
            f'<line x1="{_n(x)}" y1="{_n(frame.plot_top - 4)}" x2="{_n(x)}" y2="{_n(frame.plot_bottom)}" '
            f'stroke="{_MARK}" stroke-width="2"/>'
            f'<text x="{_n(x)}" y="{_n(frame.plot_top - 8)}" fill="{_MARK}" text-anchor="{anchor}" '
            f'font-weight="bold">{escape(mark.label)}</text></g>'
        )
    return out


def _legend(frame: _Frame) -> list[str]:
    x = frame.plot_left + 4
    y = frame.plot_top - 12
    return [
        '<g class="chart-legend">',
        f'<line class="chart-line chart-past" x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 22)}" y2="{_n(y)}" '
        f'stroke="{_PAST}" stroke-width="2"/>',
        f'<text x="{_n(x + 28)}" y="{_n(y)}" dy="0.35em" fill="{_INK}">Before alert</text>',
        f'<line class="chart-line chart-future" x1="{_n(x + 128)}" y1="{_n(y)}" x2="{_n(x + 150)}" '
        f'y2="{_n(y)}" stroke="{_FUTURE}" stroke-width="2" stroke-dasharray="6 4"/>',
        f'<text x="{_n(x + 156)}" y="{_n(y)}" dy="0.35em" fill="{_INK}">After alert (what happened)</text>',
        "</g>",
    ]


@lru_cache(maxsize=256)
def _frame_layers(
    width: float,
    height: float,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    normal_range: tuple[float, float] | None,
    decimals: int,
    unit: str,
    marks: tuple[Mark, ...],
) -> tuple[str, str]:
    """(band, axes and marks; legend): the same for every chart of a vital, so drawn once."""
    frame = _Frame(width, height, x_range, y_range)
    back = [
        *_normal_band(frame, normal_range),
        *_x_axis(frame),
        *_y_axis(frame, decimals=decimals, unit=unit),
        *_marks(frame, marks),
    ]
    return "\n".join(back), "\n".join(_legend(frame))


def trend_svg(
    times_min: Sequence[float],
    values: Sequence[float | None],
    *,
    label: str,
    unit: str,
    y_range: tuple[float, float],
    normal_range: tuple[float, float] | None,
    chart_id: str,
    x_range: tuple[float, float] = PAST_WINDOW_MIN,
    marks: Sequence[Mark] = (ALERT_MARK,),
    future_times: Sequence[float] | None = None,
    future_values: Sequence[float | None] | None = None,
    decimals: int = 0,
    width: int = 640,
    height: int = 200,
) -> Markup:
    """Render one vital's trend as an accessible, deterministic inline SVG.

    ``times_min`` are minutes relative to the alert (negative = before). ``values`` may hold None for a
    due-but-missing observation, which breaks the line. Pass the same ``y_range`` for a vital on every
    page (see ``VITAL_SCALES``). ``future_*`` are drawn dashed with hollow points and a legend, for the
    feedback page. ``chart_id`` must be unique on the page; it prefixes the title/desc ids.
    """
    if not _CHART_ID.match(chart_id):
        raise ValueError(
            f"chart_id {chart_id!r} must start with a letter and hold only letters, digits, _ or -"
        )
    if width < _LEFT + _RIGHT + 10 or height < _TOP + _BOTTOM + 10:
        raise ValueError(f"chart {width}x{height} is too small to draw")
    if (future_times is None) != (future_values is None):
        raise ValueError("pass both future_times and future_values, or neither")

    x_range = (x_range[0], x_range[1])
    y_range = (y_range[0], y_range[1])
    normal_range = None if normal_range is None else (normal_range[0], normal_range[1])
    frame = _Frame(float(width), float(height), x_range, y_range)
    past = readings_in_window(times_min, values, x_range)
    future = (
        readings_in_window(future_times, future_values, x_range)
        if future_times is not None and future_values is not None
        else []
    )
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    desc = describe_trend(
        past, label=label, unit=unit, normal_range=normal_range, decimals=decimals, future=future
    )
    back, legend = _frame_layers(
        frame.width, frame.height, x_range, y_range, normal_range, decimals, unit, tuple(marks)
    )

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" id="{chart_id}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{title_id}" aria-describedby="{desc_id}" '
        f'font-family="{_FONT}" font-size="13">',
        f'<title id="{title_id}">{escape(label)} ({escape(unit)})</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        back,
    ]

    past_xy = _positions(past, frame)
    future_xy = _positions(future, frame)
    past_path = _line_path(past_xy)
    if past_path:
        parts.append(
            f'<path class="chart-line chart-past" d="{past_path}" fill="none" stroke="{_PAST}" '
            'stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    if future:
        # Join the dashed line to the last recorded value, unless that observation was missing.
        start = past_xy[-1] if past_xy else None
        parts.append(
            f'<path class="chart-line chart-future" d="{_line_path(future_xy, start)}" fill="none" '
            f'stroke="{_FUTURE}" stroke-width="2" stroke-dasharray="6 4" stroke-linejoin="round"/>'
        )
    parts.append('<g class="chart-points">')
    for series, positions, is_future in ((past, past_xy, False), (future, future_xy, True)):
        parts += _points(
            series,
            positions,
            y_range=y_range,
            unit=unit,
            decimals=decimals,
            normal_range=normal_range,
            future=is_future,
        )
    parts.append("</g>")
    if future_times is not None:
        parts.append(legend)
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 - every interpolated text above is escaped


def vital_trend_svg(
    key: str,
    times_min: Sequence[float],
    values: Sequence[float | None],
    *,
    chart_id: str,
    x_range: tuple[float, float] = PAST_WINDOW_MIN,
    marks: Sequence[Mark] = (ALERT_MARK,),
    future_times: Sequence[float] | None = None,
    future_values: Sequence[float | None] | None = None,
    band_override: tuple[float, float] | None = None,
    width: int = 640,
    height: int = 200,
) -> Markup:
    """``trend_svg`` with the shared label, unit, scale and NEWS2 band for ``key`` (hr, rr, spo2, …).

    ``band_override`` replaces the band for one patient only, e.g. a documented SpO2 scale-2 target
    (clinical-reference §1.1); the y-range never changes.
    """
    scale = VITAL_SCALES[key]
    return trend_svg(
        times_min,
        values,
        label=scale.label,
        unit=scale.unit,
        y_range=scale.y_range,
        normal_range=band_override or scale.normal_range,
        decimals=scale.decimals,
        chart_id=chart_id,
        x_range=x_range,
        marks=marks,
        future_times=future_times,
        future_values=future_values,
        width=width,
        height=height,
    )


def vital_table_rows(
    key: str,
    times_min: Sequence[float],
    values: Sequence[float | None],
    *,
    x_range: tuple[float, float] = PAST_WINDOW_MIN,
    future_times: Sequence[float] | None = None,
    future_values: Sequence[float | None] | None = None,
    band_override: tuple[float, float] | None = None,
) -> list[TrendRow]:
    """``trend_table_rows`` with the shared unit, band and precision for ``key``."""
    scale = VITAL_SCALES[key]
    return trend_table_rows(
        times_min,
        values,
        unit=scale.unit,
        normal_range=band_override or scale.normal_range,
        x_range=x_range,
        decimals=scale.decimals,
        future_times=future_times,
        future_values=future_values,
    )
