"""Per unit, trainee, category and week: the decision counts the manager dashboard reads.

The database keeps this table itself: migration 0006 adds an AFTER INSERT trigger on `decision`
that adds every new decision to its row, and backfills the decisions made before. Decisions are
append-only (migration 0002), so the table always equals a GROUP BY over `decision` (those with a
unit); the application never writes to it. A unit with a million decisions has at most trainees x
categories x weeks rows here, which is what lets the dashboard stay fast (docs/performance.md,
"Manager dashboard").

No foreign keys: every row derives from decisions, which hold them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime
from sqlmodel import Field, SQLModel


class DecisionTally(SQLModel, table=True):
    """Counts over the decisions of one (unit, trainee, category, UTC week starting `week_start`).

    Column meanings follow `app.services.dashboard._count_columns`: `brier_units` sums
    (100 - confidence)² for right and confidence² for wrong decisions (÷ 10,000 gives the Brier sum).
    """

    __tablename__ = "decision_tally"

    unit_id: int = Field(primary_key=True)
    trainee_id: int = Field(primary_key=True)
    category: str = Field(max_length=60, primary_key=True)
    week_start: date = Field(primary_key=True)  # Monday of the decisions' UTC week
    n: int
    correct: int
    hits: int
    deteriorated: int
    false_alarms: int
    brier_units: int = Field(sa_type=BigInteger)
    with_independent: int
    automation_bias: int
    no_alert_deteriorations: int
    no_alert_misses: int
    confidence_sum: int = Field(sa_type=BigInteger)
    last_at: datetime = Field(sa_type=DateTime(timezone=True))  # the latest decision's created_at
