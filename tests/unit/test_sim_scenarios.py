"""Scenario-level behaviour: false positives arise from the baseline, masked sepsis hides, artefacts look real."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator import Scenario, simulate
from simulator.engine import simulate_batch


def test_copd_baseline_alert_fires_without_deterioration(copd: Scenario) -> None:
    batch = simulate_batch(copd, list(range(80)))
    assert batch.fired.mean() >= 0.8
    assert not batch.deteriorated.any()


def test_copd_alert_is_driven_by_the_documented_baseline(copd: Scenario) -> None:
    explained = 0
    fired = 0
    for seed in range(20):
        case = simulate(copd, seed)
        if not case.view.alert.fired:
            continue
        fired += 1
        statuses = {f.key: f.status for f in case.answer.explanation.factors}
        assert statuses.get("o2") == "explained-by-baseline"
        explained += statuses.get("spo2") == "explained-by-baseline"
        assert case.view.news2_latest is None or case.view.news2_latest.parameters["spo2"] == 0 or (
            case.view.news2_latest.spo2_scale == 2
        )
    assert fired >= 15 and explained >= 0.8 * fired


def test_beta_blocked_sepsis_keeps_a_low_heart_rate_while_deteriorating(sepsis_bb: Scenario, sepsis_classic: Scenario) -> None:
    batch = simulate_batch(sepsis_bb, list(range(60)))
    assert batch.deteriorated.mean() >= 0.95
    assert batch.fired.mean() <= 0.25
    for seed in range(10):
        case = simulate(sepsis_bb, seed)
        hr = [v for v in (*case.view.vitals[0].values, *case.answer.future_vitals[0].values) if v is not None]
        assert max(hr) <= 100, max(hr)
        assert case.answer.deteriorated
        rr = [v for v in case.answer.future_vitals[1].values if v is not None]
        assert max(rr) >= 25  # the respiratory rate gives it away
    # Without the β-blocker the same infection drives the heart rate well above 100.
    classic_max = [max(v for v in simulate(sepsis_classic, s).answer.future_vitals[0].values if v is not None)
                   for s in range(10)]
    assert np.median(classic_max) > 110


def test_probe_off_artefact_shows_one_implausible_spo2(make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(
        category="artifact-fp", expected_action="dismiss", acceptable_dismissal_reasons=["artifact"],
        measurement={"artifacts": [{"type": "spo2-probe-off", "at_h": 0}], "missing": {"rr": 0, "temp": 0}},
    )
    for seed in range(10):
        case = simulate(scenario, seed)
        spo2 = case.view.vitals[2]
        last = spo2.values[-1]
        assert last is None or 70 <= last <= 85
        assert all(v is not None and v >= 90 for v in spo2.values[:-1])
        assert all(v is not None and v >= 90 for v in case.answer.future_vitals[2].values[:2])
        assert not case.answer.deteriorated


def test_missing_values_withhold_news2(make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(measurement={"missing": {"rr": 1.0}})
    case = simulate(scenario, 1)
    assert all(v is None for v in case.view.vitals[1].values)
    assert case.view.news2_latest is None
    assert all(f.key != "rr" for f in case.view.alert.factors)


def test_estimated_rr_is_charted_as_18_or_20(make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(
        trajectory=[{"type": "sepsis", "onset_h": -12, "severity": 1}],
        measurement={"artifacts": [{"type": "estimated-rr", "at_h": -48, "to_h": 12}], "missing": {"rr": 0}},
    )
    case = simulate(scenario, 2)
    assert set(case.view.vitals[1].values) <= {18.0, 20.0}


def test_pending_lab_is_hidden_until_resulted(make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(measurement={"labs": [{"tests": ["lactate"], "at_h": -0.25, "result_delay_min": 60}]})
    case = simulate(scenario, 0)
    (lactate,) = [lab for lab in case.view.labs if lab.key == "lactate"]
    assert lactate.values == (None,)
    (later,) = [lab for lab in case.answer.future_labs if lab.key == "lactate"]
    assert later.values[0] is not None


def test_haemolysed_sample_raises_potassium_once(make_scenario: Callable[..., Scenario]) -> None:
    plain = make_scenario()
    spiked = make_scenario(measurement={"artifacts": [{"type": "haemolysed-sample", "at_h": -12}]})
    a = {lab.key: lab for lab in simulate(plain, 4).view.labs}["potassium"]
    b = {lab.key: lab for lab in simulate(spiked, 4).view.labs}["potassium"]
    diffs = [y - x for x, y in zip(a.values, b.values, strict=True) if x is not None and y is not None]
    assert sum(d >= 0.9 for d in diffs) == 1 and sum(abs(d) > 0.01 for d in diffs) == 1


def test_first_alert_decision_moves_to_the_alert(copd: Scenario, make_scenario: Callable[..., Scenario]) -> None:
    doc = copd.model_dump(mode="json")
    doc["timing"]["decision"] = "first-alert"
    moved = make_scenario(**{k: v for k, v in doc.items() if k != "format_version"})
    batch = simulate_batch(moved, list(range(40)))
    assert batch.fired.mean() >= 0.95
    case = simulate(moved, 0)
    assert case.view.alert.fired and case.view.alert.trend_scores[-1] == case.view.alert.score
    assert case.view.vitals[0].times_min[-1] <= 0 < case.answer.future_vitals[0].times_min[0]


def test_stable_patient_does_not_deteriorate_or_alert(make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(
        category="stable-no-alert", expected_action="dismiss", acceptable_dismissal_reasons=["other"],
        patient={"age": [30, 45], "diagnoses": ["Elective hernia repair"], "narrative": "Day 1 post-op, well."},
    )
    batch = simulate_batch(scenario, list(range(60)))
    assert not batch.deteriorated.any()
    assert batch.fired.mean() < 0.05
