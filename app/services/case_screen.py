"""What the case page shows, built from a stored case: charts, tables, alert, feedback.

Two entry points keep the answer out of the question: `question_page` reads only the
trainee view, and only `feedback_page` (called once a decision is stored) reads the
answer. Templates never see a CaseAnswer before that.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined
from markupsafe import Markup
from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.orm import defer
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from app.charts import (
    ALERT_TREND_WINDOW_MIN,
    CHART_FUTURE_HOURS,
    CHART_PAST_HOURS,
    FEEDBACK_WINDOW_MIN,
    PAST_WINDOW_MIN,
    VITAL_SCALES,
    Mark,
    TrendRow,
    format_rel_time,
    trend_svg,
    vital_table_rows,
    vital_trend_svg,
)
from app.charts.text import format_value
from app.models import CaseAttempt, Decision, Drill, PreAlertJudgement, User, UserSession
from app.services.attempts import (
    CONFIDENCE_DEFAULT,
    CONFIDENCE_MAX,
    CONFIDENCE_MIN,
    DISMISS_REASONS,
    ESCALATE_REASONS,
    SetProgress,
    answer_of,
    signed_in_attempt_select,
    view_of,
)
from app.services.auth import signed_in_row
from app.services.case_fragments import CaseBody, body_cache, fragment_key
from app.services.dealing import PRACTICE_SIZE, practice_round_of
from app.templating import templates
from simulator import CATEGORIES
from simulator.case import Assessment, CaseAnswer, LabSeries, OutcomeCriterion, Series, TraineeView
from simulator.vocab import LABS

__all__ = [
    "AlertCrossing",
    "AssessmentRow",
    "CaseScreen",
    "Feedback",
    "FormState",
    "LabRow",
    "LoadedCase",
    "QuestionPage",
    "VitalChart",
    "alert_crossing",
    "case_body",
    "case_screen",
    "feedback_page",
    "load_case",
    "question_page",
    "render_body",
    "set_context",
]

# Bodies are rendered from the case alone: a fragment template that reaches for anything else
# (the request, the user, a CSRF token) fails loudly instead of freezing an empty value into the cache.
_FRAGMENTS = templates.env.overlay(undefined=StrictUndefined)
ALERT_TEMPLATE = "partials/triage/alert.html"
BODY_TEMPLATE = "partials/triage/case_body.html"
FEEDBACK_TEMPLATE = "partials/triage/feedback_body.html"

# Scale-2 patients (documented hypercapnic failure) have a prescribed 88–92% target
# (clinical-reference §1.1), so their chart shades that band instead of ≥ 96%.
SPO2_SCALE2_BAND = (88.0, 92.0)
UNITS = {"mm[Hg]": "mmHg", "Cel": "°C", "10*3/uL": "×10³/µL", "ug/mL{FEU}": "µg/mL FEU", "/min": "/min", "[pH]": "", "{INR}": ""}
CONSCIOUSNESS = {"A": "Alert", "C": "New confusion", "V": "Responds to voice", "P": "Responds to pain",
                 "U": "Unresponsive"}
O2_DEVICES = {"air": "Room air", "nasal-cannula": "Nasal cannula", "simple-mask": "Simple face mask",
              "venturi-mask": "Venturi mask", "non-rebreather": "Non-rebreather mask"}
BANDS = {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}
FACTOR_STATUS = {
    "explained-by-baseline": "Explained by the documented baseline",
    "changed-from-baseline": "Changed from the baseline",
    "no-documented-baseline": "No documented baseline",
}
ACTION_WORDS = {"escalate": "Escalate", "dismiss": "Dismiss"}


def display_unit(ucum: str) -> str:
    return UNITS.get(ucum, ucum)


@dataclass(frozen=True)
class VitalChart:
    key: str
    label: str
    unit: str
    svg: Markup
    rows: list[TrendRow]


@dataclass(frozen=True)
class LabResult:
    t_min: int
    time_label: str
    value_text: str
    flag: str  # "", "H" or "L"
    after_alert: bool


@dataclass(frozen=True)
class LabRow:
    key: str
    label: str
    unit: str
    ref_text: str
    latest: LabResult | None
    previous: LabResult | None
    trend: str  # "up" | "down" | "same" | ""
    results: list[LabResult]


@dataclass(frozen=True)
class AssessmentRow:
    t_min: int
    time_label: str
    consciousness: str
    oxygen: str
    urine: str
    note: str
    after_alert: bool
    flagged: bool


@dataclass(frozen=True)
class AlertCrossing:
    """Since when the alert score has been at or above the threshold, from the trainee-visible score
    trend (the latest run of scores at or above it, ending with the current one).

    ``kind``: "now" (the current score is the first of the run: it crossed with the latest
    observations), "since" (the run began at an earlier score, ``since_label``), or "window" (every
    score in the trend is at or above the threshold, so the crossing is earlier than the trend shows),
    or "only" (no earlier score in the trend to compare with).
    ``below_label`` is the time of the last score below the threshold, if any; ``first_label`` the
    time of an earlier score at or above it (before a dip below), if any.
    """

    kind: str
    since_min: int
    since_label: str
    below_label: str | None
    first_label: str | None = None


def alert_crossing(view: TraineeView) -> AlertCrossing | None:
    """When a fired alert's score reached the threshold; None when it did not fire.

    Reads only ``view.alert`` (the score trend the trainee sees), never the answer.
    """
    alert = view.alert
    if not alert.fired:
        return None
    pairs = list(zip(alert.trend_times_min, alert.trend_scores, strict=True))
    if not pairs or pairs[-1][0] != 0:
        pairs.append((0, alert.score))
    start = len(pairs) - 1
    while start > 0 and pairs[start - 1][1] >= alert.threshold:
        start -= 1
    since = pairs[start][0]
    below = format_rel_time(pairs[start - 1][0]) if start > 0 else None
    earlier = next((t for t, score in pairs[:start] if score >= alert.threshold), None)
    first = format_rel_time(earlier) if earlier is not None else None
    if start == 0:
        kind = "only" if len(pairs) == 1 else "window"
    elif start == len(pairs) - 1:
        kind = "now"
    else:
        kind = "since"
    return AlertCrossing(kind, since, format_rel_time(since), below, first)


@dataclass(frozen=True)
class QuestionPage:
    """Everything shown before the decision; built from the trainee view alone."""

    view: TraineeView
    show_alert: bool
    charts: list[VitalChart]
    labs: list[LabRow]
    assessments: list[AssessmentRow]
    alert_trend: Markup | None
    band_label: str
    factors: list[tuple[str, str, int]]
    news2_time: str | None = None
    crossing: AlertCrossing | None = None
    chart_past_hours: int = CHART_PAST_HOURS
    """Hours of history the vital charts (and their value tables) show: the last 48 of the record."""
    chart_future_hours: int = 0
    """Hours after the decision drawn dashed (feedback only): the case's future, up to the axis's 24."""
    alert_trend_hours: int = round(-ALERT_TREND_WINDOW_MIN[0] / 60)


@dataclass(frozen=True)
class OutcomeRow:
    label: str
    detail: str
    first_met_min: int | None
    first_met_label: str


@dataclass(frozen=True)
class Verdict:
    correct: bool
    headline: str
    detail: str


@dataclass(frozen=True)
class FactorRow:
    label: str
    value_text: str
    points: int
    status: str
    status_label: str
    change_text: str


@dataclass
class Feedback:
    """The page after the decision: the question page redrawn with what happened next."""

    page: QuestionPage
    answer: CaseAnswer
    decision: Decision
    pre_alert: PreAlertJudgement | None
    verdict: Verdict
    category_label: str
    outcome_met: list[OutcomeRow]
    factor_rows: list[FactorRow]
    your_reason: str
    expected_reasons: list[str]
    reason_note: str | None
    independent_note: str | None
    seconds: float
    extra: dict[str, str] = field(default_factory=dict)


def _marks(*, show_alert: bool, fired: bool) -> tuple[Mark, ...]:
    return (Mark(0.0, "Alert" if show_alert and fired else "Now"),)


def _vital_charts(
    view: TraineeView, *, marks: Sequence[Mark], future: Sequence[Series] = (), after: bool = False
) -> list[VitalChart]:
    band = SPO2_SCALE2_BAND if view.patient.spo2_scale == 2 else None
    future_by_key = {s.key: s for s in future}
    x_range = FEEDBACK_WINDOW_MIN if after else PAST_WINDOW_MIN
    charts: list[VitalChart] = []
    order = list(VITAL_SCALES)
    for series in sorted(view.vitals, key=lambda s: order.index(s.key) if s.key in order else 99):
        if series.key not in VITAL_SCALES:
            continue
        fut = future_by_key.get(series.key)
        scale = VITAL_SCALES[series.key]
        override = band if series.key == "spo2" else None
        f_times = list(fut.times_min) if fut else ([] if after else None)
        f_values = list(fut.values) if fut else ([] if after else None)
        chart_id = f"chart-{series.key}"
        svg = vital_trend_svg(
            series.key, list(series.times_min), list(series.values), chart_id=chart_id, x_range=x_range,
            marks=marks, future_times=f_times, future_values=f_values, band_override=override,
        )
        rows = vital_table_rows(
            series.key, list(series.times_min), list(series.values), x_range=x_range,
            future_times=f_times, future_values=f_values, band_override=override,
        )
        charts.append(VitalChart(series.key, scale.label, scale.unit, svg, rows))
    return charts


def _lab_decimals(key: str) -> int:
    m = LABS.get(key)
    return m.decimals if m else 1


def _flag(value: float, lab: LabSeries, decimals: int) -> str:
    shown = round(value, decimals)
    if lab.ref_high is not None and shown > lab.ref_high:
        return "H"
    if lab.ref_low is not None and shown < lab.ref_low:
        return "L"
    return ""


def _ref_text(lab: LabSeries, decimals: int) -> str:
    lo = format_value(lab.ref_low, decimals) if lab.ref_low is not None else None
    hi = format_value(lab.ref_high, decimals) if lab.ref_high is not None else None
    if lo and hi:
        return f"{lo}–{hi}"
    if hi:
        return f"< {hi}"
    if lo:
        return f"> {lo}"
    return ""


def _lab_rows(view: TraineeView, future: Sequence[LabSeries] = ()) -> list[LabRow]:
    future_by_key = {s.key: s for s in future}
    rows: list[LabRow] = []
    for lab in view.labs:
        decimals = _lab_decimals(lab.key)
        results: list[LabResult] = []
        pairs = [(t, v, False) for t, v in zip(lab.times_min, lab.values, strict=True)]
        fut = future_by_key.get(lab.key)
        if fut is not None:
            pairs += [(t, v, True) for t, v in zip(fut.times_min, fut.values, strict=True)]
        for t, v, after in sorted(pairs, key=lambda p: p[0]):
            if v is None:
                continue
            results.append(LabResult(t, format_rel_time(t), format_value(v, decimals), _flag(v, lab, decimals), after))
        before = [r for r in results if not r.after_alert]
        latest = before[-1] if before else None
        previous = before[-2] if len(before) > 1 else None
        trend = ""
        if latest and previous:
            a, b = float(previous.value_text), float(latest.value_text)
            trend = "up" if b > a else "down" if b < a else "same"
        rows.append(LabRow(lab.key, lab.label, display_unit(lab.unit), _ref_text(lab, decimals), latest, previous,
                           trend, results))
    return rows


def _assessment_row(a: Assessment, after: bool) -> AssessmentRow:
    flow = f" {format_value(a.o2_flow_l_min, 1).removesuffix('.0')} L/min" if a.o2_flow_l_min else ""
    consciousness = CONSCIOUSNESS.get(a.consciousness, a.consciousness)
    if a.consciousness == "A" and not a.oriented:
        consciousness = "Alert, not fully oriented"
    return AssessmentRow(
        t_min=a.t_min,
        time_label=format_rel_time(a.t_min),
        consciousness=consciousness,
        oxygen=O2_DEVICES.get(a.o2_device, a.o2_device) + flow,
        urine="—" if a.urine_output_ml_h is None else f"{a.urine_output_ml_h} mL/h",
        note=a.note,
        after_alert=after,
        flagged=a.consciousness != "A" or a.new_confusion,
    )


def _assessments(view: TraineeView, future: Sequence[Assessment] = ()) -> list[AssessmentRow]:
    rows = [_assessment_row(a, False) for a in view.assessments]
    rows += [_assessment_row(a, True) for a in future]
    return sorted(rows, key=lambda r: r.t_min)


def _alert_trend(view: TraineeView) -> Markup | None:
    alert = view.alert
    if len(alert.trend_times_min) < 2:
        return None
    return trend_svg(
        list(alert.trend_times_min), [float(s) for s in alert.trend_scores], label="Deterioration index score",
        unit="score", y_range=(0, 100), normal_range=(0, alert.threshold), chart_id="chart-di", marks=(),
        height=150, x_range=ALERT_TREND_WINDOW_MIN,
    )


def question_page(view: TraineeView, *, show_alert: bool = True) -> QuestionPage:
    """The case as the nurse sees it before deciding (no alert while `show_alert` is False)."""
    marks = _marks(show_alert=show_alert, fired=view.alert.fired)
    factors = sorted(view.alert.factors, key=lambda f: -f.points)
    return QuestionPage(
        view=view,
        show_alert=show_alert,
        charts=_vital_charts(view, marks=marks),
        labs=_lab_rows(view),
        assessments=_assessments(view),
        alert_trend=_alert_trend(view) if show_alert else None,
        band_label=BANDS.get(view.alert.band, view.alert.band),
        factors=[(f.label, f.value_text, f.points) for f in factors],
        news2_time=format_rel_time(view.news2_latest.t_min) if view.news2_latest else None,
        crossing=alert_crossing(view) if show_alert else None,
        chart_past_hours=min(view.history_hours, CHART_PAST_HOURS),
    )


def _outcome_row(c: OutcomeCriterion) -> OutcomeRow:
    label = format_rel_time(c.first_met_min) if c.first_met_min is not None else ""
    return OutcomeRow(c.label, c.detail, c.first_met_min, label)


def _verdict(decision: Decision, answer: CaseAnswer, fired: bool) -> Verdict:
    happened = "the patient deteriorated" if answer.deteriorated else "the patient stayed stable"
    if decision.action == "escalate":
        did = "You escalated"
    else:
        did = "You dismissed the alert" if fired else "You did not escalate"
    if decision.correct:
        headline = "Correct"
        detail = f"{did}, and {happened} over the next {answer.future_hours} hours."
    else:
        headline = "Not the best call"
        detail = (
            f"{did}, but {happened} over the next {answer.future_hours} hours."
            + (" This was a missed deterioration." if answer.deteriorated else " The escalation was not needed.")
        )
    return Verdict(decision.correct, headline, detail)


def feedback_page(
    view: TraineeView, answer: CaseAnswer, decision: Decision, pre_alert: PreAlertJudgement | None
) -> Feedback:
    """The decided case: same charts with the next hours dashed, and why the alert fired."""
    marks = _marks(show_alert=True, fired=view.alert.fired)
    factors = sorted(view.alert.factors, key=lambda f: -f.points)
    page = QuestionPage(
        view=view,
        show_alert=True,
        charts=_vital_charts(view, marks=marks, future=answer.future_vitals, after=True),
        labs=_lab_rows(view, answer.future_labs),
        assessments=_assessments(view, answer.future_assessments),
        alert_trend=_alert_trend(view),
        band_label=BANDS.get(view.alert.band, view.alert.band),
        factors=[(f.label, f.value_text, f.points) for f in factors],
        news2_time=format_rel_time(view.news2_latest.t_min) if view.news2_latest else None,
        crossing=alert_crossing(view),
        chart_past_hours=min(view.history_hours, CHART_PAST_HOURS),
        chart_future_hours=min(answer.future_hours, CHART_FUTURE_HOURS),
    )
    factor_rows = [
        FactorRow(f.label, f.value_text, f.points, f.status, FACTOR_STATUS.get(f.status, f.status), f.change_text)
        for f in sorted(answer.explanation.factors, key=lambda f: -f.points)
    ]
    if decision.action == "escalate":
        your_reason = ESCALATE_REASONS.get(decision.reason or "", "Escalate")
    else:
        your_reason = DISMISS_REASONS.get(decision.reason or "", decision.reason or "")
        if decision.reason == "other" and decision.reason_text:
            your_reason = f"Other: {decision.reason_text}"
    expected = [DISMISS_REASONS[r] for r in answer.acceptable_dismissal_reasons if r in DISMISS_REASONS]
    reason_note = None
    if (
        decision.action == "dismiss"
        and decision.correct
        and answer.acceptable_dismissal_reasons
        and decision.reason not in answer.acceptable_dismissal_reasons
    ):
        reason_note = "Dismissing was right, but the reason that explains this case is: " + "; ".join(expected) + "."
    independent_note = None
    if pre_alert is not None:
        same = pre_alert.action == decision.action
        before = ACTION_WORDS.get(pre_alert.action, pre_alert.action).lower()
        independent_note = (
            f"Before seeing the alert you would have chosen to {before}; "
            + ("you kept that call after seeing the alert." if same else "the alert changed your call.")
        )
    return Feedback(
        page=page,
        answer=answer,
        decision=decision,
        pre_alert=pre_alert,
        verdict=_verdict(decision, answer, view.alert.fired),
        category_label=CATEGORIES.get(answer.explanation.category, answer.explanation.category_label),
        outcome_met=[_outcome_row(c) for c in answer.outcome_criteria if c.met],
        factor_rows=factor_rows,
        your_reason=your_reason,
        expected_reasons=expected,
        reason_note=reason_note,
        independent_note=independent_note,
        seconds=round(decision.time_to_decide_ms / 1000, 1),
    )


# --------------------------------------------------------------------------------------------------
# The whole case screen: which state the case is in and what the page offers next


@dataclass
class FormState:
    """The decision form as last submitted (shown back with errors after a 422)."""

    errors: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    reason: str | None = None
    escalate_to: str | None = None
    reason_text: str | None = None
    confidence: str | None = None
    idempotency_key: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def confidence_value(self) -> int:
        try:
            value = int(self.confidence or CONFIDENCE_DEFAULT)
        except ValueError:
            return CONFIDENCE_DEFAULT
        return min(max(value, CONFIDENCE_MIN), CONFIDENCE_MAX)


@dataclass
class CaseScreen:
    attempt: CaseAttempt
    state: str  # "pre-alert" | "deciding" | "decided"
    heading: str
    position_label: str
    set_title: str
    set_url: str
    next_url: str | None  # POST target for "next case"; None when the set is done or read-only
    read_only: bool
    owner_name: str | None
    body: CaseBody  # the immutable middle of the page, rendered once per attempt and state
    pre_alert: PreAlertJudgement | None
    form: FormState
    notice: str | None
    dismiss_reasons: dict[str, str]
    escalate_reasons: dict[str, str]
    confidence_min: int = CONFIDENCE_MIN
    confidence_max: int = CONFIDENCE_MAX

    @property
    def chart_hours(self) -> int:
        """Hours of history on the vital charts (the record may hold more: ``body.history_hours``)."""
        return min(self.body.history_hours, CHART_PAST_HOURS)


@dataclass(frozen=True)
class LoadedCase:
    """An attempt with what decides its page: decision, pre-alert judgement, drill."""

    attempt: CaseAttempt
    decision: Decision | None
    pre_alert: PreAlertJudgement | None
    drill: Drill | None


# Built once: constructing the statement costs more than running it (a primary-key lookup).
_LOAD_CASE = (
    select(CaseAttempt, Decision, PreAlertJudgement, Drill)
    .outerjoin(Decision, col(Decision.attempt_id) == CaseAttempt.id)
    .outerjoin(PreAlertJudgement, col(PreAlertJudgement.attempt_id) == CaseAttempt.id)
    .outerjoin(Drill, col(Drill.id) == CaseAttempt.drill_id)
    .where(CaseAttempt.id == bindparam("attempt_id"))
    .options(defer(CaseAttempt.view_json), defer(CaseAttempt.answer_json))  # type: ignore[arg-type]
)


def load_case(session: Session, attempt_id: int) -> LoadedCase | None:
    """The attempt, its decision, pre-alert judgement and drill in one query.

    The stored case (view and answer JSON) is deferred: a page served from the body cache never
    reads it, and the answer is only read when a decided body is rendered.
    """
    row = session.exec(_LOAD_CASE, params={"attempt_id": attempt_id}).first()
    if row is None:
        return None
    attempt, decision, pre, drill = row
    return LoadedCase(attempt, decision, pre, drill)


_LOAD_VIEWER_CASE = (
    signed_in_attempt_select(PreAlertJudgement, Drill)
    .outerjoin(PreAlertJudgement, col(PreAlertJudgement.attempt_id) == CaseAttempt.id)
    .outerjoin(Drill, col(Drill.id) == CaseAttempt.drill_id)
)


def load_viewer_case(
    session: Session, token: str | None, attempt_id: int
) -> tuple[UserSession, User, LoadedCase | None] | None:
    """The signed-in user's session and account with `load_case`'s rows, in one query.

    None when the token names no live session (the caller answers as for anyone anonymous);
    the case part is None when no such attempt exists. Access is the caller's to check.
    """
    row = signed_in_row(session, _LOAD_VIEWER_CASE, token, attempt_id)
    if row is None:
        return None
    us, user, attempt, decision_id, pre, drill = row
    if attempt is None:
        return us, user, None
    decision = session.get(Decision, decision_id) if decision_id is not None else None
    return us, user, LoadedCase(attempt, decision, pre, drill)


def _set_info(attempt: CaseAttempt, drill: Drill | None) -> tuple[str, str, str, str | None, int]:
    """(set title, set url, position label, next-case POST url, cases in set)."""
    if attempt.drill_id is not None:
        n = drill.n_cases if drill else 0
        title = drill.title if drill else "Drill"
        return title, f"/drills/{attempt.drill_id}", f"Case {attempt.position + 1} of {n}", \
            f"/drills/{attempt.drill_id}/next", n
    round_no = practice_round_of(attempt.position)
    label = f"Case {attempt.position - round_no * PRACTICE_SIZE + 1} of {PRACTICE_SIZE}"
    return f"Practice round {round_no + 1}", f"/practice?round={round_no}", label, "/practice/next", PRACTICE_SIZE


def _state(attempt: CaseAttempt, decision: Decision | None, pre: PreAlertJudgement | None) -> str:
    if decision is not None:
        return "decided"
    if attempt.independent_first and pre is None:
        return "pre-alert"
    return "deciding"


class _BodyScreen:
    """What the trainee partials read from `screen` when a body is rendered (no request state)."""

    def __init__(self, page: QuestionPage, pre_alert: PreAlertJudgement | None) -> None:
        self.page = page
        self.pre_alert = pre_alert


def render_body(
    attempt: CaseAttempt, state: str, decision: Decision | None, pre: PreAlertJudgement | None
) -> CaseBody:
    """Render the immutable middle of the page from the stored case (a cache miss).

    Only the "decided" state reads the answer, and only with its decision in hand.
    """
    view = view_of(attempt)
    feedback: Feedback | None = None
    if state == "decided":
        if decision is None:
            raise ValueError("a decided body needs its decision")
        feedback = feedback_page(view, answer_of(attempt), decision, pre)
        page = feedback.page
    else:
        page = question_page(view, show_alert=state != "pre-alert")
    env = _FRAGMENTS
    ctx = {"v": view, "screen": _BodyScreen(page, pre), "fb": feedback}
    alert = Markup(env.get_template(ALERT_TEMPLATE).render(ctx)) if page.show_alert else None  # noqa: S704
    data = Markup(env.get_template(BODY_TEMPLATE).render(ctx))  # noqa: S704 - autoescaped templates
    fb_markup = Markup(env.get_template(FEEDBACK_TEMPLATE).render(ctx)) if feedback else None  # noqa: S704
    return CaseBody(
        alert=alert,
        data=data,
        feedback=fb_markup,
        fired=view.alert.fired,
        time_of_day=view.decision_time_of_day,
        history_hours=view.history_hours,
        title=feedback.answer.explanation.title if feedback else None,
    )


def case_body(
    attempt: CaseAttempt, state: str, decision: Decision | None, pre: PreAlertJudgement | None
) -> CaseBody:
    """The page's immutable middle from the worker's cache, rendered on a miss.

    Callers check access first. The key names the attempt, the state, the decision and the
    pre-alert judgement (both append-only), so a body is only ever served for the attempt, and
    the decision, it was rendered from.
    """
    if attempt.id is None:
        return render_body(attempt, state, decision, pre)
    key = fragment_key(attempt, state, decision, pre)
    return body_cache.get_or_render(key, lambda: render_body(attempt, state, decision, pre))


def case_screen(
    session: Session,
    attempt: CaseAttempt,
    *,
    viewer: User,
    form: FormState | None = None,
    notice: str | None = None,
    loaded: LoadedCase | None = None,
) -> CaseScreen:
    """Assemble the case page. The answer is read only when a decision is stored."""
    if loaded is None or loaded.attempt is not attempt:
        loaded = load_case(session, attempt.id or 0) or LoadedCase(attempt, None, None, None)
    decision, pre = loaded.decision, loaded.pre_alert
    read_only = viewer.id != attempt.trainee_id
    set_title, set_url, position_label, next_url, n_cases = _set_info(attempt, loaded.drill)
    state = _state(attempt, decision, pre)
    body = case_body(attempt, state, decision, pre)
    if state == "decided" and not read_only and _set_done(session, attempt, loaded.drill, n_cases):
        next_url = None
    owner = session.get(User, attempt.trainee_id) if read_only else None
    return CaseScreen(
        attempt=attempt,
        state=state,
        heading=f"{position_label} · {set_title}",
        position_label=position_label,
        set_title=set_title,
        set_url=set_url,
        next_url=None if read_only else next_url,
        read_only=read_only,
        owner_name=owner.display_name if owner else None,
        body=body,
        pre_alert=pre,
        form=form or FormState(),
        notice=notice,
        dismiss_reasons=DISMISS_REASONS,
        escalate_reasons=ESCALATE_REASONS,
    )


def _decided_in(*in_set: ColumnElement[bool]) -> SelectOfScalar[int]:
    return (
        select(func.count())
        .select_from(Decision)
        .join(CaseAttempt, col(CaseAttempt.id) == Decision.attempt_id)
        .where(CaseAttempt.trainee_id == bindparam("trainee_id"), *in_set)
    )


# Decisions in one drill's positions 0..n-1, or in one practice round's positions [first, last).
_DECIDED_IN_DRILL = _decided_in(
    col(CaseAttempt.drill_id) == bindparam("drill_id"),
    col(CaseAttempt.position) >= 0,
    col(CaseAttempt.position) < bindparam("n_cases"),
)
_DECIDED_IN_ROUND = _decided_in(
    col(CaseAttempt.drill_id).is_(None),
    col(CaseAttempt.position) >= bindparam("first"),
    col(CaseAttempt.position) < bindparam("last"),
)


def _set_done(session: Session, attempt: CaseAttempt, drill: Drill | None, n_cases: int) -> bool:
    """Whether every case of the attempt's drill or practice round is decided (one COUNT)."""
    if attempt.drill_id is None:
        first = practice_round_of(attempt.position) * PRACTICE_SIZE
        stmt = _DECIDED_IN_ROUND
        params: dict[str, int] = {"first": first, "last": first + PRACTICE_SIZE}
    elif drill is None:
        return False
    else:
        stmt = _DECIDED_IN_DRILL
        params = {"drill_id": attempt.drill_id, "n_cases": n_cases}
    decided = session.exec(stmt, params={"trainee_id": attempt.trainee_id, **params}).one()
    return int(decided) >= n_cases


@dataclass(frozen=True)
class SetRow:
    label: str
    status: str
    title: str | None
    correct: bool | None
    action: str | None
    deteriorated: bool | None
    url: str | None


def set_context(
    progress: SetProgress,
    *,
    title: str,
    next_url: str,
    drill: Drill | None = None,
    practice_round: int | None = None,
) -> dict[str, Any]:
    """Context for a drill or practice round page: progress while open, summary when done."""
    rows: list[SetRow] = []
    for i, s in enumerate(progress.states):
        d = s.decision
        if d is not None:
            status = "Correct" if d.correct else "Not the best call"
        elif s.attempt is not None:
            status = "In progress"
        else:
            status = "Not started"
        rows.append(SetRow(
            label=f"Case {i + 1}",
            status=status,
            title=s.title,
            correct=d.correct if d else None,
            action=ACTION_WORDS.get(d.action) if d else None,
            deteriorated=d.deteriorated if d else None,
            url=f"/attempts/{s.attempt.id}" if s.attempt is not None and d is not None else None,
        ))
    return {
        "title": title,
        "progress": progress,
        "rows": rows,
        "next_url": next_url,
        "drill": drill,
        "practice_round": practice_round,
        "started": any(s.attempt is not None for s in progress.states),
    }
