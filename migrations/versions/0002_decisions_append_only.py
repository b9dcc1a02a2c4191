"""decisions are append-only: refuse UPDATE and DELETE in the database itself

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION decision_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'decisions are append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER decision_no_update BEFORE UPDATE OR DELETE ON decision "
            "FOR EACH ROW EXECUTE FUNCTION decision_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER decision_no_{verb.lower()} BEFORE {verb} ON decision "
                "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decision_no_update ON decision")
        op.execute("DROP FUNCTION IF EXISTS decision_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS decision_no_update")
        op.execute("DROP TRIGGER IF EXISTS decision_no_delete")
