"""Objective outcome criteria (simulator/outcome.py) on purpose-built patients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator import Scenario, simulate
from simulator.engine import run_batch, simulate_batch
from simulator.outcome import CRITERIA

BRADY = list(CRITERIA).index("bradycardia")
HYPOTENSION = list(CRITERIA).index("hypotension")


def _slow_pulse(make: Callable[..., Scenario], sbp: list[float], dbp: list[float]) -> Scenario:
    """A patient whose usual pulse sits at 35–37, with the given usual blood pressure."""
    return make(
        category="stable-no-alert", expected_action="dismiss", acceptable_dismissal_reasons=["baseline"],
        baseline={"vitals": {
            "hr": {"baseline": [35, 37], "variability": 1},
            "sbp": {"baseline": sbp, "variability": 2},
            "dbp": {"baseline": dbp},
        }},
    )


def test_slow_pulse_with_a_normal_blood_pressure_is_not_deterioration(make_scenario: Callable[..., Scenario]) -> None:
    batch = simulate_batch(_slow_pulse(make_scenario, [120, 130], [70, 75]), list(range(30)))
    assert not batch.criteria_met[:, BRADY].any()
    assert not batch.deteriorated.any()


def test_slow_pulse_with_hypotension_is_bradycardia(make_scenario: Callable[..., Scenario]) -> None:
    # A usual systolic of 80–84 never meets "hypotension" (it needs a fall of 10 below usual), so
    # the bradycardia criterion alone decides.
    batch = simulate_batch(_slow_pulse(make_scenario, [80, 84], [50, 55]), list(range(30)))
    assert batch.criteria_met[:, BRADY].all()
    assert not batch.criteria_met[:, HYPOTENSION].any()
    case = simulate(_slow_pulse(make_scenario, [80, 84], [50, 55]), 0)
    (brady,) = [c for c in case.answer.outcome_criteria if c.key == "bradycardia"]
    assert brady.met and brady.first_met_min == 20  # samples at 5, 10, 15, 20 min span 15 min
    assert "SBP" in brady.label and "lowest SBP" in brady.detail


def test_late_hyperkalaemic_bradycardia_without_hypotension_is_not_the_bradycardia_criterion(
    make_scenario: Callable[..., Scenario],
) -> None:
    # Hyperkalaemia at full effect slows the pulse to about 40 while a usual systolic of 140–150
    # stays well above 90: the patient deteriorated (potassium), but not by the bradycardia criterion.
    scenario = make_scenario(
        trajectory=[{"type": "hyperkalaemia", "onset_h": -30, "severity": 1.0, "ramp_h": 24}],
        baseline={"vitals": {"sbp": {"baseline": [140, 150]}}},
    )
    batch = simulate_batch(scenario, list(range(30)))
    assert batch.deteriorated.all()
    assert not batch.criteria_met[:, BRADY].any()
    peaks = run_batch(scenario, list(range(30))).outcomes.peaks
    assert np.mean(peaks["hr_min"] <= 40) >= 0.5  # the pulse did get that slow
    assert peaks["sbp_min"].min() > 90
    assert np.all(batch.criteria_met[:, list(CRITERIA).index("severe-hyperkalaemia")])
