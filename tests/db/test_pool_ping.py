"""PostgreSQL connections are pinged on checkout unless they were returned moments ago.

A dead connection (restarted server, terminated backend) must cost at most a clear error on the
request that was already using it, never a stuck pool; a connection that answered a few
milliseconds ago is handed out without another round trip (app.core.db.PING_BYPASS_S).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.core import db
from tests.conftest import BACKEND, PG_ADMIN_URL, make_engine, new_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL only")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    fresh = new_database(tmp_path)
    eng = make_engine(fresh.url, pool_size=1)
    yield eng
    eng.dispose()
    fresh.drop()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = engine.dialect.do_ping

    def counting(conn: object) -> bool:
        seen.append(1)
        return real(conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return seen


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    time.sleep(0.1)  # let the backend go


def test_a_connection_just_returned_is_not_pinged_again(engine: Engine, pings: list[int]) -> None:
    first = _pid(engine)
    assert len(pings) == 1  # a new connection is checked once
    assert _pid(engine) == first and _pid(engine) == first
    assert len(pings) == 1  # back within the window: no round trip
    time.sleep(db.PING_BYPASS_S + 0.1)
    assert _pid(engine) == first
    assert len(pings) == 2  # idle longer: checked again


def test_a_connection_killed_while_idle_is_replaced_without_an_error(engine: Engine, pings: list[int]) -> None:
    dead = _pid(engine)
    _terminate(dead)
    time.sleep(db.PING_BYPASS_S + 0.1)
    fresh = _pid(engine)  # the ping finds it dead; the pool connects again; no error surfaces
    assert fresh != dead
    assert len(pings) >= 2


def test_a_connection_killed_within_the_window_fails_once_then_the_pool_recovers(engine: Engine) -> None:
    dead = _pid(engine)
    _terminate(dead)
    with pytest.raises(DBAPIError) as failed:  # the app turns this into 503 "retry shortly"
        _pid(engine)
    assert failed.value.connection_invalidated
    assert _pid(engine) != dead
