"""Migrations on a fresh database (SQLite, or PostgreSQL with TEST_DATABASE=postgres).

The app never calls `create_all`: the schema exists only through these migrations,
so they must reproduce the models exactly, undo cleanly, and keep the database-level
guarantees (decisions are append-only) that the models cannot express.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, select

import app.models  # noqa: F401 - registers every table on SQLModel.metadata
from app.core.db import make_engine
from app.core.migrate import alembic_config, downgrade, upgrade
from app.models import CaseAttempt, Decision, User
from tests.conftest import BACKEND
from tests.utils.rows import trainee_and_version


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_url, pool_size=2)
    try:
        yield eng
    finally:
        eng.dispose()


def _schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _revisions(url: str) -> list[str]:
    """Every revision from the first to head."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def test_backend_is_the_one_asked_for(fresh_url: str):
    assert fresh_url.startswith("postgresql" if BACKEND == "postgres" else "sqlite")


def test_one_head(fresh_url: str):
    script = ScriptDirectory.from_config(alembic_config(fresh_url))
    assert len(script.get_heads()) == 1, "merge the branches: alembic merge heads"


def test_upgrade_to_head_matches_the_models(fresh_url: str, engine: Engine):
    upgrade(fresh_url)
    assert _schema_diff(engine) == []
    assert _tables(engine) >= set(SQLModel.metadata.tables)


def test_diff_is_not_blind(fresh_url: str, engine: Engine):
    """The comparison must notice a missing table, or the test above proves nothing."""
    upgrade(fresh_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE login_failure"))
    diff = _schema_diff(engine)
    assert any(op[0] == "add_table" and op[1].name == "login_failure" for op in diff if isinstance(op, tuple))


def test_downgrade_to_base_leaves_nothing_then_upgrade_again(fresh_url: str, engine: Engine):
    upgrade(fresh_url)
    downgrade(fresh_url, "base")
    # Alembic keeps its (now empty) bookkeeping table; nothing of ours remains.
    assert _tables(engine) <= {"alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 0
        if BACKEND == "postgres":
            leftover = conn.execute(text("SELECT proname FROM pg_proc WHERE proname = 'decision_append_only'"))
        else:
            leftover = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type IN ('trigger', 'index') AND tbl_name != 'alembic_version'"
            ))
        assert leftover.all() == []
    upgrade(fresh_url)
    assert _schema_diff(engine) == []


def test_each_step_downgrades_and_reapplies(fresh_url: str, engine: Engine):
    """The 'stairway': every revision's downgrade undoes exactly its upgrade."""
    revisions = _revisions(fresh_url)
    assert revisions[:2] == ["0001", "0002"]
    for revision in revisions:
        upgrade(fresh_url, revision)
        downgrade(fresh_url, "-1")
        upgrade(fresh_url, revision)
    assert _schema_diff(engine) == []


# --- decisions are append-only in the database itself --------------------------------


@pytest.fixture
def decision_id(fresh_url: str, engine: Engine) -> int:
    """The fewest rows a decision needs: a trainee, a scenario version and an attempt."""
    upgrade(fresh_url)
    with Session(engine) as session:
        trainee, version = trainee_and_version(session)
        attempt = CaseAttempt(trainee_id=trainee.id or 0, scenario_version_id=version.id or 0, seed=1,
                              view_json="{}", answer_json="{}", alert_fired=True, deteriorated=True)
        session.add(attempt)
        session.flush()
        decision = Decision(attempt_id=attempt.id or 0, trainee_id=trainee.id or 0,
                            scenario_version_id=version.id or 0, category="sepsis", action="escalate",
                            confidence=80, alert_fired=True, deteriorated=True, correct=True,
                            time_to_decide_ms=1200)
        session.add(decision)
        session.commit()
        assert decision.id is not None
        return decision.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decision SET action = 'dismiss', correct = false WHERE id = :id",
        "DELETE FROM decision WHERE id = :id",
    ],
)
def test_decisions_refuse_update_and_delete(engine: Engine, decision_id: int, statement: str):
    with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement), {"id": decision_id})
    with Session(engine) as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None and (decision.action, decision.correct) == ("escalate", True)


def test_orm_changes_to_a_decision_are_refused_too(engine: Engine, decision_id: int):
    with Session(engine) as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        decision.confidence = 50
        with pytest.raises(DBAPIError, match="append-only"):
            session.commit()


def test_other_tables_stay_writable(engine: Engine, decision_id: int):
    """The triggers are on `decision` only: attempts and users still change."""
    with Session(engine) as session:
        trainee = session.exec(select(User).where(User.username == "t")).one()
        trainee.display_name = "Renamed"
        session.add(trainee)
        session.execute(text("UPDATE case_attempt SET seed = 2"))
        session.commit()
        assert session.exec(select(CaseAttempt.seed)).one() == 2
        # A second decision for a new attempt is an INSERT, which stays allowed.
        attempt = CaseAttempt(trainee_id=trainee.id or 0, scenario_version_id=1, seed=3, view_json="{}",
                              answer_json="{}", position=1, alert_fired=True, deteriorated=False)
        session.add(attempt)
        session.flush()
        session.add(Decision(attempt_id=attempt.id or 0, trainee_id=trainee.id or 0, scenario_version_id=1,
                             category="sepsis", action="dismiss", confidence=60, alert_fired=True,
                             deteriorated=False, correct=True, time_to_decide_ms=900))
        session.commit()
        assert len(session.exec(select(Decision)).all()) == 2


# --- 0007: the case facts a decision reads, as columns ----------------------------------


def test_case_facts_backfilled_from_the_stored_case(fresh_url: str, engine: Engine):
    """Attempts dealt before 0007 get alert_fired and deteriorated from their own JSON."""
    from simulator import load_scenario, simulate

    scenarios = Path(__file__).resolve().parents[2] / "scenarios"
    cases = [
        simulate(load_scenario(scenarios / f"{name}.yaml"), seed)
        for name, seed in (("sepsis-classic", 3), ("copd-hypercapnic-baseline", 5), ("sepsis-afebrile-elderly", 8))
    ]
    facts = [(bool(c.view.alert.fired), bool(c.answer.deteriorated)) for c in cases]
    assert len(set(facts)) > 1, "pick cases whose facts differ, or the test cannot tell them apart"
    upgrade(fresh_url)
    with Session(engine) as session:
        trainee, version = trainee_and_version(session)
        for position, (case, (fired, deteriorated)) in enumerate(zip(cases, facts, strict=True)):
            session.add(CaseAttempt(trainee_id=trainee.id or 0, scenario_version_id=version.id or 0, seed=position,
                                    position=position, view_json=case.view.model_dump_json(),
                                    answer_json=case.answer.model_dump_json(),
                                    alert_fired=not fired, deteriorated=not deteriorated))  # wrong on purpose
        session.commit()
    downgrade(fresh_url, "0006")
    upgrade(fresh_url)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT alert_fired, deteriorated FROM case_attempt ORDER BY position")).all()
    assert [(bool(a), bool(d)) for a, d in got] == facts
