"""Test fixtures: a fresh, migrated database per run (SQLite or PostgreSQL).

`TEST_DATABASE=postgres` (with `TEST_POSTGRES_URL` pointing at a server, default
127.0.0.1:5432) runs the same suite against PostgreSQL in a database created for
this run and dropped after. Each test runs inside a transaction that is rolled
back, so tests are independent and fast; services still call `commit()`, which
only releases a savepoint.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("ALERTDRILL_ENV", "test")
os.environ.setdefault("ARGON2_PROFILE", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key")

from fastapi.testclient import TestClient
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine, get_session, make_engine
from app.core.migrate import upgrade
from app.core.security import hasher

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_report_header() -> str:
    return f"alertdrill test database: {BACKEND}"


class FreshDatabase:
    """Creates an empty database for this run and removes it afterwards."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.name = f"alertdrill_test_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = ""

    def create(self) -> str:
        if BACKEND == "postgres":
            admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.url = re.sub(r"/[^/]*$", f"/{self.name}", PG_ADMIN_URL)
        else:
            self.url = f"sqlite:///{self.tmp_dir / (self.name + '.db')}"
        return self.url

    def drop(self) -> None:
        if BACKEND == "postgres":
            admin = sa_create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


def new_database(tmp_dir: Path) -> FreshDatabase:
    """For tests that need a database of their own (migrations, real commits)."""
    fresh = FreshDatabase(tmp_dir)
    fresh.create()
    return fresh


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    fresh = FreshDatabase(tmp_path_factory.mktemp("db"))
    url = fresh.create()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    get_engine.cache_clear()
    hasher.cache_clear()
    upgrade(url)
    yield url
    get_engine().dispose()
    get_engine.cache_clear()
    fresh.drop()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    return get_engine()


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose commits only release savepoints; everything is undone afterwards."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    with rolled_back(engine) as session:
        yield session


@pytest.fixture
def app(db: Session):  # type: ignore[no-untyped-def]
    from app.main import create_app

    application = create_app()

    def _session() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_session] = _session
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def make_client(app):  # type: ignore[no-untyped-def]
    """Factory for extra clients (several users at once) sharing the test's database."""
    opened: list[TestClient] = []

    def _make() -> TestClient:
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        c.__enter__()
        opened.append(c)
        return c

    yield _make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def demo(db: Session):  # type: ignore[no-untyped-def]
    """The four demo accounts (password `demo`) in the demo unit."""
    from app.services.accounts import ensure_demo_accounts

    ensure_demo_accounts(db)
    return db


__all__ = ["make_engine", "new_database", "rolled_back"]
