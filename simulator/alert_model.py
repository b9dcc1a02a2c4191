"""A deterioration-index-style alert model ("di-points-v1"), documented in docs/alert-model.md.

Real models (Epic Deterioration Index, eCART) score demographics, vital signs, their trends, labs
and nursing assessments every 15 minutes on a 0–100 scale; their weights are not public
(clinical-reference §2.1, §8). This toy model is a points table over the same kinds of inputs,
turned into 0–100 with a logistic curve. Vital-sign bands follow NEWS2 (§1.1), with heart rate
split more finely because HR and RR are the strongest single predictors in eCART work (§2.1), and
SpO2 always scored on the general-population scale; lab bands follow the adult reference ranges
(§6.2) and SIRS/sepsis cut-offs (§4.1). Like the real models it never sees the patient's
documented baseline: a usual SpO2 of 89% or a usual creatinine of 3.5 scores exactly as it would
in anyone else. Points and the curve are design choices of this simulator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["MODEL_NAME", "AlertInputs", "Factor", "Score", "score"]

MODEL_NAME: Final = "Deterioration index (simulated, di-points-v1)"
#: Logistic curve: score = 100 / (1 + exp(-(points - MIDPOINT) / SLOPE)).
MIDPOINT: Final = 7.0
SLOPE: Final = 1.5


@dataclass(frozen=True, slots=True)
class AlertInputs:
    """What the model sees: the latest charted values (carried forward) and their 24-h change."""

    age: int
    hr: float | None = None
    rr: float | None = None
    spo2: float | None = None
    sbp: float | None = None
    temp: float | None = None
    o2_flow_l_min: float = 0.0
    o2_device: str = "air"
    consciousness: str = "A"
    oriented: bool = True
    labs: Mapping[str, float] | None = None
    hr_change_24h: float | None = None
    rr_change_24h: float | None = None
    sbp_change_24h: float | None = None


@dataclass(frozen=True, slots=True)
class Factor:
    key: str
    label: str
    value_text: str
    points: int


@dataclass(frozen=True, slots=True)
class Score:
    score: int
    points: int
    factors: tuple[Factor, ...]  # ranked, points > 0 only


def _band(value: float, edges: tuple[float, ...], points: tuple[int, ...]) -> int:
    """Right-closed bands: the first edge >= value picks the points; beyond the last edge, the last."""
    for edge, p in zip(edges, points, strict=False):
        if value <= edge:
            return p
    return points[-1]


def _fmt(v: float, decimals: int = 0) -> str:
    return f"{v:.{decimals}f}"


Bands = tuple[tuple[str, str, str, int, tuple[float, ...], tuple[int, ...]], ...]

# (key, label, unit, decimals, edges, points)
_VITAL_BANDS: Final[Bands] = (
    ("rr", "Respiratory rate", "/min", 0, (8, 11, 20, 24, 29), (4, 1, 0, 2, 3, 4)),
    ("spo2", "SpO2", "%", 0, (87, 91, 93, 95), (4, 3, 2, 1, 0)),
    ("hr", "Heart rate", "/min", 0, (40, 50, 90, 100, 110, 130), (3, 1, 0, 1, 2, 3, 4)),
    ("sbp", "Systolic BP", "mmHg", 0, (90, 100, 110, 219), (3, 2, 1, 0, 3)),
    ("temp", "Temperature", "°C", 1, (35.0, 36.0, 38.0, 39.0), (3, 1, 0, 1, 2)),
)

# (key, label, unit, decimals, edges, points): bands over the adult reference ranges (§6.2, §4.1).
_LAB_BANDS: Final[Bands] = (
    ("lactate", "Lactate", "mmol/L", 1, (2.0, 4.0), (0, 2, 3)),
    ("wbc", "WBC", "×10³/µL", 1, (3.99, 12.0), (1, 0, 1)),
    ("creatinine", "Creatinine", "mg/dL", 2, (1.3, 2.0), (0, 1, 2)),
    ("potassium", "Potassium", "mmol/L", 1, (3.49, 5.0, 5.99), (1, 0, 1, 2)),
    ("hgb", "Haemoglobin", "g/dL", 1, (7.99, 9.99), (2, 1, 0)),
    ("platelets", "Platelets", "×10³/µL", 0, (149.0,), (1, 0)),
    ("sodium", "Sodium", "mmol/L", 0, (134.99, 145.0), (1, 0, 1)),
    ("bicarbonate", "Bicarbonate", "mmol/L", 0, (21.99, 29.0), (1, 0, 1)),
    ("bun", "BUN", "mg/dL", 0, (20.0,), (0, 1)),
)


def _age_points(age: int) -> int:
    return 0 if age < 50 else 1 if age < 65 else 2 if age < 80 else 3


def score(inp: AlertInputs) -> Score:
    """Score one moment; factors are ranked by points, then by a fixed key order."""
    factors: list[Factor] = []
    factors.append(Factor("age", "Age", f"{inp.age} y", _age_points(inp.age)))
    for key, label, unit, dec, edges, pts in _VITAL_BANDS:
        v = getattr(inp, key)
        if v is not None:
            factors.append(Factor(key, label, f"{_fmt(v, dec)} {unit}", _band(v, edges, pts)))
    if inp.o2_flow_l_min > 0:
        high = inp.o2_flow_l_min >= 5 or inp.o2_device in ("simple-mask", "venturi-mask", "non-rebreather")
        device = inp.o2_device.replace("-", " ")
        factors.append(Factor("o2", "Supplemental oxygen", f"{_fmt(inp.o2_flow_l_min)} L/min {device}", 3 if high else 2))
    if inp.consciousness in ("V", "P", "U"):
        factors.append(Factor("consciousness", "Level of consciousness", f"ACVPU {inp.consciousness}", 4))
    elif inp.consciousness == "C":
        factors.append(Factor("consciousness", "Level of consciousness", "New confusion", 3))
    elif not inp.oriented:
        factors.append(Factor("consciousness", "Orientation", "Disoriented", 2))
    for key, label, unit, change, dec, limit, sign in (
        ("rr_trend", "Respiratory rate trend (24 h)", "/min", inp.rr_change_24h, 0, 4.0, 1),
        ("hr_trend", "Heart rate trend (24 h)", "/min", inp.hr_change_24h, 0, 20.0, 1),
        ("sbp_trend", "Systolic BP trend (24 h)", "mmHg", inp.sbp_change_24h, 0, 20.0, -1),
    ):
        if change is not None and sign * change >= limit:
            factors.append(Factor(key, label, f"{change:+.{dec}f} {unit}", 1))
    for key, label, unit, dec, edges, pts in _LAB_BANDS:
        lab = (inp.labs or {}).get(key)
        if lab is not None:
            factors.append(Factor(key, label, f"{_fmt(lab, dec)} {unit}", _band(lab, edges, pts)))
    total = sum(f.points for f in factors)
    value = 100.0 / (1.0 + math.exp(-(total - MIDPOINT) / SLOPE))
    order = {f.key: i for i, f in enumerate(factors)}
    ranked = sorted((f for f in factors if f.points > 0), key=lambda f: (-f.points, order[f.key]))
    return Score(score=round(value), points=total, factors=tuple(ranked))


def band(value: int, threshold: float, medium_threshold: float) -> str:
    """EHR-style risk band for a score."""
    return "high" if value >= threshold else "medium" if value >= medium_threshold else "low"
