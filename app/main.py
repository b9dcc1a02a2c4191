"""Application factory: middleware, static files, routers, error pages."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.datastructures import URL, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import get_settings
from app.core.db import pool_capacity
from app.core.logging import configure_logging
from app.deps import MAX_BODY_BYTES, NotAuthenticated, csrf_protect, load_principal_outside_route
from app.routes import ROUTERS
from app.templating import render

log = logging.getLogger("alertdrill.http")

STATIC_DIR = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class PoolSizedConcurrency:
    """Let at most `limit` requests (the database pool's capacity) into the app; queue the rest.

    A request holds one pooled connection from its first query until its session closes, and
    passes between threadpool threads meanwhile (dependencies, route, session teardown). With
    more requests in flight than threads plus connections, every thread can be left waiting for
    a connection that only a request without a thread could give back: the worker stalls until
    pool_timeout, then answers 500 (seen at 100 concurrent case views on one worker). Queuing
    here, before any work, keeps the holders within the pool, so a waiting request always gets
    its connection.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._gate: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._gate is None or self._loop is not loop:  # one gate per event loop (tests run several)
            self._gate, self._loop = asyncio.Semaphore(self.limit), loop
        async with self._gate:
            await self.app(scope, receive, send)


class AccessLogAndHeaders:
    """Security headers and an X-Request-ID on every response, and one JSON log line per request.

    A plain ASGI middleware (not `@app.middleware("http")`, whose BaseHTTPMiddleware runs the
    app in a separate task and copies the response through memory streams on every request).
    The request id is the client's `X-Request-ID` if it sent one, else a new random one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = ""
        declared = chunked = False
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                request_id = value.decode("latin-1")
            elif key == b"content-length":
                declared = True
            elif key == b"transfer-encoding":
                chunked = True
        request_id = request_id or os.urandom(8).hex()
        if chunked and not declared:
            # The form checks refuse a body by its Content-Length before reading it; a chunked
            # body has none, so it is counted as it arrives instead.
            receive = _counted(receive)
        vendor = scope["path"].startswith("/static/vendor/")
        status = 500  # if the app fails before it answers

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if vendor:
                    headers["Cache-Control"] = "public, max-age=31536000, immutable"
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": URL(scope=scope).path,
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                    },
                )


def _counted(receive: Receive) -> Receive:
    """`receive`, refusing the body (413) once more than MAX_BODY_BYTES have arrived."""
    total = 0

    async def counted() -> Message:
        nonlocal total
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > MAX_BODY_BYTES:
                raise HTTPException(
                    status_code=413,
                    detail=f"The request is larger than {MAX_BODY_BYTES // 1024} KiB: refused. "
                    "Scenario files must be under 256 KiB.",
                )
        return message

    return counted


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="alertdrill",
        description="Read-only JSON API for unit reporting tools, plus the trainer's HTML pages.",
        version="0.1.0",
        dependencies=[Depends(csrf_protect)],
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)

    app.add_middleware(AccessLogAndHeaders)

    # Outermost of the app's own middleware, as wide as the pool make_engine builds.
    app.add_middleware(PoolSizedConcurrency, limit=pool_capacity(settings.db_pool_size))

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Not signed in."}, status_code=401)
        target = "/login"
        if request.method == "GET":
            target += f"?next={request.url.path}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        load_principal_outside_route(request)
        return render(
            request,
            "pages/error.html",
            {"status": exc.status_code, "detail": exc.detail},
            block="content",
            status_code=exc.status_code,
        )

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        # Starlette sends every 404 here, including a route's own HTTPException(404,
        # "No such drill."): keep that message; only the router's default is generic.
        detail = getattr(exc, "detail", None)
        if not isinstance(detail, str) or detail == "Not Found":
            detail = "Not found."
        if _wants_json(request):
            return JSONResponse({"detail": detail}, status_code=404)
        load_principal_outside_route(request)
        return render(request, "pages/error.html", {"status": 404, "detail": detail}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return render(
            request,
            "pages/error.html",
            {"status": 422, "detail": f"Some fields were missing or invalid: {fields}."},
            block="content",
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def _db_away(request: Request, exc: OperationalError) -> Response:
        # The database is restarting or unreachable: say so, let clients retry.
        log.warning("database unavailable", extra={"error": str(exc.orig)[:200]})
        if _wants_json(request):
            return JSONResponse(
                {"detail": "Database unavailable; retry shortly."},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        # The request's ORM objects died with its connection (expired, session closed):
        # render this page as for an anonymous visitor rather than fail with a 500.
        request.state.principal = None
        return render(
            request,
            "pages/error.html",
            {"status": 503, "detail": "The database is unavailable. Try again in a moment."},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> Response:
        if exc.connection_invalidated:
            return await _db_away(request, OperationalError(str(exc), None, exc.orig))  # type: ignore[arg-type]
        raise exc

    @app.exception_handler(500)
    async def _server_error(request: Request, _exc: Exception) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "Internal error."}, status_code=500)
        request.state.principal = None  # as above: never fail while reporting a failure
        return render(
            request,
            "pages/error.html",
            {"status": 500, "detail": "Something went wrong on our side."},
            status_code=500,
        )

    return app
