"""Objective deterioration criteria evaluated on the simulated future, vectorised over a batch.

The truth is never hand-labelled: these criteria are checked on the latent (true) state every
5 minutes (labs every 15) over the future window 0 < t ≤ future_hours after the decision. They are listed, with their
clinical-reference sections, in docs/scenario-format.md ("What counts as deterioration").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .physiology import LAB_STEP_MIN, Latent
from .scoring import news2_totals
from .variant import Variant

__all__ = ["CRITERIA", "Outcomes", "evaluate"]

SAMPLE_MIN = 5

#: key -> label, in report order.
CRITERIA: dict[str, str] = {
    "news2-high": "NEWS2 ≥ 7 sustained ≥ 60 min",
    "hypotension": "SBP < 90 mmHg and ≥ 10 below usual, sustained ≥ 30 min",
    "lactate-high": "Lactate > 4 mmol/L",
    "respiratory-failure": "RR ≥ 25 with SpO2 ≥ 3 below usual or O2 ≥ 2 L/min above usual, sustained ≥ 30 min",
    "reduced-consciousness": "Responds to voice or pain only, or unresponsive, sustained ≥ 30 min",
    "severe-hyperkalaemia": "Potassium ≥ 6.5 mmol/L",
    "aki": "Creatinine ≥ 0.3 mg/dL above own baseline",
    "haemoglobin-drop": "Haemoglobin ≥ 2 g/dL below own baseline",
    "bradycardia": "HR ≤ 40 with SBP ≤ 90 mmHg, sustained ≥ 15 min",
    "metabolic-acidosis": "pH < 7.30 with bicarbonate ≤ 18 mmol/L",
}

Bool2 = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """met[b, c] and first_met_min[b, c] (-1 when not met) in CRITERIA order, plus the peaks."""

    met: Bool2
    first_met_min: npt.NDArray[np.int64]
    peaks: dict[str, npt.NDArray[np.float64]]

    @property
    def deteriorated(self) -> Bool2:
        return np.asarray(self.met.any(axis=1))


def _first_sustained(cond: Bool2, n: int, times: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Time at which cond has held for n consecutive samples, or -1."""
    b, s = cond.shape
    if s < n:
        return np.full(b, -1, dtype=np.int64)
    cs = np.concatenate([np.zeros((b, 1), dtype=np.int64), np.cumsum(cond, axis=1, dtype=np.int64)], axis=1)
    full = (cs[:, n:] - cs[:, :-n]) == n  # window ending at sample j + n - 1
    any_full = full.any(axis=1)
    first_end = np.argmax(full, axis=1) + n - 1
    return np.where(any_full, times[first_end], -1).astype(np.int64)


def _first_any(cond: Bool2, times: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.where(cond.any(axis=1), times[np.argmax(cond, axis=1)], -1).astype(np.int64)


def evaluate(
    variants: Sequence[Variant], lat: Latent, spo2_scale: int, t0: npt.NDArray[np.int64], future_min: int
) -> Outcomes:
    """Evaluate every criterion for every variant over its own window t0 < t <= t0 + future_min."""
    offsets = np.arange(SAMPLE_MIN, future_min + 1, SAMPLE_MIN, dtype=np.int64)
    times = offsets  # reported relative to each variant's decision time
    rows = np.arange(len(variants))[:, None]
    idx = t0[:, None] + offsets[None, :] - lat.t_min[0]
    v = {k: np.floor(lat.vital(k)[rows, idx] + 0.5) for k in ("rr", "spo2", "sbp", "hr")}
    temp = np.round(lat.vital("temp")[rows, idx], 1)
    flow = lat.o2_flow[rows, idx]
    c = lat.consciousness[rows, idx]
    on_o2 = flow > 0
    news, _ = news2_totals(v["rr"], v["spo2"], on_o2, v["sbp"], v["hr"], np.where(c >= 0.35, 3, 0), temp, spo2_scale)

    def col(key: str) -> npt.NDArray[np.float64]:
        return np.array([[var.base[key]] for var in variants])

    def per(minutes: int) -> int:
        return minutes // SAMPLE_MIN + 1

    flow0 = np.array([[var.o2_flow0] for var in variants])

    lab_offsets = np.arange(LAB_STEP_MIN, future_min + 1, LAB_STEP_MIN, dtype=np.int64)
    first_lab = (t0 - lat.t_lab[0]) // LAB_STEP_MIN + 1  # first lab-grid sample after t0
    lab_idx = np.minimum(first_lab[:, None] + np.arange(lab_offsets.size)[None, :], lat.t_lab.size - 1)
    lab_times = lab_offsets
    lact = lat.lab("lactate")[rows, lab_idx]
    pot = lat.lab("potassium")[rows, lab_idx]
    creat = lat.lab("creatinine")[rows, lab_idx]
    hgb = lat.lab("hgb")[rows, lab_idx]
    ph = lat.lab("ph")[rows, lab_idx]
    hco3 = lat.lab("bicarbonate")[rows, lab_idx]

    firsts = [
        _first_sustained(news >= 7, per(60), times),
        _first_sustained((v["sbp"] < 90) & (v["sbp"] <= col("sbp") - 10), per(30), times),
        _first_any(lact > 4.0, lab_times),
        _first_sustained((v["rr"] >= 25) & ((v["spo2"] <= col("spo2") - 3) | (flow >= flow0 + 2)), per(30), times),
        _first_sustained(c >= 0.6, per(30), times),
        _first_any(pot >= 6.5, lab_times),
        _first_any(creat >= col("creatinine") + 0.3, lab_times),
        _first_any(hgb <= col("hgb") - 2.0, lab_times),
        # §3: the red flag in athletes and beta-blocked patients is a slow pulse *with* hypotension;
        # both cut-offs are the NEWS2 red (3-point) bands of §1.1.
        _first_sustained((v["hr"] <= 40) & (v["sbp"] <= 90), per(15), times),
        # §4.8: the acidosis of DKA (ADA: pH < 7.30 and HCO3 ≤ 18), in the same sample.
        _first_any((ph < 7.30) & (hco3 <= 18.0), lab_times),
    ]
    first = np.stack(firsts, axis=1)
    peaks = {
        "news2": news.max(axis=1).astype(np.float64),
        "sbp_min": v["sbp"].min(axis=1),
        "lactate_max": lact.max(axis=1),
        "rr_max": v["rr"].max(axis=1),
        "consciousness_max": c.max(axis=1),
        "potassium_max": pot.max(axis=1),
        "creatinine_rise": (creat - col("creatinine")).max(axis=1),
        "hgb_fall": (col("hgb") - hgb).max(axis=1),
        "hr_min": v["hr"].min(axis=1),
        "ph_min": ph.min(axis=1),
        "hco3_min": hco3.min(axis=1),
    }
    return Outcomes(first >= 0, first, peaks)
