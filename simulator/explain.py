"""Explanation facts: for each alert factor, does the documented baseline explain it?

Each vital-sign or lab factor is compared with the usual range **the chart documents** (the
scenario's `usual`, which is what the trainee reads in the baseline notes; `baseline` when the
author gave no separate documented range), never with anything the trainee cannot see. The text
says which of three places the current value is in:

* within the documented usual range;
* within reading error of it: outside, but by no more than two SDs of the error of a single
  reading (§5.2; labs: the analytical error of a result), and the text gives that allowance;
* outside it.

A factor is "explained-by-baseline" when the chart documents a usual value, the current value is
within it or within reading error of it, and it has not moved since the first day of the history
(within three SDs of the combined slow wander and reading error). It is "changed-from-baseline"
when it lies further out or has moved, and "no-documented-baseline" when the chart documents
nothing for it. Trend factors are changes by definition.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Literal

from .alert_model import Factor
from .case import FactorExplanation
from .charting import LAB_NOISE_SHARE, NOISE_SD, Chart
from .schema import MeasureBaseline, Scenario
from .variant import Variant, lab_measure
from .vocab import LAB_KEYS, VITALS

__all__ = ["explain_factors"]

Status = Literal["explained-by-baseline", "changed-from-baseline", "no-documented-baseline"]
Verdict = tuple[Status, float | None, float | None, float | None, str]

_VITAL_FACTORS = ("hr", "rr", "spo2", "sbp", "temp")
#: A value this many reading-error SDs outside the documented range still counts as "within reading error".
READING_ERROR_SDS = 2.0
_TRENDS = {"rr_trend": "rr", "hr_trend": "hr", "sbp_trend": "sbp"}


_DISPLAY_UNITS = {"mm[Hg]": "mmHg", "Cel": "°C", "10*3/uL": "×10³/µL", "ug/mL{FEU}": "µg/mL FEU"}


def _fmt(x: float, dec: int) -> str:
    return f"{x:.{dec}f}"


def _unit(ucum: str) -> str:
    """The unit as the chart prints it (UCUM codes are for machines)."""
    return _DISPLAY_UNITS.get(ucum, ucum)


def _early(values: Sequence[tuple[int, float]], start: int) -> float | None:
    first_day = [x for t, x in values if t <= start + 24 * 60]
    return float(statistics.median(first_day)) if first_day else None


def _judge(
    spec: MeasureBaseline | None,
    current: float,
    early: float | None,
    reading_sd: float,
    tol_change: float,
    unit: str,
    dec: int,
) -> Verdict:
    """Place the current charted value against the usual range the chart documents (see the module doc)."""
    change = None if early is None else current - early
    moved = "" if change is None else f"; {_fmt(early or 0.0, dec)} {unit} on the first day of the chart ({change:+.{dec}f})"
    now = f"Now {_fmt(current, dec)} {unit}{moved}"
    if spec is None or not spec.documented:
        return "no-documented-baseline", None, None, change, f"{now}; no usual value documented."
    lo, hi = spec.documented_range
    allowance = READING_ERROR_SDS * reading_sd
    usual = f"the documented usual {_fmt(lo, dec)}–{_fmt(hi, dec)} {unit}"
    if lo <= current <= hi:
        where, near = f"within {usual}", True
    elif lo - allowance <= current <= hi + allowance:
        where, near = f"within reading error (±2 SD, ±{round(allowance, 2):g} {unit}) of {usual}", True
    else:
        where, near = f"outside {usual}", False
    steady = change is None or abs(change) <= tol_change
    status: Status = "explained-by-baseline" if near and steady else "changed-from-baseline"
    return status, lo, hi, change, f"{now}; {where}."


def explain_factors(
    scenario: Scenario, v: Variant, chart: Chart, factors: Sequence[Factor], at_min: int = 0
) -> tuple[FactorExplanation, ...]:
    """One FactorExplanation per alert factor (points > 0), in the alert's ranking order."""
    start = at_min - scenario.timing.history_hours * 60
    out: list[FactorExplanation] = []
    for f in factors:
        status, lo, hi, change, text = _explain_one(scenario, v, chart, start, f, at_min)
        out.append(FactorExplanation(
            key=f.key, label=f.label, points=f.points, value_text=f.value_text, status=status,
            baseline_low=lo, baseline_high=hi, change=None if change is None else round(change, 2), change_text=text,
        ))
    return tuple(out)


def _explain_one(
    scenario: Scenario, v: Variant, chart: Chart, start: int, f: Factor, at_min: int
) -> Verdict:
    obs = [o for o in chart.obs if start <= o.t <= at_min]
    if f.key in _VITAL_FACTORS:
        series = [(o.t, o.values[f.key]) for o in obs if o.values[f.key] is not None]
        vals = [(t, float(x)) for t, x in series if x is not None]
        current = vals[-1][1]
        m = VITALS[f.key]
        noise = NOISE_SD[f.key]
        tol_change = 3.0 * math.hypot(v.variability[f.key], noise) + (0.5 if m.decimals == 0 else 0.0)
        spec = getattr(scenario.baseline.vitals, f.key)
        return _judge(spec, current, _early(vals, start), noise, tol_change, _unit(m.unit), m.decimals)
    if f.key in LAB_KEYS:
        results = [(r.t_draw, r.value) for r in chart.labs if r.key == f.key and r.t_result <= at_min and r.t_draw >= start]
        current = results[-1][1]
        m = lab_measure(f.key, v.sex)
        noise = LAB_NOISE_SHARE * m.default_variability
        tol_change = 3.0 * math.hypot(v.variability[f.key], noise) + 0.5 * 10 ** (-m.decimals)
        spec = getattr(scenario.baseline.labs, f.key)
        return _judge(spec, current, _early(results, start), noise, tol_change, _unit(m.unit), m.decimals)
    if f.key == "o2":
        ox = scenario.baseline.oxygen
        flow = obs[-1].o2_flow
        earliest = obs[0].o2_flow
        change = flow - earliest
        text = f"Now {flow:g} L/min; {earliest:g} L/min at the start of the chart."
        if ox.device == "air":
            return "changed-from-baseline", 0.0, 0.0, change, text + " Usually on room air."
        lo, hi = ox.flow_l_min
        if not ox.documented:
            return "no-documented-baseline", None, None, change, text + " No usual oxygen documented."
        inside = lo - 0.5 <= flow <= hi + 0.5
        return (
            "explained-by-baseline" if inside else "changed-from-baseline", lo, hi, change,
            text + f" Documented usual oxygen {lo:g}–{hi:g} L/min.",
        )
    if f.key == "consciousness":
        level = obs[-1].consciousness
        if level == "A" and scenario.baseline.chronic_confusion:
            return "explained-by-baseline", None, None, None, "Disoriented, as documented at baseline (chronic confusion); not new."
        return "changed-from-baseline", None, None, None, f"ACVPU {level}: a new change in consciousness."
    if f.key in _TRENDS:
        trend = _trend_value(f.value_text)
        return "changed-from-baseline", None, None, trend, f"{f.label}: {f.value_text} compared with 24 h earlier."
    return "no-documented-baseline", None, None, None, f"{f.label} {f.value_text}: adds risk in the model; not a change."


def _trend_value(text: str) -> float | None:
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None
