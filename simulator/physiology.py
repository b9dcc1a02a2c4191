"""The latent physiological state, vectorised over a batch of variants.

Vitals live on a 1-minute grid, labs on a 15-minute grid (they change slowly and are only seen at
draw times). Each series is

    usual value + mean-reverting noise (Ornstein–Uhlenbeck, exact AR(1) at the grid step)
                + circadian sinusoid (§5.3) + trajectory effects (simulator/trajectories.py)

clipped to physiological bounds. The AR(1) recursion x[t] = φ·x[t-1] + e[t] is evaluated with a
log-depth prefix scan (x[t] += φ^s · x[t-s] for s = 1, 2, 4, …), which is exact and keeps the
whole computation in numpy: no per-minute Python loop.

Supplemental oxygen is titrated by a simulated nurse: the SpO2 the trajectories take away
(``spo2_deficit``) raises the oxygen flow in steps (air → 2 L → 4 L → mask, §4.3), and the extra
oxygen wins back part of the deficit, so falling SpO2 shows partly as a rising oxygen need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .trajectories import COURSES
from .variant import Variant, lab_measure
from .vocab import LAB_KEYS, VITAL_KEYS, VITALS

__all__ = ["LAB_STEP_MIN", "Latent", "o2_device_for", "simulate_latent"]

F64 = npt.NDArray[np.float64]
LAB_STEP_MIN = 15

#: Circadian amplitude (half peak-to-trough) and peak time. §5.3: temperature peak ~17–19 h, nadir
#: ~04–06 h, amplitude 0.3–0.5 °C [C]; HR in phase, ~5–10/min lower at night; BP ~8/4 mmHg lower
#: asleep on bed rest; RR ~1–2/min.
CIRCADIAN_AMPLITUDE = {"hr": 3.5, "rr": 0.5, "spo2": 0.0, "sbp": 4.0, "dbp": 2.0, "temp": 0.3}
CIRCADIAN_PEAK_MIN = 18 * 60

#: Oxygen titration steps (simulator design from §4.3's "air → 2 L → 4–6 L → mask"): a deficit of at
#: least the given SpO2 points adds this many L/min; each added litre wins back 1.2 points, at most
#: 60% of the deficit, so the fall stays visible.
O2_STEPS = ((3.0, 2.0), (6.0, 4.0), (10.0, 8.0), (14.0, 13.0))
O2_POINTS_PER_L = 1.2
O2_MAX_CORRECTION = 0.6


@dataclass(frozen=True, slots=True)
class Latent:
    """Batch latent state; index 0 of every array is the variant."""

    t_min: npt.NDArray[np.int64]  # (T,) minutes relative to the decision
    vitals: F64  # (B, 6, T) in VITAL_KEYS order, SpO2 after oxygen titration
    o2_flow: F64  # (B, T) L/min
    consciousness: F64  # (B, T) 0 = usual self … ≥ 0.95 unresponsive
    urine: F64  # (B, T) mL/h
    t_lab: npt.NDArray[np.int64]  # (TL,)
    labs: F64  # (B, 13, TL) in LAB_KEYS order

    def vital(self, key: str) -> F64:
        return self.vitals[:, VITAL_KEYS.index(key), :]

    def lab(self, key: str) -> F64:
        return self.labs[:, LAB_KEYS.index(key), :]


def o2_device_for(flow: float, device0: str) -> str:
    """Device name for a flow: the usual device at its usual flow, else the usual ward choice."""
    if flow <= 0:
        return "air"
    if flow <= 4:
        return device0 if device0 not in ("air",) else "nasal-cannula"
    return "simple-mask" if flow <= 10 else "non-rebreather"


def _scan(x: F64, coef: F64) -> F64:
    """In place: x[..., t] += coef * x[..., t-1], recursively, by a log-depth prefix scan.

    After the step with shift s every x[t] holds sum_{k<2s} coef^k e[t-k], so ceil(log2 T)
    vectorised steps replace T sequential ones. Exact up to rounding.
    """
    c = coef.copy()
    shift = 1
    n = x.shape[-1]
    while shift < n:
        x[..., shift:] += c[..., None] * x[..., :-shift]
        c = c * c
        shift *= 2
    return x


def _ou(z: F64, phi: F64, sigma: F64) -> F64:
    """Stationary AR(1) paths x[t] = φ·x[t-1] + e[t] from standard normals z of shape (B, K, T).

    ``phi`` has shape (K,), ``sigma`` (B, K); the first value is drawn from the stationary
    distribution, so the wander has SD ``sigma`` everywhere.
    """
    x = z * (sigma * np.sqrt(1.0 - phi * phi)[None, :])[..., None]
    x[..., 0] = z[..., 0] * sigma
    return _scan(x, np.broadcast_to(phi, sigma.shape).copy())


def _column(variants: Sequence[Variant], attr: str) -> F64:
    """One Variant attribute as a (B, 1) column."""
    return np.array([float(getattr(v, attr)) for v in variants], dtype=np.float64)[:, None]


def _event_column(variants: Sequence[Variant], j: int, attr: str) -> F64:
    """Attribute of the j-th trajectory event of every variant as a (B, 1) column (None -> inf)."""
    vals = [getattr(v.events[j], attr) for v in variants]
    return np.array([np.inf if x is None else float(x) for x in vals], dtype=np.float64)[:, None]


def _effects(variants: Sequence[Variant], t: F64, targets: frozenset[str]) -> dict[str, F64]:
    """Sum of trajectory effects per target on time grid t, with masking modifiers applied."""
    b = len(variants)
    out: dict[str, F64] = {}
    if not variants or not variants[0].events:
        return out
    hr_resp = _column(variants, "hr_response")
    fever_factor = _column(variants, "fever_factor")
    fever_offset = _column(variants, "fever_offset_c")
    o2_mask = _column(variants, "opioid_o2_mask")
    antipyretic = _antipyretic(variants, t)
    for j, first in enumerate(variants[0].events):
        course = COURSES[first.type]
        onset = _event_column(variants, j, "onset_min")
        ramp = _event_column(variants, j, "ramp_min")
        sev = _event_column(variants, j, "severity")
        dur = _event_column(variants, j, "duration_min")
        progress: dict[float, F64] = {}
        for eff in course.effects:
            if eff.target not in targets:
                continue
            if eff.lag_h not in progress:
                tt = t[None, :] - eff.lag_h * 60.0
                x = np.clip((tt - onset) / ramp, 0.0, 1.0)
                if course.duration_h is not None or np.isfinite(dur).any():
                    x = np.minimum(x, np.clip((onset + dur - tt) / ramp, 0.0, 1.0))
                progress[eff.lag_h] = sev * x
            p = progress[eff.lag_h]
            contrib = eff.delta * (p if eff.power == 1.0 else np.power(p, eff.power))
            if eff.target == "hr" and eff.delta > 0:
                contrib = contrib * hr_resp
            elif eff.target == "temp" and course.fever and eff.delta > 0:
                contrib = np.maximum(contrib - fever_offset, 0.0) * fever_factor * antipyretic
            elif eff.target == "spo2_deficit" and first.type == "opioid-oversedation":
                contrib = contrib * o2_mask
            out[eff.target] = out[eff.target] + contrib if eff.target in out else np.broadcast_to(contrib, (b, t.size)).copy()
    return out


def _antipyretic(variants: Sequence[Variant], t: F64) -> F64:
    factor = np.ones((len(variants), t.size))
    for i, v in enumerate(variants):
        if v.antipyretic is None:
            continue
        every, effect, suppression, phase = v.antipyretic
        since_dose = np.mod(t - phase, every)
        factor[i] = np.where(since_dose < effect, 1.0 - suppression, 1.0)
    return factor


def _circadian(variants: Sequence[Variant], t: F64) -> F64:
    clock = _column(variants, "clock0_min") + t[None, :]
    return np.cos(2.0 * np.pi * (clock - CIRCADIAN_PEAK_MIN) / 1440.0)


_VITAL_TARGETS = frozenset((*VITAL_KEYS, "spo2_deficit", "consciousness", "urine"))
_LAB_TARGETS = frozenset(LAB_KEYS)


def simulate_latent(
    variants: Sequence[Variant],
    latent_rngs: Sequence[np.random.Generator],
    window_min: tuple[int, int],
) -> Latent:
    """Latent state for a batch of variants of one scenario (same event list, different draws)."""
    lo, hi = window_min
    t_int = np.arange(lo, hi + 1, dtype=np.int64)
    t_lab_int = np.arange(lo, hi + 1, LAB_STEP_MIN, dtype=np.int64)
    t = t_int.astype(np.float64)
    t_lab = t_lab_int.astype(np.float64)
    nv, nl = len(VITAL_KEYS), len(LAB_KEYS)
    z_v = np.stack([rng.standard_normal((nv, t.size)) for rng in latent_rngs])
    z_l = np.stack([rng.standard_normal((nl, t_lab.size)) for rng in latent_rngs])

    tau_v = np.array([VITALS[k].tau_min for k in VITAL_KEYS])
    sig_v = np.array([[v.variability[k] for k in VITAL_KEYS] for v in variants])
    base_v = np.array([[v.base[k] for k in VITAL_KEYS] for v in variants])
    vit = _ou(z_v, np.exp(-1.0 / tau_v), sig_v)
    vit += base_v[:, :, None]
    circ = _circadian(variants, t)
    amp = np.array([CIRCADIAN_AMPLITUDE[k] for k in VITAL_KEYS])
    vit += amp[None, :, None] * circ[:, None, :]

    eff = _effects(variants, t, _VITAL_TARGETS)
    for i, k in enumerate(VITAL_KEYS):
        if k in eff:
            vit[:, i, :] += eff[k]
    deficit = np.maximum(eff.get("spo2_deficit", np.zeros((len(variants), t.size))), 0.0)
    added = np.zeros_like(deficit)
    for threshold, litres in O2_STEPS:
        added = np.where(deficit >= threshold, litres, added)
    correction = np.minimum(O2_MAX_CORRECTION * deficit, O2_POINTS_PER_L * added)
    i_spo2 = VITAL_KEYS.index("spo2")
    vit[:, i_spo2, :] += correction - deficit
    lows = np.array([VITALS[k].low for k in VITAL_KEYS])[None, :, None]
    highs = np.array([VITALS[k].high for k in VITAL_KEYS])[None, :, None]
    np.clip(vit, lows, highs, out=vit)
    # Keep diastolic below systolic whatever the noise did (pulse pressure at least 10 mmHg).
    i_sbp, i_dbp = VITAL_KEYS.index("sbp"), VITAL_KEYS.index("dbp")
    vit[:, i_dbp, :] = np.minimum(vit[:, i_dbp, :], vit[:, i_sbp, :] - 10.0)
    np.clip(vit, lows, highs, out=vit)

    flow0 = _column(variants, "o2_flow0")
    o2_flow = np.minimum(flow0 + added, 15.0)
    consciousness = np.clip(eff.get("consciousness", np.zeros_like(deficit)), 0.0, 1.2)
    urine0 = _column(variants, "urine0")
    urine = urine0 * (1.0 - np.clip(eff.get("urine", np.zeros_like(deficit)), 0.0, 0.95))

    tau_l = np.array([lab_measure(k, "male").tau_min for k in LAB_KEYS])
    sig_l = np.array([[v.variability[k] for k in LAB_KEYS] for v in variants])
    base_l = np.array([[v.base[k] for k in LAB_KEYS] for v in variants])
    labs = _ou(z_l, np.exp(-LAB_STEP_MIN / tau_l), sig_l)
    labs += base_l[:, :, None]
    eff_l = _effects(variants, t_lab, _LAB_TARGETS)
    for i, k in enumerate(LAB_KEYS):
        if k in eff_l:
            labs[:, i, :] += eff_l[k]
    lab_lows = np.array([lab_measure(k, "male").low for k in LAB_KEYS])[None, :, None]
    lab_highs = np.array([lab_measure(k, "male").high for k in LAB_KEYS])[None, :, None]
    np.clip(labs, lab_lows, lab_highs, out=labs)
    return Latent(t_int, vit, o2_flow, consciousness, urine, t_lab_int, labs)
