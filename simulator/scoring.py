"""NEWS2 exactly as the RCP 2017 chart (clinical-reference §1.1–§1.3), scalar and vectorised.

Inputs are scored as charted: temperature rounded half-up to 0.1 °C, RR/HR/SBP/SpO2 rounded
half-up to whole numbers (§1.1 implementation notes). ``consciousness`` is ACVPU, where "C" is
*new* confusion; chronic confusion at the patient's usual state is "A".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["News2", "news2", "news2_band", "news2_parameters", "news2_totals", "score_charted"]

Band = Literal["low", "low-medium", "medium", "high"]
_CONSCIOUSNESS = {"A": 0, "C": 3, "V": 3, "P": 3, "U": 3}


@dataclass(frozen=True, slots=True)
class News2:
    """A NEWS2 result: total, per-parameter scores, risk band (§1.2) and the red-score rule."""

    total: int
    parameters: dict[str, int] = field(default_factory=dict)
    band: Band = "low"
    single_parameter_3: bool = False

    @property
    def response(self) -> str:
        """Minimum clinical response for the band (RCP chart 4, §1.2)."""
        return {
            "low": "Continue routine NEWS monitoring; registered nurse assesses (4–12-hourly).",
            "low-medium": "Red score: registered nurse informs the medical team for an urgent ward-based review; hourly obs.",
            "medium": "Key threshold: urgent assessment by a clinician with acute-illness competencies; hourly obs.",
            "high": "Emergency assessment by a critical-care competent team; continuous monitoring.",
        }[self.band]


def _half_up(x: float, places: str = "1") -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _rr(v: int) -> int:
    return 3 if v <= 8 else 1 if v <= 11 else 0 if v <= 20 else 2 if v <= 24 else 3


def _spo2_scale1(v: int) -> int:
    return 3 if v <= 91 else 2 if v <= 93 else 1 if v <= 95 else 0


def _spo2_scale2(v: int, on_oxygen: bool) -> int:
    if v <= 83:
        return 3
    if v <= 85:
        return 2
    if v <= 87:
        return 1
    if v <= 92 or not on_oxygen:
        return 0
    return 1 if v <= 94 else 2 if v <= 96 else 3


def _sbp(v: int) -> int:
    return 3 if v <= 90 else 2 if v <= 100 else 1 if v <= 110 else 0 if v <= 219 else 3


def _hr(v: int) -> int:
    return 3 if v <= 40 else 1 if v <= 50 else 0 if v <= 90 else 1 if v <= 110 else 2 if v <= 130 else 3


def _temp_tenths(t: int) -> int:
    return 3 if t <= 350 else 1 if t <= 360 else 0 if t <= 380 else 1 if t <= 390 else 2


def news2_band(total: int, single_parameter_3: bool) -> Band:
    """Risk band from the aggregate and the red-score rule (§1.2)."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if single_parameter_3:
        return "low-medium"
    return "low"


def news2(
    rr: float,
    spo2: float,
    on_oxygen: bool,
    sbp: float,
    hr: float,
    consciousness: str,
    temp: float,
    spo2_scale: int = 1,
) -> News2:
    """Score one complete observation set; raises ValueError for an unknown ACVPU or scale."""
    if consciousness not in _CONSCIOUSNESS:
        raise ValueError(f"consciousness must be one of A, C, V, P, U, not {consciousness!r}")
    if spo2_scale not in (1, 2):
        raise ValueError("spo2_scale must be 1 or 2")
    rr_i, spo2_i, sbp_i, hr_i = (int(_half_up(v, "1")) for v in (rr, spo2, sbp, hr))
    tenths = int(_half_up(temp, "0.1") * 10)
    return score_charted(rr_i, spo2_i, on_oxygen, sbp_i, hr_i, consciousness, tenths, spo2_scale)


def score_charted(
    rr: int, spo2: int, on_oxygen: bool, sbp: int, hr: int, consciousness: str, temp_tenths: int, spo2_scale: int
) -> News2:
    """NEWS2 for values already rounded as charted (temperature in tenths of a degree)."""
    params = {
        "rr": _rr(rr),
        "spo2": _spo2_scale1(spo2) if spo2_scale == 1 else _spo2_scale2(spo2, on_oxygen),
        "o2": 2 if on_oxygen else 0,
        "sbp": _sbp(sbp),
        "hr": _hr(hr),
        "consciousness": _CONSCIOUSNESS[consciousness],
        "temp": _temp_tenths(temp_tenths),
    }
    total = sum(params.values())
    red = any(v == 3 for v in params.values())
    return News2(total=total, parameters=params, band=news2_band(total, red), single_parameter_3=red)


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _bands(x: FloatArray, edges: list[float], scores: list[int]) -> IntArray:
    """Score by right-closed bands: edges are the upper limits of all bands but the last."""
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="left")
    return np.asarray(scores, dtype=np.int64)[idx]


def news2_parameters(
    rr: FloatArray,
    spo2: FloatArray,
    on_oxygen: npt.NDArray[np.bool_],
    sbp: FloatArray,
    hr: FloatArray,
    consciousness_score: IntArray,
    temp: FloatArray,
    spo2_scale: int = 1,
) -> IntArray:
    """Vectorised per-parameter scores, shape (..., 7) in the order rr, spo2, o2, sbp, hr,
    consciousness, temp, for already-rounded arrays of equal shape.

    ``consciousness_score`` is 0 for A and 3 for C/V/P/U. Agrees with :func:`news2` (tested).
    """
    p_rr = _bands(rr, [8, 11, 20, 24], [3, 1, 0, 2, 3])
    if spo2_scale == 1:
        p_spo2 = _bands(spo2, [91, 93, 95], [3, 2, 1, 0])
    else:
        on_air_or_target = _bands(spo2, [83, 85, 87], [3, 2, 1, 0])
        on_o2 = _bands(spo2, [83, 85, 87, 92, 94, 96], [3, 2, 1, 0, 1, 2, 3])
        p_spo2 = np.where(on_oxygen, on_o2, on_air_or_target)
    p_o2 = np.where(on_oxygen, 2, 0)
    p_sbp = _bands(sbp, [90, 100, 110, 219], [3, 2, 1, 0, 3])
    p_hr = _bands(hr, [40, 50, 90, 110, 130], [3, 1, 0, 1, 2, 3])
    p_t = _bands(np.round(temp * 10.0), [350, 360, 380, 390], [3, 1, 0, 1, 2])
    return np.stack((p_rr, p_spo2, p_o2, p_sbp, p_hr, np.asarray(consciousness_score), p_t), axis=-1).astype(np.int64)


def news2_totals(
    rr: FloatArray,
    spo2: FloatArray,
    on_oxygen: npt.NDArray[np.bool_],
    sbp: FloatArray,
    hr: FloatArray,
    consciousness_score: IntArray,
    temp: FloatArray,
    spo2_scale: int = 1,
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Vectorised NEWS2 totals and red-score flags (see :func:`news2_parameters`)."""
    params = news2_parameters(rr, spo2, on_oxygen, sbp, hr, consciousness_score, temp, spo2_scale)
    return params.sum(axis=-1), (params == 3).any(axis=-1)
