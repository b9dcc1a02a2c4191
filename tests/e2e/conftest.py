"""Browser-test fixtures: a real server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Session-wide: one migrated SQLite database with the shipped scenarios and the demo accounts,
and one uvicorn process serving it. Per test module: one browser. Per test: a fresh browser context (own cookies)
and page whose relative URLs resolve against the server.

Reusable pieces for any browser test: `server_url` (alias `live_server`), `e2e_engine` (write test data straight
into the server's database), `browser`, `page`, and the helpers `login(page, username)` and
`axe_violations(page)`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SCRIPT = next(iter(sorted((Path(__file__).parent / "vendor").glob("axe-*.min.js"))), None)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEMO_PASSWORD = "demo"  # the documented demo credential


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:  # noqa: S310 - 127.0.0.1 only
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up in {timeout_s:.0f} s")


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file with every scenario in scenarios/ published and the demo accounts."""
    from sqlmodel import Session

    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.services.accounts import ensure_demo_accounts
    from app.services.scenarios import publish_files, scenario_files

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'alertdrill.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        publish_files(session, scenario_files([ROOT / "scenarios"]))
        ensure_demo_accounts(session)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def e2e_engine(e2e_database_url: str) -> Iterator[Engine]:
    """Engine on the server's database, for tests that set up data (drills, users) directly."""
    from app.core.db import make_engine

    engine = make_engine(e2e_database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def server_url(e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a uvicorn process serving the e2e database; stopped by its PID at the end."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": e2e_database_url,
        "ALERTDRILL_ENV": "test",
        "ARGON2_PROFILE": "test",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "e2e-secret-key"),
    }
    log = (tmp_path_factory.mktemp("e2e-log") / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def live_server(server_url: str) -> str:
    """Alias of `server_url` (the name pytest-django and Flask's plugins use)."""
    return server_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (no browser download); `make tools` installs it when missing.

    Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this thread
    while it is open, and later tests that call `asyncio.run()` (tests/load) must not see it.
    """
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make tools` (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh context (no cookies) with a desktop-ward-PC viewport; relative URLs hit the server."""
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real form and wait for the role's home page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, f"login as {username} failed"


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core (vendored) on the current page; only violations of the given impacts."""
    assert AXE_SCRIPT is not None, "tests/e2e/vendor/axe-*.min.js is missing"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') forbids the
        # inline <script> that add_script_tag would insert, and the CSP stays on for the test.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v.get("impact") in impacts
    ]
