"""index decision (unit_id, trainee_id, time_to_decide_ms) for the dashboard's per-trainee median

The manager dashboard computes each trainee's median time to decide in the database. With this index
PostgreSQL reads the times already grouped by trainee from the index alone (decisions are
append-only, so the visibility map stays set and there are no heap fetches) instead of sorting or
fetching a million rows: see docs/performance.md, "Manager dashboard".

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


def upgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decision_unit_trainee_time", ["unit_id", "trainee_id", "time_to_decide_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_unit_trainee_time")
