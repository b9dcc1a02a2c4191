"""Engine and session factory.

SQLite gets WAL and a busy timeout so several workers can share one file; PostgreSQL
gets a pre-ping (skipped for a connection returned moments ago) so a restarted server or a
killed backend costs one retry, not a 500.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session, create_engine

from app.core.config import get_settings

try:
    import fcntl
except ImportError:  # Windows: writers then queue within a worker only
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_S = 30


class _WriterQueue:
    """SQLite has one writer: the app's writers wait for it here, in turn, instead of polling.

    A `BEGIN IMMEDIATE` that finds the database locked polls with growing sleeps (1 ms up
    to 100 ms), so under load a late writer often wins while an early one sleeps: the
    decision's p99 was 10-35 x its p50. Instead, a writer takes the worker's lock (its
    threads queue there) and then an exclusive `flock` on `<database>-writer.lock`, which
    the workers share (a waiting worker sleeps in the kernel and is woken when the holder
    lets go; the kernel also lets go for a worker that dies). Both are taken just before
    `BEGIN IMMEDIATE` and given back just after the transaction's COMMIT or ROLLBACK has
    reached the database (the dialect's own calls, wrapped), so SQLite's busy handler is
    only met by writers from outside the app. A thread that has not had the worker's lock
    within the busy timeout goes on without either lock and SQLite decides, as before.
    The file lock has no timeout: its holder is always inside one write transaction,
    which ends (or its process dies) without waiting for anything but the database.
    """

    def __init__(self, *, timeout: float, lock_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._owner: Any = None  # the DBAPI connection holding the turn
        self.timeout = timeout
        self._lock_path = lock_path if fcntl is not None else None
        self._fd: int | None = None
        self._fd_pid = 0  # the file is opened per process (gunicorn forks the workers)

    def _file(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    @staticmethod
    def _dbapi(conn: Any) -> Any:
        return getattr(conn, "dbapi_connection", conn)

    def locked(self) -> bool:
        return self._lock.locked()

    def acquire(self, conn: Any) -> None:
        if not self._lock.acquire(timeout=self.timeout):
            return
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise
        self._owner = self._dbapi(conn)

    def release(self, conn: Any) -> None:
        if self._owner is not None and self._owner is self._dbapi(conn):
            self._owner = None
            try:
                if self._fd is not None and self._fd_pid == os.getpid():
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                self._lock.release()

    def install(self, engine: Engine) -> None:
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]
        # A connection closed or invalidated mid-transaction gives the turn back too.
        event.listen(engine, "close", lambda dbapi_conn, _rec: self.release(dbapi_conn))
        event.listen(engine, "invalidate", lambda dbapi_conn, _rec, _exc: self.release(dbapi_conn))


_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


def sqlite_writer_queue(engine: Engine) -> _WriterQueue | None:
    """The engine's writer queue (SQLite files and memory), None for PostgreSQL."""
    return _WRITERS.get(engine)


def pool_capacity(pool_size: int) -> int:
    """Connections one process may hold at once (the app's admission gate uses the same number)."""
    return 2 * pool_size


def _pool_args(pool_size: int) -> dict[str, int]:
    # Every connection the pool opens is kept: no overflow. With overflow (SQLAlchemy's default
    # shape, pool_size + as many again), a worker under steady load kept closing the extra
    # connections whenever more than pool_size were idle for a moment and opening new ones a few
    # milliseconds later: 73 new PostgreSQL backends in 8 s of case-page load, each a fork and
    # a log-in, which cost more machine CPU than the pages themselves (docs/performance.md).
    return {"pool_size": pool_capacity(pool_size), "max_overflow": 0}


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """The app's engine. A failed statement's error (and so the log line that reports it) names
    no bound values (`hide_parameters`): they include session-token digests, password hashes and
    what trainees typed."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            pool_pre_ping=False,
            hide_parameters=True,
            # A file gets a pool sized like PostgreSQL's (the app's concurrency gate counts on
            # it); an in-memory database keeps SQLAlchemy's single-connection pool.
            **({} if url in ("sqlite://", "sqlite:///:memory:") else _pool_args(pool_size)),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # Let SQLAlchemy, not pysqlite, decide when transactions begin, so
            # SAVEPOINT and BEGIN IMMEDIATE behave as documented.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Write paths ask for IMMEDIATE (see `begin_write`): a deferred read
            # that later upgrades to a write can fail with SQLITE_BUSY at once,
            # which busy_timeout cannot wait out.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode == "IMMEDIATE":
                writers.acquire(conn.connection)
            try:
                conn.exec_driver_sql(f"BEGIN {mode}")
            except BaseException:
                writers.release(conn.connection)
                raise

        database = make_url(url).database
        in_memory = not database or database == ":memory:" or database.startswith("file::memory:")
        writers = _WriterQueue(
            timeout=SQLITE_BUSY_TIMEOUT_S, lock_path=None if in_memory else f"{database}-writer.lock"
        )
        writers.install(engine)
        _WRITERS[engine] = writers
        return engine
    engine = create_engine(url, pool_recycle=1800, hide_parameters=True, **_pool_args(pool_size))
    _ping_unless_just_used(engine)
    return engine


PING_BYPASS_S = 0.5
"""A connection back in the pool for less than this is handed out without a ping."""


def _ping_unless_just_used(engine: Engine) -> None:
    """Pre-ping, as `pool_pre_ping` does, except for a connection returned within PING_BYPASS_S.

    `pool_pre_ping` pings on every checkout: under load that is one more round trip per request
    (about a tenth of a case page's CPU here) to re-check a connection that answered a
    millisecond ago. HikariCP skips the check within 500 ms of last use (`aliveBypassWindowMs`)
    for the same reason. A connection that dies inside the window (a terminated backend) fails
    its request's first statement instead: SQLAlchemy then invalidates the whole pool, and the
    app answers 503 "retry shortly", as for requests in flight when a database goes away.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.pop("returned_at", None)
        if returned is not None and time.monotonic() - returned < PING_BYPASS_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):
                raise DisconnectionError(str(err)) from err  # the pool replaces it and tries again
            raise


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


def begin_write(session: Session, *, keep_loaded: bool = False) -> None:
    """Call first in a unit of work that will write.

    A request has usually read already (the log-in check), leaving a deferred read
    snapshot open; on SQLite, upgrading that snapshot to a write fails at once if
    another connection wrote meanwhile, which busy_timeout cannot wait out. So end a
    read-only transaction first, then take the write lock up front (BEGIN IMMEDIATE
    waits up to busy_timeout). On PostgreSQL only the first step applies.

    Ending the read transaction expires every loaded object, so the next attribute
    access reloads it inside the write transaction: what a check-then-write needs.
    `keep_loaded=True` is for callers that only use what cannot change under them (a
    case attempt's stored case, the user's id): on SQLite the read transaction ends
    without expiring anything, and on PostgreSQL (READ COMMITTED: each statement sees
    the latest commits anyway) the transaction simply carries on, saving the reloads.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        if not keep_loaded:
            session.commit()
        elif sqlite or _reads_autocommit(session):
            commit_keeping_loaded(session)  # (after read_autocommit: the write gets a transaction)
    if sqlite and not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def read_autocommit(session: Session) -> None:
    """Call first in a request that only reads: on PostgreSQL its statements then run without a
    transaction, saving the BEGIN and ROLLBACK round trips (each costs about as much worker CPU
    as the query itself). Each statement still sees a consistent snapshot. The pool restores
    the connection's isolation level when it is returned. SQLite's BEGIN is in-process: unchanged.

    It also keeps the connection's prepared statements: psycopg forgets them all on every
    ROLLBACK, which is how the pool ends a transaction left open, so a request that reads in a
    transaction has each of its statements planned again on the next request. A request that
    reads and then writes calls `begin_write` before the write, which gives the write a
    transaction of its own.
    """
    bind = session.get_bind()
    # Only a session that takes its own connection from the pool: one bound to a connection
    # (a test's outer transaction, a caller's unit of work) keeps that connection's transaction.
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _reads_autocommit(session: Session) -> bool:
    return session.connection().get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def end_read_snapshot(session: Session) -> None:
    """Let the session's next statement see what other transactions have committed since it began
    reading: a read transaction keeps its snapshot on SQLite (and on PostgreSQL above READ
    COMMITTED), so it is ended, without expiring anything loaded. Reading in autocommit
    (`read_autocommit`) there is none to end."""
    if session.in_transaction() and not _reads_autocommit(session):
        commit_keeping_loaded(session)


def commit_keeping_loaded(session: Session) -> None:
    """Commit without expiring the session's objects (they already hold what was written)."""
    session.expire_on_commit, expire = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
