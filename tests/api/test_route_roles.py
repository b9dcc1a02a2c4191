"""Every route against every role, generated from the app's own route table.

Each route must declare exactly one access rule, `Allow(...)` or `PUBLIC` (from `app.deps`),
anywhere in its dependency tree (app, router, decorator or a parameter), or be a `DirectRoute`
with its `AllowInRoute(...)`. A route without one fails here, so nobody can add an unguarded page.
For each rule the test then checks what each kind of visitor gets:

- anonymous: 303 to /login (pages) or 401 (API, htmx) on guarded routes;
- a role the rule leaves out: 403;
- a role the rule admits, or anyone on a PUBLIC route: neither 401/403 nor a
  server error (404 for the placeholder id, 422 for an empty form are fine).

FastAPI >= 0.137 keeps included routers as lazy nodes in `app.routes`, so a plain
loop over `app.routes` sees none of their endpoints; `iter_route_contexts` expands
them with their real prefixes and merged dependencies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from starlette.convertors import UUIDConvertor

from app.deps import (
    ALLOW_ADMIN,
    ALLOW_ANY_USER,
    ALLOW_MANAGER,
    PUBLIC,
    SESSION_COOKIE,
    AccessRule,
    Allow,
    AllowInRoute,
    DirectRoute,
    Principal,
)
from app.main import create_app
from app.models import ROLES, User
from app.services.auth import start_session
from tests.utils.auth import csrf_from

try:  # FastAPI >= 0.137.2
    from fastapi.routing import iter_route_contexts as _iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists every route flat
    _iter_route_contexts = None  # type: ignore[assignment]

VISITORS = ("anonymous", *ROLES)
DEMO_LOGIN = {"trainee": "nurse", "educator": "educator", "manager": "manager", "admin": "admin"}
PLACEHOLDER_ID = "999999"
PLACEHOLDER_UUID = str(UUID(int=999999))
# Routes that are not FastAPI endpoints and are public by design. Anything else
# that is not an endpoint (a new Mount, a raw Starlette route other than a DirectRoute) fails the test.
FRAMEWORK_ROUTES = frozenset({"/static", "/api/docs", "/api/openapi.json", "/docs/oauth2-redirect"})

PublicRule = type(PUBLIC)
Rule = object  # an AccessRule (Allow, AllowInRoute) or PUBLIC


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    url: str
    rules: tuple[Rule, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    if _iter_route_contexts is None:  # pragma: no cover
        yield from app.routes
        return
    yield from _iter_route_contexts(app.routes)


def find_rules(dependant: Any) -> tuple[Rule, ...]:
    """Distinct access rules anywhere in a dependency tree (the same object used twice counts once)."""
    found: dict[int, Rule] = {}

    def walk(node: Any) -> None:
        for dep in node.dependencies:
            if isinstance(dep.call, AccessRule | PublicRule):
                found.setdefault(id(dep.call), dep.call)
            else:
                walk(dep)

    walk(dependant)
    return tuple(found.values())


def _placeholder(context: Any, name: str) -> str:
    convertor = context.param_convertors.get(name)
    if isinstance(convertor, UUIDConvertor):
        return PLACEHOLDER_UUID
    dependant = getattr(context, "dependant", None)  # none for a DirectRoute: its convertors say it all
    path_params = dependant.path_params if dependant is not None else ()
    annotations = {p.name: getattr(p.field_info, "annotation", None) for p in path_params}
    return PLACEHOLDER_UUID if annotations.get(name) is UUID else PLACEHOLDER_ID


def collect(app: FastAPI) -> tuple[list[Endpoint], list[str]]:
    """The app's endpoints, and the paths of routes that are neither endpoints nor known framework routes."""
    endpoints: list[Endpoint] = []
    strays: list[str] = []
    for context in _route_contexts(app):
        original = getattr(context, "original_route", context)
        if not isinstance(original, APIRoute | DirectRoute):
            path = getattr(context, "path", None) or repr(original)
            if path not in FRAMEWORK_ROUTES:
                strays.append(path)
            continue
        url = context.path_format
        for name in context.param_convertors:
            url = url.replace("{" + name + "}", _placeholder(context, name))
        rules = (original.rule,) if isinstance(original, DirectRoute) else find_rules(context.dependant)
        for method in sorted(context.methods):
            endpoints.append(Endpoint(method=method, path=context.path, url=url, rules=rules))
    return endpoints, strays


ENDPOINTS, STRAYS = collect(create_app())


# --- the table itself -----------------------------------------------------------------


def test_route_table_is_not_empty():
    """Guards against the test going vacuous (as a plain `app.routes` loop does on new FastAPI)."""
    table = {(e.method, e.path): e.rules for e in ENDPOINTS}
    assert table[("GET", "/login")] == (PUBLIC,)
    assert table[("POST", "/login")] == (PUBLIC,)
    assert table[("GET", "/healthz")] == (PUBLIC,)
    assert table[("POST", "/logout")] == (ALLOW_ANY_USER,)
    assert table[("GET", "/admin/users")] == (ALLOW_ADMIN,)
    assert table[("POST", "/admin/users/{user_id:id}/password")] == (ALLOW_ADMIN,)
    # The case page and the decision apply their rules themselves (one query with the signed-in
    # user), outside FastAPI's dependencies: still one rule each, and in the matrix below.
    (case_rule,) = table[("GET", "/attempts/{attempt_id:id}")]
    assert isinstance(case_rule, AllowInRoute)
    assert case_rule.roles == {"trainee", "manager", "admin"}
    (decision_rule,) = table[("POST", "/attempts/{attempt_id:id}/decision")]
    assert isinstance(decision_rule, AllowInRoute)
    assert decision_rule.roles == {"trainee"}


def test_every_route_declares_exactly_one_rule():
    missing = [str(e) for e in ENDPOINTS if not e.rules]
    several = [f"{e}: {', '.join(map(repr, e.rules))}" for e in ENDPOINTS if len(e.rules) > 1]
    assert not missing, "routes without Allow(...) or PUBLIC:\n" + "\n".join(missing)
    assert not several, "routes with more than one access rule:\n" + "\n".join(several)


def test_no_unguarded_non_endpoint_routes():
    assert not STRAYS, f"routes outside FastAPI's dependency system (no role rule possible): {STRAYS}"


def test_rules_name_real_roles():
    for e in ENDPOINTS:
        for rule in e.rules:
            if isinstance(rule, Allow):
                assert rule.roles, f"{e}: Allow() with no roles"
                assert rule.roles <= set(ROLES), f"{e}: unknown role in {rule!r}"


# --- the finder catches what it must ------------------------------------------------


def test_finder_sees_rules_wherever_declared_and_flags_missing_ones():
    strict = Allow("educator")

    def via_parameter(p: Principal = Depends(ALLOW_MANAGER)) -> Principal:
        return p

    guarded = APIRouter(prefix="/g", dependencies=[Depends(ALLOW_ADMIN)])

    @guarded.get("/router-level")
    def router_level() -> None: ...

    open_router = APIRouter()

    @open_router.get("/bare")
    def bare() -> None: ...

    @open_router.get("/nested")
    def nested(_p: Principal = Depends(via_parameter)) -> None: ...

    @open_router.get("/public", dependencies=[Depends(PUBLIC)])
    def public() -> None: ...

    @open_router.get("/twice", dependencies=[Depends(ALLOW_ADMIN), Depends(ALLOW_ADMIN)])
    def twice() -> None: ...

    @open_router.get("/two-rules", dependencies=[Depends(ALLOW_ADMIN), Depends(strict)])
    def two_rules() -> None: ...

    app = FastAPI()
    app.include_router(guarded)
    app.include_router(open_router)
    endpoints, _ = collect(app)
    rules = {e.path: e.rules for e in endpoints}
    assert rules == {
        "/g/router-level": (ALLOW_ADMIN,),
        "/bare": (),
        "/nested": (ALLOW_MANAGER,),
        "/public": (PUBLIC,),
        "/twice": (ALLOW_ADMIN,),
        "/two-rules": (ALLOW_ADMIN, strict),
    }


@pytest.mark.parametrize(
    ("rule", "visitor", "status", "location", "ok"),
    [
        (ALLOW_ADMIN, "anonymous", 303, "/login?next=/x", True),
        (ALLOW_ADMIN, "anonymous", 401, "", True),
        (ALLOW_ADMIN, "anonymous", 200, "", False),   # a guarded page served to anyone
        (ALLOW_ADMIN, "anonymous", 303, "/elsewhere", False),
        (ALLOW_ADMIN, "trainee", 403, "", True),
        (ALLOW_ADMIN, "trainee", 404, "", False),     # must refuse before looking anything up
        (ALLOW_ADMIN, "admin", 404, "", True),
        (ALLOW_ADMIN, "admin", 403, "", False),
        (ALLOW_ADMIN, "admin", 500, "", False),
        (PUBLIC, "anonymous", 200, "", True),
        (PUBLIC, "manager", 403, "", False),
    ],
)
def test_verdict(rule, visitor, status, location, ok):
    assert (_verdict(rule, visitor, status, location) is None) is ok


# --- the matrix -------------------------------------------------------------------------


def _prepare(client: TestClient, db: Session, visitor: str) -> None:
    """A fresh identity per request: an earlier request may have logged the last one out."""
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    if visitor == "anonymous":
        # Anonymous unsafe requests need the pre-session token, or CSRF (403) would hide the rule.
        client.headers["X-CSRF-Token"] = csrf_from(client.get("/login").text)
        return
    user = db.exec(select(User).where(User.username == DEMO_LOGIN[visitor])).one()
    token, user_session = start_session(db, user)
    client.cookies.set(SESSION_COOKIE, token)
    client.headers["X-CSRF-Token"] = user_session.csrf_token


def _verdict(rule: Rule, visitor: str, status: int, location: str) -> str | None:
    """None when the response fits the rule, else what was expected."""
    to_login = 300 <= status < 400 and location.startswith("/login")
    admitted = not isinstance(rule, AccessRule) or visitor in rule.roles
    if not admitted and visitor == "anonymous":
        return None if (status == 303 and to_login) or status == 401 else "303 to /login or 401"
    if not admitted:
        return None if status == 403 else "403"
    # A signed-in visitor is never bounced for lack of a session, so a redirect to
    # /login here is the route's own doing (log-out), not a refusal.
    if status in (401, 403) or status >= 500:
        return "access (2xx/3xx/404/4xx other than 401/403), no server error"
    return None


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_route_role_matrix(endpoint: Endpoint, app, demo, db):
    if len(endpoint.rules) != 1:
        pytest.fail(f"{endpoint} declares {len(endpoint.rules)} access rules; exactly one is required")
    rule = endpoint.rules[0]
    problems = []
    with TestClient(app, base_url="http://testserver", follow_redirects=False,
                    raise_server_exceptions=False) as client:
        for visitor in VISITORS:
            _prepare(client, db, visitor)
            r = client.request(endpoint.method, endpoint.url)
            expected = _verdict(rule, visitor, r.status_code, r.headers.get("location", ""))
            if expected:
                problems.append(f"{endpoint.method} {endpoint.url} as {visitor} under {rule!r}: "
                                f"got {r.status_code} {r.headers.get('location', '')}, expected {expected}")
    assert not problems, "\n".join(problems)


UNSAFE = [e for e in ENDPOINTS if e.method in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.mark.parametrize("endpoint", UNSAFE, ids=str)
def test_every_unsafe_route_refuses_a_wrong_csrf_token(endpoint: Endpoint, app, demo, db):
    """Also for routes that compare the token themselves (AllowInRoute): as a visitor the rule
    admits, a wrong token in the header or in the form is refused before anything happens."""
    (rule,) = endpoint.rules
    admitted = [v for v in ROLES if isinstance(rule, AccessRule) and v in rule.roles]
    visitor = admitted[0] if admitted else "anonymous"
    with TestClient(app, base_url="http://testserver", follow_redirects=False,
                    raise_server_exceptions=False) as client:
        _prepare(client, db, visitor)
        client.headers["X-CSRF-Token"] = "wrong"
        by_header = client.request(endpoint.method, endpoint.url)
        _prepare(client, db, visitor)
        client.headers.pop("X-CSRF-Token")
        by_form = client.request(endpoint.method, endpoint.url, data={"csrf_token": "wrong", "action": "x" * 40})
    assert (by_header.status_code, by_form.status_code) == (403, 403), f"{endpoint} as {visitor}"


@pytest.mark.parametrize("visitor", ["anonymous", "trainee"])
def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(visitor, app, demo, db):
    # An anonymous decision post is sent to log in before any token is looked at.
    expected = {"/logout": 403, "/login": 403, "/attempts/1/decision": 303 if visitor == "anonymous" else 403}
    with TestClient(app, base_url="http://testserver", follow_redirects=False,
                    raise_server_exceptions=False) as client:
        _prepare(client, db, visitor)
        client.headers.pop("X-CSRF-Token")
        got = {url: client.post(url, data={"csrf_token": "jeton-é"}).status_code for url in expected}
    assert got == expected


# One past the largest id PostgreSQL's INTEGER holds (SQLite's are wider), past 64 bits, and more
# digits than Python's int() takes.
HUGE_IDS = (str(2**31), str(2**63), "9" * 5000)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if PLACEHOLDER_ID in e.url], ids=str)
def test_an_id_no_row_can_have_is_not_found_not_a_server_error(endpoint: Endpoint, app, demo, db):
    """A crafted URL with an id past the databases' integer range: 404 (or a refusal), never 500."""
    (rule,) = endpoint.rules
    admitted = [v for v in ROLES if isinstance(rule, AccessRule) and v in rule.roles]
    with TestClient(app, base_url="http://testserver", follow_redirects=False,
                    raise_server_exceptions=False) as client:
        got = {}
        for huge in HUGE_IDS:
            _prepare(client, db, admitted[0] if admitted else "anonymous")
            got[huge] = client.request(endpoint.method, endpoint.url.replace(PLACEHOLDER_ID, huge)).status_code
    assert got == dict.fromkeys(HUGE_IDS, 404), f"{endpoint}: {got}"
