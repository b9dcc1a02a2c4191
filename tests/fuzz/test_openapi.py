"""Schemathesis against the app's own OpenAPI document for the JSON API: no server errors.

Every operation under /api/ is called with generated valid and invalid parameters, as a manager's
API token, an admin's token (who may pick any unit) and anonymously. The database holds decisions
in two units. FUZZ_API_EXAMPLES (default 20) sets the examples per operation, mode and caller.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlmodel import Session, select

from app.models import Unit, User
from app.services import api_tokens
from app.services.accounts import DEMO_UNIT
from tests.api import dashboard_fixtures as fx

EXAMPLES = int(os.environ.get("FUZZ_API_EXAMPLES", "20"))


@pytest.fixture
def seeded(demo: Session) -> dict[str, str]:
    db = demo
    home = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    ann = fx.user(db, "ann", "trainee", home, "Ann Able")
    fx.add(db, ann, fx.WORKED)
    away = fx.unit(db, "Ward Z")
    zoe = fx.user(db, "zoe", "trainee", away, "Zoe Zed")
    fx.add(db, zoe, [fx.D(det=True, alert=True, action="dismiss")])
    manager = db.exec(select(User).where(User.username == "manager")).one()
    admin = db.exec(select(User).where(User.username == "admin")).one()
    token, _ = api_tokens.create_token(db, manager, "fuzz")
    admin_token, _ = api_tokens.create_token(db, admin, "fuzz admin")
    db.commit()
    return {"manager": token, "admin": admin_token}


def _fuzz(op, mode: GenerationMode, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def call(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error], headers=headers)

    call()


def test_json_api_never_answers_5xx(app, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app).include(path_regex=r"^/api/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no /api/ operation"
    callers = {"manager": {"Authorization": f"Bearer {seeded['manager']}"},
               "admin": {"Authorization": f"Bearer {seeded['admin']}"},
               "anonymous": {}}
    tried = 0
    for op in operations:
        for who, headers in callers.items():
            # Anonymous calls get 401 whatever the parameters: valid ones are enough there.
            modes = [GenerationMode.POSITIVE] if who == "anonymous" else [GenerationMode.POSITIVE,
                                                                          GenerationMode.NEGATIVE]
            for mode in modes:
                _fuzz(op, mode, headers)
                tried += 1
    assert tried == len(operations) * 5


OUT_OF_RANGE = [(path, q) for path in ("/api/v1/unit/summary", "/api/v1/unit/decisions", "/api/v1/unit/categories")
                for q in ("unit=2147483648", "unit=9223372036854775808", "unit=-9223372036854775809")]
OUT_OF_RANGE += [("/api/v1/unit/decisions", q) for q in ("after_id=2147483648", "after_id=9223372036854775808")]


@pytest.mark.parametrize(("path", "query"), OUT_OF_RANGE)
def test_ids_beyond_the_column_range_are_refused_not_500(client, seeded: dict[str, str], path: str,  # type: ignore[no-untyped-def]
                                                          query: str) -> None:
    """Schemathesis found these: they reached the driver (SQLite OverflowError, PostgreSQL
    'integer out of range') and answered 500."""
    r = client.get(f"{path}?{query}", headers={"Authorization": f"Bearer {seeded['admin']}"})
    assert r.status_code == 422, r.text
