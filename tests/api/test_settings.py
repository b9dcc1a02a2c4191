"""Production safety: settings validation, no demo accounts, cookie flags, URL normalisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.core.config import DEV_SECRET, Settings, get_settings
from app.core.db import make_engine
from app.core.migrate import upgrade
from app.models import User
from tests.utils.auth import csrf_from

ROOT = Path(__file__).resolve().parents[2]


class Env:
    """Environment changes that also drop the cached settings, so the next read sees them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._mp = monkeypatch

    def setenv(self, name: str, value: str) -> None:
        self._mp.setenv(name, value)
        get_settings.cache_clear()

    def delenv(self, name: str) -> None:
        self._mp.delenv(name, raising=False)
        get_settings.cache_clear()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield Env(monkeypatch)
    get_settings.cache_clear()  # monkeypatch restores the variables; rebuild from those


def _settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


# --- SECRET_KEY in production ------------------------------------------------------


def test_production_without_secret_key_is_refused(env):
    env.delenv("SECRET_KEY")
    env.setenv("ALERTDRILL_ENV", "production")
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        _settings()


@pytest.mark.parametrize("value", ["", DEV_SECRET])
def test_production_refuses_empty_or_development_secret(env, value):
    env.setenv("ALERTDRILL_ENV", "production")
    env.setenv("SECRET_KEY", value)
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        _settings()


def test_production_with_secret_key_starts(env):
    env.setenv("ALERTDRILL_ENV", "production")
    env.setenv("SECRET_KEY", "a-long-random-value-from-the-vault")
    settings = _settings()
    assert settings.is_production
    assert settings.secret_key.get_secret_value() == "a-long-random-value-from-the-vault"
    assert "a-long-random" not in repr(settings)  # SecretStr keeps it out of logs


def test_development_may_use_the_default_secret(env):
    env.delenv("SECRET_KEY")
    env.setenv("ALERTDRILL_ENV", "development")
    assert _settings().secret_key.get_secret_value() == DEV_SECRET


def test_app_start_up_fails_without_secret_in_production(env):
    from app.main import create_app

    env.delenv("SECRET_KEY")
    env.setenv("ALERTDRILL_ENV", "production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        create_app()


# --- demo accounts ------------------------------------------------------------------


@pytest.fixture
def cli_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite file of its own, so the CLI's real commits touch nothing shared."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    monkeypatch.setattr("app.cli.admin.get_engine", lambda: engine)
    monkeypatch.setattr("app.cli.demo.get_engine", lambda: engine)
    yield engine
    engine.dispose()


def _user_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(User)).one()


@pytest.mark.parametrize("command", [["demo", "accounts"], ["demo", "setup"]])
def test_demo_accounts_refused_in_production(env, cli_engine, command):
    env.setenv("ALERTDRILL_ENV", "production")
    env.setenv("SECRET_KEY", "a-long-random-value-from-the-vault")
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 1
    assert "refusing" in result.output
    assert _user_count(cli_engine) == 0


def test_demo_cli_without_secret_in_production_fails_before_anything(env, cli_engine):
    env.delenv("SECRET_KEY")
    env.setenv("ALERTDRILL_ENV", "production")
    result = CliRunner().invoke(cli_app, ["demo", "accounts"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)
    assert _user_count(cli_engine) == 0


# `demo setup` also needs published scenarios and adds synthetic trainees: tests/api/test_demo.py.
@pytest.mark.parametrize("command", [["demo", "accounts"]])
def test_demo_accounts_created_outside_production(env, cli_engine, command):
    env.setenv("ALERTDRILL_ENV", "development")
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 0, result.output
    assert "created: nurse, educator, manager, admin" in result.output
    with Session(cli_engine) as session:
        users = session.exec(select(User)).all()
    assert sorted((u.username, u.role, u.is_demo) for u in users) == [
        ("admin", "admin", True), ("educator", "educator", True),
        ("manager", "manager", True), ("nurse", "trainee", True),
    ]
    again = CliRunner().invoke(cli_app, command)
    assert again.exit_code == 0 and "none (already present)" in again.output


# --- cookie flags -----------------------------------------------------------------


@pytest.mark.parametrize(("configured", "secure"), [("true", True), ("false", False)])
def test_session_cookie_secure_follows_setting(env, demo, client, configured, secure):
    env.setenv("SESSION_COOKIE_SECURE", configured)
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"username": "nurse", "password": "demo", "csrf_token": token})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert ("; secure" in cookie) is secure


# --- database URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("postgres://u:p@db:5432/alertdrill", "postgresql+psycopg://u:p@db:5432/alertdrill"),
        ("postgresql://u:p@db:5432/alertdrill", "postgresql+psycopg://u:p@db:5432/alertdrill"),
        ("postgresql+psycopg://u@db/alertdrill", "postgresql+psycopg://u@db/alertdrill"),
        ("sqlite:///./alertdrill.db", "sqlite:///./alertdrill.db"),
    ],
)
def test_database_url_normalised_to_psycopg(given, normalised):
    assert _settings(database_url=given).database_url == normalised


def test_database_url_from_environment_uses_psycopg_driver(env):
    env.setenv("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/alertdrill")
    url = _settings().database_url
    engine = make_engine(url)  # builds the dialect without connecting
    try:
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    finally:
        engine.dispose()


# --- the docs keep up -------------------------------------------------------------


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in doc]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"
