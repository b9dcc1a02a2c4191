"""decision tallies kept by the database on every decision insert: per unit, trainee and week, the
counts the manager dashboard needs, with (decision_tally) and without (trainee_week_tally) the
scenario category

The dashboard (app/services/dashboard.py) reads its tallies from these tables instead of scanning
`decision`: a unit with a million decisions has at most trainees x categories x weeks rows in
`decision_tally` (the category breakdown) and trainees x weeks rows in `trainee_week_tally` (the
per-trainee summary and the weekly trend, which need no category: 8 times fewer rows to add up).
Decisions are append-only (migration 0002 refuses UPDATE and DELETE), so adding each new decision
to its rows is enough to keep both tables equal to a GROUP BY over `decision`:

- PostgreSQL: a statement-level AFTER INSERT trigger with a transition table runs `tally_sql` over
  the rows just inserted (one row for the app's inserts, a whole COPY for a bulk load) and upserts.
- SQLite (no transition tables): a row-level AFTER INSERT trigger runs the same statements over the
  new row, read back by its primary key.

Decisions without a unit (unit_id NULL) belong to no dashboard and are not tallied.

`tally_sql` is the one definition of a tally: the backfill below, both triggers and
`rebuild_tallies` (the benchmark's bulk load) use it. It must agree with
`app.services.dashboard._count_columns` (the same counts over decisions, used for the partial weeks
at the edges of a time window) and with `_week_start` (the week of a decision).

Also drops the index ix_decision_unit_trainee (unit_id, trainee_id): it is a prefix of
ix_decision_unit_trainee_time (unit_id, trainee_id, time_to_decide_ms, migration 0004), which serves
every lookup it served, so it only cost a write per decision.

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

# Table -> its key columns (all but week_start are decision columns).
TABLES = {
    "decision_tally": ("unit_id", "trainee_id", "category", "week_start"),
    "trainee_week_tally": ("unit_id", "trainee_id", "week_start"),
}
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


def tally_sql(
    dialect: str, table: str, source: str = "decision", where: str = "true", ordered: bool = False
) -> str:
    """INSERT the tallies of `source`'s decisions (those matching `where`) into `table`, adding them
    to existing rows: the backfill, the triggers and the benchmark's rebuild.

    `ordered` upserts the rows in key order (ORDER BY the key positions after the GROUP BY, whose
    hash aggregate has no order of its own), so two transactions that add to the same rows lock
    them in the same order and cannot deadlock on them: PostgreSQL's trigger since migration 0008.
    Off by default: what this migration runs and installs is unchanged by it."""
    keys = TABLES[table]
    greatest = "greatest" if dialect == "postgresql" else "max"
    updates = [
        f"{col} = {greatest}({table}.{col}, excluded.{col})" if col == "last_at"
        else f"{col} = {table}.{col} + excluded.{col}"
        for col in COUNTS
    ]
    group = ", ".join(WEEK[dialect] if k == "week_start" else k for k in keys)
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    return (
        f"INSERT INTO {table} ({', '.join((*keys, *COUNTS))}) "
        f"SELECT {group}, {', '.join(COUNTS.values())} "
        f"FROM {source} WHERE unit_id IS NOT NULL AND ({where}) "
        f"GROUP BY {positions} "
        + (f"ORDER BY {positions} " if ordered else "")
        + f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(updates)}"
    )


def trigger_function_sql(ordered: bool = False, replace: bool = False) -> str:
    """PostgreSQL's trigger function: `tally_sql` for each table over the statement's transition
    table. As installed here (ordered=False), and by migration 0008 (CREATE OR REPLACE, ordered).

    Migrations that ran must keep meaning what they did: 0008 loads this function from this
    file, so a new kind of tally is a new migration with its own statements, not an edit here."""
    statements = "".join(
        f"  {tally_sql('postgresql', table, source='inserted_decisions', ordered=ordered)};\n"
        for table in TABLES
    )
    return (
        f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION decision_tally_add() RETURNS trigger AS $$\n"
        f"BEGIN\n{statements}  RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
    )


def rebuild_tallies(connection: Connection) -> None:
    """Recompute every tally from `decision` (after a load that bypassed the triggers)."""
    # Unordered, like the backfill: it runs alone after a bulk load, with no other writer to
    # deadlock with, so sorting its (up to trainees x categories x weeks) rows would buy nothing.
    for table in TABLES:
        connection.exec_driver_sql(f"DELETE FROM {table}")
        connection.exec_driver_sql(tally_sql(connection.dialect.name, table))


def upgrade() -> None:
    for table, keys in TABLES.items():
        op.create_table(
            table,
            *(sa.Column(k, sa.Integer(), nullable=False) for k in keys if k.endswith("_id")),
            *(sa.Column("category", sa.String(length=60), nullable=False) for k in keys if k == "category"),
            sa.Column("week_start", sa.Date(), nullable=False),
            *(sa.Column(col, sa.BigInteger() if col in ("brier_units", "confidence_sum") else sa.Integer(),
                        nullable=False) for col in COUNTS if col != "last_at"),
            sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}")),
        )
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        op.execute(trigger_function_sql())
        op.execute(
            "CREATE TRIGGER decision_tally_on_insert AFTER INSERT ON decision "
            "REFERENCING NEW TABLE AS inserted_decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION decision_tally_add()"
        )
    else:
        statements = " ".join(f"{tally_sql(dialect, table, where='id = NEW.id')};" for table in TABLES)
        op.execute(
            "CREATE TRIGGER decision_tally_on_insert AFTER INSERT ON decision WHEN NEW.unit_id IS NOT NULL "
            f"BEGIN {statements} END"
        )
    # Backfill: the decisions made before this migration.
    for table in TABLES:
        op.execute(tally_sql(dialect, table))
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_unit_trainee")


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_unit_trainee", ["unit_id", "trainee_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decision_tally_on_insert ON decision")
        op.execute("DROP FUNCTION IF EXISTS decision_tally_add()")
    else:
        op.execute("DROP TRIGGER IF EXISTS decision_tally_on_insert")
    for table in reversed(TABLES):
        op.drop_table(table)
