"""Log a TestClient in as a user and make it send the CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def login(client: TestClient, username: str, password: str = "demo") -> TestClient:  # noqa: S107
    page = client.get("/login")
    token = csrf_from(page.text)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 303, f"login as {username} failed: {r.status_code}"
    home = client.get(r.headers["location"])
    # Pages of logged-in users carry the session's token; htmx sends it as a header.
    match = CSRF_RE.search(home.text) or re.search(r'name="csrf-token" content="([^"]+)"', home.text)
    if match:
        client.headers["X-CSRF-Token"] = match.group(1)
    return client
