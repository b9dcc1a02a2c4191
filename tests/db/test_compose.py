"""docker-compose.yml and Dockerfile: the production shape stays deployable.

No Docker engine runs here (nor in CI), so these tests read the files and, when a
compose client is installed, let it validate and interpolate the file offline.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
REQUIRED_ENV = {"SECRET_KEY": "test-only-secret", "POSTGRES_PASSWORD": "test0only0password"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) if present, else the standalone `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _run_compose(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client on PATH")
    empty_env_file = tmp_path / "empty.env"  # a developer's .env must not change the outcome
    empty_env_file.write_text("")
    base_env = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV}
    return subprocess.run(
        [*command, "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT, env={**base_env, **env}, capture_output=True, text=True, timeout=60, check=False,
    )


# --- the compose client agrees ------------------------------------------------------------


def test_compose_config_passes(tmp_path: Path):
    result = _run_compose(["config", "-q"], REQUIRED_ENV, tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_config_interpolates_the_secrets(tmp_path: Path):
    result = _run_compose(["config"], REQUIRED_ENV, tmp_path)
    assert result.returncode == 0, result.stderr
    app_env = yaml.safe_load(result.stdout)["services"]["app"]["environment"]
    assert app_env["SECRET_KEY"] == "test-only-secret"
    assert app_env["DATABASE_URL"] == "postgresql://alertdrill:test0only0password@db:5432/alertdrill"


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_compose_config_fails_without_required_secret(tmp_path: Path, missing: str):
    env = {k: v for k, v in REQUIRED_ENV.items() if k != missing}
    result = _run_compose(["config", "-q"], env, tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr


# --- the file says what production needs ---------------------------------------------------


def test_services_and_health_checks(compose: dict[str, Any]):
    services = compose["services"]
    assert set(services) == {"app", "db"}
    db, app = services["db"], services["app"]
    assert str(db["image"]).startswith("postgres:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    app_check = " ".join(app["healthcheck"]["test"])
    assert "/healthz" in app_check
    # The python one-liner must at least be valid Python.
    compile(app["healthcheck"]["test"][-1], "<healthcheck>", "exec")
    assert app["depends_on"]["db"]["condition"] == "service_healthy"


def test_database_lives_on_a_named_volume(compose: dict[str, Any]):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]


def test_app_environment_is_production(compose: dict[str, Any]):
    env = compose["services"]["app"]["environment"]
    assert env["ALERTDRILL_ENV"] == "production"
    assert str(env["SESSION_COOKIE_SECURE"]).lower() == "true"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in env["DATABASE_URL"]


def test_app_migrates_then_serves_with_gunicorn(compose: dict[str, Any]):
    command = compose["services"]["app"]["command"]
    script = command if isinstance(command, str) else " ".join(command)
    assert "alertdrill db upgrade &&" in script
    assert script.index("alertdrill db upgrade") < script.index("exec gunicorn")
    assert "UvicornWorker" in script and "app.asgi:app" in script


def test_dockerfile_runs_unprivileged_python_311():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11" in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_dockerignore_keeps_what_the_image_needs():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["pyproject.toml", "README.md", "alembic.ini", "migrations", "app", "simulator", "scenarios"]
    excluded = [path for path in needed if any(fnmatch.fnmatch(path, p) for p in patterns)]
    assert not excluded, f".dockerignore drops files the image needs: {excluded}"
    for secret_or_junk in (".env", ".venv", "alertdrill.db", ".git"):
        assert any(fnmatch.fnmatch(secret_or_junk, p) for p in patterns), secret_or_junk
