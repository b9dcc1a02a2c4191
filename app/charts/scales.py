"""Fixed chart scales per vital sign, and "nice" tick placement.

Every page draws a vital on the same y-range, so a nurse comparing two cases compares shapes, not
axis labels. The shaded normal band is the NEWS2 zero-score band (clinical-reference §1.1); the
y-ranges themselves are display choices wide enough to hold every NEWS2 scoring band and the
trajectories of §4 without clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ALERT_TREND_WINDOW_MIN",
    "CHART_FUTURE_HOURS",
    "CHART_PAST_HOURS",
    "FEEDBACK_WINDOW_MIN",
    "PAST_WINDOW_MIN",
    "VITAL_SCALES",
    "VitalScale",
    "nice_ticks",
    "time_ticks",
]

CHART_PAST_HOURS = 48
"""Hours of history on every vital chart. One fixed time axis for every case, so charts compare at a
glance; a case with a longer record (up to 168 h) shows its last 48 h on the charts, and its headings
say so."""

CHART_FUTURE_HOURS = 24
"""Hours after the decision on every feedback chart: the longest future of any scenario in the library
(``timing.future_hours`` is 12 or 24 there). A case with a longer future shows its first 24 h, and the
feedback text says so."""

PAST_WINDOW_MIN: tuple[float, float] = (-CHART_PAST_HOURS * 60.0, 0.0)
"""Decision page: the 48 h before the alert."""

FEEDBACK_WINDOW_MIN: tuple[float, float] = (-CHART_PAST_HOURS * 60.0, CHART_FUTURE_HOURS * 60.0)
"""Feedback page: the same 48 h plus the 24 h that followed, drawn dashed."""

ALERT_TREND_WINDOW_MIN: tuple[float, float] = (-24 * 60.0, 0.0)
"""The alert score's own trend: the simulator keeps the scores of the 24 h before the decision."""


@dataclass(frozen=True)
class VitalScale:
    """How one vital is charted everywhere: label, UCUM-ish display unit, axis range, normal band."""

    key: str
    label: str
    unit: str
    y_range: tuple[float, float]
    normal_range: tuple[float, float] | None
    decimals: int = 0


VITAL_SCALES: dict[str, VitalScale] = {
    # Normal bands = NEWS2 0-point bands, clinical-reference §1.1.
    "hr": VitalScale("hr", "Heart rate", "/min", (20, 180), (51, 90)),
    "rr": VitalScale("rr", "Respiratory rate", "/min", (0, 40), (12, 20)),
    # SpO2 scale 1 (≥ 96 % scores 0). For a documented scale-2 patient (§1.1: target 88–92 %) the caller
    # passes that patient's band instead; the y-range stays the same so charts still compare.
    "spo2": VitalScale("spo2", "Oxygen saturation (SpO2)", "%", (70, 100), (96, 100)),
    "sbp": VitalScale("sbp", "Systolic blood pressure", "mmHg", (50, 250), (111, 219)),
    # NEWS2 does not score diastolic pressure, so no band is drawn rather than inventing one.
    "dbp": VitalScale("dbp", "Diastolic blood pressure", "mmHg", (20, 140), None),
    # Temperature is charted to 0.1 °C and banded after rounding (§1.1).
    "temp": VitalScale("temp", "Temperature", "°C", (34, 41), (36.1, 38.0), decimals=1),
}

_STEP_MULTIPLIERS = (1.0, 2.0, 2.5, 5.0)
_TIME_STEPS_MIN = (15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880)


def nice_ticks(lo: float, hi: float, *, max_intervals: int = 8) -> list[float]:
    """Round-number ticks inside [lo, hi]: the smallest step of 1, 2, 2.5 or 5 × 10^k that needs at
    most ``max_intervals`` intervals, so labels read as round clinical numbers."""
    if not hi > lo:
        raise ValueError(f"empty range {lo}..{hi}")
    raw = (hi - lo) / max_intervals
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(
        (m * magnitude for m in _STEP_MULTIPLIERS if m * magnitude >= raw * (1 - 1e-9)), 10 * magnitude
    )
    return _multiples(lo, hi, step)


def time_ticks(x0: float, x1: float, *, max_intervals: int = 6) -> list[float]:
    """Tick times in minutes on whole clock steps (15 min … 48 h) that always include 0, the alert."""
    if not x1 > x0:
        raise ValueError(f"empty time range {x0}..{x1}")
    span = x1 - x0
    step = next((float(s) for s in _TIME_STEPS_MIN if span / s <= max_intervals), float(_TIME_STEPS_MIN[-1]))
    return _multiples(x0, x1, step)


def _multiples(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    # Rounding keeps 0.1-steps free of binary noise (e.g. 36.300000000000004).
    return [round(k * step, 6) + 0.0 for k in range(first, last + 1)]
