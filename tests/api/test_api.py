"""Read-only JSON API: bearer tokens or a manager session, own unit only, documented models."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.models import ApiToken, Unit, User
from app.services import api_tokens
from app.services.accounts import DEMO_UNIT
from tests.api import dashboard_fixtures as fx
from tests.api.dashboard_fixtures import WORKED, D
from tests.utils.auth import login

API = ("/api/v1/unit/summary", "/api/v1/unit/decisions", "/api/v1/unit/categories")


@pytest.fixture
def wards(demo):
    db = demo
    home = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    ann = fx.user(db, "ann", "trainee", home, "Ann Able")
    rows = fx.add(db, ann, WORKED)
    away = fx.unit(db, "Ward Z")
    zmanager = fx.user(db, "zmanager", "manager", away)
    zoe = fx.user(db, "zoe", "trainee", away, "Zoe Zed")
    fx.add(db, zoe, [D(det=True, alert=True, action="dismiss")])
    manager = db.exec(select(User).where(User.username == "manager")).one()
    token, _ = api_tokens.create_token(db, manager, "reporting")
    ztoken, _ = api_tokens.create_token(db, zmanager, "z reporting")
    return {"db": db, "home": home, "away": away, "ann": ann, "rows": rows, "token": token, "ztoken": ztoken,
            "manager": manager, "zmanager": zmanager}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", API)
def test_anonymous_gets_401_with_a_bearer_challenge(wards, client, path):
    r = client.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("header", ["Bearer nope", "Basic bWFuYWdlcjpkZW1v", "Bearer ", "Token abc"])
def test_bad_credentials_get_401(wards, client, header):
    assert client.get(API[0], headers={"Authorization": header}).status_code == 401


def test_token_reads_its_own_unit(wards, client):
    r = client.get("/api/v1/unit/summary", headers=bearer(wards["token"]))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["unit"]["name"] == DEMO_UNIT
    by_name = {t["trainee_name"]: t for t in body["trainees"]}
    assert "Zoe Zed" not in by_name
    ann = by_name["Ann Able"]
    assert (ann["cases"], ann["hits"], ann["misses"], ann["false_alarms"], ann["correct_rejections"]) == (8, 3, 1, 1, 3)
    assert ann["accuracy"] == 0.75
    assert ann["d_prime"] == pytest.approx(1.048801, abs=1e-6)
    assert ann["brier"] == pytest.approx(0.1278125)
    assert ann["automation_bias"] == 2 and ann["with_independent_judgement"] == 6
    assert ann["no_alert_miss_rate"] == 0.5
    assert ann["median_time_to_decide_ms"] == 7000
    nurse = by_name["Nurse Demo"]
    assert nurse["cases"] == 0 and nurse["accuracy"] is None and nurse["d_prime"] is None
    assert body["totals"]["cases"] == 8


def test_token_cannot_reach_another_unit(wards, client):
    r = client.get(f"/api/v1/unit/summary?unit={wards['away'].id}", headers=bearer(wards["token"]))
    assert r.status_code == 403
    z = client.get("/api/v1/unit/summary", headers=bearer(wards["ztoken"])).json()
    assert [t["trainee_name"] for t in z["trainees"]] == ["Zoe Zed"]


def test_revoked_token_stops_working(wards, client):
    db = wards["db"]
    row = db.exec(select(ApiToken).where(ApiToken.user_id == wards["manager"].id)).one()
    api_tokens.revoke_token(db, wards["manager"], row.id)
    assert client.get(API[0], headers=bearer(wards["token"])).status_code == 401


def test_token_of_a_demoted_or_deactivated_owner(wards, client):
    db = wards["db"]
    zmanager = wards["zmanager"]
    zmanager.role = "trainee"
    db.add(zmanager)
    db.commit()
    assert client.get(API[0], headers=bearer(wards["ztoken"])).status_code == 403
    zmanager.role, zmanager.is_active = "manager", False
    db.add(zmanager)
    db.commit()
    assert client.get(API[0], headers=bearer(wards["ztoken"])).status_code == 401


@pytest.mark.parametrize("who", ["nurse", "educator"])
@pytest.mark.parametrize("path", API)
def test_other_roles_sessions_get_403(wards, client, who, path):
    login(client, who)
    assert client.get(path).status_code == 403


def test_manager_session_works_too(wards, client):
    login(client, "manager")
    r = client.get("/api/v1/unit/categories")
    assert r.status_code == 200
    body = r.json()
    cells = {(c["trainee_name"], c["category"]): c for c in body["categories"]}
    det = cells[("Ann Able", "true-deterioration")]
    assert (det["cases"], det["sensitivity"], det["expected_action"]) == (4, 0.75, "escalate")
    assert [c["category"] for c in body["unit_totals"]] == [
        "chronic-baseline-fp", "true-deterioration", "stable-no-alert"
    ]
    assert all(c["trainee_id"] is None for c in body["unit_totals"])


def test_admin_picks_a_unit(wards, client):
    login(client, "admin")
    r = client.get(f"/api/v1/unit/decisions?unit={wards['away'].id}")
    assert r.status_code == 200
    assert [d["trainee_name"] for d in r.json()["items"]] == ["Zoe Zed"]


def test_decisions_keyset_pagination(wards, client):
    h = bearer(wards["token"])
    ids = [r.id for r in wards["rows"]]
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        body = client.get(f"/api/v1/unit/decisions?limit=3&after_id={after}", headers=h).json()
        seen += [d["id"] for d in body["items"]]
        pages += 1
        if body["next_after_id"] is None:
            break
        after = body["next_after_id"]
    assert seen == ids and pages == 3
    first = client.get("/api/v1/unit/decisions?limit=1", headers=h).json()["items"][0]
    assert first == {
        **first,
        "action": "escalate", "confidence": 90, "p_deteriorating": 0.9, "independent_action": "escalate",
        "alert_fired": True, "deteriorated": True, "correct": True, "time_to_decide_ms": 1000,
        "category": "true-deterioration", "trainee_name": "Ann Able",
    }
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["created_at"])


def test_decisions_since_filter_and_limits(wards, client):
    h = bearer(wards["token"])
    rows = wards["rows"]
    since = rows[5].created_at.isoformat()
    body = client.get("/api/v1/unit/decisions", params={"since": since}, headers=h).json()
    assert [d["id"] for d in body["items"]] == [r.id for r in rows[5:]]
    assert client.get("/api/v1/unit/decisions?limit=0", headers=h).status_code == 422
    assert client.get("/api/v1/unit/decisions?limit=5001", headers=h).status_code == 422


def test_api_is_read_only(wards, client):
    h = bearer(wards["token"])
    for path in API:
        assert client.post(path, headers=h).status_code == 405
        assert client.delete(path, headers=h).status_code == 405


def test_openapi_documents_the_models_and_the_bearer_scheme(client):
    doc = client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in ("SummaryOut", "TraineeSummaryOut", "DecisionPageOut", "DecisionOut", "CategoriesOut"):
        assert name in schemas
    assert "d_prime" in schemas["TraineeSummaryOut"]["properties"]
    assert doc["components"]["securitySchemes"]["API token"]["scheme"].lower() == "bearer"
    op = doc["paths"]["/api/v1/unit/decisions"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"since", "limit", "after_id", "unit"}
    assert set(doc["paths"]["/api/v1/unit/summary"]) == {"get"}
