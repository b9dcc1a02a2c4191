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

import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.core.db import begin_write, commit_keeping_loaded
from app.models import AuditEvent, Decision

__all__ = ["write_decision"]

log = logging.getLogger(__name__)

_DECISION = Decision.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(c.key for c in _DECISION.columns if c.key != "id")
# DO NOTHING on any unique conflict (attempt_id, idempotency_key): that row is not returned.
# RETURNING (ids unused) makes SQLAlchemy send the rows as one multi-row VALUES statement, compiled
# once: without it psycopg's executemany runs a pipeline of single-row INSERTs.
_INSERT_AUDIT = insert(_AUDIT).returning(_AUDIT.c.id)
_INSERT = {
    name: dialect.insert(_DECISION).on_conflict_do_nothing().returning(_DECISION.c.id, _DECISION.c.attempt_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(eq=False)
class _Pending:
    decision: Decision
    done: bool = False
    failed: bool = False
    inserted_id: int | None = None
    row: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.row = {k: getattr(self.decision, k) for k in _COLUMNS}


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
                try:
                    _write_batch(session, batch)
                except Exception:
                    session.rollback()
                    log.warning("decision batch of %d failed: each is written alone", len(batch), exc_info=True)
                    for it in batch:
                        it.failed = True
                finally:
                    self._cond.acquire()
                    self._writing = False
                    for it in batch:
                        it.done = True
                    self._cond.notify_all()


def _write_batch(session: Session, batch: list[_Pending]) -> None:
    begin_write(session, keep_loaded=True)  # SQLite: the write lock up front
    conn = session.connection()
    by_attempt = {it.row["attempt_id"]: it for it in reversed(batch)}  # the first of duplicates wins
    rows = conn.execute(_INSERT[conn.dialect.name], [it.row for it in by_attempt.values()]).all()
    audits = []
    for new_id, attempt_id in rows:
        it = by_attempt[attempt_id]
        it.inserted_id = new_id
        d = it.decision
        audits.append({
            "at": d.created_at, "actor_id": d.trainee_id, "action": "decision.record",
            "target": f"attempt:{attempt_id}",
            "detail": {"decision_id": new_id, "action": d.action, "correct": d.correct},
        })
    if audits:
        conn.execute(_INSERT_AUDIT, audits)
    commit_keeping_loaded(session)


_groups: weakref.WeakKeyDictionary[object, _Group] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group_for(session: Session) -> _Group:
    bind = session.get_bind()
    with _groups_lock:
        group = _groups.get(bind)
        if group is None:
            group = _groups[bind] = _Group()
        return group


def write_decision(session: Session, decision: Decision) -> int | None:
    """Store `decision` (with its audit event) and commit; its new id, or None when a decision for
    its attempt was already stored. Database errors are raised as from a plain write."""
    item = _Pending(decision)
    _group_for(session).write(session, item)
    if item.failed:
        alone = _Pending(decision)
        try:
            _write_batch(session, [alone])
        except Exception:
            session.rollback()
            raise
        return alone.inserted_id
    return item.inserted_id
