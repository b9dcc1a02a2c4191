"""decision_tally: per unit, trainee, category and week, the counts the manager dashboard needs,
kept by the database on every decision insert

The dashboard (app/services/dashboard.py) reads its tallies from this table instead of scanning
`decision`: a unit with a million decisions has at most trainees x categories x weeks rows here.
Decisions are append-only (migration 0002 refuses UPDATE and DELETE), so adding each new decision
to its row is enough to keep the table equal to a GROUP BY over `decision`:

- PostgreSQL: a statement-level AFTER INSERT trigger with a transition table runs `tally_sql` over
  the rows just inserted (one row for the app's inserts, a whole COPY for a bulk load) and upserts.
- SQLite (no transition tables): a row-level AFTER INSERT trigger runs the same statement over the
  new row, read back by its primary key.

Decisions without a unit (unit_id NULL) belong to no dashboard and are not tallied.

`tally_sql` is the one definition of a tally: the backfill below, both triggers and
`rebuild_tallies` (the benchmark's bulk load) use it. It must agree with
`app.services.dashboard._count_columns` (the same counts over decisions, used for the partial weeks
at the edges of a time window) and with `_week_start` (the week of a decision).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ("unit_id", "trainee_id", "category", "week_start")
# Column name -> aggregate over decisions. Booleans are tested as such (PostgreSQL booleans,
# SQLite 0/1 integers). Brier: (100 - confidence)² for a right decision, confidence² for a wrong one
# (the dashboard divides by 10,000). Automation bias: a pre-alert answer that differs from a wrong
# final one, where the final one followed the alert.
COUNTS = {
    "n": "count(*)",
    "correct": "count(*) FILTER (WHERE correct)",
    "hits": "count(*) FILTER (WHERE deteriorated AND action = 'escalate')",
    "deteriorated": "count(*) FILTER (WHERE deteriorated)",
    "false_alarms": "count(*) FILTER (WHERE NOT deteriorated AND action = 'escalate')",
    "brier_units": "sum(CASE WHEN correct THEN (100 - confidence) * (100 - confidence) "
                   "ELSE confidence * confidence END)",
    "with_independent": "count(independent_action)",
    "automation_bias": "count(*) FILTER (WHERE NOT correct AND independent_action <> action "
                       "AND alert_fired = (action = 'escalate'))",
    "no_alert_deteriorations": "count(*) FILTER (WHERE deteriorated AND NOT alert_fired)",
    "no_alert_misses": "count(*) FILTER (WHERE deteriorated AND NOT alert_fired AND action = 'dismiss')",
    "confidence_sum": "sum(confidence)",
    "last_at": "max(created_at)",
}
# Monday of the decision's UTC week: the same expressions as dashboard._week_start (and, on
# PostgreSQL, the statistics object of migration 0004). SQLite stores UTC text and its date
# functions round to milliseconds (Sunday 23:59:59.9996 would become Monday), so it reads the date
# part only; 'weekday 0' moves to the coming Sunday (or stays on one), 6 days back is its Monday.
WEEK = {
    "postgresql": "(date_trunc('week', timezone('UTC', created_at)))::date",
    "sqlite": "date(substr(created_at, 1, 10), 'weekday 0', '-6 days')",
}


def tally_sql(dialect: str, source: str = "decision", where: str = "true") -> str:
    """INSERT the tallies of `source`'s decisions (those matching `where`) into decision_tally,
    adding them to existing rows: the backfill, the triggers and the benchmark's rebuild."""
    greatest = "greatest" if dialect == "postgresql" else "max"
    updates = [
        f"{col} = {greatest}(decision_tally.{col}, excluded.{col})" if col == "last_at"
        else f"{col} = decision_tally.{col} + excluded.{col}"
        for col in COUNTS
    ]
    return (
        f"INSERT INTO decision_tally ({', '.join((*KEYS, *COUNTS))}) "
        f"SELECT unit_id, trainee_id, category, {WEEK[dialect]}, {', '.join(COUNTS.values())} "
        f"FROM {source} WHERE unit_id IS NOT NULL AND ({where}) GROUP BY 1, 2, 3, 4 "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {', '.join(updates)}"
    )


def rebuild_tallies(connection: Connection) -> None:
    """Recompute every tally from `decision` (after a load that bypassed the triggers)."""
    connection.exec_driver_sql("DELETE FROM decision_tally")
    connection.exec_driver_sql(tally_sql(connection.dialect.name))


def upgrade() -> None:
    op.create_table(
        "decision_tally",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("trainee_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        *(sa.Column(col, sa.BigInteger() if col in ("brier_units", "confidence_sum") else sa.Integer(),
                    nullable=False) for col in COUNTS if col != "last_at"),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS, name=op.f("pk_decision_tally")),
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION decision_tally_add() RETURNS trigger AS $$\n"
            "BEGIN\n"
            f"  {tally_sql(dialect, source='inserted_decisions')};\n"
            "  RETURN NULL;\n"
            "END;\n"
            "$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER decision_tally_on_insert AFTER INSERT ON decision "
            "REFERENCING NEW TABLE AS inserted_decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION decision_tally_add()"
        )
    else:
        op.execute(
            "CREATE TRIGGER decision_tally_on_insert AFTER INSERT ON decision WHEN NEW.unit_id IS NOT NULL "
            f"BEGIN {tally_sql(dialect, where='id = NEW.id')}; END"
        )
    # Backfill: the decisions made before this migration.
    op.execute(tally_sql(dialect))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decision_tally_on_insert ON decision")
        op.execute("DROP FUNCTION IF EXISTS decision_tally_add()")
    else:
        op.execute("DROP TRIGGER IF EXISTS decision_tally_on_insert")
    op.drop_table("decision_tally")
