"""case_attempt.alert_fired and case_attempt.deteriorated: two facts of the stored case as columns

A decision stores whether the alert fired and whether the patient deteriorated (the dashboard's
columns). They were read from the case's view and answer JSON, kilobytes that PostgreSQL had to
decompress and send, and the worker to parse, on every decision: most of the decision's database
time. A dealt case never changes, so the columns are written once when it is dealt and
backfilled here from the same JSON.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = {
    "postgresql": (
        "UPDATE case_attempt SET "
        "alert_fired = coalesce(((view_json::json) -> 'alert' ->> 'fired')::boolean, false), "
        "deteriorated = coalesce(((answer_json::json) ->> 'deteriorated')::boolean, false)"
    ),
    "sqlite": (
        "UPDATE case_attempt SET "
        "alert_fired = coalesce(json_extract(view_json, '$.alert.fired'), 0), "
        "deteriorated = coalesce(json_extract(answer_json, '$.deteriorated'), 0)"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("case_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_fired", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("deteriorated", sa.Boolean(), nullable=True))
    op.execute(BACKFILL[op.get_bind().dialect.name])
    with op.batch_alter_table("case_attempt", schema=None) as batch_op:
        batch_op.alter_column("alert_fired", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("deteriorated", existing_type=sa.Boolean(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("case_attempt", schema=None) as batch_op:
        batch_op.drop_column("deteriorated")
        batch_op.drop_column("alert_fired")
