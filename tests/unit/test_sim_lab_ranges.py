"""Sex-specific laboratory reference ranges shown with the labs (clinical-reference §6.2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator import Scenario, simulate
from simulator.variant import lab_measure


@pytest.mark.parametrize(
    ("sex", "creatinine", "hgb"),
    [("male", (0.7, 1.3), (13.5, 17.5)), ("female", (0.6, 1.1), (12.0, 15.5))],
)
def test_case_shows_the_reference_range_for_the_patients_sex(
    make_scenario: Callable[..., Scenario], sex: str, creatinine: tuple[float, float], hgb: tuple[float, float]
) -> None:
    scenario = make_scenario(patient={"age": [60, 70], "sex": sex, "diagnoses": ["Test"], "narrative": "Test."})
    labs = {lab.key: lab for lab in simulate(scenario, 3).view.labs}
    assert (labs["creatinine"].ref_low, labs["creatinine"].ref_high) == creatinine
    assert (labs["hgb"].ref_low, labs["hgb"].ref_high) == hgb


def test_female_creatinine_differs_only_in_its_reference_range() -> None:
    male, female = lab_measure("creatinine", "male"), lab_measure("creatinine", "female")
    assert (female.ref_low, female.ref_high) == (0.6, 1.1)
    assert female.default_baseline == male.default_baseline and female.default_variability == male.default_variability
    assert lab_measure("sodium", "female") is lab_measure("sodium", "male")
