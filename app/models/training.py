"""Scenario versions, drills, case attempts and the decisions made on them.

Decisions are append-only: one row per attempt, never updated (the migration adds
triggers that refuse UPDATE and DELETE). Dashboard columns (unit, category, truth,
alert) are copied onto the decision so the database can tally it on insert (the
tables in app/models/tallies.py, migration 0006) without joining anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Column, Field, SQLModel

from app.models.base import utcnow


class ScenarioVersion(SQLModel, table=True):
    """One published, immutable version of an educator's scenario file."""

    __tablename__ = "scenario_version"
    __table_args__ = (UniqueConstraint("scenario_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    scenario_id: str = Field(max_length=80, index=True)
    version: int
    title: str = Field(max_length=200)
    category: str = Field(max_length=60, index=True)
    expected_action: str = Field(max_length=16)
    content_hash: str = Field(max_length=64)
    source_text: str = Field(sa_column=Column(Text, nullable=False))
    is_active: bool = True
    published_by: int | None = Field(default=None, foreign_key="user.id")
    published_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Drill(SQLModel, table=True):
    """An assignment of cases to a cohort."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    # {"scenario_ids": [...]} or {"categories": {"slug": weight}}
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    n_cases: int = 10
    mode: str = Field(default="standard", max_length=24)  # standard | independent-first
    no_alert_share: float = 0.0
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class CaseAttempt(SQLModel, table=True):
    """A case dealt to one trainee: the scenario version and seed replay it exactly.

    The generated case is stored once (view and answer kept in separate columns) so
    viewing never re-simulates and the answer is never needed to render the question.
    """

    __tablename__ = "case_attempt"
    __table_args__ = (
        UniqueConstraint("drill_id", "trainee_id", "position"),
        # Practice cases have no drill, and NULLs never collide in the constraint above:
        # this keeps two racing requests from dealing the same practice case twice.
        Index(
            "uq_case_attempt_practice",
            "trainee_id",
            "position",
            unique=True,
            sqlite_where=text("drill_id IS NULL"),
            postgresql_where=text("drill_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    trainee_id: int = Field(foreign_key="user.id", index=True)
    drill_id: int | None = Field(default=None, foreign_key="drill.id", index=True)
    position: int = 0
    scenario_version_id: int = Field(foreign_key="scenario_version.id", index=True)
    seed: int
    independent_first: bool = False
    view_json: str = Field(sa_column=Column(Text, nullable=False))
    answer_json: str = Field(sa_column=Column(Text, nullable=False))
    # Two facts of the stored case, as columns so a decision reads them without the case's
    # JSON (kilobytes the database would decompress and send on every decision).
    alert_fired: bool
    deteriorated: bool
    started_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class PreAlertJudgement(SQLModel, table=True):
    """The nurse's call before the alert is shown (independent-assessment-first mode)."""

    __tablename__ = "pre_alert_judgement"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="case_attempt.id", unique=True)
    action: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Decision(SQLModel, table=True):
    __table_args__ = (
        Index("ix_decision_unit_created", "unit_id", "created_at"),
        # Per-trainee median time on the manager dashboard, read from the index alone (migration 0004);
        # also every lookup by (unit_id, trainee_id), which had an index of its own until 0006.
        Index("ix_decision_unit_trainee_time", "unit_id", "trainee_id", "time_to_decide_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="case_attempt.id", unique=True)
    idempotency_key: str | None = Field(default=None, max_length=64, unique=True)
    trainee_id: int = Field(foreign_key="user.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    scenario_version_id: int = Field(foreign_key="scenario_version.id", index=True)
    category: str = Field(max_length=60)
    action: str = Field(max_length=16)  # escalate | dismiss
    reason: str | None = Field(default=None, max_length=32)
    reason_text: str | None = Field(default=None, max_length=500)
    confidence: int  # 50..100, confidence in the chosen action
    independent_action: str | None = Field(default=None, max_length=16)
    alert_fired: bool
    deteriorated: bool
    correct: bool
    time_to_decide_ms: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
