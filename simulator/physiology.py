"""The latent physiological state, vectorised over a batch of variants.

Vitals live on a 1-minute grid, labs on a 15-minute grid (they change slowly and are only seen at
draw times). Each series is

    usual value + mean-reverting noise (Ornstein–Uhlenbeck, exact AR(1) at the grid step)
                + circadian sinusoid (§5.3) + trajectory effects (simulator/trajectories.py)

clipped to physiological bounds. The AR(1) recursion x[t] = φ·x[t-1] + e[t] is evaluated exactly
with chunked cumulative sums (see `_ou`), so the whole computation stays in numpy: no per-minute
Python loop.

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
F32 = npt.NDArray[np.float32]
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
    vitals: F32  # (B, 6, T) in VITAL_KEYS order, SpO2 after oxygen titration
    o2_flow: F32  # (B, T) L/min
    consciousness: F32  # (B, T) 0 = usual self … ≥ 0.95 unresponsive
    urine: F32  # (B, T) mL/h
    t_lab: npt.NDArray[np.int64]  # (TL,)
    labs: F32  # (B, 13, TL) in LAB_KEYS order

    def vital(self, key: str) -> F32:
        return self.vitals[:, VITAL_KEYS.index(key), :]

    def lab(self, key: str) -> F32:
        return self.labs[:, LAB_KEYS.index(key), :]


def o2_device_for(flow: float, device0: str) -> str:
    """Device name for a flow: the usual device at its usual flow, else the usual ward choice."""
    if flow <= 0:
        return "air"
    if flow <= 4:
        return device0 if device0 not in ("air",) else "nasal-cannula"
    return "simple-mask" if flow <= 10 else "non-rebreather"


_CHUNK = 720  # steps per cumulative-sum chunk: keeps φ^-k far from float32 overflow for τ ≥ 30 steps
_BYTE_MEAN = 127.5
_BYTE_SD = float(np.sqrt((256.0**2 - 1.0) / 12.0))  # SD of a uniform byte 0..255


def _random_bytes(rngs: Sequence[np.random.Generator], k: int, n: int) -> npt.NDArray[np.uint8]:
    """Uniform random bytes, (B, k, n): the raw material of the innovations."""
    return np.frombuffer(b"".join(rng.bytes(k * n) for rng in rngs), dtype=np.uint8).reshape(len(rngs), k, n)


def _innovations(rngs: Sequence[np.random.Generator], k: int, n: int) -> F32:
    """Unit-variance innovations from uniform random bytes (what `_ou` uses, made explicit for tests).

    Bytes are ~8x cheaper to draw than Gaussians. The wander sums about τ ≥ 30 of them, so its
    distribution is Gaussian for all practical purposes (central limit theorem), and its SD and
    autocorrelation are exactly those requested (tested).
    """
    out = np.subtract(_random_bytes(rngs, k, n), np.float32(_BYTE_MEAN), dtype=np.float32)
    out *= np.float32(1.0 / _BYTE_SD)
    return out


def _ou(u: F32 | npt.NDArray[np.uint8], phi: F64, sigma: F64) -> F32:
    """Stationary AR(1) paths x[t] = φ·x[t-1] + e[t], shape (B, K, T).

    ``u`` holds unit-variance innovations, or raw uniform bytes (centred and scaled here, saving two
    passes over the data). ``phi`` has shape (K,), ``sigma`` (B, K). Within a chunk
    x[c+i] = φ^i·Σ_{m≤i} e[c+m]·φ^-m: one cumulative sum in C instead of a per-step loop; the last
    value of each chunk is carried into the next as φ^(i+1)·x[c-1]. Exact up to float32 rounding
    (tested against a plain loop).
    """
    b, k, n = u.shape
    raw = u.dtype == np.uint8
    unit = 1.0 / _BYTE_SD if raw else 1.0
    scale = sigma * np.sqrt(1.0 - phi * phi)[None, :] * unit  # (B, K)
    steps = np.arange(min(_CHUNK, n), dtype=np.float64)
    log_phi = np.log(phi)[:, None]
    grow = scale[..., None] * np.exp(-log_phi * steps)[None]  # (B, K, L): innovation scale × φ^-i
    factor = grow.astype(np.float32)
    offset = (grow * _BYTE_MEAN).astype(np.float32) if raw else None
    decay = np.exp(log_phi * steps).astype(np.float32)
    carry_in = np.exp(log_phi * (steps + 1)).astype(np.float32)
    x = np.empty((b, k, n), dtype=np.float32)
    prev: F32 | None = None
    for c0 in range(0, n, _CHUNK):
        m = min(_CHUNK, n - c0)
        seg = x[..., c0 : c0 + m]
        np.multiply(u[..., c0 : c0 + m], factor[..., :m], out=seg, dtype=np.float32)
        if offset is not None:
            seg -= offset[..., :m]
        if c0 == 0:  # start from the stationary spread rather than from the usual value
            first = (u[..., 0].astype(np.float64) - (_BYTE_MEAN if raw else 0.0)) * unit * sigma
            seg[..., 0] = first.astype(np.float32)
        np.cumsum(seg, axis=-1, out=seg)
        seg *= decay[:, :m]
        if prev is not None:
            seg += prev[..., None] * carry_in[:, :m]
        prev = seg[..., -1].copy()
    return x


def _column(variants: Sequence[Variant], attr: str) -> F32:
    """One Variant attribute as a (B, 1) float32 column."""
    return np.array([float(getattr(v, attr)) for v in variants], dtype=np.float32)[:, None]


def _event_column(variants: Sequence[Variant], j: int, attr: str) -> F32:
    """Attribute of the j-th trajectory event of every variant as a (B, 1) column (None -> inf)."""
    vals = [getattr(v.events[j], attr) for v in variants]
    return np.array([np.inf if x is None else float(x) for x in vals], dtype=np.float32)[:, None]


def _power(x: F32, k: float) -> F32:
    """x**k for x in [0, 1]: exact special cases, exp/log otherwise (np.power is several times slower)."""
    if k == 1.0:
        return x
    if k == 2.0:
        return x * x
    if k == 0.5:
        return np.sqrt(x)
    if k == 1.5:
        return x * np.sqrt(x)
    if k == 2.5:
        return x * x * np.sqrt(x)
    if k == 3.0:
        return x * x * x
    if k == 4.0:
        sq = x * x
        return sq * sq
    with np.errstate(divide="ignore"):  # float64 transcendental functions, then back to float32
        return np.exp(k * np.log(x.astype(np.float64))).astype(np.float32)


def _effects(variants: Sequence[Variant], t: F32, targets: frozenset[str]) -> dict[str, F32]:
    """Sum of trajectory effects per target on time grid t, with masking modifiers applied.

    Each event is evaluated only from the earliest onset in the batch onwards (before it every
    contribution is exactly zero), which typically halves the work.
    """
    out: dict[str, F32] = {}
    if not variants or not variants[0].events:
        return out
    b = len(variants)
    hr_resp = _column(variants, "hr_response")
    fever_factor = _column(variants, "fever_factor")
    fever_offset = _column(variants, "fever_offset_c")
    o2_mask = _column(variants, "opioid_o2_mask")
    antipyretic: F32 | None = None
    for j, first in enumerate(variants[0].events):
        course = COURSES[first.type]
        onset = _event_column(variants, j, "onset_min")
        ramp = _event_column(variants, j, "ramp_min")
        sev = _event_column(variants, j, "severity")
        dur = _event_column(variants, j, "duration_min")
        transient = bool(np.isfinite(dur).any())
        i0 = int(np.searchsorted(t, float(onset.min())))
        if i0 >= t.size:
            continue
        ts = t[i0:]
        progress: dict[float, F32] = {}  # lag -> progress x in [0, 1]
        shapes: dict[tuple[float, float], F32] = {}  # (lag, power) -> (severity × x) ** power
        for eff in course.effects:
            if eff.target not in targets:
                continue
            if eff.lag_h not in progress:
                tt = ts[None, :] - np.float32(eff.lag_h * 60.0)
                x = (tt - onset) / ramp
                np.clip(x, 0.0, 1.0, out=x)
                if transient:
                    span = np.maximum(dur - ramp, np.float32(1.0)) if course.gradual_return else ramp
                    back = (onset + dur - tt) / span
                    np.minimum(x, np.clip(back, 0.0, 1.0, out=back), out=x)
                progress[eff.lag_h] = x
            key = (eff.lag_h, eff.power)
            if key not in shapes:
                shapes[key] = sev ** np.float32(eff.power) * _power(progress[eff.lag_h], eff.power)
            contrib = np.float32(eff.delta) * shapes[key]
            if eff.target == "hr" and eff.delta > 0:
                contrib *= hr_resp
            elif eff.target == "temp" and course.fever and eff.delta > 0:
                if antipyretic is None:
                    antipyretic = _antipyretic(variants, t)
                contrib = np.maximum(contrib - fever_offset, np.float32(0.0)) * fever_factor * antipyretic[:, i0:]
            elif eff.target == "spo2_deficit" and first.type == "opioid-oversedation":
                contrib *= o2_mask
            if eff.target not in out:
                out[eff.target] = np.zeros((b, t.size), dtype=np.float32)
            out[eff.target][:, i0:] += contrib
    return out


def _antipyretic(variants: Sequence[Variant], t: F32) -> F32:
    factor = np.ones((len(variants), t.size), dtype=np.float32)
    for i, v in enumerate(variants):
        if v.antipyretic is None:
            continue
        every, effect, suppression, phase = v.antipyretic
        since_dose = np.mod(t - np.float32(phase), np.float32(every))
        factor[i] = np.where(since_dose < effect, np.float32(1.0 - suppression), np.float32(1.0))
    return factor


def _circadian(variants: Sequence[Variant], t: F32) -> F32:
    """cos(ω·(clock at t − peak)), by angle addition so only the (T,) grid needs trigonometry."""
    w = 2.0 * np.pi / 1440.0
    phase = w * (np.array([v.clock0_min for v in variants], dtype=np.float64)[:, None] - CIRCADIAN_PEAK_MIN)
    tt = t.astype(np.float64)
    c = np.cos(phase).astype(np.float32) * np.cos(w * tt).astype(np.float32)[None, :]
    c -= np.sin(phase).astype(np.float32) * np.sin(w * tt).astype(np.float32)[None, :]
    return c


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
    t = t_int.astype(np.float32)
    t_lab = t_lab_int.astype(np.float32)
    b = len(variants)
    nv, nl = len(VITAL_KEYS), len(LAB_KEYS)
    z_v = _random_bytes(latent_rngs, nv, t.size)
    z_l = _random_bytes(latent_rngs, nl, t_lab.size)

    tau_v = np.array([VITALS[k].tau_min for k in VITAL_KEYS])
    sig_v = np.array([[v.variability[k] for k in VITAL_KEYS] for v in variants])
    base_v = np.array([[v.base[k] for k in VITAL_KEYS] for v in variants], dtype=np.float32)
    vit = _ou(z_v, np.exp(-1.0 / tau_v), sig_v)
    amp = np.array([CIRCADIAN_AMPLITUDE[k] for k in VITAL_KEYS], dtype=np.float32)
    vit += base_v[:, :, None] + amp[None, :, None] * _circadian(variants, t)[:, None, :]

    eff = _effects(variants, t, _VITAL_TARGETS)
    for i, k in enumerate(VITAL_KEYS):
        if k in eff:
            vit[:, i, :] += eff[k]
    zeros = np.zeros((b, t.size), dtype=np.float32)
    deficit = np.maximum(eff.get("spo2_deficit", zeros), np.float32(0.0))
    added = np.zeros_like(deficit)
    for threshold, litres in O2_STEPS:
        added[deficit >= threshold] = litres
    correction = np.minimum(np.float32(O2_MAX_CORRECTION) * deficit, np.float32(O2_POINTS_PER_L) * added)
    vit[:, VITAL_KEYS.index("spo2"), :] += correction - deficit
    lows = np.array([VITALS[k].low for k in VITAL_KEYS], dtype=np.float32)[None, :, None]
    highs = np.array([VITALS[k].high for k in VITAL_KEYS], dtype=np.float32)[None, :, None]
    np.clip(vit, lows, highs, out=vit)
    # Keep diastolic below systolic whatever the noise did (pulse pressure at least 10 mmHg).
    i_sbp, i_dbp = VITAL_KEYS.index("sbp"), VITAL_KEYS.index("dbp")
    dbp = vit[:, i_dbp, :]
    np.minimum(dbp, vit[:, i_sbp, :] - np.float32(10.0), out=dbp)
    np.maximum(dbp, np.float32(VITALS["dbp"].low), out=dbp)

    o2_flow = np.minimum(_column(variants, "o2_flow0") + added, np.float32(15.0))
    consciousness = np.clip(eff.get("consciousness", zeros), 0.0, 1.2)
    urine = _column(variants, "urine0") * (np.float32(1.0) - np.clip(eff.get("urine", zeros), 0.0, 0.95))

    tau_l = np.array([lab_measure(k, "male").tau_min for k in LAB_KEYS])
    sig_l = np.array([[v.variability[k] for k in LAB_KEYS] for v in variants])
    base_l = np.array([[v.base[k] for k in LAB_KEYS] for v in variants], dtype=np.float32)
    labs = _ou(z_l, np.exp(-LAB_STEP_MIN / tau_l), sig_l)
    labs += base_l[:, :, None]
    eff_l = _effects(variants, t_lab, _LAB_TARGETS)
    for i, k in enumerate(LAB_KEYS):
        if k in eff_l:
            labs[:, i, :] += eff_l[k]
    lab_lows = np.array([lab_measure(k, "male").low for k in LAB_KEYS], dtype=np.float32)[None, :, None]
    lab_highs = np.array([lab_measure(k, "male").high for k in LAB_KEYS], dtype=np.float32)[None, :, None]
    np.clip(labs, lab_lows, lab_highs, out=labs)
    return Latent(t_int, vit, o2_flow, consciousness, urine, t_lab_int, labs)
