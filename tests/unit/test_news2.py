"""NEWS2 against the worked examples and boundary checks of clinical-reference §1.3."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.scoring import news2, news2_totals

PARAMS = ("rr", "spo2", "o2", "sbp", "hr", "consciousness", "temp")

# (RR, SpO2, scale, O2, SBP, HR, ACVPU, temp, sub-scores, total, band): §1.3 table.
Row = tuple[int, int, int, bool, int, int, str, float, tuple[int, ...], int, str]
WORKED: list[Row] = [
    (16, 97, 1, False, 125, 75, "A", 36.8, (0, 0, 0, 0, 0, 0, 0), 0, "low"),
    (22, 95, 1, False, 105, 105, "A", 38.4, (2, 1, 0, 1, 1, 0, 1), 6, "medium"),
    (26, 93, 1, True, 88, 125, "C", 39.4, (3, 2, 2, 3, 2, 3, 2), 17, "high"),
    (14, 97, 1, False, 130, 38, "A", 36.5, (0, 0, 0, 0, 3, 0, 0), 3, "low-medium"),
    (20, 89, 2, False, 130, 88, "A", 37.0, (0, 0, 0, 0, 0, 0, 0), 0, "low"),
    (20, 89, 1, False, 130, 88, "A", 37.0, (0, 3, 0, 0, 0, 0, 0), 3, "low-medium"),
    (18, 96, 2, True, 128, 84, "A", 36.9, (0, 2, 2, 0, 0, 0, 0), 4, "low"),
    (18, 96, 1, True, 128, 84, "A", 36.9, (0, 0, 2, 0, 0, 0, 0), 2, "low"),
    (8, 93, 1, True, 112, 58, "V", 36.4, (3, 2, 2, 0, 0, 3, 0), 10, "high"),
    (18, 96, 1, False, 118, 104, "A", 36.9, (0, 0, 0, 0, 1, 0, 0), 1, "low"),
    (21, 94, 1, False, 100, 91, "A", 38.1, (2, 1, 0, 2, 1, 0, 1), 7, "high"),
    (24, 92, 1, False, 111, 90, "A", 36.0, (2, 2, 0, 0, 0, 0, 1), 5, "medium"),
]


@pytest.mark.parametrize("row", WORKED, ids=[f"example-{i + 1}" for i in range(len(WORKED))])
def test_worked_examples(row: Row) -> None:
    rr, spo2, scale, o2, sbp, hr, c, temp, subs, total, band = row
    result = news2(rr, spo2, o2, sbp, hr, c, temp, spo2_scale=scale)
    assert tuple(result.parameters[p] for p in PARAMS) == subs
    assert result.total == total
    assert result.band == band
    assert result.single_parameter_3 == (3 in subs)


def _one(param: str, value: float, **kw: object) -> int:
    base: dict[str, object] = {"rr": 16, "spo2": 97, "on_oxygen": False, "sbp": 125, "hr": 75, "consciousness": "A", "temp": 36.8}
    base.update(kw)
    base[param] = value
    return news2(**base).parameters[{"on_oxygen": "o2"}.get(param, param)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "score"), [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)])
def test_rr_boundaries(value: int, score: int) -> None:
    assert _one("rr", value) == score


@pytest.mark.parametrize(
    ("value", "score"), [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
)
def test_sbp_boundaries(value: int, score: int) -> None:
    assert _one("sbp", value) == score


@pytest.mark.parametrize(
    ("value", "score"),
    [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_hr_boundaries(value: int, score: int) -> None:
    assert _one("hr", value) == score


@pytest.mark.parametrize(
    ("value", "score"), [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)]
)
def test_temperature_boundaries(value: float, score: int) -> None:
    assert _one("temp", value) == score


def test_temperature_is_rounded_to_one_decimal_before_banding() -> None:
    assert _one("temp", 37.95) == 0  # 37.95 -> 38.0 -> 0 (§1.1)
    assert _one("temp", 38.05) == 1  # 38.05 -> 38.1
    assert _one("temp", 36.04) == 1  # 36.04 -> 36.0


@pytest.mark.parametrize(("value", "score"), [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0)])
def test_spo2_scale1_boundaries(value: int, score: int) -> None:
    assert _one("spo2", value) == score


@pytest.mark.parametrize(
    ("value", "on_o2", "score"),
    [(83, False, 3), (84, False, 2), (85, False, 2), (86, False, 1), (87, False, 1), (88, False, 0), (92, False, 0),
     (93, False, 0), (100, False, 0), (90, True, 0), (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2),
     (97, True, 3), (100, True, 3), (83, True, 3)],
)
def test_spo2_scale2_boundaries(value: int, on_o2: bool, score: int) -> None:
    assert _one("spo2", value, on_oxygen=on_o2, spo2_scale=2) == score


def test_oxygen_scores_in_both_rows_on_scale2() -> None:
    result = news2(18, 97, True, 128, 84, "A", 36.9, spo2_scale=2)
    assert result.parameters["spo2"] == 3 and result.parameters["o2"] == 2


@pytest.mark.parametrize("level", ["C", "V", "P", "U"])
def test_any_reduced_consciousness_scores_three(level: str) -> None:
    assert _one("consciousness", level) == 3  # type: ignore[arg-type]


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="consciousness"):
        news2(16, 97, False, 125, 75, "X", 36.8)
    with pytest.raises(ValueError, match="spo2_scale"):
        news2(16, 97, False, 125, 75, "A", 36.8, spo2_scale=3)


@settings(max_examples=300, deadline=None)
@given(
    rr=st.integers(3, 60), spo2=st.integers(60, 100), o2=st.booleans(), sbp=st.integers(50, 260),
    hr=st.integers(20, 220), c=st.sampled_from("ACVPU"), temp10=st.integers(330, 425), scale=st.sampled_from([1, 2]),
)
def test_vectorised_scoring_agrees_with_scalar(
    rr: int, spo2: int, o2: bool, sbp: int, hr: int, c: str, temp10: int, scale: int
) -> None:
    scalar = news2(rr, spo2, o2, sbp, hr, c, temp10 / 10, spo2_scale=scale)
    total, red = news2_totals(
        np.array([rr], dtype=float), np.array([spo2], dtype=float), np.array([o2]), np.array([sbp], dtype=float),
        np.array([hr], dtype=float), np.array([0 if c == "A" else 3]), np.array([temp10 / 10]), scale,
    )
    assert int(total[0]) == scalar.total
    assert bool(red[0]) == scalar.single_parameter_3
