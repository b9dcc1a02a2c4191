"""The tally trigger upserts each table's rows in key order (migration 0008), so two batches that
hold decisions of the same trainee take the same tally rows' locks in the same order and cannot
deadlock on them.

PostgreSQL only, but for the first test: SQLite's trigger is row-level and SQLite has one writer, so
its batches never hold tally rows at the same time.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.core.db import make_engine
from app.core.migrate import downgrade, upgrade
from app.models import CaseAttempt, Decision
from app.services import decision_commit
from tests.api import dashboard_fixtures as fx
from tests.conftest import BACKEND
from tests.db.test_decision_tally import MONDAY, expected_tables, migration, stored, tables

postgres_only = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="PostgreSQL only: SQLite's tally trigger is row-level and SQLite has one writer",
)

THREADS = 6
ROUNDS = 40
CATEGORIES = ("true-deterioration", "artifact-fp", "chronic-baseline-fp", "stable-no-alert")
WEEKS = 3
DEADLOCK = "40P01"  # SQLSTATE deadlock_detected (psycopg's DeadlockDetected)


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_url, pool_size=THREADS)
    try:
        yield eng
    finally:
        eng.dispose()


def test_ordered_only_adds_the_order_by():
    """`ordered` sorts the grouped rows by the table's key and changes nothing else."""
    m = migration()
    for dialect in ("postgresql", "sqlite"):
        for table, keys in m.TABLES.items():
            positions = ", ".join(str(i + 1) for i in range(len(keys)))
            plain = m.tally_sql(dialect, table, source="inserted_decisions")
            assert "ORDER BY" not in plain
            assert m.tally_sql(dialect, table, source="inserted_decisions", ordered=True) == plain.replace(
                f" GROUP BY {positions} ", f" GROUP BY {positions} ORDER BY {positions} "
            )


def _function_body(engine: Engine) -> str:
    with engine.connect() as conn:
        source = conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'decision_tally_add'"))
        return str(source.scalar_one())


@postgres_only
def test_the_function_upserts_in_key_order_and_0007_restores_the_old_one(fresh_url: str, engine: Engine):
    m = migration()

    def body(ordered: bool) -> str:
        """The function's source as 0006 writes it (between the $$ quotes)."""
        return str(m.trigger_function_sql(ordered=ordered).split("$$")[1])

    assert "ORDER BY" in body(True) and "ORDER BY" not in body(False)
    upgrade(fresh_url)
    assert _function_body(engine) == body(True)
    downgrade(fresh_url, "0007")
    assert _function_body(engine) == body(False)
    upgrade(fresh_url)
    assert _function_body(engine) == body(True)
    # The trigger still calls it (CREATE OR REPLACE keeps the function the trigger points to).
    with Session(engine) as session:
        unit = fx.unit(session, "Reordered ward")
        trainee = fx.user(session, "reordered", "trainee", unit)
        fx.add(session, trainee, [fx.D(det=True, alert=True, action="escalate")])
        session.commit()
    with engine.connect() as conn:
        got = tables(conn)
        assert got == expected_tables(stored(conn)) and got["decision_tally"]


# --- concurrent batches of one trainee ---------------------------------------------------------


@dataclass
class Outcome:
    written: int = 0
    deadlocks: int = 0
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _batches(engine: Engine) -> list[list[list[dict[str, Any]]]]:
    """Per thread, ROUNDS batches of 2 to 12 decisions of one trainee over CATEGORIES x WEEKS tally
    rows, in a random order (rows go in attempt order, as the app sends them, each attempt with a
    random category and week): what the app's group commit writes for one trainee."""
    rng = random.Random(8)
    with Session(engine) as session:
        unit = fx.unit(session, "Busy ward")
        trainee = fx.user(session, "busy", "trainee", unit)
        versions = {c: fx.version(session, c) for c in CATEGORIES}
        sizes = [[rng.randint(2, 12) for _ in range(ROUNDS)] for _ in range(THREADS)]
        attempts = [
            CaseAttempt(trainee_id=trainee.id or 0, scenario_version_id=versions[CATEGORIES[0]].id or 0,
                        seed=i, position=i, view_json="{}", answer_json="{}", alert_fired=True,
                        deteriorated=True)
            for i in range(sum(map(sum, sizes)))
        ]
        session.add_all(attempts)
        session.commit()
        ids = iter(a.id or 0 for a in attempts)
        out = []
        for thread_sizes in sizes:
            thread = []
            for size in thread_sizes:
                rows = []
                for attempt_id in sorted(next(ids) for _ in range(size)):
                    category = rng.choice(CATEGORIES)
                    det, alert = rng.random() < 0.5, rng.random() < 0.5
                    action = rng.choice(["escalate", "dismiss"])
                    week = MONDAY + timedelta(weeks=rng.randrange(WEEKS))
                    decision = Decision(
                        attempt_id=attempt_id, trainee_id=trainee.id or 0, unit_id=unit.id,
                        scenario_version_id=versions[category].id or 0, category=category, action=action,
                        confidence=rng.choice([50, 70, 90]),
                        independent_action=rng.choice([None, "escalate"]),
                        alert_fired=alert, deteriorated=det, correct=(action == "escalate") == det,
                        time_to_decide_ms=1000,
                        created_at=week + timedelta(seconds=rng.randrange(7 * 86400)),
                    )
                    rows.append({k: getattr(decision, k) for k in decision_commit._COLUMNS})
                thread.append(rows)
            out.append(thread)
        return out


def _writer(
    engine: Engine, batches: list[list[dict[str, Any]]], start: threading.Barrier, outcome: Outcome
) -> None:
    """Each batch in one transaction and one statement (the app's), all threads starting each round
    together. A deadlock is counted and its batch dropped (the app would retry it row by row)."""
    try:
        with engine.connect() as conn:
            try:
                # Detect a deadlock in 10 ms rather than 1 s: more rounds in the time, same cycles.
                conn.exec_driver_sql("SET deadlock_timeout = '10ms'")
                conn.commit()
            except DBAPIError:  # not a superuser: keep the server's
                conn.rollback()
            for rows in batches:
                start.wait()
                try:
                    decision_commit._insert_postgresql(conn, rows)
                    conn.commit()
                except DBAPIError as exc:
                    conn.rollback()
                    if getattr(exc.orig, "sqlstate", None) != DEADLOCK:
                        raise
                    with outcome.lock:
                        outcome.deadlocks += 1
                else:
                    with outcome.lock:
                        outcome.written += len(rows)
    except BaseException as exc:  # reported by the test, and the others stop at the barrier
        with outcome.lock:
            outcome.errors.append(exc)
        start.abort()


@postgres_only
def test_concurrent_batches_of_one_trainee_do_not_deadlock(fresh_url: str, engine: Engine):
    """Six threads, each with its own connection, write 40 batches each of one trainee's decisions
    (the app's batch INSERT, which fires the trigger once), all starting each round together: no
    batch deadlocks, and the tallies are those of the decisions. With 0006's unordered function
    (revision 0007) 30 to 42 of the 240 batches deadlocked in each of 10 runs.

    The threads meet before each INSERT, not before each COMMIT: a thread waiting for another's
    row lock would never reach a barrier before COMMIT, and the other would wait there for it, a
    wait PostgreSQL cannot see."""
    upgrade(fresh_url)
    batches = _batches(engine)
    start = threading.Barrier(THREADS, timeout=60)
    outcome = Outcome()
    threads = [threading.Thread(target=_writer, args=(engine, b, start, outcome)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not outcome.errors, outcome.errors
    total = sum(len(rows) for b in batches for rows in b)
    assert (outcome.deadlocks, outcome.written) == (0, total), (
        f"{outcome.deadlocks} of {THREADS * ROUNDS} batches deadlocked"
    )
    with engine.connect() as conn:
        got = tables(conn)
        assert got == expected_tables(stored(conn))
        assert len(got["decision_tally"]) == len(CATEGORIES) * WEEKS
