"""Request dependencies: database session, the signed-in user, roles, CSRF.

Every route states who may call it with `Allow(...)` or `PUBLIC` (a `DirectRoute` with its
`AllowInRoute`); the route-role matrix test reads these markers from the route table, so a
new route without a rule fails CI.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from app.core.config import get_settings
from app.core.db import get_session
from app.models import User, UserSession
from app.services.auth import load_session

SESSION_COOKIE = "alertdrill_session"
PRE_SESSION_COOKIE = "alertdrill_pre"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 1024 * 1024
# A chunked body (no Content-Length to check up front) is refused past this, counted as it
# arrives: above every form the app accepts (a 1 MiB form, a 1,000,000-byte roster, two
# 256 KiB scenario files with multipart framing).
MAX_BODY_BYTES = 2 * MAX_FORM_BYTES
CSRF_REFUSED = "The form expired or was not sent by this site. Reload and try again."


class LazySession:
    """The request's database session, opened on first use (a hello-world or a GET that
    fails its role check early never opens one).

    The session comes from `get_session` or the app's override of it (tests), so the
    CSRF check, the signed-in user and the route all share one session and connection.
    """

    def __init__(self, provider: Callable[[], Generator[Session, None, None]]) -> None:
        self._provider = provider
        self._gen: Generator[Session, None, None] | None = None
        self._session: Session | None = None

    @property
    def opened(self) -> bool:
        return self._gen is not None

    def get(self) -> Session:
        if self._session is None:
            self._gen = self._provider()
            self._session = next(self._gen)  # Session(engine): no I/O until the first query
        return self._session

    @property
    def idle(self) -> bool:
        """Opened, but holding no transaction (committed or rolled back): closing it does no I/O."""
        return self._session is not None and not self._session.in_transaction()

    def close(self) -> None:
        gen, self._gen, self._session = self._gen, None, None
        if gen is not None:
            gen.close()  # runs the provider's teardown (session.close())


def session_provider(app: Starlette) -> Callable[[], Generator[Session, None, None]]:
    """`get_session`, or the app's override of it (tests)."""
    overrides: dict[Any, Any] = getattr(app, "dependency_overrides", {})
    provider: Callable[[], Generator[Session, None, None]] = overrides.get(get_session, get_session)
    return provider


async def close_lazy(holder: LazySession) -> None:
    """End the request's session when the route is done with it."""
    if holder.idle:
        # The route committed (a form post): the connection is already back in the pool,
        # so closing is plain Python and needs no thread hop.
        holder.close()
    elif holder.opened:
        # Closing may talk to the database (rollback, return to the pool): a thread,
        # with its own limiter so a full threadpool cannot hold a connection hostage.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(holder.close, limiter=anyio.CapacityLimiter(1))


async def lazy_session(request: Request) -> AsyncIterator[LazySession]:
    holder = LazySession(session_provider(request.app))
    try:
        yield holder
    finally:
        await close_lazy(holder)


LazySessionDep = Annotated[LazySession, Depends(lazy_session)]


async def request_session(lazy: LazySessionDep) -> Session:
    return lazy.get()


SessionDep = Annotated[Session, Depends(request_session)]


class NotAuthenticated(Exception):
    """Raised for anonymous access; pages redirect to /login, the API answers 401."""


@dataclass(frozen=True)
class Principal:
    user: User
    session: UserSession | None

    @property
    def id(self) -> int:
        return self.user.id or 0

    @property
    def role(self) -> str:
        return self.user.role


def pre_session_csrf(request: Request) -> str:
    """CSRF token for anonymous forms (log-in): HMAC of a random cookie."""
    seed = request.cookies.get(PRE_SESSION_COOKIE) or getattr(request.state, "pre_seed", None)
    if not seed:
        seed = secrets.token_urlsafe(16)
        request.state.pre_seed = seed
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, seed.encode(), "sha256").hexdigest()


def optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """The signed-in user, looked up once per request (blocking: call from a thread)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    loaded = load_session(session, request.cookies.get(SESSION_COOKIE))
    principal = Principal(user=loaded[1], session=loaded[0]) if loaded else None
    request.state.principal = principal
    return principal


async def request_principal(request: Request, lazy: LazySessionDep) -> Principal | None:
    """`optional_principal` for async callers: no thread hop once the request has it."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    # A thread, not the event loop: this may wait for a pooled connection, and a worker
    # whose loop blocks there cannot hand connections back (a 30 s stall under load).
    return await run_in_threadpool(optional_principal, request, lazy.get())


class AccessRule:
    """Who may call a route: the roles it admits. Every route carries exactly one rule (or PUBLIC)."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    def _admit(self, principal: Principal | None) -> Principal:
        """The principal if the rule admits them; else NotAuthenticated (anonymous) or 403."""
        if principal is None:
            raise NotAuthenticated()
        if principal.role not in self.roles:
            raise HTTPException(status_code=403, detail="Your role cannot open this page.")
        return principal

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(sorted(self.roles))})"


class Allow(AccessRule):
    """Route dependency that admits only the given roles (403 for the others)."""

    async def __call__(self, principal: Annotated[Principal | None, Depends(request_principal)]) -> Principal:
        return self._admit(principal)


class AllowInRoute(AccessRule):
    """The rule of a `DirectRoute`, which the route applies itself, in the thread where it reads
    the signed-in user together with its own rows: one query and one thread hop for the trainee's
    hottest requests (the case page, the decision).

    The route must call `admit_request(request, principal)` before it shows or changes anything.
    The route-role matrix test checks every route's answer to every role.
    """

    def admit_request(self, request: Request, principal: Principal | None) -> Principal:
        """The rule's check, after recording the principal for error pages; for unsafe methods
        also the CSRF token `DirectRoute` set aside. The only way in: there is no check without
        the request, so a form post cannot be admitted without its token."""
        request.state.principal = principal
        admitted = self._admit(principal)
        if request.method in UNSAFE_METHODS:
            sent = getattr(request.state, "csrf_sent", None)
            expected = admitted.session.csrf_token if admitted.session else None
            if not sent or not expected or not _same_token(sent, expected):
                raise HTTPException(status_code=403, detail=CSRF_REFUSED)
        return admitted


DirectEndpoint = Callable[[Request, AllowInRoute, LazySession], Awaitable[Response]]


class DirectRoute(Route):
    """A route served by Starlette alone, for the requests every trainee makes most: FastAPI's
    dependency solving (the app's CSRF dependency, the session's exit stack, the rule) costs each
    such request about 75 µs, a tenth of what a decision costs beyond its query and its write
    (docs/performance.md).

    It does what those dependencies do, and nothing can skip it: for an unsafe method it reads the
    CSRF token first (`sent_csrf_token`: the same-origin check, then the header or the form),
    calls `endpoint(request, rule, lazy)` with its one access rule and the request's unopened
    session, and ends that session after. The endpoint must apply the rule (`admit_request`), which
    also compares the token. The route-role matrix test reads `rule`.
    """

    def __init__(self, path: str, endpoint: DirectEndpoint, *, methods: list[str], rule: AllowInRoute) -> None:
        self.rule = rule

        async def handle(request: Request) -> Response:
            if request.method in UNSAFE_METHODS:
                request.state.csrf_sent = await sent_csrf_token(request)
            lazy = LazySession(session_provider(request.app))
            try:
                return await endpoint(request, rule, lazy)
            finally:
                await close_lazy(lazy)

        super().__init__(path, handle, methods=methods, name=endpoint.__name__, include_in_schema=False)


def _same_token(sent: str, expected: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500),
    # and a crafted header or form field can carry any.
    return secrets.compare_digest(sent.encode(), expected.encode())


class _Public:
    """Marker: the route is deliberately open to anonymous users."""

    async def __call__(self) -> None:
        return None


PUBLIC = _Public()

ALLOW_TRAINEE = Allow("trainee")
ALLOW_STAFF = Allow("educator", "manager", "admin")
ALLOW_EDUCATOR = Allow("educator", "admin")
ALLOW_MANAGER = Allow("manager", "admin")
ALLOW_ADMIN = Allow("admin")
ALLOW_ANY_USER = Allow("trainee", "educator", "manager", "admin")


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True  # non-browser clients; the token below still applies
    parts = urlsplit(source)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def read_form(request: Request) -> FormData:
    """The request's form (parsed once per request), for routes and checks that read it as sent
    rather than through FastAPI's `Form()` parameters, answering as FastAPI would: 413 above
    MAX_FORM_BYTES, 400 for a body that cannot be read (a broken multipart, a client gone)."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        # Refuse before parsing: no page here needs more, and a clear message
        # beats the form parser's generic 400 halfway through a huge upload.
        raise HTTPException(
            status_code=413,
            detail=f"The form is larger than {MAX_FORM_BYTES // 1024} KiB. Scenario files must be under 256 KiB.",
        )
    try:
        return await request.form()
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(status_code=400, detail="The form could not be read.") from exc


async def sent_csrf_token(request: Request) -> str | None:
    """The CSRF token an unsafe request carries, in a header (htmx) or a form field; a request
    from another site is refused first."""
    if not _same_origin(request):
        raise HTTPException(status_code=403, detail="Cross-origin request refused.")
    sent = request.headers.get("x-csrf-token")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await read_form(request)
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    return sent


async def csrf_protect(request: Request, lazy: LazySessionDep) -> None:
    """Unsafe methods need the session's token in a header (htmx) or form field.

    Safe methods return at once: the database session stays unopened unless the route
    itself needs it.
    """
    if request.method not in UNSAFE_METHODS:
        return
    sent = await sent_csrf_token(request)
    principal = await request_principal(request, lazy)
    expected = principal.session.csrf_token if principal and principal.session else pre_session_csrf(request)
    if not sent or not _same_token(sent, expected):
        raise HTTPException(status_code=403, detail=CSRF_REFUSED)


def is_htmx(request: Request) -> bool:
    h = request.headers
    return (
        h.get("hx-request") == "true"
        and h.get("hx-boosted") != "true"
        and h.get("hx-history-restore-request") != "true"
    )


def load_principal_outside_route(request: Request) -> Principal | None:
    """For error pages rendered where no route dependency ran (404, 500).

    Uses the app's session provider (honouring test overrides) so the page still
    shows the signed-in user's navigation and CSRF token.
    """
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    gen = session_provider(request.app)()
    try:
        session = next(gen)
        return optional_principal(request, session)
    except Exception:
        return None
    finally:
        gen.close()
