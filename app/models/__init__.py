"""All tables, imported once so SQLModel.metadata (and Alembic) sees every one."""

from __future__ import annotations

from app.models import base as base
from app.models.accounts import ROLES, ApiToken, Cohort, LoginFailure, Role, Unit, User, UserSession
from app.models.tallies import DecisionTally, TraineeWeekTally
from app.models.training import (
    AuditEvent,
    CaseAttempt,
    Decision,
    Drill,
    PreAlertJudgement,
    ScenarioVersion,
)

__all__ = [
    "ROLES",
    "ApiToken",
    "AuditEvent",
    "CaseAttempt",
    "Cohort",
    "Decision",
    "DecisionTally",
    "Drill",
    "LoginFailure",
    "PreAlertJudgement",
    "Role",
    "ScenarioVersion",
    "TraineeWeekTally",
    "Unit",
    "User",
    "UserSession",
]
