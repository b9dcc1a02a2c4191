"""Group commit of decisions (app/services/decision_commit.py), with real commits and threads.

Each test has a database of its own: the shared test session cannot see other threads' commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import make_engine
from app.core.logging import WITHHELD, JsonFormatter
from app.core.migrate import upgrade
from app.models import AuditEvent, CaseAttempt, Decision, User
from app.services import decision_commit
from app.services.attempts import DecisionConflict, DecisionInput, decision_values, record_decision
from tests.conftest import new_database
from tests.utils.logs import captured
from tests.utils.rows import trainee_and_version

N = 6


@dataclass
class World:
    engine: Engine
    trainee_id: int
    attempt_ids: list[int]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    fresh = new_database(tmp_path)
    upgrade(fresh.url)
    engine = make_engine(fresh.url, pool_size=N)
    with Session(engine) as s:
        trainee, version = trainee_and_version(s)
        attempts = [
            CaseAttempt(trainee_id=trainee.id or 0, scenario_version_id=version.id or 0, seed=i, position=i,
                        view_json="{}", answer_json="{}", alert_fired=True, deteriorated=i % 2 == 0)
            for i in range(N)
        ]
        s.add_all(attempts)
        s.commit()
        yield World(engine, trainee.id or 0, [a.id or 0 for a in attempts])
    engine.dispose()
    fresh.drop()


def _decide(world: World, attempt_id: int, **form: Any) -> tuple[int, bool]:
    with Session(world.engine) as s:
        attempt = s.get(CaseAttempt, attempt_id)
        trainee = s.get(User, world.trainee_id)
        assert attempt is not None and trainee is not None
        fields = {"action": "escalate", "reason": None, "reason_text": None, "confidence": 70} | form
        result = record_decision(s, attempt=attempt, trainee=trainee, **fields)
        # What the request reads next (the feedback) sees the decision, whoever wrote it: a
        # follower's read snapshot (SQLite) must not predate the batch it rode in.
        seen = s.exec(select(Decision).where(Decision.attempt_id == attempt_id)).first()
        assert seen is not None and seen.id == result[0], f"attempt {attempt_id}: own decision not visible"
        return result


def _in_threads(calls: list[Any]) -> list[Any]:
    """Run each call in its own thread; their results (or exceptions), in order."""
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            out[i] = calls[i]()
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return out


@pytest.fixture
def inserts(world: World) -> Iterator[list[Any]]:
    """Parameters of each INSERT INTO decision. The first one waits until every other decision
    has queued behind it, so the rest must go in one batch."""
    seen: list[Any] = []
    with Session(world.engine) as s:
        group = decision_commit._group_for(s)

    def hold_first(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "INSERT INTO decision" not in statement:
            return
        seen.append(params)
        if len(seen) == 1:
            deadline = time.monotonic() + 30
            while len(group._queue) < N - 1 and time.monotonic() < deadline:
                time.sleep(0.005)

    event.listen(world.engine, "before_cursor_execute", hold_first)
    yield seen
    event.remove(world.engine, "before_cursor_execute", hold_first)


def _stored(world: World) -> list[Decision]:
    with Session(world.engine) as s:
        return list(s.exec(select(Decision).order_by(Decision.attempt_id)).all())


def test_decisions_waiting_together_share_one_insert_and_each_is_stored_once(world, inserts):
    results = _in_threads([lambda a=a: _decide(world, a) for a in world.attempt_ids])
    assert all(isinstance(r, tuple) and r[1] for r in results), results
    assert len(inserts) == 2  # the first alone, then the other five together
    stored = _stored(world)
    assert [d.attempt_id for d in stored] == world.attempt_ids
    assert {r[0] for r in results} == {d.id for d in stored}  # each request got its own row's id
    assert [d.deteriorated for d in stored] == [i % 2 == 0 for i in range(N)]  # from the attempt's columns
    with Session(world.engine) as s:
        audits = s.exec(select(AuditEvent).where(AuditEvent.action == "decision.record")).all()
    assert sorted((a.target, a.detail["decision_id"]) for a in audits) == sorted(
        (f"attempt:{d.attempt_id}", d.id) for d in stored
    )


@pytest.fixture
def batch_log() -> Iterator[list[logging.LogRecord]]:
    """What the group commit logs."""
    with captured("alertdrill.decisions", logging.WARNING) as records:
        yield records


def test_a_row_the_database_refuses_fails_only_its_own_request(world, inserts, batch_log):
    bad = world.attempt_ids[3]

    def refuse(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        values = list(params.values() if isinstance(params, dict) else params)
        values += [v for column in values if isinstance(column, list) for v in column]  # PostgreSQL's arrays
        if "INSERT INTO decision" in statement and "REFUSE ME" in values:
            raise RuntimeError("refused by the test")

    event.listen(world.engine, "before_cursor_execute", refuse)
    try:
        results = _in_threads([
            (lambda a=a: _decide(world, a, action="dismiss", reason="other", reason_text="REFUSE ME"))
            if a == bad else (lambda a=a: _decide(world, a))
            for a in world.attempt_ids
        ])
    finally:
        event.remove(world.engine, "before_cursor_execute", refuse)
    failed = [a for a, r in zip(world.attempt_ids, results, strict=True) if isinstance(r, BaseException)]
    assert failed == [bad]
    assert "refused by the test" in str(results[world.attempt_ids.index(bad)])
    assert [d.attempt_id for d in _stored(world)] == [a for a in world.attempt_ids if a != bad]
    assert any("written alone" in r.getMessage() for r in batch_log)


def test_a_failed_write_names_no_values_in_its_error_or_the_log(world, batch_log):
    # A row the database refuses (its trainee does not exist): the error and the batch's log line
    # say what failed, not what the trainee typed (nor, elsewhere, token digests or hashes).
    with Session(world.engine) as s:
        values = _values(s, world) | {"trainee_id": 999_999, "reason_text": "private words"}
        with pytest.raises(Exception) as failed:
            decision_commit.write_decision(s, values)
    logged = "\n".join(JsonFormatter().format(r) for r in batch_log)
    assert "written alone" in logged and "foreign key" in (str(failed.value) + logged).lower()
    assert "private words" not in str(failed.value) and "private words" not in logged
    assert '"logger": "alertdrill.decisions"' in logged
    assert _stored(world) == []


def test_postgresqls_quote_of_the_row_stays_out_of_the_log(world, batch_log):
    if world.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite's constraint errors quote no values)")
    with Session(world.engine) as s:
        values = _values(s, world) | {"category": None, "reason_text": "private words"}
        with pytest.raises(Exception) as failed:
            decision_commit.write_decision(s, values)
    assert "private words" in str(failed.value)  # PostgreSQL's DETAIL quotes the failing row
    logged = "\n".join(JsonFormatter().format(r) for r in batch_log)
    assert "written alone" in logged and "not-null" in logged
    assert "private words" not in logged and WITHHELD in logged


def test_the_same_attempt_twice_in_one_batch_stores_one_decision(world, inserts):
    twice = world.attempt_ids[1]
    calls = [lambda a=a: _decide(world, a) for a in world.attempt_ids[:-2]]  # includes `twice`
    calls += [lambda: _decide(world, twice), lambda: _decide(world, twice, action="dismiss", reason="baseline")]
    results = _in_threads(calls)
    (stored,) = [d for d in _stored(world) if d.attempt_id == twice]
    on_twice = list(zip([results[1], results[-2], results[-1]], ["escalate", "escalate", "dismiss"], strict=True))
    assert sum(1 for r, _ in on_twice if isinstance(r, tuple) and r[1]) == 1  # whichever came first
    for result, action in on_twice:
        if action == stored.action:
            assert isinstance(result, tuple) and result[0] == stored.id
        else:
            assert isinstance(result, DecisionConflict) and result.stored.id == stored.id
    assert len(_stored(world)) == N - 2


def test_batches_never_mix_databases(world, tmp_path):
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}", pool_size=2)
    try:
        with Session(world.engine) as a, Session(other) as b, Session(world.engine) as c:
            mine = decision_commit._group_for(a)
            assert decision_commit._group_for(b) is not mine
            assert decision_commit._group_for(c) is mine
    finally:
        other.dispose()


def test_a_batch_whose_commit_fails_tells_no_one_and_each_writes_alone(world, inserts, batch_log):
    failures: list[int] = []

    def fail_first_commit_of_a_write(conn) -> None:  # type: ignore[no-untyped-def]
        # The COMMIT after the first INSERT (not a reader ending its snapshot before writing).
        if inserts and not failures:
            failures.append(len(inserts))
            raise RuntimeError("commit refused by the test")

    event.listen(world.engine, "commit", fail_first_commit_of_a_write)
    try:
        results = _in_threads([lambda a=a: _decide(world, a) for a in world.attempt_ids])
    finally:
        event.remove(world.engine, "commit", fail_first_commit_of_a_write)
    assert failures == [1]
    assert all(isinstance(r, tuple) and r[1] for r in results), results
    stored = _stored(world)
    assert [d.attempt_id for d in stored] == world.attempt_ids  # each once
    assert {r[0] for r in results} == {d.id for d in stored}
    assert any("written alone" in r.getMessage() for r in batch_log)


def test_postgresql_refuses_an_over_long_value_instead_of_cutting_it(world):
    if world.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite does not enforce VARCHAR lengths)")
    with Session(world.engine) as s:
        too_long = _values(s, world, category="c" * 61)  # the column holds 60
        with pytest.raises(Exception, match="too long"):
            decision_commit.write_decision(s, too_long)
    assert _stored(world) == []


def test_values_without_every_column_are_refused_before_any_write(world):
    with Session(world.engine) as s:
        values = _values(s, world)
        del values["correct"]
        with pytest.raises(ValueError, match="correct"):
            decision_commit.write_decision(s, values)
    assert _stored(world) == []


def _values(s: Session, world: World, category: str = "sepsis") -> dict[str, Any]:
    attempt, trainee = s.get(CaseAttempt, world.attempt_ids[0]), s.get(User, world.trainee_id)
    assert attempt is not None and trainee is not None
    submitted = DecisionInput.parse(action="escalate", reason=None, reason_text=None, confidence=70)
    return decision_values(attempt=attempt, trainee=trainee, category=category, submitted=submitted,
                           independent_action=None, decided_at=datetime.now(UTC))
