"""Account commands of the `alertdrill` CLI, committing for real to a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.core.db import make_engine
from app.core.migrate import upgrade
from app.core.security import verify_password
from app.models import AuditEvent, Cohort, Unit, User, UserSession
from app.services.accounts import ensure_demo_accounts
from app.services.auth import start_session
from tests.conftest import new_database


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    fresh = new_database(tmp_path)
    upgrade(fresh.url)
    eng = make_engine(fresh.url, pool_size=2)
    with Session(eng) as session:
        ensure_demo_accounts(session)
    monkeypatch.setattr("app.cli.admin.get_engine", lambda: eng)
    try:
        yield eng
    finally:
        eng.dispose()
        fresh.drop()


def _run(*args: str):
    return CliRunner().invoke(cli_app, list(args))


def test_import_roster_creates_trainees(engine: Engine, tmp_path: Path):
    roster = tmp_path / "ward.csv"
    roster.write_text("username,display_name,cohort,password\nr.one,R One,Nights,pass-word-1\n"
                      "r.two,R Two,,pass-word-2\n", encoding="utf-8")
    result = _run("users", "import-roster", str(roster), "--unit", "Demo Ward 7B")
    assert result.exit_code == 0, result.output
    assert "created 2 trainee account(s) in Demo Ward 7B" in result.output
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.name == "Demo Ward 7B")).one()
        one = session.exec(select(User).where(User.username == "r.one")).one()
        nights = session.exec(select(Cohort).where(Cohort.name == "Nights")).one()
        assert (one.role, one.unit_id, one.cohort_id) == ("trainee", unit.id, nights.id)
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()


def test_import_roster_reports_lines_and_creates_nothing(engine: Engine, tmp_path: Path):
    roster = tmp_path / "bad.csv"
    roster.write_text("username,display_name,password\nr.one,R One,pass-word-1\nnurse,Clash,pass-word-2\n",
                      encoding="utf-8")
    result = _run("users", "import-roster", str(roster), "--unit", "Demo Ward 7B")
    assert result.exit_code == 1
    assert f"{roster}:line 3: username 'nurse' already exists" in result.output
    assert "nothing imported: 1 problem(s)" in result.output
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "r.one")).first() is None


def test_import_roster_needs_an_existing_unit(engine: Engine, tmp_path: Path):
    roster = tmp_path / "ok.csv"
    roster.write_text("username,display_name,password\nr.one,R One,pass-word-1\n", encoding="utf-8")
    result = _run("users", "import-roster", str(roster), "--unit", "Ward 99")
    assert result.exit_code == 1
    assert "no unit 'Ward 99' (units: Demo Ward 7B)" in result.output
    with Session(engine) as session:
        assert session.exec(select(Unit).where(Unit.name == "Ward 99")).first() is None


def test_reset_password_from_the_command_line(engine: Engine):
    with Session(engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        start_session(session, admin)
    result = _run("users", "reset-password", "ADMIN", "--password", "recovered-at-3am")
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        assert verify_password(admin.password_hash, "recovered-at-3am")
        assert not verify_password(admin.password_hash, "demo")
        assert session.exec(select(UserSession).where(UserSession.user_id == admin.id)).first() is None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.password_reset")).one()
        assert event.actor_id is None and event.target == f"user:{admin.id}"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("nobody", "long-enough-1", "no user 'nobody'"), ("nurse", "short", "at least 8 characters")],
)
def test_reset_password_refusals(engine: Engine, username: str, password: str, message: str):
    result = _run("users", "reset-password", username, "--password", password)
    assert result.exit_code == 1
    assert message in result.output
