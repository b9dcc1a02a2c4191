"""practice cases (no drill) are unique per trainee and position

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "uq_case_attempt_practice",
            ["trainee_id", "position"],
            unique=True,
            sqlite_where=sa.text("drill_id IS NULL"),
            postgresql_where=sa.text("drill_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("case_attempt", schema=None) as batch_op:
        batch_op.drop_index("uq_case_attempt_practice")
