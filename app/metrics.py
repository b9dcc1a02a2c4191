"""Decision-quality metrics for trainees: pure functions over counts and per-case records, no DB.

Every definition follows /work/shared/clinical-reference.md §7 (sources S49–S57); docs/metrics.md
explains each one for educators and managers.

- §7.1 signal detection: ``sdt``, ``sdt_from_cases`` -> ``SDT`` (log-linear corrected d′ and c)
- §7.2 reliance on the AI alert: ``over_reliance``, ``under_reliance``, ``omission_error``, ``rair``,
  ``rsr``, ``automation_bias_rate``, ``agreement_rate``, all bundled by ``reliance_summary``
- §7.3 calibration: ``brier`` and ``p_deteriorating`` (action + confidence -> probability)
- item analysis (psychometrics, not clinical): ``difficulty``, ``point_biserial``, ``analyse_item``

Rates whose denominator is empty are ``None`` rather than 0, so a page can say "no such cases" instead
of showing a misleading 0 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

__all__ = [
    "NEGATIVE_DISCRIMINATION_BELOW",
    "SDT",
    "TOO_EASY_AT",
    "Action",
    "DecisionCase",
    "ItemAnalysis",
    "RelianceSummary",
    "agreement_rate",
    "analyse_item",
    "automation_bias_rate",
    "brier",
    "difficulty",
    "omission_error",
    "over_reliance",
    "p_deteriorating",
    "point_biserial",
    "rair",
    "reliance_summary",
    "rsr",
    "sdt",
    "sdt_from_cases",
    "under_reliance",
]

Action = Literal["escalate", "dismiss"]

_Z = NormalDist().inv_cdf


# --------------------------------------------------------------------------------------------------
# §7.1 Signal detection theory
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SDT:
    """Signal-detection summary for one trainee or condition (§7.1).

    Signal = patient truly deteriorating; "escalate" = yes. ``hit_rate`` and ``false_alarm_rate`` are the
    log-linear corrected rates used for d′ and c; ``sensitivity`` and ``specificity`` are the raw
    proportions, ``None`` when there were no trials of that class.
    """

    hits: int
    misses: int
    false_alarms: int
    correct_rejections: int
    hit_rate: float
    false_alarm_rate: float
    d_prime: float
    criterion: float
    sensitivity: float | None
    specificity: float | None

    @property
    def n_signal(self) -> int:
        return self.hits + self.misses

    @property
    def n_noise(self) -> int:
        return self.false_alarms + self.correct_rejections


def sdt(hits: int, misses: int, false_alarms: int, correct_rejections: int) -> SDT:
    """d′ and criterion c with the log-linear (Hautus 1995) correction applied to every trainee.

    §7.1 [S49, S51, S52]: H = (hits + 0.5)/(nSignal + 1), F = (FA + 0.5)/(nNoise + 1), d′ = z(H) − z(F),
    c = −0.5·(z(H) + z(F)). Correcting everyone (not only perfect scorers) keeps trainees comparable and
    avoids infinite z at rates of 0 or 1. With no trials of a class the corrected rate is 0.5, so an
    empty record gives d′ = 0 and c = 0: uninformative, which is why the counts travel with the result.
    """
    counts = (hits, misses, false_alarms, correct_rejections)
    if any(n < 0 for n in counts):
        raise ValueError(f"SDT counts must be non-negative, got {counts}")
    n_signal = hits + misses
    n_noise = false_alarms + correct_rejections
    h = (hits + 0.5) / (n_signal + 1)
    f = (false_alarms + 0.5) / (n_noise + 1)
    z_h, z_f = _Z(h), _Z(f)
    return SDT(
        hits=hits,
        misses=misses,
        false_alarms=false_alarms,
        correct_rejections=correct_rejections,
        hit_rate=h,
        false_alarm_rate=f,
        d_prime=z_h - z_f,
        criterion=-0.5 * (z_h + z_f),
        sensitivity=hits / n_signal if n_signal else None,
        specificity=correct_rejections / n_noise if n_noise else None,
    )


# --------------------------------------------------------------------------------------------------
# Per-case records shared by SDT and the §7.2 reliance measures
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionCase:
    """One trainee decision on one case, as §7.2 asks to record it.

    ``ai_alert`` is the AI's advice (True = it flagged deterioration, i.e. advised escalation).
    ``initial_escalate`` is the trainee's independent judgement made before the alert was shown, or
    ``None`` when the scenario design did not ask for one.
    """

    deteriorating: bool
    ai_alert: bool
    final_escalate: bool
    initial_escalate: bool | None = None

    @property
    def ai_correct(self) -> bool:
        return self.ai_alert == self.deteriorating

    @property
    def final_correct(self) -> bool:
        return self.final_escalate == self.deteriorating

    @property
    def follows_ai(self) -> bool:
        return self.final_escalate == self.ai_alert

    @property
    def initial_correct(self) -> bool | None:
        if self.initial_escalate is None:
            return None
        return self.initial_escalate == self.deteriorating


def sdt_from_cases(cases: Iterable[DecisionCase]) -> SDT:
    """Tally hits/misses/FAs/CRs from final decisions (§7.1 cell definitions) and score them."""
    hits = misses = fas = crs = 0
    for case in cases:
        if case.deteriorating:
            hits += case.final_escalate
            misses += not case.final_escalate
        else:
            fas += case.final_escalate
            crs += not case.final_escalate
    return sdt(hits, misses, fas, crs)


def _share(
    cases: Iterable[DecisionCase],
    *,
    among: Callable[[DecisionCase], bool],
    counts: Callable[[DecisionCase], bool],
) -> float | None:
    """Proportion of ``among`` cases that satisfy ``counts``; None when ``among`` is empty."""
    denominator = numerator = 0
    for case in cases:
        if among(case):
            denominator += 1
            numerator += counts(case)
    return numerator / denominator if denominator else None


# --------------------------------------------------------------------------------------------------
# §7.2 Reliance on the AI alert (automation bias)
# --------------------------------------------------------------------------------------------------


def over_reliance(cases: Iterable[DecisionCase]) -> float | None:
    """Over-reliance (commission) rate, §7.2 [S54, S55]: P(final follows AI | AI wrong).

    E.g. escalating a false-positive alert, or dismissing a deteriorating patient because the AI was
    silent. The main automation-bias measure.
    """
    return _share(cases, among=lambda c: not c.ai_correct, counts=lambda c: c.follows_ai)


def under_reliance(cases: Iterable[DecisionCase]) -> float | None:
    """Under-reliance rate, §7.2: P(final overrides AI | AI right).

    The alert-fatigue signature: the AI was right and the trainee went against it.
    """
    return _share(cases, among=lambda c: c.ai_correct, counts=lambda c: not c.follows_ai)


def omission_error(cases: Iterable[DecisionCase]) -> float | None:
    """Omission error rate, §7.2: P(dismiss | patient deteriorating and AI did not flag it).

    The classic automation-bias omission: a true deterioration missed because no alert prompted it.
    """
    return _share(
        cases,
        among=lambda c: c.deteriorating and not c.ai_alert,
        counts=lambda c: not c.final_escalate,
    )


def rair(cases: Iterable[DecisionCase]) -> float | None:
    """Relative AI reliance (RAIR), §7.2 [S56, S57].

    Among cases where the trainee's initial answer was wrong and the AI was right: the share whose final
    answer switched to the AI's. Ideal = 1. Cases without an initial answer are ignored.
    """
    return _share(
        cases,
        among=lambda c: c.initial_correct is False and c.ai_correct,
        counts=lambda c: c.follows_ai,
    )


def rsr(cases: Iterable[DecisionCase]) -> float | None:
    """Relative self-reliance (RSR), §7.2 [S56, S57].

    Among cases where the trainee's initial answer was right and the AI was wrong: the share that kept
    their own answer. Ideal = 1. Cases without an initial answer are ignored.
    """
    return _share(
        cases,
        among=lambda c: c.initial_correct is True and not c.ai_correct,
        counts=lambda c: c.final_escalate == c.initial_escalate,
    )


def automation_bias_rate(cases: Iterable[DecisionCase]) -> float | None:
    """Automation-bias rate (our summary of §7.2 over-reliance for designs with a pre-alert answer).

    Among all cases with an independent (pre-alert) judgement: the share where that judgement was right
    and the final decision was wrong *in the alert's direction* (the trainee switched to the AI's wrong
    advice). Unlike RSR the denominator is every case with an initial answer, so it reads as "how often
    did the alert talk this trainee out of a correct call".
    """
    return _share(
        cases,
        among=lambda c: c.initial_escalate is not None,
        counts=lambda c: bool(c.initial_correct) and not c.final_correct and c.follows_ai,
    )


def agreement_rate(cases: Iterable[DecisionCase]) -> float | None:
    """Agreement (switch) rate, §7.2 [S54]: P(final = AI advice) over all cases.

    Report next to accuracy: accuracy can rise through more agreement alone, without discernment.
    """
    return _share(cases, among=lambda _c: True, counts=lambda c: c.follows_ai)


@dataclass(frozen=True)
class RelianceSummary:
    """All §7.2 measures for one trainee or group; each is None when its denominator is empty."""

    n_cases: int
    over_reliance: float | None
    under_reliance: float | None
    omission_error: float | None
    rair: float | None
    rsr: float | None
    automation_bias_rate: float | None
    agreement_rate: float | None
    agreement_when_ai_right: float | None
    agreement_when_ai_wrong: float | None


def reliance_summary(cases: Iterable[DecisionCase]) -> RelianceSummary:
    """Every §7.2 measure at once; ``cases`` may be a one-shot iterator (it is materialised once)."""
    items = tuple(cases)
    return RelianceSummary(
        n_cases=len(items),
        over_reliance=over_reliance(items),
        under_reliance=under_reliance(items),
        omission_error=omission_error(items),
        rair=rair(items),
        rsr=rsr(items),
        automation_bias_rate=automation_bias_rate(items),
        agreement_rate=agreement_rate(items),
        agreement_when_ai_right=_share(items, among=lambda c: c.ai_correct, counts=lambda c: c.follows_ai),
        # Agreement when the AI is wrong is, by definition, the over-reliance rate.
        agreement_when_ai_wrong=over_reliance(items),
    )


# --------------------------------------------------------------------------------------------------
# §7.3 Calibration
# --------------------------------------------------------------------------------------------------

CONFIDENCE_MIN = 50
CONFIDENCE_MAX = 100


def p_deteriorating(action: Action, confidence: float) -> float:
    """Turn a decision plus the trainee's confidence in *their own answer* into p(deteriorating).

    The form asks "how sure are you?" on a 50–100 % scale, because below 50 % the trainee would have
    chosen the other action. Escalating with 80 % means p = 0.8 that the patient is deteriorating;
    dismissing with 80 % means p = 0.2. 50 % maps to 0.5 either way (a coin toss). §7.3 scores these
    probabilities with ``brier``.
    """
    if not CONFIDENCE_MIN <= confidence <= CONFIDENCE_MAX:
        raise ValueError(f"confidence must be {CONFIDENCE_MIN}–{CONFIDENCE_MAX} %, got {confidence}")
    p_own = confidence / 100
    if action == "escalate":
        return p_own
    if action == "dismiss":
        return 1 - p_own
    raise ValueError(f"action must be 'escalate' or 'dismiss', got {action!r}")


def brier(p_deteriorating: Sequence[float], outcomes: Sequence[int | bool]) -> float | None:
    """Brier score, §7.3: mean of (p_i − o_i)², o_i ∈ {0, 1}. 0 is perfect, always 0.5 scores 0.25.

    None for no cases. Raises on unequal lengths, probabilities outside [0, 1] or non-binary outcomes,
    since any of those means the caller mixed up its data.
    """
    if len(p_deteriorating) != len(outcomes):
        raise ValueError(f"{len(p_deteriorating)} probabilities but {len(outcomes)} outcomes")
    if not p_deteriorating:
        return None
    total = 0.0
    for p, o in zip(p_deteriorating, outcomes, strict=True):
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"probability {p} outside [0, 1]")
        if o not in (0, 1):
            raise ValueError(f"outcome {o!r} is not 0 or 1")
        total += (p - int(o)) ** 2
    return total / len(p_deteriorating)


# --------------------------------------------------------------------------------------------------
# Item analysis (classical test theory; thresholds are design choices, not clinical numbers)
# --------------------------------------------------------------------------------------------------

TOO_EASY_AT = 0.95
"""An item answered correctly in at least this share of responses teaches little."""

NEGATIVE_DISCRIMINATION_BELOW = 0.0
"""A point-biserial below this means stronger trainees do worse on the item: check its answer key."""


def difficulty(item_correct: Sequence[bool | int]) -> float | None:
    """Classical item difficulty: the share of responses that got the item right; None if none tried.

    The app's item is a scenario (all its versions) and each decision is one response.
    """
    if not item_correct:
        return None
    return sum(bool(x) for x in item_correct) / len(item_correct)


def point_biserial(
    item_correct: Sequence[bool | int],
    total_scores: Sequence[float],
    *,
    corrected: bool = False,
) -> float | None:
    """Point-biserial correlation between right/wrong on one item and trainees' total scores.

    Positive = trainees who do well overall tend to get this item right. With ``corrected=True`` the
    item's own point is subtracted from each total first (rest score), which removes the self-inflation
    that matters when a scenario set has few items. None when either variable has no variance (everyone
    right, everyone wrong, or all totals equal), or fewer than two trainees.
    """
    if len(item_correct) != len(total_scores):
        raise ValueError(f"{len(item_correct)} item results but {len(total_scores)} totals")
    n = len(item_correct)
    if n < 2:
        return None
    x = [1.0 if v else 0.0 for v in item_correct]
    y = (
        [t - xi for t, xi in zip(total_scores, x, strict=True)]
        if corrected
        else [float(t) for t in total_scores]
    )
    mean_x = sum(x) / n
    mean_y = sum(y) / n
    sxx = sum((xi - mean_x) ** 2 for xi in x)
    syy = sum((yi - mean_y) ** 2 for yi in y)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((xi - mean_x) * (yi - mean_y) for xi, yi in zip(x, y, strict=True))
    return sxy / math.sqrt(sxx * syy)


@dataclass(frozen=True)
class ItemAnalysis:
    """Difficulty, discrimination and review flags for one item (a scenario, all its versions)."""

    n: int
    difficulty: float | None
    discrimination: float | None
    too_easy: bool
    negative_discrimination: bool


def analyse_item(
    item_correct: Sequence[bool | int],
    total_scores: Sequence[float],
    *,
    corrected: bool = True,
) -> ItemAnalysis:
    """Flag items for educator review: too easy (≥ 95 % correct) or negatively discriminating.

    Uses the corrected (rest-score) point-biserial by default, because scenario sets are short.
    """
    p = difficulty(item_correct)
    r = point_biserial(item_correct, total_scores, corrected=corrected)
    return ItemAnalysis(
        n=len(item_correct),
        difficulty=p,
        discrimination=r,
        too_easy=p is not None and p >= TOO_EASY_AT,
        negative_discrimination=r is not None and r < NEGATIVE_DISCRIMINATION_BELOW,
    )
