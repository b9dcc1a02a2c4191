"""The case page's fixed time axis covers every scenario's future, its headings say what is drawn, and
the alert panel says since when the score has been at or above the threshold (from the trainee view)."""

from __future__ import annotations

import re
from functools import cache

import pytest

from app.charts import CHART_FUTURE_HOURS, CHART_PAST_HOURS, FEEDBACK_WINDOW_MIN, PAST_WINDOW_MIN
from app.models import Decision
from app.services import case_screen as cs
from simulator import load_scenario, simulate
from simulator.case import Case, TraineeView
from tests.unit.conftest import SCENARIOS


@cache
def _case(scenario_id: str, seed: int) -> Case:
    return simulate(load_scenario(SCENARIOS / f"{scenario_id}.yaml"), seed)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _question_html(view: TraineeView) -> str:
    page = cs.question_page(view)
    ctx = {"v": view, "screen": cs._BodyScreen(page, None), "fb": None}
    env = cs._FRAGMENTS
    return env.get_template(cs.ALERT_TEMPLATE).render(ctx) + env.get_template(cs.BODY_TEMPLATE).render(ctx)


def _feedback(case: Case) -> tuple[cs.Feedback, str]:
    decision = Decision(
        attempt_id=1, action="escalate", reason="rapid-response", confidence=60, correct=case.answer.deteriorated,
        time_to_decide_ms=5000, deteriorated=case.answer.deteriorated,
    )
    fb = cs.feedback_page(case.view, case.answer, decision, None)
    ctx = {"v": case.view, "screen": cs._BodyScreen(fb.page, None), "fb": fb}
    env = cs._FRAGMENTS
    html = env.get_template(cs.BODY_TEMPLATE).render(ctx) + env.get_template(cs.FEEDBACK_TEMPLATE).render(ctx)
    return fb, html


def test_fixed_axes_cover_48_hours_back_and_24_ahead() -> None:
    assert PAST_WINDOW_MIN == (-48 * 60, 0)
    assert FEEDBACK_WINDOW_MIN == (-48 * 60, 24 * 60)
    assert (CHART_PAST_HOURS, CHART_FUTURE_HOURS) == (48, 24)


def test_every_library_scenario_future_fits_the_feedback_axis() -> None:
    futures = {p.stem: load_scenario(p).timing.future_hours for p in sorted(SCENARIOS.glob("*.yaml"))}
    assert futures and max(futures.values()) == CHART_FUTURE_HOURS, futures


def test_a_24_hour_future_is_drawn_and_listed_to_plus_24h() -> None:
    case = _case("sepsis-afebrile-elderly", 0)
    assert case.answer.future_hours == 24
    late = [c for c in case.answer.outcome_criteria if c.met and (c.first_met_min or 0) > 12 * 60]
    assert late, "this seed's criteria are met after +12h"
    fb, html = _feedback(case)
    assert fb.page.chart_future_hours == 24
    for chart in fb.page.charts:
        after = [r.t_min for r in chart.rows if r.after_alert]
        assert after and max(after) > 12 * 60, chart.key
        # The SVG draws exactly the rows the table lists: one hollow point per recorded future value.
        recorded_after = [r for r in chart.rows if r.after_alert and r.value is not None]
        assert chart.svg.count("chart-pt-future") == len(recorded_after), chart.key
        assert ">+24h</text>" in chart.svg
    text = _text(html)
    assert "Over the next 24 hours the patient met" in text
    assert "The charts below now show those 24 hours as dashed lines." in text
    assert "before and after the decision (48 hours before it, 24 hours after)" in text


def test_a_12_hour_future_says_12_hours_on_the_same_axis() -> None:
    case = _case("sepsis-classic", 0)
    assert case.answer.future_hours == 12
    fb, html = _feedback(case)
    assert fb.page.chart_future_hours == 12
    assert ">+24h</text>" in fb.page.charts[0].svg  # the same axis on every case
    text = _text(html)
    assert "The charts below now show those 12 hours as dashed lines." in text
    assert "what happened in the 12 hours after the decision" in text


def test_a_longer_future_than_the_axis_says_only_the_first_24_hours_are_drawn() -> None:
    case = _case("sepsis-afebrile-elderly", 0)
    longer = case.model_copy(update={"answer": case.answer.model_copy(update={"future_hours": 36})})
    fb, html = _feedback(longer)
    assert fb.page.chart_future_hours == 24
    assert "The charts below now show the first 24 of those hours as dashed lines." in _text(html)


def test_72_hours_of_history_are_charted_as_the_last_48_and_headed_so() -> None:
    case = _case("post-dialysis-expected-course", 0)
    assert case.view.history_hours == 72
    assert min(t for s in case.view.vitals for t in s.times_min) < -48 * 60  # the record is longer
    page = cs.question_page(case.view)
    assert page.chart_past_hours == 48
    for chart in page.charts:
        assert min(r.t_min for r in chart.rows) >= -48 * 60, chart.key
    text = _text(_question_html(case.view))
    assert "Vital signs: last 48 hours" in text
    assert "last 72 hours" not in text
    assert "The charts show the last 48 of the 72 hours on record" in text


def _with_trend(view: TraineeView, times: tuple[int, ...], scores: tuple[int, ...]) -> TraineeView:
    alert = view.alert.model_copy(
        update={"trend_times_min": times, "trend_scores": scores, "score": scores[-1], "fired": True,
                "threshold": 60.0}
    )
    return view.model_copy(update={"alert": alert})


@pytest.fixture(scope="module")
def fired_view() -> TraineeView:
    view = _case("sepsis-classic", 0).view
    assert view.alert.fired
    return view


def test_alert_that_crossed_hours_ago_says_since_when(fired_view: TraineeView) -> None:
    view = _with_trend(fired_view, (-600, -480, -360, -240, -120, 0), (40, 50, 70, 75, 80, 85))
    crossing = cs.alert_crossing(view)
    assert crossing is not None and (crossing.kind, crossing.since_min) == ("since", -360)
    text = _text(_question_html(view))
    assert (
        f"The score has been at or above the alert threshold (60) since -6h (it was below it at -8h). "
        f"It is now {view.decision_time_of_day}." in text
    )
    assert "crossed the alert threshold" not in text


def test_alert_that_crossed_with_the_latest_reading_says_now(fired_view: TraineeView) -> None:
    view = _with_trend(fired_view, (-240, -120, 0), (30, 50, 70))
    text = _text(_question_html(view))
    assert (
        f"The score crossed the alert threshold (60) now, at {view.decision_time_of_day}: at -2h it was still "
        "below it." in text
    )
    assert "since" not in cs.alert_crossing(view).kind  # type: ignore[union-attr]


def test_alert_above_for_the_whole_trend_says_since_at_least(fired_view: TraineeView) -> None:
    view = _with_trend(fired_view, (-1380, -600, 0), (65, 90, 95))
    text = _text(_question_html(view))
    assert "at every reading of the last 24 hours, so since -23h at least." in text


def test_alert_that_dipped_mentions_the_earlier_crossing(fired_view: TraineeView) -> None:
    view = _with_trend(fired_view, (-300, -200, -100, 0), (65, 40, 70, 75))
    text = _text(_question_html(view))
    assert "since -1h 40m (it was below it at -3h 20m)" in text
    assert "It had already reached the threshold at -5h before dipping below." in text


def test_no_alert_keeps_the_quiet_wording() -> None:
    view = _case("sepsis-afebrile-elderly", 0).view
    assert not view.alert.fired and cs.alert_crossing(view) is None
    assert "nothing fired" in _text(_question_html(view))


def test_library_cases_that_crossed_earlier_no_longer_say_now() -> None:
    """The reviewer's cases: fixed-time scenarios whose score was above the threshold before now."""
    for scenario_id in ("sepsis-classic", "copd-hypercapnic-deterioration"):
        view = _case(scenario_id, 0).view
        crossing = cs.alert_crossing(view)
        assert crossing is not None and crossing.kind in ("since", "window") and crossing.since_min < 0
        text = _text(_question_html(view))
        assert f"since {crossing.since_label}" in text
        assert "crossed the alert threshold (60) now" not in text
