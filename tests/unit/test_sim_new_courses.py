"""DKA and dialysis courses, the acidosis criterion, the too-large BP cuff, and the pH lab (§4.8, §3, §5.4)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator import Scenario, simulate
from simulator.engine import run_batch, simulate_batch
from simulator.outcome import CRITERIA
from simulator.variant import APPENDED_LABS, draw_variant, streams
from simulator.vocab import LAB_KEYS, LABS, TRAJECTORY_TYPES

ACIDOSIS = list(CRITERIA).index("metabolic-acidosis")


def _at(scenario: Scenario, key: str, hours: float, seeds: int = 20) -> float:
    """Mean latent value over seeds at a time (hours relative to the decision)."""
    run = run_batch(scenario, list(range(seeds)))
    if key in ("hr", "rr", "spo2", "sbp", "dbp", "temp"):
        i = int(np.searchsorted(run.latent.t_min, round(hours * 60)))
        return float(run.latent.vital(key)[:, i].mean())
    i = int(np.searchsorted(run.latent.t_lab, round(hours * 60)))
    return float(run.latent.lab(key)[:, i].mean())


def _dka(make: Callable[..., Scenario], **extra: object) -> Scenario:
    return make(trajectory=[{"type": "dka", "onset_h": -30, "severity": 1.0, "ramp_h": 24}], **extra)


def test_vocabulary_has_the_new_types_and_the_ph_lab() -> None:
    assert {"dka", "dialysis"} <= set(TRAJECTORY_TYPES)
    assert LAB_KEYS[-1] == "ph" and APPENDED_LABS == ("ph",)
    ph = LABS["ph"]
    assert (ph.loinc, ph.unit, ph.ref_low, ph.ref_high) == ("2744-1", "[pH]", 7.35, 7.45)  # §6.2


def test_dka_reaches_the_ada_criteria_and_the_kussmaul_vitals(make_scenario: Callable[..., Scenario]) -> None:
    s = _dka(make_scenario)
    before, full = -31, 0
    assert _at(s, "glucose", full) > 250
    assert _at(s, "ph", full) < 7.30 and _at(s, "bicarbonate", full) <= 18  # §4.8
    assert 7.00 <= _at(s, "ph", full) <= 7.24 and 10 <= _at(s, "bicarbonate", full) <= 15  # moderate
    assert 24 <= _at(s, "rr", full) <= 35 and 100 <= _at(s, "hr", full) <= 130
    assert _at(s, "sbp", full) < _at(s, "sbp", before) - 20  # normal -> low, late
    assert abs(_at(s, "temp", full) - _at(s, "temp", before)) < 0.5  # no fever
    assert _at(s, "potassium", full) > _at(s, "potassium", before) + 0.5  # normal or high


def test_dka_ph_falls_later_than_bicarbonate(make_scenario: Callable[..., Scenario]) -> None:
    s = _dka(make_scenario)
    mid = -30 + 12  # halfway up the ramp
    hco3_share = (_at(s, "bicarbonate", -31) - _at(s, "bicarbonate", mid)) / 15
    ph_share = (_at(s, "ph", -31) - _at(s, "ph", mid)) / 0.35
    assert ph_share < hco3_share - 0.1


def test_acidosis_criterion_is_met_by_dka_and_not_by_a_low_bicarbonate_alone(
    make_scenario: Callable[..., Scenario],
) -> None:
    dka = simulate_batch(_dka(make_scenario), list(range(20)))
    assert dka.criteria_met[:, ACIDOSIS].all()
    ckd = make_scenario(baseline={"labs": {"bicarbonate": {"baseline": [16, 18]}}})
    assert not simulate_batch(ckd, list(range(20))).criteria_met[:, ACIDOSIS].any()
    (crit,) = [c for c in simulate(_dka(make_scenario), 1).answer.outcome_criteria if c.key == "metabolic-acidosis"]
    assert crit.met and "lowest pH 7." in crit.detail


def test_dialysis_is_a_saw_tooth(make_scenario: Callable[..., Scenario]) -> None:
    s = make_scenario(
        category="expected-course-fp", expected_action="dismiss", acceptable_dismissal_reasons=["expected-course"],
        baseline={"labs": {"creatinine": {"baseline": [8, 9]}, "bun": {"baseline": [60, 70]},
                           "potassium": {"baseline": [5.3, 5.5]}}},
        trajectory=[{"type": "dialysis", "onset_h": -40, "severity": 1.0, "ramp_h": 4, "duration_h": 50}],
    )
    pre, trough, halfway, back = -41, -36, -36 + 23, 10.5  # session -40..-36, back at baseline at +10
    for key, fall in (("creatinine", 4.5), ("bun", 35), ("potassium", 1.0)):
        drop = _at(s, key, pre) - _at(s, key, trough)
        assert 0.8 * fall < drop < 1.2 * fall, key
        recovered = (_at(s, key, halfway) - _at(s, key, trough)) / drop
        assert 0.35 < recovered < 0.65, (key, recovered)  # a linear climb between sessions
        assert abs(_at(s, key, back) - _at(s, key, pre)) < 0.15 * fall, key
    assert abs(_at(s, "sbp", trough) - _at(s, "sbp", pre)) < 8  # the reference gives no BP change
    assert not simulate_batch(s, list(range(20))).deteriorated.any()


def _cuff(make: Callable[..., Scenario], kind: str | None) -> Scenario:
    artifacts = [] if kind is None else [{"type": kind, "at_h": -20, "to_h": 12}]
    # No escalation: a low reading must not change the observation schedule being compared.
    return make(measurement={"artifacts": artifacts, "missing": {"rr": 0, "temp": 0}, "escalate": False})


def test_too_large_cuff_reads_low_and_too_small_reads_high(make_scenario: Callable[..., Scenario]) -> None:
    start = -20 * 60  # the artefact window opens 20 h before the (fixed) decision
    for seed in range(5):
        plain, large, small = (simulate(_cuff(make_scenario, k), seed).view.vitals[3] for k in (None, "bp-cuff-large", "bp-cuff-small"))
        assert plain.key == "sbp" and large.times_min == plain.times_min == small.times_min
        low, high = [], []
        for t, a, b, c in zip(plain.times_min, plain.values, large.values, small.values, strict=True):
            assert a is not None and b is not None and c is not None
            if t < start:
                assert a == b == c
            else:
                low.append(a - b)
                high.append(c - a)
        # One artefact size per variant (5–15 mmHg, §5.4), ±1 from rounding the reading.
        assert low and all(4 <= d <= 16 for d in low) and max(low) - min(low) <= 1
        assert high and all(4 <= d <= 16 for d in high) and max(high) - min(high) <= 1


def test_ph_is_drawn_after_everything_else(make_scenario: Callable[..., Scenario]) -> None:
    """Appended labs are drawn last, so giving one a baseline changes nothing else about a variant."""
    a = make_scenario(trajectory=[{"type": "sepsis", "onset_h": [-10, -5]}])
    b = make_scenario(trajectory=[{"type": "sepsis", "onset_h": [-10, -5]}], baseline={"labs": {"ph": {"baseline": [7.30, 7.50]}}})
    for seed in range(5):
        va = draw_variant(a, seed, streams(a, seed).params)
        vb = draw_variant(b, seed, streams(b, seed).params)
        assert {k: v for k, v in va.base.items() if k != "ph"} == {k: v for k, v in vb.base.items() if k != "ph"}
        assert (va.events, va.lab_draws, va.clock0_min, va.name) == (vb.events, vb.lab_draws, vb.clock0_min, vb.name)
        assert va.base["ph"] != vb.base["ph"]
