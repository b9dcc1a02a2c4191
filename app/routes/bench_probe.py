"""Baseline routes for the load benchmarks, mounted only when `BENCH_ROUTES=true`.

The benchmarks in `bench/` compare the real pages with what the same server, workers
and driver do for (a) a JSON hello-world and (b) one raw single-row INSERT, measured in
the same run. With the flag off (the default, and always in production) this module
defines no `router`, so neither path exists.

CSRF is not exempted: `POST /bench/insert` passes through the app-wide CSRF check like
every other form post (the load generator sends the log-in page's pre-session cookie and
token), so the baseline pays the same per-request checks as the decision it is compared
with, and enabling the flag opens no unprotected write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import DateTime, bindparam, text

from app.core.config import get_settings
from app.core.db import get_engine
from app.deps import PUBLIC

_INSERT = text(
    "INSERT INTO audit_event (at, actor_id, action, target, detail) "
    "VALUES (:at, NULL, 'bench.insert', '', '{}')"
).bindparams(bindparam("at", type_=DateTime(timezone=True)))


async def bench_hello() -> JSONResponse:
    """JSON hello-world: the framework's ceiling on this server."""
    return JSONResponse({"hello": "world"})


def bench_insert() -> JSONResponse:
    """One raw INSERT of one row through the app's engine and driver, no ORM."""
    with get_engine().begin() as conn:
        conn.execute(_INSERT, {"at": datetime.now(UTC)})
    return JSONResponse({"inserted": 1}, status_code=201)


if get_settings().bench_routes:
    router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)
    router.add_api_route("/hello", bench_hello, methods=["GET"], dependencies=[Depends(PUBLIC)])
    router.add_api_route("/insert", bench_insert, methods=["POST"], dependencies=[Depends(PUBLIC)])
