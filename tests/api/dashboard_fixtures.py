"""Hand-made decisions for the dashboard, API and export tests.

Rows are inserted directly (with a real scenario version and case attempt behind each, for the
foreign keys) so each test states exactly which decisions exist and can work its expectations out by
hand.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.core.security import hash_password
from app.models import CaseAttempt, Decision, ScenarioVersion, Unit, User

BASE = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday
_seq = itertools.count(1)


@dataclass(frozen=True)
class D:
    """One decision: truth, alert, action, confidence, pre-alert judgement, time, category."""

    det: bool
    alert: bool
    action: str
    conf: int = 80
    indep: str | None = None
    ms: int = 1000
    category: str = "true-deterioration"
    at: datetime | None = None
    reason_text: str | None = None


def unit(db: Session, name: str) -> Unit:
    row = db.exec(select(Unit).where(Unit.name == name)).first()
    if row is None:
        row = Unit(name=name)
        db.add(row)
        db.flush()
    return row


def user(db: Session, username: str, role: str, unit_row: Unit | None, display: str | None = None) -> User:
    row = User(
        username=username,
        display_name=display or username.title(),
        password_hash=hash_password("demo"),
        role=role,
        unit_id=unit_row.id if unit_row else None,
    )
    db.add(row)
    db.flush()
    return row


def version(db: Session, category: str, title: str | None = None) -> ScenarioVersion:
    sid = f"fixture-{category}"
    row = db.exec(select(ScenarioVersion).where(ScenarioVersion.scenario_id == sid)).first()
    if row is None:
        row = ScenarioVersion(
            scenario_id=sid, version=1, title=title or f"Fixture {category}", category=category,
            expected_action="escalate" if "deterioration" in category else "dismiss",
            content_hash="0" * 64, source_text="fixture",
        )
        db.add(row)
        db.flush()
    return row


def add(db: Session, trainee: User, decisions: list[D], *, unit_id: int | None = None) -> list[Decision]:
    """Insert the decisions (oldest first, one minute apart unless `at` is given)."""
    out = []
    for i, d in enumerate(decisions):
        sv = version(db, d.category)
        at = d.at or BASE + timedelta(minutes=next(_seq) + i)
        attempt = CaseAttempt(
            trainee_id=trainee.id or 0, scenario_version_id=sv.id or 0, seed=i, position=next(_seq),
            independent_first=d.indep is not None, view_json="{}", answer_json="{}",
            alert_fired=d.alert, deteriorated=d.det,
            started_at=at - timedelta(milliseconds=d.ms),
        )
        db.add(attempt)
        db.flush()
        row = Decision(
            attempt_id=attempt.id or 0, trainee_id=trainee.id or 0,
            unit_id=unit_id if unit_id is not None else trainee.unit_id,
            scenario_version_id=sv.id or 0, category=d.category, action=d.action,
            reason="notify-provider" if d.action == "escalate" else "other",
            reason_text=d.reason_text, confidence=d.conf, independent_action=d.indep,
            alert_fired=d.alert, deteriorated=d.det, correct=(d.action == "escalate") == d.det,
            time_to_decide_ms=d.ms, created_at=at,
        )
        db.add(row)
        out.append(row)
    db.flush()
    return out


# The worked example of tests/api/test_dashboard.py (see the table there).
WORKED = [
    D(det=True, alert=True, action="escalate", conf=90, indep="escalate", ms=1000),
    D(det=True, alert=True, action="escalate", conf=80, indep=None, ms=2000),
    D(det=True, alert=False, action="escalate", conf=60, indep="escalate", ms=3000),
    D(det=True, alert=False, action="dismiss", conf=70, indep="escalate", ms=4000),
    D(det=False, alert=True, action="escalate", conf=50, indep="dismiss", ms=10000, category="chronic-baseline-fp"),
    D(det=False, alert=True, action="dismiss", conf=100, indep="dismiss", ms=20000, category="chronic-baseline-fp"),
    D(det=False, alert=False, action="dismiss", conf=90, indep=None, ms=30000, category="stable-no-alert"),
    D(det=False, alert=False, action="dismiss", conf=75, indep="escalate", ms=40000, category="stable-no-alert"),
]
