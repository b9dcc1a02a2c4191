"""Hand-worked checks of app.metrics against clinical-reference §7 and textbook identities."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from app.metrics import (
    DecisionCase,
    agreement_rate,
    analyse_item,
    automation_bias_rate,
    brier,
    difficulty,
    omission_error,
    over_reliance,
    p_deteriorating,
    point_biserial,
    rair,
    reliance_summary,
    rsr,
    sdt,
    sdt_from_cases,
    under_reliance,
)

# --- §7.1 signal detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "h", "f", "d_prime", "c"),
    [
        # Test vectors from clinical-reference §7.1 (log-linear); the first matches statpsych [S52].
        ((82, 18, 46, 54), 0.81683, 0.46040, 1.00279, -0.40196),
        ((9, 1, 2, 8), 0.86364, 0.22727, 1.84466, -0.17447),
        ((10, 0, 0, 20), 0.95455, 0.02381, 3.67137, 0.14507),
    ],
)
def test_sdt_reference_vectors(
    counts: tuple[int, int, int, int], h: float, f: float, d_prime: float, c: float
) -> None:
    result = sdt(*counts)
    assert result.hit_rate == pytest.approx(h, abs=5e-6)
    assert result.false_alarm_rate == pytest.approx(f, abs=5e-6)
    assert result.d_prime == pytest.approx(d_prime, abs=5e-6)
    assert result.criterion == pytest.approx(c, abs=5e-6)


def test_sdt_correction_applies_to_non_extreme_counts_too() -> None:
    # Hautus: every trainee is corrected, so 9/10 hits is 9.5/11, not 0.9.
    result = sdt(9, 1, 2, 8)
    assert result.hit_rate == pytest.approx(9.5 / 11)
    assert result.false_alarm_rate == pytest.approx(2.5 / 11)
    assert result.sensitivity == pytest.approx(0.9)
    assert result.specificity == pytest.approx(0.8)


def test_sdt_no_cases_is_uninformative_not_an_error() -> None:
    result = sdt(0, 0, 0, 0)
    assert result.hit_rate == 0.5
    assert result.false_alarm_rate == 0.5
    assert result.d_prime == 0.0
    assert result.criterion == 0.0
    assert result.sensitivity is None
    assert result.specificity is None
    assert (result.n_signal, result.n_noise) == (0, 0)


def test_sdt_all_correct_has_raw_rates_of_one_and_finite_d_prime() -> None:
    result = sdt(10, 0, 0, 20)
    assert result.sensitivity == 1.0
    assert result.specificity == 1.0
    assert math.isfinite(result.d_prime)
    assert result.d_prime > 3


def test_sdt_all_wrong_mirrors_all_correct() -> None:
    best, worst = sdt(10, 0, 0, 20), sdt(0, 10, 20, 0)
    assert worst.sensitivity == 0.0
    assert worst.specificity == 0.0
    assert worst.d_prime == pytest.approx(-best.d_prime)
    assert worst.criterion == pytest.approx(-best.criterion)


def test_sdt_only_one_class_present() -> None:
    result = sdt(5, 0, 0, 0)
    assert result.sensitivity == 1.0
    assert result.specificity is None
    # F = 0.5 exactly, so d' = z(H) and c = -z(H)/2.
    z_h = NormalDist().inv_cdf(5.5 / 6)
    assert result.d_prime == pytest.approx(z_h)
    assert result.criterion == pytest.approx(-z_h / 2)


def test_sdt_escalate_everything_is_liberal() -> None:
    # Escalating every case: c < 0 ("liberal"), §7.1.
    assert sdt(10, 0, 20, 0).criterion < 0
    assert sdt(0, 10, 0, 20).criterion > 0


def test_sdt_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        sdt(1, -1, 0, 0)


def test_sdt_from_cases_tallies_cells() -> None:
    cases = [
        DecisionCase(deteriorating=True, ai_alert=True, final_escalate=True),  # hit
        DecisionCase(deteriorating=True, ai_alert=False, final_escalate=False),  # miss
        DecisionCase(deteriorating=False, ai_alert=True, final_escalate=True),  # FA
        DecisionCase(deteriorating=False, ai_alert=True, final_escalate=False),  # CR
        DecisionCase(deteriorating=False, ai_alert=False, final_escalate=False),  # CR
    ]
    result = sdt_from_cases(cases)
    assert (result.hits, result.misses, result.false_alarms, result.correct_rejections) == (1, 1, 1, 2)
    assert result == sdt(1, 1, 1, 2)


# --- §7.2 reliance ----------------------------------------------------------------------------------

T, F = True, False
# Hand-worked set. Columns: deteriorating, AI alert, final escalate, initial escalate.
MIXED = [
    DecisionCase(T, T, T, T),  # 1 AI right, followed; initial right
    DecisionCase(T, T, F, F),  # 2 AI right, overridden; initial wrong, stayed wrong
    DecisionCase(F, T, T, F),  # 3 false alert followed; initial right -> switched to wrong (automation bias)
    DecisionCase(F, T, F, F),  # 4 false alert overridden; initial right, kept
    DecisionCase(T, F, F, None),  # 5 AI silent on deterioration, trainee dismissed (omission)
    DecisionCase(T, F, T, T),  # 6 AI silent on deterioration, trainee escalated; initial right, kept
    DecisionCase(F, F, F, T),  # 7 AI right (silent); initial wrong, switched to AI
    DecisionCase(T, T, T, F),  # 8 AI right; initial wrong, switched to AI
]


def test_over_reliance_mixed() -> None:
    # AI wrong in 3, 4, 5, 6; final follows the AI in 3 and 5.
    assert over_reliance(MIXED) == pytest.approx(2 / 4)


def test_under_reliance_mixed() -> None:
    # AI right in 1, 2, 7, 8; overridden only in 2.
    assert under_reliance(MIXED) == pytest.approx(1 / 4)


def test_omission_error_mixed() -> None:
    # Deteriorating and AI silent: 5, 6; dismissed in 5.
    assert omission_error(MIXED) == pytest.approx(1 / 2)


def test_rair_mixed() -> None:
    # Initial wrong and AI right: 2, 7, 8; switched to AI in 7 and 8.
    assert rair(MIXED) == pytest.approx(2 / 3)


def test_rsr_mixed() -> None:
    # Initial right and AI wrong: 3, 4, 6; kept own answer in 4 and 6. Case 5 has no initial answer.
    assert rsr(MIXED) == pytest.approx(2 / 3)


def test_automation_bias_rate_mixed() -> None:
    # 7 cases have an initial answer (all but 5); only case 3 went right -> wrong towards the alert.
    assert automation_bias_rate(MIXED) == pytest.approx(1 / 7)


def test_agreement_rate_mixed() -> None:
    # Final equals AI advice in 1, 3, 5, 7, 8.
    assert agreement_rate(MIXED) == pytest.approx(5 / 8)


def test_reliance_summary_matches_individual_functions_and_accepts_iterators() -> None:
    summary = reliance_summary(iter(MIXED))
    assert summary.n_cases == 8
    assert summary.over_reliance == over_reliance(MIXED)
    assert summary.under_reliance == under_reliance(MIXED)
    assert summary.omission_error == omission_error(MIXED)
    assert summary.rair == rair(MIXED)
    assert summary.rsr == rsr(MIXED)
    assert summary.automation_bias_rate == automation_bias_rate(MIXED)
    assert summary.agreement_rate == agreement_rate(MIXED)
    # Followed the (right) AI in 1, 7, 8 of 1, 2, 7, 8.
    assert summary.agreement_when_ai_right == pytest.approx(3 / 4)
    assert summary.agreement_when_ai_wrong == summary.over_reliance


def test_reliance_no_cases_gives_none_everywhere() -> None:
    summary = reliance_summary([])
    assert summary.n_cases == 0
    for name in (
        "over_reliance",
        "under_reliance",
        "omission_error",
        "rair",
        "rsr",
        "automation_bias_rate",
        "agreement_rate",
        "agreement_when_ai_right",
        "agreement_when_ai_wrong",
    ):
        assert getattr(summary, name) is None, name


def test_reliance_without_initial_answers_leaves_rair_rsr_and_ab_rate_none() -> None:
    cases = [DecisionCase(T, T, T), DecisionCase(F, T, T)]
    assert rair(cases) is None
    assert rsr(cases) is None
    assert automation_bias_rate(cases) is None
    assert over_reliance(cases) == 1.0


def test_reliance_all_correct_trainee_with_perfect_ai() -> None:
    cases = [DecisionCase(T, T, T, T), DecisionCase(F, F, F, F)]
    assert under_reliance(cases) == 0.0
    assert over_reliance(cases) is None  # the AI was never wrong
    assert omission_error(cases) is None  # no unflagged deterioration
    assert automation_bias_rate(cases) == 0.0
    assert agreement_rate(cases) == 1.0


def test_reliance_rates_of_one() -> None:
    # Trainee always follows an always-wrong AI, abandoning correct initial answers.
    cases = [DecisionCase(F, T, T, F), DecisionCase(T, F, F, T)]
    assert over_reliance(cases) == 1.0
    assert omission_error(cases) == 1.0
    assert automation_bias_rate(cases) == 1.0
    assert rsr(cases) == 0.0


# --- §7.3 calibration -------------------------------------------------------------------------------


def test_brier_reference_vector() -> None:
    assert brier((0.9, 0.2, 0.6, 0.1), (1, 0, 0, 0)) == pytest.approx(0.105)


def test_brier_anchor_points() -> None:
    outcomes = (1, 0, 1, 0)
    assert brier((0.5,) * 4, outcomes) == pytest.approx(0.25)
    assert brier((1.0, 0.0, 1.0, 0.0), outcomes) == 0.0
    assert brier((0.0, 1.0, 0.0, 1.0), outcomes) == 1.0
    assert brier((0.8,), (True,)) == pytest.approx(0.04)


def test_brier_no_cases_is_none() -> None:
    assert brier((), ()) is None


@pytest.mark.parametrize(
    ("p", "o", "message"),
    [((0.5,), (1, 0), "outcomes"), ((1.2,), (1,), "outside"), ((0.5,), (2,), "not 0 or 1")],
)
def test_brier_rejects_bad_input(p: tuple[float, ...], o: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        brier(p, o)


@pytest.mark.parametrize(
    ("action", "confidence", "expected"),
    [
        ("escalate", 80, 0.8),
        ("dismiss", 80, 0.2),
        ("escalate", 50, 0.5),
        ("dismiss", 50, 0.5),
        ("escalate", 100, 1.0),
        ("dismiss", 100, 0.0),
    ],
)
def test_p_deteriorating(action: str, confidence: int, expected: float) -> None:
    assert p_deteriorating(action, confidence) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(("action", "confidence"), [("escalate", 49), ("dismiss", 101), ("wait", 70)])
def test_p_deteriorating_rejects_bad_input(action: str, confidence: int) -> None:
    with pytest.raises(ValueError):
        p_deteriorating(action, confidence)  # type: ignore[arg-type]


def test_confident_right_answers_beat_hedged_ones() -> None:
    outcomes = (1, 0)
    sure = brier((p_deteriorating("escalate", 90), p_deteriorating("dismiss", 90)), outcomes)
    hedged = brier((p_deteriorating("escalate", 60), p_deteriorating("dismiss", 60)), outcomes)
    assert sure is not None and hedged is not None
    assert sure == pytest.approx(0.01)
    assert sure < hedged


# --- item analysis ---------------------------------------------------------------------------------


def test_difficulty() -> None:
    assert difficulty([]) is None
    assert difficulty([1, 1, 1, 0]) == 0.75
    assert difficulty([True, False]) == 0.5


def test_point_biserial_hand_worked() -> None:
    # x = 1,1,0,0; y = 4,3,2,1: sxy = 2, sxx = 1, syy = 5 -> r = 2/sqrt(5).
    r = point_biserial([1, 1, 0, 0], [4, 3, 2, 1])
    assert r == pytest.approx(2 / math.sqrt(5))
    # Equivalent textbook form: (M1 - M0)/s_n * sqrt(p q) = (3.5 - 1.5)/sqrt(1.25) * 0.5.
    assert r == pytest.approx((3.5 - 1.5) / math.sqrt(1.25) * 0.5)


def test_point_biserial_negative_when_strong_trainees_fail() -> None:
    assert point_biserial([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx(-2 / math.sqrt(5))


def test_point_biserial_matches_pearson_on_uneven_data() -> None:
    item = [1, 0, 1, 1, 0, 1, 0, 1, 1, 0]
    totals = [7.0, 3.0, 6.0, 9.0, 5.0, 4.0, 2.0, 8.0, 6.0, 6.0]
    expected = float(np.corrcoef(item, totals)[0, 1])
    assert point_biserial(item, totals) == pytest.approx(expected)


def test_point_biserial_corrected_uses_rest_score() -> None:
    # Rest scores: 3, 2, 2, 1 -> sxy = 1, sxx = 1, syy = 2 -> r = 1/sqrt(2).
    assert point_biserial([1, 1, 0, 0], [4, 3, 2, 1], corrected=True) == pytest.approx(1 / math.sqrt(2))


@pytest.mark.parametrize(
    ("item", "totals"),
    [([1, 1, 1], [3, 2, 1]), ([0, 0, 0], [3, 2, 1]), ([1, 0, 1], [2, 2, 2]), ([1], [5]), ([], [])],
)
def test_point_biserial_none_without_variance(item: list[int], totals: list[float]) -> None:
    assert point_biserial(item, totals) is None


def test_point_biserial_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError):
        point_biserial([1, 0], [1.0])


def test_analyse_item_too_easy_threshold() -> None:
    totals = list(range(20))
    nineteen = [0] + [1] * 19  # 0.95 correct: flagged
    eighteen = [0, 0] + [1] * 18  # 0.90 correct: not flagged
    assert analyse_item(nineteen, totals).too_easy
    assert not analyse_item(eighteen, totals).too_easy
    assert analyse_item([1] * 5, [5, 4, 3, 2, 1]).too_easy


def test_analyse_item_flags_negative_discrimination() -> None:
    totals = [10, 9, 8, 3, 2, 1]
    bad = analyse_item([0, 0, 1, 1, 1, 0], totals)
    good = analyse_item([1, 1, 0, 0, 1, 0], totals)
    assert bad.negative_discrimination and bad.discrimination is not None and bad.discrimination < 0
    assert not good.negative_discrimination
    assert good.difficulty == 0.5
    assert good.n == 6


def test_analyse_item_with_no_trainees() -> None:
    result = analyse_item([], [])
    assert result.n == 0
    assert result.difficulty is None
    assert result.discrimination is None
    assert not result.too_easy
    assert not result.negative_discrimination
