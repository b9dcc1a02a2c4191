"""the tally trigger upserts each table's rows in key order, so concurrent batches cannot deadlock

Group commit (app/services/decision_commit.py) writes several decisions in one INSERT, and the
PostgreSQL trigger of migration 0006 then upserts one tally row per unit, trainee, (category) and
week of the batch. Its GROUP BY is a hash aggregate, whose rows come out in no defined order, so
two workers' batches holding decisions of the same trainee could lock the same tally rows in
different orders and deadlock (seen twice in the 2026-12-05 benchmarks; PostgreSQL broke each one
after deadlock_timeout and the losing batch was written again row by row). The function now sorts
each table's rows by the table's key before upserting them (`tally_sql(..., ordered=True)`), so
every transaction takes the rows' locks in the same order: whoever comes second waits for the first
to commit instead of deadlocking. Both tables are upserted in the same order too (decision_tally,
then trainee_week_tally).

The statements are 0006's `tally_sql`, loaded from its file rather than copied, so a tally keeps a
single definition; only the function is replaced (CREATE OR REPLACE keeps the trigger pointing at
it). Downgrade puts back 0006's unordered function.

SQLite: nothing to do. Its trigger is row-level, one decision per run and so one row per table, and
SQLite has a single writer: two batches never hold tally rows at the same time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tally_migration() -> ModuleType:
    """Migration 0006, the one definition of a tally and of the trigger function."""
    path = Path(__file__).with_name("0006_decision_tally.py")
    spec = importlib.util.spec_from_file_location("alertdrill_migration_0006", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replace_function(ordered: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_tally_migration().trigger_function_sql(ordered=ordered, replace=True))


def upgrade() -> None:
    _replace_function(ordered=True)


def downgrade() -> None:
    _replace_function(ordered=False)
