"""Concurrent log-ins on one database file: no "database is locked".

On SQLite a transaction that reads and then writes fails at once when another connection
writes meanwhile (busy_timeout cannot wait that out), so every write path must end its read
and take the write lock first. Log-in is the busiest write path at the start of a shift.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlmodel import Session

from app.core.migrate import upgrade
from app.services.accounts import create_user, get_or_create_unit
from app.services.auth import authenticate, end_session, start_session
from tests.conftest import make_engine, new_database

THREADS = 12
ROUNDS = 4


def test_parallel_logins_and_logouts_never_hit_a_lock(tmp_path: Path) -> None:
    fresh = new_database(tmp_path)
    engine = make_engine(fresh.url, pool_size=THREADS)
    try:
        upgrade(fresh.url)
        with Session(engine) as s:
            unit = get_or_create_unit(s, "Ward")
            for i in range(THREADS):
                create_user(s, username=f"n{i}", password="pass-1234", role="trainee", unit=unit)
            s.commit()
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def work(i: int) -> None:
            start.wait()
            for r in range(ROUNDS):
                try:
                    with Session(engine) as s:
                        if r == 0:  # a wrong password first: the failure is written too
                            assert authenticate(s, username=f"n{i}", password="wrong-pass") is None
                        user = authenticate(s, username=f"n{i}", password="pass-1234")
                        assert user is not None
                        token, _ = start_session(s, user)
                        end_session(s, token)
                except BaseException as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, f"{len(errors)} failed log-ins, first: {errors[0]!r}"
    finally:
        engine.dispose()
        fresh.drop()
