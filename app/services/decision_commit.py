"""Group commit for decisions: the decisions that arrive together in one worker share one
transaction.

At the start of a competency week many nurses decide at once, and each decision costs the
database far more in its transaction (the COMMIT's WAL flush, the tally trigger, the round trips)
than in its rows. So the first request to arrive writes every decision waiting in its worker
(its own included) in one INSERT ... ON CONFLICT DO NOTHING, their audit events in one more, and
one COMMIT; the others wait for that COMMIT and are answered only after it. With no one else
waiting a batch is one decision and nothing waits. PostgreSQL's `commit_delay` does the same inside
the server; this also shares the statements, the trigger run and the round trips.

What each request is told is what was committed:

- its decision's new id: its row is in the committed batch;
- None: the row was not inserted because a decision for that attempt was already stored (a
  double submission, or a retry of one whose answer was lost). The caller reads the stored one.
- a failed batch (the database away, or one row the database refused) never decides for the others:
  every request then writes its decision alone, in its own transaction, and meets its own error.
  So one bad row costs only its own request, and a batch whose COMMIT reply was lost is settled by
  the unique constraint on the retry.

Batches never mix databases: requests group by the engine or connection their session is bound to.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.core.db import begin_write, commit_keeping_loaded
from app.models import AuditEvent, Decision

__all__ = ["decision_audit", "write_decision"]

log = logging.getLogger("alertdrill.decisions")  # JSON lines, like every app log (app/core/logging.py)

_DECISION = Decision.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(c.key for c in _DECISION.columns if c.key != "id")

# Both forms skip a row whose attempt (or idempotency key) is already stored (DO NOTHING on any
# unique conflict) and return (id, attempt_id) for the rows they inserted. Each decision's audit
# event records its new id.
#
# PostgreSQL: one statement of fixed text whatever the batch's size, one array per column, so
# psycopg prepares it once per connection and the rows are not expanded into bind parameters; the
# audit events are inserted from the decisions' RETURNING in the same statement.
_PG_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
# Strings as TEXT: a cast to VARCHAR(n) would silently cut a longer value, where the column itself
# refuses it.
_PG_TYPES = {
    k: "TEXT" if t.startswith("VARCHAR") else t
    for k, t in ((c.key, c.type.compile(dialect=_PG_DIALECT)) for c in _DECISION.columns if c.key != "id")
}
_PG_WRITE = text(
    # Built from the model's own column names and types: no input reaches this text.
    f"WITH d AS (INSERT INTO decision ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"SELECT * FROM unnest({', '.join(f'CAST(:{k} AS {_PG_TYPES[k]}[])' for k in _COLUMNS)}) "
    "ON CONFLICT DO NOTHING RETURNING id, attempt_id, trainee_id, action, correct, created_at), "
    "audit AS (INSERT INTO audit_event (at, actor_id, action, target, detail) "
    "SELECT created_at, trainee_id, 'decision.record', 'attempt:' || attempt_id, "
    "json_build_object('decision_id', id, 'action', action, 'correct', correct) FROM d) "
    "SELECT id, attempt_id FROM d"
)
# SQLite: the decisions as one multi-row INSERT (SQLAlchemy's "insertmanyvalues"), then their audit
# events likewise (RETURNING, unused, is what makes SQLAlchemy send them as one statement).
_SQLITE_INSERT = sqlite.insert(_DECISION).on_conflict_do_nothing().returning(_DECISION.c.id, _DECISION.c.attempt_id)
_SQLITE_AUDIT = insert(_AUDIT).returning(_AUDIT.c.id)


def _insert_postgresql(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    columns = {k: [r[k] for r in rows] for k in _COLUMNS}
    return [(i, a) for i, a in conn.execute(_PG_WRITE, columns)]


def decision_audit(decision_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """The audit event's columns for the decision `decision_id` with columns `values`: what
    PostgreSQL's statement above builds in SQL, for SQLite's write and the demo history."""
    return {
        "at": values["created_at"], "actor_id": values["trainee_id"], "action": "decision.record",
        "target": f"attempt:{values['attempt_id']}",
        "detail": {"decision_id": decision_id, "action": values["action"], "correct": values["correct"]},
    }


def _insert_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    inserted = [(i, a) for i, a in conn.execute(_SQLITE_INSERT, rows)]
    by_attempt = {r["attempt_id"]: r for r in rows}
    if inserted:
        conn.execute(_SQLITE_AUDIT, [decision_audit(i, by_attempt[a]) for i, a in inserted])
    return inserted


_INSERT = {"postgresql": _insert_postgresql, "sqlite": _insert_sqlite}


@dataclass(eq=False)
class _Pending:
    row: dict[str, Any]  # the decision's columns
    done: bool = False
    failed: bool = False
    inserted_id: int | None = None


class _Group:
    """Leader/follower: whoever finds no write in progress takes everything queued."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False

    def write(self, session: Session, item: _Pending) -> None:
        with self._cond:
            self._queue.append(item)
            while not item.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                batch, self._queue = self._queue, []
                self._cond.release()
                ids: dict[int, int] | None = None
                try:
                    ids = _write_batch(session, batch)
                except Exception:
                    with contextlib.suppress(Exception):
                        session.rollback()
                    log.warning("decision batch of %d failed: each is written alone", len(batch), exc_info=True)
                finally:
                    # Told only after the COMMIT returned; on any failure or interruption every
                    # request of the batch writes its own decision again.
                    self._cond.acquire()
                    self._writing = False
                    for i, it in enumerate(batch):
                        it.failed = ids is None
                        it.inserted_id = None if ids is None else ids.get(i)
                        it.done = True
                    self._cond.notify_all()


def _write_batch(session: Session, batch: list[_Pending]) -> dict[int, int]:
    """Write and commit; the new id of each batch position whose row was inserted."""
    begin_write(session, keep_loaded=True)  # SQLite: the write lock up front
    conn = session.connection()
    first: dict[int, int] = {}  # attempt id -> its first position: a duplicate waits for the stored row
    for i, it in enumerate(batch):
        first.setdefault(it.row["attempt_id"], i)
    # In attempt order: two workers' batches then take the unique index's entries in the same order.
    rows = [batch[first[a]].row for a in sorted(first)]
    ids = {first[attempt_id]: new_id for new_id, attempt_id in _INSERT[conn.dialect.name](conn, rows)}
    commit_keeping_loaded(session)
    return ids


_groups: weakref.WeakKeyDictionary[object, _Group] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group_for(session: Session) -> _Group:
    bind = session.get_bind()
    with _groups_lock:
        group = _groups.get(bind)
        if group is None:
            group = _groups[bind] = _Group()
        return group


def write_decision(session: Session, values: dict[str, Any]) -> int | None:
    """Store a decision (`values`: every column but its id; see `attempts.decision_values`) with its
    audit event, and commit; its new id, or None when a decision for its attempt was already
    stored. Database errors are raised as from a plain write."""
    missing = set(_COLUMNS) - values.keys()
    if missing:
        raise ValueError(f"decision values lack {sorted(missing)}")
    item = _Pending(values)
    _group_for(session).write(session, item)
    if not item.failed:
        return item.inserted_id
    try:
        return _write_batch(session, [item]).get(0)
    except Exception:
        session.rollback()
        raise
