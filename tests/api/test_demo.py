"""Demo history: simulated trainees follow SDT, rows match the write path, setup is idempotent,
production is refused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select
from typer.testing import CliRunner

from app import metrics
from app.models import CaseAttempt, Decision, Drill, PreAlertJudgement, ScenarioVersion, Unit, User
from app.services import dashboard as dash
from app.services import demo as demo_svc
from app.services.accounts import DEMO_UNIT, ensure_demo_accounts
from app.services.attempts import DecisionInput, decision_values, record_decision
from app.services.dealing import generate_case
from app.services.scenarios import publish_files
from simulator.case import CaseAnswer, TraineeView

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WANTED = ("chronic-baseline-fp", "true-deterioration", "masked-deterioration", "stable-no-alert",
          "deterioration-abnormal-baseline")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _some_scenarios() -> list[Path]:
    """The first scenario file of a few categories (a small, varied set keeps the tests quick)."""
    picked: dict[str, Path] = {}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        category = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("category")
        if category in WANTED and category not in picked:
            picked[category] = path
    assert picked, "no scenario files found"
    return list(picked.values())


@pytest.fixture
def published(db):
    publish_files(db, _some_scenarios())
    return db


# --------------------------------------------------------------------------------------------------
# The decision model


def _draw(persona: demo_svc.Persona, n: int = 4000, alert_rate: float = 0.5, seed: int = 7):
    rng = random.Random(seed)
    cases, sims = [], []
    for i in range(n):
        det = i % 2 == 0
        alert = rng.random() < alert_rate
        sim = demo_svc.simulate_decision(persona, skill=persona.d_start, deteriorated=det, alert=alert,
                                         category="true-deterioration", rng=rng)
        sims.append(sim)
        cases.append(metrics.DecisionCase(det, alert, sim.final_escalate, sim.own_escalate))
    return cases, sims


def test_without_the_alert_a_trainee_is_an_sdt_observer():
    """No reliance on the AI: the measured d′ and c recover the persona's (4,000 draws, ±0.15)."""
    p = demo_svc.Persona("calm", 2.0, 2.0, 0.5, follow_alert=0, follow_silence=0, alert_fatigue=0)
    cases, sims = _draw(p)
    s = metrics.sdt_from_cases(cases)
    assert s.d_prime == pytest.approx(2.0, abs=0.15)
    assert s.criterion == pytest.approx(0.5, abs=0.15)
    assert not any(x.switched for x in sims)
    assert all(50 <= x.confidence <= 100 and x.confidence % 10 == 0 for x in sims)
    assert all(5_000 <= x.time_ms <= 900_000 for x in sims)


def test_automation_bias_persona_follows_wrong_alerts_more():
    expert = demo_svc.Persona("expert", 2.0, 2.0, 0.0, follow_alert=0.05, follow_silence=0.05)
    biased = demo_svc.Persona("biased", 2.0, 2.0, 0.0, follow_alert=0.8, follow_silence=0.8)
    ab_expert = metrics.automation_bias_rate(_draw(expert)[0])
    ab_biased = metrics.automation_bias_rate(_draw(biased)[0])
    assert ab_expert is not None and ab_biased is not None
    assert ab_biased > 4 * ab_expert
    # Their own (pre-alert) judgement is as good as the expert's: only the alert makes them worse.
    own = metrics.sdt_from_cases(
        metrics.DecisionCase(c.deteriorating, c.ai_alert, bool(c.initial_escalate)) for c in _draw(biased)[0]
    )
    assert own.d_prime == pytest.approx(2.0, abs=0.15)


def test_category_shift_makes_a_trainee_dismiss_in_that_category():
    p = demo_svc.Persona("baseline-blind", 2.0, 2.0, 0.0, 0, 0, category_shift={"deterioration-abnormal-baseline": 1.8})
    rng = random.Random(3)

    def sensitivity(category: str) -> float:
        hits = sum(
            demo_svc.simulate_decision(p, skill=2.0, deteriorated=True, alert=True, category=category, rng=rng).final_escalate
            for _ in range(2000)
        )
        return hits / 2000

    # Φ(1) = 0.84 normally; Φ(1 − 1.8) = 0.21 in the shifted category.
    assert sensitivity("true-deterioration") == pytest.approx(0.84, abs=0.03)
    assert sensitivity("deterioration-abnormal-baseline") == pytest.approx(0.21, abs=0.03)


def test_decision_input_is_valid_for_the_write_path():
    rng = random.Random(1)
    for escalate in (True, False):
        for conf in (50, 90, 100):
            sim = demo_svc.SimDecision(escalate, escalate, conf, 30_000, False)
            for category in WANTED:
                inp = demo_svc.decision_input(sim, category, rng)
                assert inp.action == ("escalate" if escalate else "dismiss") and inp.confidence == conf
                again = DecisionInput.parse(action=inp.action, reason=inp.reason, reason_text=inp.reason_text,
                                            confidence=inp.confidence)
                assert again == inp


# --------------------------------------------------------------------------------------------------
# Rows as the write path makes them


def test_the_demos_decision_matches_what_record_decision_stores(published):
    # Both build their columns with decision_values; what this checks is that the write path
    # (group commit's own INSERT, not the ORM) stores them unchanged, column for column.
    db = published
    ensure_demo_accounts(db)
    nurse = db.exec(select(User).where(User.username == "nurse")).one()
    version = db.exec(select(ScenarioVersion)).first()
    case = generate_case(version, 11)
    started = NOW - timedelta(minutes=5)
    decided = NOW - timedelta(minutes=4, seconds=17)
    twins = []
    for position in (0, 1):
        a = CaseAttempt(trainee_id=nurse.id, position=position, scenario_version_id=version.id, seed=11,
                        view_json=case.view_json, answer_json=case.answer_json, started_at=started,
                        alert_fired=case.alert_fired, deteriorated=case.deteriorated)
        db.add(a)
        db.flush()
        twins.append(a)
    stored_id, created = record_decision(db, attempt=twins[0], trainee=nurse, action="dismiss", reason="baseline",
                                         reason_text=None, confidence="70", now=decided)
    assert created
    db.expire_all()
    stored = db.get(Decision, stored_id)  # as the database holds it
    inp = DecisionInput.parse(action="dismiss", reason="baseline", reason_text=None, confidence=70)
    built = Decision(**decision_values(attempt=twins[1], trainee=nurse, category=version.category, submitted=inp,
                                       independent_action=None, decided_at=decided))
    skip = {"id", "attempt_id", "created_at"}
    for name in Decision.model_fields:
        if name not in skip:
            assert getattr(built, name) == getattr(stored, name), name
    assert built.time_to_decide_ms == 43_000
    assert built.attempt_id == twins[1].id


# --------------------------------------------------------------------------------------------------
# Setup and seed


def test_setup_creates_a_consistent_history_once(published):
    db = published
    created, report = demo_svc.setup_demo(db, days=21, now=NOW)
    assert set(created) == {"nurse", "educator", "manager", "admin"}
    assert report.trainees == len(demo_svc.PERSONAS) and report.drills == 3
    assert 300 <= report.decisions <= 1000
    unit = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    decisions = db.exec(select(Decision).where(Decision.unit_id == unit.id)).all()
    assert len(decisions) == report.decisions
    attempts = {a.id: a for a in db.exec(select(CaseAttempt))}
    pre = {p.attempt_id: p for p in db.exec(select(PreAlertJudgement))}
    drills = {d.id: d for d in db.exec(select(Drill))}
    assert {d.mode for d in drills.values()} == {"standard", "independent-first"}
    for d in decisions:
        a = attempts[d.attempt_id]
        view = TraineeView.model_validate_json(a.view_json)
        answer = CaseAnswer.model_validate_json(a.answer_json)
        assert (view.alert.fired, answer.deteriorated) == (d.alert_fired, d.deteriorated)
        assert d.correct == ((d.action == "escalate") == d.deteriorated)
        assert view.seed == a.seed
        created_at = d.created_at if d.created_at.tzinfo else d.created_at.replace(tzinfo=UTC)
        started_at = a.started_at if a.started_at.tzinfo else a.started_at.replace(tzinfo=UTC)
        assert NOW - timedelta(days=22) <= started_at < created_at <= NOW
        assert d.time_to_decide_ms == int((created_at - started_at).total_seconds() * 1000)
        assert 50 <= d.confidence <= 100
        independent = a.drill_id is not None and drills[a.drill_id].mode == "independent-first"
        assert a.independent_first == independent
        if independent:
            assert d.independent_action == pre[a.id].action
        else:
            assert d.independent_action is None and a.id not in pre
    # The dashboard has something to show: every synthetic trainee, several weeks, both kinds of case.
    summary = dash.unit_summary(db, unit, dash.Scope(unit_id=unit.id))
    synthetic = [r for r in summary.rows if r.username.startswith(demo_svc.SYNTHETIC_PREFIX)]
    assert len(synthetic) == len(demo_svc.PERSONAS) and all(r.counts.n > 0 for r in synthetic)
    assert summary.totals.hits + summary.totals.misses > 0
    assert summary.totals.false_alarms + summary.totals.correct_rejections > 0
    assert summary.totals.with_independent > 0
    assert len(dash.weekly_trend(db, dash.Scope(unit_id=unit.id))) >= 3
    # Synthetic accounts cannot log in.
    assert all(not u.password_hash.startswith("$argon2") for u in db.exec(
        select(User).where(col(User.username).startswith(demo_svc.SYNTHETIC_PREFIX))))

    again, second = demo_svc.setup_demo(db, days=21, now=NOW)
    assert again == [] and second.skipped
    assert len(db.exec(select(Decision)).all()) == report.decisions


def test_setup_gives_the_demo_nurse_open_drills_once(published, client):
    from tests.utils.auth import login

    db = published
    demo_svc.setup_demo(db, days=7, now=NOW)
    demo_svc.setup_demo(db, days=7, now=NOW)
    nurse = db.exec(select(User).where(User.username == "nurse")).one()
    drills = db.exec(select(Drill).where(Drill.cohort_id == nurse.cohort_id)).all()
    assert sorted((d.mode, d.n_cases) for d in drills) == [("independent-first", 5), ("standard", 10)]
    assert all(d.due_at is not None for d in drills)
    login(client, "nurse")
    page = client.get("/drills")
    assert page.status_code == 200
    assert all(d.title in page.text for d in drills)


def test_seed_adds_trainees_at_scale(published):
    db = published
    r1 = demo_svc.seed_scale(db, trainees=3, days=10, unit_name="Scale Ward", now=NOW)
    r2 = demo_svc.seed_scale(db, trainees=2, days=10, unit_name="Scale Ward", now=NOW)
    assert (r1.trainees, r2.trainees) == (3, 2)
    unit = db.exec(select(Unit).where(Unit.name == "Scale Ward")).one()
    names = [u.username for u in db.exec(select(User).where(User.unit_id == unit.id))]
    assert len(names) == len(set(names)) == 5
    n = len(db.exec(select(Decision).where(Decision.unit_id == unit.id)).all())
    assert n == r1.decisions + r2.decisions > 0


def test_refuses_in_production(published, monkeypatch):
    class Prod:
        is_production = True

    monkeypatch.setattr(demo_svc, "get_settings", lambda: Prod())
    with pytest.raises(demo_svc.DemoRefused):
        demo_svc.setup_demo(published)
    with pytest.raises(demo_svc.DemoRefused):
        demo_svc.seed_scale(published, trainees=1, days=7)
    assert published.exec(select(Decision)).first() is None

    from app.cli.demo import demo_data_app

    result = CliRunner().invoke(demo_data_app, ["seed", "--trainees", "1", "--days", "7"])
    assert result.exit_code == 1 and "refusing" in result.output


def test_refuses_without_published_scenarios(db):
    with pytest.raises(demo_svc.DemoRefused, match="no published scenarios"):
        demo_svc.seed_scale(db, trainees=1, days=7)


def test_a_manager_can_replay_a_synthetic_decision(published, client):
    """The demo history goes through real attempts, so the drill-down's replay links open."""
    from tests.utils.auth import login

    db = published
    demo_svc.setup_demo(db, days=14, now=NOW)
    decision = db.exec(select(Decision).where(col(Decision.independent_action).is_not(None))).first()
    assert decision is not None
    login(client, "manager")
    r = client.get(f"/attempts/{decision.attempt_id}")
    assert r.status_code == 200
    attempt = db.get(CaseAttempt, decision.attempt_id)
    assert TraineeView.model_validate_json(attempt.view_json).patient.name in r.text
