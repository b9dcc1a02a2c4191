"""From latent state to the chart: observation sets, nursing assessments and lab results.

Observations follow the ward protocol: routine every `routine_every_h` (§5.1), hourly after a
NEWS2 of 5–6 or a single parameter scoring 3, half-hourly at 7 or more (§1.2). The schedule is
anchored so that a routine set is charted a few minutes before the decision. Readings add
per-reading measurement error (§5.2), are rounded as charted, can be missing, and RR readings in
the normal range are snapped to 16/18/20 with digit preference (§5.2). Artefacts follow §5.4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .physiology import LAB_STEP_MIN, Latent, o2_device_for
from .schema import Scenario
from .scoring import News2, score_charted
from .variant import ArtifactDraw, Variant, lab_measure
from .vocab import LAB_KEYS, VITAL_KEYS, VITALS

__all__ = ["Chart", "LabResult", "ObsSet", "chart", "consciousness_level"]

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
    note: str
    news2: News2 | None


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


def _round(key: str, x: float) -> float:
    m = VITALS[key]
    x = min(max(x, m.low), m.high)
    return float(round(x, 1)) if m.decimals == 1 else float(math.floor(x + 0.5))


def _snap_rr(rr: float) -> float:
    return min((16.0, 18.0, 20.0), key=lambda opt: (abs(rr - opt), -opt))


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


class _Schedule:
    def __init__(self, scenario: Scenario, v: Variant) -> None:
        self.every = round(scenario.measurement.routine_every_h * 60)
        self.offset = v.obs_offset_min
        self.lo, self.hi = scenario.timing.simulated_window_min()
        self.escalate = scenario.measurement.escalate
        self.skip_night = scenario.measurement.skip_night_obs
        self.clock0 = v.clock0_min

    def routine_at_or_before(self, t: float) -> int:
        return -self.offset + math.floor((t + self.offset) / self.every) * self.every

    def first(self) -> int:
        r = self.routine_at_or_before(self.lo)
        return r if r >= self.lo else r + self.every

    def next_routine(self, t: int, last_total: int | None) -> int:
        r = self.routine_at_or_before(t) + self.every
        while self.skip_night and r != -self.offset and (last_total is None or last_total <= 2):
            if (self.clock0 + r) % 1440 >= 6 * 60:
                break
            r += self.every
        return r

    def next(self, t: int, score: News2 | None) -> int:
        total = score.total if score else None
        r = self.next_routine(t, total)
        if self.escalate and score is not None:
            if score.total >= 7:
                return min(r, t + 30)
            if score.total >= 5 or score.single_parameter_3:
                return min(r, t + 60)
        return r


def chart(scenario: Scenario, v: Variant, lat: Latent, i: int, rng: np.random.Generator) -> Chart:
    """Chart one variant (batch index i of the latent state) over the whole case window."""
    sched = _Schedule(scenario, v)
    start = int(lat.t_min[0])
    missing = scenario.measurement.missing
    pref = scenario.measurement.rr_digit_preference
    chronic = scenario.baseline.chronic_confusion
    scale = scenario.patient.spo2_scale
    point_artifacts = [a for a in v.artifacts if a.type in ("spo2-probe-off", "motion")]
    point_times = {id(a): sched.routine_at_or_before(a.at_min) for a in point_artifacts}
    window_artifacts = [a for a in v.artifacts if a.type in ("bp-cuff-small", "estimated-rr")]
    vit = lat.vitals[i]
    o2_flow = lat.o2_flow[i]
    consciousness = lat.consciousness[i]
    urine_cs = np.concatenate([[0.0], np.cumsum(lat.urine[i])])
    sd = [NOISE_SD[k] for k in VITAL_KEYS]
    obs: list[ObsSet] = []
    prev_flow: float | None = None
    t = sched.first()
    while t <= sched.hi:
        idx = t - start
        z = rng.standard_normal(len(VITAL_KEYS) + 1).tolist()
        u = rng.random(len(VITAL_KEYS) + 2).tolist()
        values: dict[str, float | None] = {}
        for k, key in enumerate(VITAL_KEYS):
            values[key] = _round(key, vit.item(k, idx) + sd[k] * z[k])
        rr = values["rr"]
        if rr is not None and 12 <= rr <= 20 and u[len(VITAL_KEYS)] < pref:
            values["rr"] = _snap_rr(rr)
        for a in point_artifacts:
            if point_times[id(a)] == t:
                _apply_point(a, values, u[-1])
        for a in window_artifacts:
            if a.at_min <= t <= a.to_min:
                _apply_window(a, values)
        for k, key in enumerate(VITAL_KEYS):
            if u[k] < getattr(missing, key):
                values[key] = None
        level = consciousness_level(consciousness.item(idx))
        oriented = level == "A" and not chronic
        flow = round(o2_flow.item(idx) * 2) / 2
        device = o2_device_for(flow, v.o2_device0)
        lo = max(0, idx - 240)
        urine_mean = (urine_cs.item(idx + 1) - urine_cs.item(lo)) / (idx + 1 - lo) * (1.0 + 0.1 * z[-1])
        urine = int(5 * round(max(urine_mean, 0.0) / 5))
        score = _news2(values, flow > 0, level, scale)
        obs.append(
            ObsSet(t, values, level, level == "C", oriented, flow, device, urine,
                   _note(level, oriented, chronic, flow, device, prev_flow), score)
        )
        prev_flow = flow
        t = sched.next(t, score)
    return Chart(tuple(obs), _labs(v, lat, i, rng))


def _news2(values: dict[str, float | None], on_o2: bool, level: str, scale: int) -> News2 | None:
    rr, spo2, sbp, hr, temp = (values[k] for k in ("rr", "spo2", "sbp", "hr", "temp"))
    if rr is None or spo2 is None or sbp is None or hr is None or temp is None:
        return None  # §1.1: NEWS2 needs a complete set; withhold rather than guess
    return score_charted(int(rr), int(spo2), on_o2, int(sbp), int(hr), level, round(temp * 10), scale)


def _apply_point(a: ArtifactDraw, values: dict[str, float | None], u: float) -> None:
    if a.type == "spo2-probe-off":
        values["spo2"] = None if u < 0.25 else float(round(a.size))
    elif a.type == "motion":
        values["spo2"] = float(round(a.size))
        hr = values["hr"]
        values["hr"] = None if hr is None else _round("hr", hr + 20 + 20 * u)


def _apply_window(a: ArtifactDraw, values: dict[str, float | None]) -> None:
    if a.type == "bp-cuff-small":
        sbp, dbp = values["sbp"], values["dbp"]
        values["sbp"] = None if sbp is None else _round("sbp", sbp + a.size)
        values["dbp"] = None if dbp is None else _round("dbp", dbp + a.size / 2)
    elif a.type == "estimated-rr":
        values["rr"] = a.size


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
