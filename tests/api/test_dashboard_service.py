"""The dashboard's SQL aggregates against hand-worked numbers (SQLite and PostgreSQL).

Worked example (tests/api/dashboard_fixtures.WORKED), one trainee, eight decisions:

| # | truth        | alert | action   | conf | own call | ms     | cell | p(det) | (p−o)² |
|---|--------------|-------|----------|------|----------|--------|------|--------|--------|
| 1 | deteriorated | yes   | escalate | 90   | escalate | 1,000  | hit  | 0.90   | 0.01   |
| 2 | deteriorated | yes   | escalate | 80   | –        | 2,000  | hit  | 0.80   | 0.04   |
| 3 | deteriorated | no    | escalate | 60   | escalate | 3,000  | hit  | 0.60   | 0.16   |
| 4 | deteriorated | no    | dismiss  | 70   | escalate | 4,000  | miss | 0.30   | 0.49   |
| 5 | stable       | yes   | escalate | 50   | dismiss  | 10,000 | FA   | 0.50   | 0.25   |
| 6 | stable       | yes   | dismiss  | 100  | dismiss  | 20,000 | CR   | 0.00   | 0      |
| 7 | stable       | no    | dismiss  | 90   | –        | 30,000 | CR   | 0.10   | 0.01   |
| 8 | stable       | no    | dismiss  | 75   | escalate | 40,000 | CR   | 0.25   | 0.0625 |

Accuracy 6/8; sensitivity 3/4; specificity 3/4. Log-linear H = 3.5/5 = 0.7, F = 1.5/5 = 0.3, so
d′ = 2·z(0.7) = 1.048801 and c = 0. Brier = 1.0225/8 = 0.1278125. Automation bias: six cases have
an own call; #4 (own call right, dismissed with no alert) and #5 (own call right, escalated the false
alert) switched to the AI's wrong advice: 2/6. No-alert deteriorations #3, #4, one missed: 1/2.
Median time (4,000 + 10,000)/2 = 7,000 ms.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app import metrics
from app.services import dashboard as dash
from tests.api import dashboard_fixtures as fx
from tests.api.dashboard_fixtures import WORKED, D


@pytest.fixture
def ward(db):
    u = fx.unit(db, "Ward A")
    other = fx.unit(db, "Ward B")
    return db, u, other


def _row(summary: dash.UnitSummary, trainee_id: int) -> dash.TraineeRow:
    return next(r for r in summary.rows if r.trainee_id == trainee_id)


def test_worked_example_matches_hand_computation(ward):
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    fx.add(db, t, WORKED)
    row = _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id)
    c = row.counts
    assert (c.n, c.correct, c.hits, c.misses, c.false_alarms, c.correct_rejections) == (8, 6, 3, 1, 1, 3)
    assert c.accuracy == 0.75 and c.sensitivity == 0.75 and c.specificity == 0.75
    assert c.d_prime == pytest.approx(1.048801, abs=1e-6)
    assert c.criterion == pytest.approx(0.0, abs=1e-9)
    assert c.brier == pytest.approx(0.1278125)
    assert (c.automation_bias, c.with_independent) == (2, 6)
    assert c.automation_bias_rate == pytest.approx(1 / 3)
    assert (c.no_alert_misses, c.no_alert_deteriorations, c.no_alert_miss_rate) == (1, 2, 0.5)
    assert row.median_ms == 7000
    assert c.mean_confidence == pytest.approx(615 / 8)


def test_sql_agrees_with_the_pure_metric_functions(ward):
    """The database path and app.metrics give the same numbers on the same cases."""
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    fx.add(db, t, WORKED)
    c = _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id).counts
    cases = [
        metrics.DecisionCase(
            deteriorating=d.det, ai_alert=d.alert, final_escalate=d.action == "escalate",
            initial_escalate=None if d.indep is None else d.indep == "escalate",
        )
        for d in WORKED
    ]
    ref = metrics.sdt_from_cases(cases)
    assert c.d_prime == pytest.approx(ref.d_prime) and c.criterion == pytest.approx(ref.criterion)
    assert c.automation_bias_rate == pytest.approx(metrics.automation_bias_rate(cases))
    assert c.no_alert_miss_rate == pytest.approx(metrics.omission_error(cases))
    probs = [metrics.p_deteriorating(d.action, d.conf) for d in WORKED]  # type: ignore[arg-type]
    assert c.brier == pytest.approx(metrics.brier(probs, [d.det for d in WORKED]))


def test_trainee_without_cases_is_listed_with_no_rates(ward):
    db, u, _ = ward
    t = fx.user(db, "new", "trainee", u)
    summary = dash.unit_summary(db, u, dash.Scope(unit_id=u.id))
    row = _row(summary, t.id)
    c = row.counts
    assert c.n == 0
    assert c.accuracy is None and c.sensitivity is None and c.specificity is None
    assert c.d_prime is None and c.criterion is None and c.brier is None
    assert c.automation_bias_rate is None and c.no_alert_miss_rate is None
    assert row.median_ms is None and row.last_decision_at is None
    assert summary.totals.n == 0 and summary.median_ms is None and summary.mean_d_prime is None


def test_all_correct_uses_the_log_linear_correction(ward):
    """Rates of 1 and 0: H = 2.5/3, F = 0.5/3, so d′ = 2·z(5/6) = 1.934843 and c = 0."""
    db, u, _ = ward
    t = fx.user(db, "perfect", "trainee", u)
    fx.add(db, t, [
        D(det=True, alert=True, action="escalate", conf=100),
        D(det=True, alert=False, action="escalate", conf=100),
        D(det=False, alert=True, action="dismiss", conf=100),
        D(det=False, alert=False, action="dismiss", conf=100),
    ])
    c = _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id).counts
    assert c.accuracy == 1.0 and c.sensitivity == 1.0 and c.specificity == 1.0
    assert c.d_prime == pytest.approx(1.934843, abs=1e-6)
    assert c.criterion == pytest.approx(0.0, abs=1e-9)
    assert c.brier == 0.0
    assert c.no_alert_miss_rate == 0.0


def test_all_wrong_gives_negative_d_prime(ward):
    db, u, _ = ward
    t = fx.user(db, "wrong", "trainee", u)
    fx.add(db, t, [
        D(det=True, alert=False, action="dismiss", conf=100),
        D(det=False, alert=True, action="escalate", conf=100),
    ])
    c = _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id).counts
    # H = 0.5/2 = 0.25, F = 1.5/2 = 0.75: d′ = −2·z(0.75) = −1.348980.
    assert c.accuracy == 0.0 and c.sensitivity == 0.0 and c.specificity == 0.0
    assert c.d_prime == pytest.approx(-1.348980, abs=1e-6)
    assert c.brier == 1.0
    assert c.no_alert_miss_rate == 1.0


def test_one_class_only_has_no_d_prime(ward):
    db, u, _ = ward
    t = fx.user(db, "signals", "trainee", u)
    fx.add(db, t, [D(det=True, alert=True, action="escalate"), D(det=True, alert=True, action="escalate")])
    c = _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id).counts
    assert c.sensitivity == 1.0 and c.specificity is None
    assert c.d_prime is None and c.criterion is None


def test_unit_row_adds_up_trainee_tallies(ward):
    db, u, _ = ward
    ann = fx.user(db, "ann", "trainee", u)
    bob = fx.user(db, "bob", "trainee", u)
    cat = fx.user(db, "cat", "trainee", u)
    fx.add(db, ann, WORKED)  # median 7,000 ms, d′ 1.048801
    fx.add(db, bob, [
        D(det=True, alert=True, action="escalate", ms=2000),
        D(det=False, alert=False, action="dismiss", ms=3000),
    ])  # median 2,500 ms; H = 1.5/2, F = 0.5/2: d′ = 2·z(0.75) = 1.348980
    fx.add(db, cat, [D(det=True, alert=True, action="escalate", ms=9000)])  # one class only: no d′
    summary = dash.unit_summary(db, u, dash.Scope(unit_id=u.id))
    t = summary.totals
    assert (t.n, t.correct, t.hits, t.misses, t.false_alarms, t.correct_rejections) == (11, 9, 5, 1, 1, 4)
    assert t.brier == pytest.approx((1.0225 + 0.04 + 0.04 + 0.04) / 11)
    assert summary.median_ms == 7000  # median of 7,000, 2,500 and 9,000
    assert summary.mean_d_prime == pytest.approx((1.048801 + 1.348980) / 2, abs=1e-6)


def test_median_of_an_odd_count_is_the_middle_value(ward):
    db, u, _ = ward
    t = fx.user(db, "odd", "trainee", u)
    fx.add(db, t, [D(det=True, alert=True, action="escalate", ms=ms) for ms in (9000, 1000, 5000)])
    assert _row(dash.unit_summary(db, u, dash.Scope(unit_id=u.id)), t.id).median_ms == 5000


def test_only_the_units_decisions_count(ward):
    db, u, other = ward
    mine = fx.user(db, "mine", "trainee", u)
    theirs = fx.user(db, "theirs", "trainee", other)
    fx.add(db, mine, [D(det=True, alert=True, action="escalate")])
    fx.add(db, theirs, [D(det=True, alert=True, action="dismiss")] * 3)
    summary = dash.unit_summary(db, u, dash.Scope(unit_id=u.id))
    assert [r.trainee_id for r in summary.rows] == [mine.id]
    assert summary.totals.n == 1


def test_a_trainee_who_moved_keeps_their_decisions_here(ward):
    db, u, other = ward
    moved = fx.user(db, "moved", "trainee", other)
    fx.add(db, moved, [D(det=True, alert=True, action="escalate")], unit_id=u.id)
    summary = dash.unit_summary(db, u, dash.Scope(unit_id=u.id))
    assert [(r.trainee_id, r.counts.n) for r in summary.rows] == [(moved.id, 1)]
    assert dash.trainee_in_unit(db, u, moved.id) == moved
    with pytest.raises(dash.UnitAccessError) as err:
        dash.trainee_in_unit(db, other, fx.user(db, "x", "trainee", u).id)
    assert err.value.status == 403


def test_time_window_is_half_open(ward):
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    fx.add(db, t, [
        D(det=True, alert=True, action="escalate", at=fx.BASE),
        D(det=True, alert=True, action="dismiss", at=fx.BASE + timedelta(days=1)),
        D(det=True, alert=True, action="dismiss", at=fx.BASE + timedelta(days=2)),
    ])
    scope = dash.Scope(unit_id=u.id, since=fx.BASE + timedelta(days=1), until=fx.BASE + timedelta(days=2))
    assert dash.unit_summary(db, u, scope).totals.n == 1
    recent = dash.scope_for_days(u.id, 1, now=fx.BASE + timedelta(days=2, hours=1))
    assert dash.unit_summary(db, u, recent).totals.n == 1


def test_category_breakdown(ward):
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    fx.add(db, t, WORKED)
    b = dash.category_breakdown(db, dash.Scope(unit_id=u.id))
    # Vocabulary order, not alphabetical.
    assert b.categories == ["chronic-baseline-fp", "true-deterioration", "stable-no-alert"]
    det = b.cell(t.id, "true-deterioration")
    assert det is not None
    assert (det.counts.n, det.counts.hits, det.counts.misses, det.counts.accuracy) == (4, 3, 1, 0.75)
    fp = b.cell(t.id, "chronic-baseline-fp")
    assert fp is not None and (fp.counts.false_alarms, fp.counts.correct_rejections) == (1, 1)
    assert fp.expected_action == "dismiss"
    assert b.unit_totals["stable-no-alert"].counts.accuracy == 1.0


def test_weekly_trend_buckets_by_monday(ward):
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    sunday_night = fx.BASE.replace(day=22, hour=23, minute=30)  # Sunday 22 Nov 2026
    fx.add(db, t, [
        D(det=True, alert=True, action="escalate", at=fx.BASE),  # Wed 18 Nov -> week of Mon 16 Nov
        D(det=True, alert=True, action="dismiss", at=sunday_night),  # same week
        D(det=True, alert=True, action="escalate", at=sunday_night + timedelta(hours=1)),  # Mon 23 Nov
    ])
    points = dash.weekly_trend(db, dash.Scope(unit_id=u.id))
    assert [(p.week, p.counts.n, p.counts.correct) for p in points] == [
        (date(2026, 11, 16), 2, 1),
        (date(2026, 11, 23), 1, 1),
    ]
    chart = dash.trend_chart(points)
    assert chart is not None
    acc = chart.series[0]
    assert acc.key == "accuracy" and len(acc.points) == 2
    # 50 % sits half way down the plot, 100 % at the top.
    assert acc.points[0][1] == pytest.approx(chart.top + (chart.height - chart.top - chart.bottom) / 2)
    assert acc.points[1][1] == chart.top
    assert "50%" in chart.description and "100%" in chart.description


def test_trend_chart_breaks_the_line_over_an_empty_week():
    c = dash.Counts(n=1, correct=1, hits=1)
    points = [dash.TrendPoint(date(2026, 11, 2), c), dash.TrendPoint(date(2026, 11, 16), c)]
    chart = dash.trend_chart(points)
    assert chart is not None
    assert len(chart.series[0].paths) == 2  # one per week with data, no line across the gap
    assert dash.trend_chart([]) is None


def test_sorting_puts_missing_values_last_both_ways():
    def row(name: str, correct: int, n: int) -> dash.TraineeRow:
        return dash.TraineeRow(len(name), name, name, dash.Counts(n=n, correct=correct))

    rows = [row("b", 1, 2), row("none", 0, 0), row("a", 2, 2), row("c", 0, 2)]
    asc = [r.name for r in dash.sort_rows(rows, "accuracy", descending=False)]
    desc = [r.name for r in dash.sort_rows(rows, "accuracy", descending=True)]
    assert asc == ["c", "b", "a", "none"]
    assert desc == ["a", "b", "c", "none"]
    assert [r.name for r in dash.sort_rows(rows, "bogus", descending=False)] == ["a", "b", "c", "none"]


def test_threshold_flags_the_worse_side():
    good = dash.TraineeRow(1, "good", "good", dash.Counts(n=10, correct=9, with_independent=10, automation_bias=1))
    poor = dash.TraineeRow(2, "poor", "poor", dash.Counts(n=10, correct=6, with_independent=10, automation_bias=4))
    empty = dash.TraineeRow(3, "empty", "empty", dash.Counts())
    t = dash.threshold_value("accuracy", "70")
    assert t == 0.7
    assert [r.flagged for r in dash.flag_rows([good, poor, empty], "accuracy", t)] == [False, True, False]
    # Lower is better for automation bias: flag those above 20 %.
    t = dash.threshold_value("automation_bias", "20%")
    assert [r.flagged for r in dash.flag_rows([good, poor, empty], "automation_bias", t)] == [False, True, False]
    assert dash.threshold_value("accuracy", "") is None
    assert dash.threshold_value("accuracy", "abc") is None
    assert dash.threshold_value("criterion", "0") is None  # neither direction is worse
    assert dash.threshold_value("d_prime", "1.5") == 1.5


def test_decision_pages_are_keyset_paginated(ward):
    db, u, _ = ward
    t = fx.user(db, "ann", "trainee", u)
    rows = fx.add(db, t, WORKED)
    scope = dash.Scope(unit_id=u.id)
    first, nxt = dash.decisions_page(db, scope, limit=5)
    assert [r.id for r in first] == [r.id for r in rows[:5]] and nxt == rows[4].id
    second, nxt2 = dash.decisions_page(db, scope, after_id=nxt, limit=5)
    assert [r.id for r in second] == [r.id for r in rows[5:]] and nxt2 is None
    assert [r.id for r in dash.iter_decisions(db, scope, batch=3)] == [r.id for r in rows]
    recent, older = dash.recent_decisions(db, dash.Scope(unit_id=u.id, trainee_id=t.id), limit=3)
    assert [r.id for r in recent] == [r.id for r in rows[:-4:-1]] and older == rows[5].id
    rec = first[3]
    assert rec.trainee_name == t.display_name and rec.scenario_id == "fixture-true-deterioration"
    assert rec.p_deteriorating == pytest.approx(0.3) and rec.created_at.tzinfo is not None


def test_resolve_unit_rules(ward):
    db, u, other = ward
    manager = fx.user(db, "boss", "manager", u)
    admin = fx.user(db, "root", "admin", None)
    educator = fx.user(db, "teach", "educator", u)
    assert dash.resolve_unit(db, manager, None) == u
    assert dash.resolve_unit(db, manager, u.id) == u
    with pytest.raises(dash.UnitAccessError) as err:
        dash.resolve_unit(db, manager, other.id)
    assert err.value.status == 403
    assert dash.resolve_unit(db, admin, other.id) == other
    with pytest.raises(dash.UnitAccessError) as err:
        dash.resolve_unit(db, educator, None)
    assert err.value.status == 403
    with pytest.raises(dash.UnitAccessError) as err:
        dash.resolve_unit(db, admin, 999_999)
    assert err.value.status == 404


def test_every_highlight_metric_has_a_default_threshold_that_parses():
    for key in dash.THRESHOLD_METRICS:
        assert dash.threshold_value(key, dash.default_threshold(key)) is not None, key
    assert dash.threshold_value("accuracy", dash.default_threshold("accuracy")) == pytest.approx(0.70)
    assert dash.threshold_value("d_prime", dash.default_threshold("d_prime")) == 1.0
    assert dash.threshold_value("brier", dash.default_threshold("brier")) == 0.25
    assert dash.threshold_unit("accuracy") == "%" and dash.threshold_unit("median_time") == "s"
    assert dash.threshold_unit("d_prime") == "" and dash.threshold_unit("brier") == ""
    assert dash.worse_side("accuracy") == "below" and dash.worse_side("brier") == "above"
