"""Words and table rows for a trend: the non-visual twin of the SVG chart.

The ``<desc>`` sentence and the data-table rows come from the same readings as the drawing, so a
screen-reader user and a sighted user get the same facts. All numbers are rounded to the vital's
display precision before comparing with the normal band (clinical-reference §1.1 bands the displayed
value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "Reading",
    "TrendRow",
    "band_status",
    "describe_trend",
    "format_rel_time",
    "format_value",
    "readings_in_window",
    "trend_table_rows",
]

Status = Literal["normal", "above", "below", "missing", "unbanded"]

_NOTES: dict[Status, str] = {
    "normal": "",
    "unbanded": "",
    "above": "above normal range",
    "below": "below normal range",
    "missing": "not recorded",
}


@dataclass(frozen=True)
class Reading:
    """One charted time point; ``value`` None means the observation was due but not recorded."""

    t_min: float
    value: float | None


@dataclass(frozen=True)
class TrendRow:
    """One row of the "show values" table under a chart."""

    t_min: float
    time_label: str
    value: float | None
    value_text: str
    status: Status
    note: str
    after_alert: bool


def format_value(value: float, decimals: int) -> str:
    """Fixed-precision text without a "-0"."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_rel_time(t_min: float) -> str:
    """Minutes relative to the alert as "-36h", "-1h 30m", "0", "+12h"."""
    return _rel_time(round(t_min))


@lru_cache(maxsize=4096)
def _rel_time(total: int) -> str:
    # A page labels a few hundred times, mostly the same few dozen: worth remembering.
    if total == 0:
        return "0"
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    if hours and minutes:
        return f"{sign}{hours}h {minutes}m"
    if hours:
        return f"{sign}{hours}h"
    return f"{sign}{minutes}m"


def _format_span(minutes: float) -> str:
    if minutes < 60:
        return f"{round(minutes)} min"
    hours = round(minutes / 60, 1)
    return f"{format_value(hours, 0 if hours.is_integer() else 1)} h"


def readings_in_window(
    times_min: Sequence[float], values: Sequence[float | None], x_range: tuple[float, float]
) -> list[Reading]:
    """Pair times with values, drop points outside the chart window, and keep time order."""
    if len(times_min) != len(values):
        raise ValueError(f"{len(times_min)} times but {len(values)} values")
    x0, x1 = x_range
    pairs: list[Reading] = []
    for t, v in zip(times_min, values, strict=True):
        if x0 <= t <= x1:
            pairs.append(Reading(float(t), None if v is None or math.isnan(v) else float(v)))
    return sorted(pairs, key=lambda r: r.t_min)


def band_status(value: float | None, normal_range: tuple[float, float] | None, decimals: int) -> Status:
    """Where a reading sits against the normal band, after rounding to display precision."""
    if value is None:
        return "missing"
    if normal_range is None:
        return "unbanded"
    shown = round(value, decimals)
    if shown > normal_range[1]:
        return "above"
    if shown < normal_range[0]:
        return "below"
    return "normal"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _band_clause(values: Sequence[float], normal_range: tuple[float, float] | None, decimals: int) -> str:
    if normal_range is None:
        return ""
    statuses = [band_status(v, normal_range, decimals) for v in values]
    above, below = statuses.count("above"), statuses.count("below")
    if above and below:
        return f", {above} above and {below} below the normal range"
    if above:
        return f", {_plural(above, 'reading')} above the normal range"
    if below:
        return f", {_plural(below, 'reading')} below the normal range"
    return ", all within the normal range"


def _summarise(
    readings: Sequence[Reading],
    *,
    unit: str,
    normal_range: tuple[float, float] | None,
    decimals: int,
) -> str:
    values = [r.value for r in readings if r.value is not None]
    times = [r.t_min for r in readings if r.value is not None]
    if not values:
        return "no readings"
    last = format_value(values[-1], decimals)
    band = _band_clause(values, normal_range, decimals)
    if len(values) == 1:
        return f"1 reading, {last} {unit} at {format_rel_time(times[0])}{band}"
    low, high = format_value(min(values), decimals), format_value(max(values), decimals)
    span = _format_span(times[-1] - times[0])
    return f"{len(values)} readings over {span}, from {low} to {high} {unit}; last {last} {unit}{band}"


def describe_trend(
    readings: Sequence[Reading],
    *,
    label: str,
    unit: str,
    normal_range: tuple[float, float] | None,
    decimals: int = 0,
    future: Sequence[Reading] = (),
) -> str:
    """One or two plain sentences for ``<desc>``, e.g. "Heart rate: 24 readings over 48 h, from 88 to
    124 /min; last 124 /min, 3 readings above the normal range." """
    sentence = f"{label}: {_summarise(readings, unit=unit, normal_range=normal_range, decimals=decimals)}."
    missing = sum(1 for r in readings if r.value is None)
    if missing:
        sentence += f" {_plural(missing, 'due reading')} not recorded."
    if future:
        after = _summarise(future, unit=unit, normal_range=normal_range, decimals=decimals)
        sentence += f" After the alert: {after}."
    return sentence


def trend_table_rows(
    times_min: Sequence[float],
    values: Sequence[float | None],
    *,
    unit: str,
    normal_range: tuple[float, float] | None,
    x_range: tuple[float, float],
    decimals: int = 0,
    future_times: Sequence[float] | None = None,
    future_values: Sequence[float | None] | None = None,
) -> list[TrendRow]:
    """Rows for the data-table alternative to a chart, oldest first, the same points the SVG draws."""
    rows: list[TrendRow] = []
    series: list[tuple[Sequence[float], Sequence[float | None], bool]] = [(times_min, values, False)]
    if future_times is not None and future_values is not None:
        series.append((future_times, future_values, True))
    for times, vals, after in series:
        for reading in readings_in_window(times, vals, x_range):
            status = band_status(reading.value, normal_range, decimals)
            rows.append(
                TrendRow(
                    t_min=reading.t_min,
                    time_label=format_rel_time(reading.t_min),
                    value=reading.value,
                    value_text="—"
                    if reading.value is None
                    else f"{format_value(reading.value, decimals)} {unit}",
                    status=status,
                    note=_NOTES[status],
                    after_alert=after,
                )
            )
    return rows
