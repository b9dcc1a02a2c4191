"""From latent state to the chart: observation sets, nursing assessments and lab results.

Observations follow the ward protocol: routine every `routine_every_h` (§5.1), hourly after a
NEWS2 of 5–6 or a single parameter scoring 3, half-hourly at 7 or more (§1.2). The schedule is
anchored so that a routine set is charted a few minutes before the decision. Readings add
per-reading measurement error (§5.2), are rounded as charted, can be missing, and RR readings in
the normal range are snapped to 16/18/20 with digit preference (§5.2). Artefacts follow §5.4.

Every time an observation can happen lies on a 30-minute grid anchored at the latest routine set
(routine intervals are whole half-hours; escalation adds 30 or 60 minutes). Readings, NEWS2 and
assessments are therefore computed for the whole grid at once, for the whole batch, and a short
walk per variant then picks the times the protocol actually visits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .physiology import LAB_STEP_MIN, Latent, o2_device_for
from .schema import Scenario
from .scoring import News2, news2_band, news2_parameters
from .variant import Variant, lab_measure
from .vocab import LAB_KEYS, VITAL_KEYS, VITALS

__all__ = ["GRID_MIN", "Chart", "LabResult", "ObsSet", "chart_batch", "consciousness_level"]

GRID_MIN = 30
_LEVEL_CODES = ("A", "C", "V", "P", "U")
_LEVEL_EDGES = np.array([0.35, 0.6, 0.8, 0.95])

#: Per-reading measurement SD, simulator defaults from §5.2.
NOISE_SD = {"hr": 3.5, "rr": 2.0, "spo2": 1.0, "sbp": 7.0, "dbp": 6.0, "temp": 0.15}
#: Analytical SD of a lab result as a share of the lab's default slow variability (design choice).
LAB_NOISE_SHARE = 0.5
#: Consciousness load thresholds for C, V, P, U (design, see trajectories.py).
LEVELS = ((0.95, "U"), (0.8, "P"), (0.6, "V"), (0.35, "C"))


def consciousness_level(c: float) -> str:
    for threshold, level in LEVELS:
        if c >= threshold:
            return level
    return "A"


@dataclass(frozen=True, slots=True)
class ObsSet:
    t: int
    values: dict[str, float | None]
    consciousness: str
    new_confusion: bool
    oriented: bool
    o2_flow: float
    o2_device: str
    urine: int | None
    news2: News2 | None
    prev_flow: float | None
    chronic_confusion: bool

    @property
    def note(self) -> str:
        """The nurse's note: what the assessment shows, in words (never more than the fields)."""
        return _note(self.consciousness, self.oriented, self.chronic_confusion, self.o2_flow, self.o2_device, self.prev_flow)


@dataclass(frozen=True, slots=True)
class LabResult:
    key: str
    t_draw: int
    t_result: int
    value: float


@dataclass(frozen=True, slots=True)
class Chart:
    obs: tuple[ObsSet, ...]
    labs: tuple[LabResult, ...]


def _note(level: str, oriented: bool, chronic: bool, flow: float, device: str, prev_flow: float | None) -> str:
    if level == "A":
        parts = ["Alert; disoriented to time and place, at usual state." if chronic and not oriented else "Alert and oriented."]
    else:
        parts = [{
            "C": "New confusion: disoriented, not at usual self.",
            "V": "Drowsy, rousable to voice.",
            "P": "Responds only to pain.",
            "U": "Unresponsive.",
        }[level]]
    if flow > 0:
        parts.append(f"On {flow:g} L/min {device.replace('-', ' ')}.")
        if prev_flow is not None and flow > prev_flow:
            parts.append("Oxygen increased to keep saturations in target.")
    else:
        parts.append("On room air.")
    return " ".join(parts)


def _grid_readings(scenario: Scenario, variants: Sequence[Variant], lat: Latent, rngs: Sequence[np.random.Generator]) -> _Grid:
    """Readings, assessments and NEWS2 at every 30-minute grid point, for the whole batch."""
    lo, hi = scenario.timing.simulated_window_min()
    every = round(scenario.measurement.routine_every_h * 60)
    offsets = np.array([v.obs_offset_min for v in variants], dtype=np.int64)
    # First grid point at or after lo, on the lattice -offset + 30k.
    first = -offsets + GRID_MIN * np.ceil((lo + offsets) / GRID_MIN).astype(np.int64)
    n = (hi - lo) // GRID_MIN + 1
    times = first[:, None] + GRID_MIN * np.arange(n)[None, :]  # (B, G)
    inside = times <= hi
    idx = np.clip(times - lat.t_min[0], 0, lat.t_min.size - 1)
    b = len(variants)
    nk = len(VITAL_KEYS)
    z = np.stack([rng.standard_normal((nk + 1, n)) for rng in rngs])  # (B, 7, G)
    u = np.stack([rng.random((nk + 2, n)) for rng in rngs])  # (B, 8, G)
    true = np.take_along_axis(lat.vitals, np.broadcast_to(idx[:, None, :], (b, nk, n)), axis=2)
    sd = np.array([NOISE_SD[k] for k in VITAL_KEYS])[None, :, None]
    read = true + sd * z[:, :nk, :]
    lows = np.array([VITALS[k].low for k in VITAL_KEYS])[None, :, None]
    highs = np.array([VITALS[k].high for k in VITAL_KEYS])[None, :, None]
    np.clip(read, lows, highs, out=read)
    whole = np.array([VITALS[k].decimals == 0 for k in VITAL_KEYS])
    read[:, whole, :] = np.floor(read[:, whole, :] + 0.5)
    read[:, ~whole, :] = np.round(read[:, ~whole, :], 1)
    i_rr = VITAL_KEYS.index("rr")
    rr = read[:, i_rr, :]
    snap = (rr >= 12) & (rr <= 20) & (u[:, nk, :] < scenario.measurement.rr_digit_preference)
    read[:, i_rr, :] = np.where(snap, np.where(rr <= 16, 16.0, np.where(rr <= 18, 18.0, 20.0)), rr)
    for bi, v in enumerate(variants):
        _artifacts(v, read[bi], times[bi], u[bi, -1], every)
    rates = np.array([getattr(scenario.measurement.missing, k) for k in VITAL_KEYS])[None, :, None]
    read[u[:, :nk, :] < rates] = np.nan

    level = np.searchsorted(_LEVEL_EDGES, np.take_along_axis(lat.consciousness, idx, axis=1), side="right")
    flow = np.round(np.take_along_axis(lat.o2_flow, idx, axis=1) * 2) / 2
    cs = np.concatenate([np.zeros((b, 1)), np.cumsum(lat.urine, axis=1)], axis=1)
    lo_idx = np.maximum(idx - 240, 0)
    urine_mean = (np.take_along_axis(cs, idx + 1, axis=1) - np.take_along_axis(cs, lo_idx, axis=1)) / (idx + 1 - lo_idx)
    urine = (5 * np.round(np.maximum(urine_mean * (1.0 + 0.1 * z[:, -1, :]), 0.0) / 5)).astype(np.int64)

    get = {k: read[:, i, :] for i, k in enumerate(VITAL_KEYS)}
    complete = ~np.isnan(np.stack([get[k] for k in ("rr", "spo2", "sbp", "hr", "temp")])).any(axis=0)
    filled = {k: np.nan_to_num(get[k], nan=0.0) for k in ("rr", "spo2", "sbp", "hr", "temp")}
    params = news2_parameters(
        filled["rr"], filled["spo2"], flow > 0, filled["sbp"], filled["hr"], np.where(level > 0, 3, 0),
        filled["temp"], scenario.patient.spo2_scale,
    )
    total = np.where(complete, params.sum(axis=-1), -1)
    red = complete & (params == 3).any(axis=-1)
    return _Grid(times, inside, read, level, flow, urine, params, total, red)


@dataclass(frozen=True, slots=True)
class _Grid:
    times: npt.NDArray[np.int64]  # (B, G)
    inside: npt.NDArray[np.bool_]
    read: npt.NDArray[np.float64]  # (B, 6, G), nan = missing
    level: npt.NDArray[np.int64]
    flow: npt.NDArray[np.float64]
    urine: npt.NDArray[np.int64]
    params: npt.NDArray[np.int64]  # (B, G, 7)
    total: npt.NDArray[np.int64]  # -1 when incomplete
    red: npt.NDArray[np.bool_]


def _artifacts(
    v: Variant, read: npt.NDArray[np.float64], times: npt.NDArray[np.int64], u: npt.NDArray[np.float64], every: int
) -> None:
    """Apply this variant's artefacts to its grid readings in place (§5.4)."""
    i_spo2, i_hr, i_rr = VITAL_KEYS.index("spo2"), VITAL_KEYS.index("hr"), VITAL_KEYS.index("rr")
    i_sbp, i_dbp = VITAL_KEYS.index("sbp"), VITAL_KEYS.index("dbp")
    for a in v.artifacts:
        if a.type in ("spo2-probe-off", "motion"):
            # The routine set at or before at_h: it always exists on the grid.
            r = -v.obs_offset_min + math.floor((a.at_min + v.obs_offset_min) / every) * every
            j = (r - int(times[0])) // GRID_MIN
            if not 0 <= j < times.size:
                continue
            if a.type == "spo2-probe-off":
                read[i_spo2, j] = np.nan if u[j] < 0.25 else float(round(a.size))
            else:
                read[i_spo2, j] = float(round(a.size))
                read[i_hr, j] = min(read[i_hr, j] + math.floor(20 + 20 * u[j] + 0.5), VITALS["hr"].high)
        elif a.type in ("bp-cuff-small", "bp-cuff-large", "estimated-rr"):
            window = (times >= a.at_min) & (times <= a.to_min)
            if a.type == "bp-cuff-small":
                read[i_sbp, window] = np.minimum(np.floor(read[i_sbp, window] + a.size + 0.5), VITALS["sbp"].high)
                read[i_dbp, window] = np.minimum(np.floor(read[i_dbp, window] + a.size / 2 + 0.5), VITALS["dbp"].high)
            elif a.type == "bp-cuff-large":  # §5.4: a cuff too large for the arm reads low
                read[i_sbp, window] = np.maximum(np.floor(read[i_sbp, window] - a.size + 0.5), VITALS["sbp"].low)
                read[i_dbp, window] = np.maximum(np.floor(read[i_dbp, window] - a.size / 2 + 0.5), VITALS["dbp"].low)
            else:
                read[i_rr, window] = a.size


def _walk(scenario: Scenario, v: Variant, times: npt.NDArray[np.int64], total: npt.NDArray[np.int64],
          red: npt.NDArray[np.bool_]) -> list[int]:
    """Grid indices the observation protocol visits, in time order."""
    lo, hi = scenario.timing.simulated_window_min()
    every = round(scenario.measurement.routine_every_h * 60)
    off = v.obs_offset_min
    escalate = scenario.measurement.escalate
    skip_night = scenario.measurement.skip_night_obs
    t0 = int(times[0])
    t = -off + math.ceil((lo + off) / every) * every  # first routine set in the window
    chosen: list[int] = []
    while t <= hi:
        j = (t - t0) // GRID_MIN
        chosen.append(j)
        score = int(total[j])
        r = -off + (math.floor((t + off) / every) + 1) * every
        while skip_night and r != -off and 0 <= score <= 2 and (v.clock0_min + r) % 1440 < 6 * 60:
            r += every
        nxt = r
        if escalate and score >= 7:
            nxt = min(r, t + 30)
        elif escalate and (score >= 5 or bool(red[j])):
            nxt = min(r, t + 60)
        t = nxt
    return chosen


def chart_batch(
    scenario: Scenario, variants: Sequence[Variant], lat: Latent, rngs: Sequence[np.random.Generator]
) -> list[Chart]:
    """Chart every variant of the batch over the whole simulated window."""
    grid = _grid_readings(scenario, variants, lat, rngs)
    chronic = scenario.baseline.chronic_confusion
    charts = []
    for bi, v in enumerate(variants):
        chosen = _walk(scenario, v, grid.times[bi], grid.total[bi], grid.red[bi])
        obs: list[ObsSet] = []
        prev_flow: float | None = None
        times = grid.times[bi].tolist()
        read = grid.read[bi].T.tolist()  # (G, 6)
        for j in chosen:
            level = _LEVEL_CODES[int(grid.level[bi, j])]
            flow = float(grid.flow[bi, j])
            total = int(grid.total[bi, j])
            news = None
            if total >= 0:
                params = dict(zip(_NEWS2_KEYS, grid.params[bi, j].tolist(), strict=True))
                red = bool(grid.red[bi, j])
                news = News2(total, params, news2_band(total, red), red)
            row = read[j]
            values: dict[str, float | None] = {k: (None if x != x else x) for k, x in zip(VITAL_KEYS, row, strict=True)}
            obs.append(ObsSet(
                t=int(times[j]), values=values, consciousness=level, new_confusion=level == "C",
                oriented=level == "A" and not chronic, o2_flow=flow, o2_device=o2_device_for(flow, v.o2_device0),
                urine=int(grid.urine[bi, j]), news2=news, prev_flow=prev_flow, chronic_confusion=chronic,
            ))
            prev_flow = flow
        charts.append(Chart(tuple(obs), _labs(v, lat, bi, rngs[bi])))
    return charts


_NEWS2_KEYS = ("rr", "spo2", "o2", "sbp", "hr", "consciousness", "temp")


def _labs(v: Variant, lat: Latent, i: int, rng: np.random.Generator) -> tuple[LabResult, ...]:
    start = int(lat.t_lab[0])
    haemolysed = [a for a in v.artifacts if a.type == "haemolysed-sample"]
    k_draws = [d for d in v.lab_draws if "potassium" in d.tests]
    spiked: dict[int, float] = {}  # id(draw) -> false potassium rise
    for a in haemolysed:
        if k_draws:
            nearest = min(k_draws, key=lambda d: abs(d.t_min - a.at_min))
            spiked[id(nearest)] = spiked.get(id(nearest), 0.0) + a.size
    out: list[LabResult] = []
    for d in v.lab_draws:
        idx = min(max(round((d.t_min - start) / LAB_STEP_MIN), 0), lat.t_lab.size - 1)
        z = rng.standard_normal(len(d.tests))
        for n, key in enumerate(d.tests):
            m = lab_measure(key, v.sex)
            value = float(lat.labs[i, LAB_KEYS.index(key), idx]) + LAB_NOISE_SHARE * m.default_variability * float(z[n])
            if key == "potassium":
                value += spiked.get(id(d), 0.0)
            value = min(max(value, m.low), m.high)
            out.append(LabResult(key, d.t_min, d.result_min, round(value, m.decimals)))
    return tuple(out)
