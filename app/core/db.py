"""Engine and session factory.

SQLite gets WAL and a busy timeout so several workers can share one file; PostgreSQL
gets pre-ping so a restarted server or a killed backend costs one retry, not a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from app.core.config import get_settings


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=False,
            # A file gets a QueuePool sized like PostgreSQL's (the app's concurrency gate
            # counts on it); an in-memory database keeps SQLAlchemy's single-connection pool.
            **({} if url in ("sqlite://", "sqlite:///:memory:") else {"pool_size": pool_size, "max_overflow": pool_size}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # Let SQLAlchemy, not pysqlite, decide when transactions begin, so
            # SAVEPOINT and BEGIN IMMEDIATE behave as documented.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Write paths ask for IMMEDIATE (see `write_session`): a deferred read
            # that later upgrades to a write can fail with SQLITE_BUSY at once,
            # which busy_timeout cannot wait out.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.database_url, pool_size=settings.db_pool_size)


def get_session() -> Iterator[Session]:
    session = Session(get_engine())
    try:
        yield session
    finally:
        try:
            session.close()
        except DBAPIError as exc:
            # The connection died after the request's work was done (e.g. PostgreSQL
            # terminated it): the pool has dropped it; the answer already computed stands.
            if not exc.connection_invalidated:
                raise


def begin_write(session: Session) -> None:
    """Call first in a unit of work that will write.

    A request has usually read already (the log-in check), leaving a deferred read
    snapshot open; on SQLite, upgrading that snapshot to a write fails at once if
    another connection wrote meanwhile, which busy_timeout cannot wait out. So end a
    read-only transaction first, then take the write lock up front (BEGIN IMMEDIATE
    waits up to busy_timeout). On PostgreSQL only the first step applies.
    """
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.commit()
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
