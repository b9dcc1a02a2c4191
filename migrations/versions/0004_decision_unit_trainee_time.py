"""manager dashboard: index (unit_id, trainee_id, time_to_decide_ms); statistics on the decision week

The manager dashboard computes everything in the database (docs/performance.md, "Manager dashboard"):

- Each trainee's median time to decide: with this index PostgreSQL reads the times already grouped
  by trainee from the index alone (decisions are append-only, so the visibility map stays set and
  there are no heap fetches) instead of sorting or fetching a million rows.
- The weekly trend groups by the UTC week of `created_at`. Without statistics on that expression
  PostgreSQL guesses one group per row and sorts every decision; with them it expects a few dozen
  weeks and uses a parallel hash aggregate. The expression must stay identical to
  `app.services.dashboard._week_start`. (PostgreSQL only; SQLite has no such statistics.)

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
# 0003 was not on main when this was written; if it lands, point this at "0003".
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEEK_EXPR = "(date_trunc('week', timezone('UTC', created_at)))::date"


def upgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decision_unit_trainee_time", ["unit_id", "trainee_id", "time_to_decide_ms"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE STATISTICS IF NOT EXISTS st_decision_week ON ({WEEK_EXPR}) FROM decision")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_decision_week")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_unit_trainee_time")
