"""Latent physiology: exact AR(1), physiological bounds, clinically coherent trajectories."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from simulator import Scenario
from simulator.charting import consciousness_level
from simulator.engine import run_batch
from simulator.physiology import _innovations, _ou
from simulator.variant import lab_measure
from simulator.vocab import LAB_KEYS, TRAJECTORY_TYPES, VITAL_KEYS, VITALS


def test_chunked_ou_matches_a_sequential_loop() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 3, 2000)).astype(np.float32)
    phi = np.array([0.9, 0.99, np.exp(-1 / 30)])
    sigma = rng.random((2, 3)) + 0.5
    fast = _ou(z, phi, sigma)
    slow = np.empty(z.shape)
    for b in range(2):
        for k in range(3):
            slow[b, k, 0] = z[b, k, 0] * sigma[b, k]
            for t in range(1, 2000):
                slow[b, k, t] = phi[k] * slow[b, k, t - 1] + z[b, k, t] * sigma[b, k] * np.sqrt(1 - phi[k] ** 2)
    np.testing.assert_allclose(fast, slow, atol=2e-4)  # float32 rounding only


def test_ou_wander_has_the_requested_sd_and_time_constant() -> None:
    rng = np.random.default_rng(1)
    x = _ou(_innovations([rng], 1, 200_000), np.array([np.exp(-1 / 60)]), np.array([[3.0]]))
    assert abs(float(x.std()) - 3.0) < 0.3
    lag = 60
    r = np.corrcoef(x[0, 0, :-lag], x[0, 0, lag:])[0, 1]
    assert abs(r - np.exp(-1)) < 0.05  # autocorrelation exp(-lag/τ)
    # Uniform innovations summed over τ steps: the wander is Gaussian to the eye (kurtosis ~3).
    centred = x[0, 0] - x[0, 0].mean()
    kurtosis = float(np.mean(centred**4) / np.mean(centred**2) ** 2)
    assert 2.6 < kurtosis < 3.4


def _check_bounds(scenario: Scenario, seeds: range) -> None:
    run = run_batch(scenario, list(seeds))
    for k, key in enumerate(VITAL_KEYS):
        m = VITALS[key]
        assert run.latent.vitals[:, k].min() >= m.low and run.latent.vitals[:, k].max() <= m.high, key
    for k, key in enumerate(LAB_KEYS):
        m = lab_measure(key, "male")
        assert run.latent.labs[:, k].min() >= m.low and run.latent.labs[:, k].max() <= m.high, key
    for ch in run.charts:
        for o in ch.obs:
            for key, value in o.values.items():
                if value is not None:
                    assert VITALS[key].low <= value <= VITALS[key].high, (key, value)
            if o.values["sbp"] is not None and o.values["dbp"] is not None:
                assert o.values["dbp"] < o.values["sbp"] + 20  # reading error can narrow, never invert grossly
            assert 0 <= o.o2_flow <= 15
            assert o.urine is None or o.urine >= 0
        for r in ch.labs:
            m = lab_measure(r.key, "male")
            assert m.low <= r.value <= m.high


@pytest.mark.parametrize("kind", TRAJECTORY_TYPES)
def test_bounds_hold_for_every_trajectory_at_full_severity(kind: str, make_scenario: Callable[..., Scenario]) -> None:
    scenario = make_scenario(
        trajectory=[{"type": kind, "onset_h": [-40, -10], "severity": 1.0}],
        timing={"future_hours": 24},
        modifiers=[{"type": "older-age"}],
    )
    _check_bounds(scenario, range(30))


def test_bounds_hold_for_the_examples_over_many_seeds(copd: Scenario, sepsis_bb: Scenario, sepsis_classic: Scenario) -> None:
    for scenario in (copd, sepsis_bb, sepsis_classic):
        _check_bounds(scenario, range(60))


def _latent_at(scenario: Scenario, key: str, hours: float, seeds: int = 20) -> float:
    run = run_batch(scenario, list(range(seeds)))
    idx = int(np.searchsorted(run.latent.t_min, round(hours * 60)))
    if key in VITAL_KEYS:
        return float(run.latent.vital(key)[:, idx].mean())
    if key == "consciousness":
        return float(run.latent.consciousness[:, idx].mean())
    if key == "o2":
        return float(run.latent.o2_flow[:, idx].mean())
    if key == "urine":
        return float(run.latent.urine[:, idx].mean())
    lab_idx = int(np.searchsorted(run.latent.t_lab, round(hours * 60)))
    return float(run.latent.lab(key)[:, lab_idx].mean())


def _course(make: Callable[..., Scenario], kind: str, ramp: float, **extra: object) -> Scenario:
    return make(trajectory=[{"type": kind, "onset_h": -30, "severity": 1.0, "ramp_h": ramp}], **extra)


def test_sepsis_moves_vitals_and_labs_together(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "sepsis", 30)
    before, after = -31, 0
    for key, sign in (("hr", 1), ("rr", 1), ("temp", 1), ("lactate", 1), ("wbc", 1), ("sbp", -1), ("spo2", -1)):
        assert sign * (_latent_at(s, key, after) - _latent_at(s, key, before)) > 0, key
    assert _latent_at(s, "lactate", after) > 4.0
    assert _latent_at(s, "sbp", after) < 100


def test_sepsis_fever_and_tachypnoea_come_before_hypotension(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "sepsis", 30)
    early = -30 + 9  # 30% of the way
    assert _latent_at(s, "temp", early) - _latent_at(s, "temp", -31) > 0.8
    assert _latent_at(s, "rr", early) - _latent_at(s, "rr", -31) > 5
    assert _latent_at(s, "sbp", -31) - _latent_at(s, "sbp", early) < 8


def test_haemorrhage_raises_hr_then_drops_hgb_and_bp(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "haemorrhage", 12)
    start = -31
    assert _latent_at(s, "hr", -30 + 4) - _latent_at(s, "hr", start) > 15
    assert _latent_at(s, "sbp", start) - _latent_at(s, "sbp", -30 + 4) < 10  # BP still held early
    assert _latent_at(s, "hgb", -30 + 1) > _latent_at(s, "hgb", start) - 0.3  # Hgb lags
    assert _latent_at(s, "hgb", 0) < _latent_at(s, "hgb", start) - 3
    assert _latent_at(s, "sbp", 0) < _latent_at(s, "sbp", start) - 35


def test_oversedation_lowers_rr_spo2_and_consciousness(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "opioid-oversedation", 3)
    assert _latent_at(s, "consciousness", -30 + 1) >= 0.35  # drowsy before breathing slows much
    assert _latent_at(s, "rr", -27) < _latent_at(s, "rr", -31) - 8
    assert _latent_at(s, "spo2", -27) < _latent_at(s, "spo2", -31) - 4  # despite the oxygen started
    assert _latent_at(s, "o2", -27) > 0
    assert consciousness_level(_latent_at(s, "consciousness", -27)) in ("P", "U")


def test_supplemental_oxygen_masks_opioid_desaturation(make_scenario: Callable[..., Scenario]) -> None:
    on_air = _course(make_scenario, "opioid-oversedation", 3)
    on_o2 = _course(make_scenario, "opioid-oversedation", 3,
                    baseline={"oxygen": {"device": "nasal-cannula", "flow_l_min": 2}})
    fall_air = _latent_at(on_air, "spo2", -31) - _latent_at(on_air, "spo2", -27)
    fall_o2 = _latent_at(on_o2, "spo2", -31) - _latent_at(on_o2, "spo2", -27)
    assert fall_o2 < fall_air / 2


def test_respiratory_failure_shows_as_rising_oxygen_need(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "respiratory-failure", 30)
    assert _latent_at(s, "o2", -31) == 0
    assert _latent_at(s, "o2", 0) >= 4
    assert 86 < _latent_at(s, "spo2", 0) < _latent_at(s, "spo2", -31) - 3


def test_aki_moves_labs_not_vitals(make_scenario: Callable[..., Scenario]) -> None:
    s = _course(make_scenario, "acute-kidney-injury", 36, timing={"future_hours": 24})
    assert _latent_at(s, "creatinine", 24) > _latent_at(s, "creatinine", -31) + 1.0
    assert _latent_at(s, "potassium", 24) > _latent_at(s, "potassium", -31) + 0.8
    assert _latent_at(s, "urine", 0) < 0.4 * _latent_at(s, "urine", -31)
    assert abs(_latent_at(s, "hr", 0) - _latent_at(s, "hr", -31)) < 6


def test_beta_blocker_caps_the_heart_rate_response(make_scenario: Callable[..., Scenario]) -> None:
    plain = _course(make_scenario, "sepsis", 30)
    blocked = _course(make_scenario, "sepsis", 30, modifiers=[{"type": "beta-blocker"}])
    rise_plain = _latent_at(plain, "hr", 0) - _latent_at(plain, "hr", -31)
    rise_blocked = _latent_at(blocked, "hr", 0) - _latent_at(blocked, "hr", -31)
    assert rise_plain > 35 and rise_blocked < 0.3 * rise_plain


def test_antipyretic_and_age_blunt_fever(make_scenario: Callable[..., Scenario]) -> None:
    plain = _course(make_scenario, "sepsis", 30, patient={"age": 85, "diagnoses": ["x"], "narrative": "x"})
    masked = _course(make_scenario, "sepsis", 30, patient={"age": 85, "diagnoses": ["x"], "narrative": "x"},
                     modifiers=[{"type": "older-age"}, {"type": "steroids"}])
    assert _latent_at(masked, "temp", 0) < _latent_at(plain, "temp", 0) - 0.8
