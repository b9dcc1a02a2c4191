"""Decision tallies per unit, trainee and UTC week: what the manager dashboard reads.

The database keeps these tables itself: migration 0006 adds an AFTER INSERT trigger on `decision`
that adds every new decision to its rows, and backfills the decisions made before. Decisions are
append-only (migration 0002), so each table always equals a GROUP BY over `decision` (those with a
unit); the application never writes to them. Two grains:

- `decision_tally`: per unit, trainee, scenario category and week (the category breakdown);
- `trainee_week_tally`: per unit, trainee and week, all categories (the per-trainee summary and
  the weekly trend, which then add up 8 times fewer rows).

A unit with a million decisions has at most trainees x categories x weeks rows here, which is what
keeps the dashboard fast (docs/performance.md, "Manager dashboard"). No foreign keys: every row
derives from decisions, which hold them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime
from sqlmodel import Field, SQLModel


class TallyCounts(SQLModel):
    """The counts, as `app.services.dashboard._count_columns` defines them over decisions.

    `brier_units` sums (100 - confidence)² for right and confidence² for wrong decisions (÷ 10,000
    gives the Brier sum); misses and correct rejections follow from the others.
    """

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


class DecisionTally(TallyCounts, table=True):
    """Decisions of one unit, trainee and scenario category in the UTC week from `week_start`."""

    __tablename__ = "decision_tally"

    unit_id: int = Field(primary_key=True)
    trainee_id: int = Field(primary_key=True)
    category: str = Field(max_length=60, primary_key=True)
    week_start: date = Field(primary_key=True)  # Monday


class TraineeWeekTally(TallyCounts, table=True):
    """Decisions of one unit and trainee (every category) in the UTC week from `week_start`."""

    __tablename__ = "trainee_week_tally"

    unit_id: int = Field(primary_key=True)
    trainee_id: int = Field(primary_key=True)
    week_start: date = Field(primary_key=True)  # Monday
