"""Published scenarios, trainees and decisions for the educator page tests.

Decisions are inserted directly (with a case attempt behind each for the foreign
keys), so each test states exactly which responses exist and works out the
expected difficulty or completion by hand.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from sqlmodel import Session

from app.models import CaseAttempt, Cohort, Decision, Drill, ScenarioVersion, User
from app.services.accounts import create_user
from app.services.scenario_editor import with_version
from app.services.scenarios import publish

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
COPD = "copd-hypercapnic-baseline"
AF = "af-permanent-rate-controlled"

_positions = itertools.count(1)


def example_text(scenario_id: str) -> str:
    """A shipped scenario renumbered as version 1, so tests can count versions from a
    known start however often the shipped file itself has been revised."""
    text = (SCENARIOS_DIR / f"{scenario_id}.yaml").read_text(encoding="utf-8")
    return with_version(text, 1)


def publish_example(db: Session, scenario_id: str, *, text: str | None = None) -> ScenarioVersion:
    return publish(db, text=text or example_text(scenario_id), source=f"{scenario_id}.yaml").version


def trainee(db: Session, username: str, cohort: Cohort | None) -> User:
    from app.models import Unit

    unit = db.get(Unit, cohort.unit_id) if cohort else None
    return create_user(db, username=username, password="demo", role="trainee", unit=unit, cohort=cohort)


def decide(
    db: Session,
    who: User,
    version: ScenarioVersion,
    *,
    correct: bool,
    action: str | None = None,
    reason: str | None = None,
    drill: Drill | None = None,
) -> Decision:
    """One decision by `who` on `version`; action defaults to the right or wrong call."""
    expected = version.expected_action
    if action is None:
        action = expected if correct else ("dismiss" if expected == "escalate" else "escalate")
    attempt = CaseAttempt(
        trainee_id=who.id or 0,
        drill_id=drill.id if drill else None,
        position=next(_positions),
        scenario_version_id=version.id or 0,
        seed=1,
        view_json="{}",
        answer_json="{}",
        alert_fired=True,
        deteriorated=expected == "escalate",
    )
    db.add(attempt)
    db.flush()
    decision = Decision(
        attempt_id=attempt.id or 0,
        trainee_id=who.id or 0,
        unit_id=who.unit_id,
        scenario_version_id=version.id or 0,
        category=version.category,
        action=action,
        reason=reason if action == "dismiss" else None,
        confidence=80,
        alert_fired=True,
        deteriorated=expected == "escalate",
        correct=correct,
        time_to_decide_ms=5000,
    )
    db.add(decision)
    db.flush()
    return decision
