"""API token pages: shown once, only a digest stored, revocable, CSRF-protected, own tokens only."""

from __future__ import annotations

import hashlib
import re

from sqlmodel import select

from app.models import ApiToken, User
from app.services import api_tokens
from tests.utils.auth import csrf_from, login

TOKEN_RE = re.compile(r'id="new-token" class="token" value="(adk_[^"]+)"')


def test_create_token_shows_it_once_and_stores_only_a_digest(demo, client):
    login(client, "manager")
    page = client.get("/dashboard/tokens")
    assert page.status_code == 200 and "You have no tokens yet" in page.text
    r = client.post("/dashboard/tokens", data={"name": "Ward BI", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    match = TOKEN_RE.search(r.text)
    assert match
    token = match.group(1)
    row = demo.exec(select(ApiToken).where(ApiToken.name == "Ward BI")).one()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.digest
    again = client.get("/dashboard/tokens")
    assert token not in again.text and "Ward BI" in again.text
    # The shown token works against the API.
    api = client.get("/api/v1/unit/summary", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200


def test_token_name_is_required(demo, client):
    login(client, "manager")
    page = client.get("/dashboard/tokens")
    r = client.post("/dashboard/tokens", data={"name": "  ", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 422 and "Give the token a name" in r.text
    assert demo.exec(select(ApiToken)).first() is None


def test_create_without_csrf_is_refused(demo, client):
    login(client, "manager")
    del client.headers["X-CSRF-Token"]
    assert client.post("/dashboard/tokens", data={"name": "x"}).status_code == 403


def test_revoke_own_token_only(demo, client, make_client):
    manager = demo.exec(select(User).where(User.username == "manager")).one()
    admin = demo.exec(select(User).where(User.username == "admin")).one()
    token, mine = api_tokens.create_token(demo, manager, "mine")
    _t, admins = api_tokens.create_token(demo, admin, "admin's")
    login(client, "manager")
    assert client.post(f"/dashboard/tokens/{admins.id}/revoke").status_code == 404
    r = client.post(f"/dashboard/tokens/{mine.id}/revoke")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/tokens"
    demo.refresh(mine)
    assert mine.revoked
    assert client.get("/api/v1/unit/summary", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # htmx revoke answers with the refreshed list.
    _t2, other = api_tokens.create_token(demo, manager, "second")
    r = client.post(f"/dashboard/tokens/{other.id}/revoke", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text and "revoked" in r.text
    # An admin may revoke anyone's token.
    a = login(make_client(), "admin")
    _t3, third = api_tokens.create_token(demo, manager, "third")
    assert a.post(f"/dashboard/tokens/{third.id}/revoke").status_code == 303


def test_trainee_cannot_manage_tokens(demo, client):
    login(client, "nurse")
    assert client.get("/dashboard/tokens").status_code == 403
    assert client.post("/dashboard/tokens", data={"name": "x"}).status_code == 403
