"""Liveness with a real database round-trip, for load balancers and compose."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deps import PUBLIC, SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz", dependencies=[Depends(PUBLIC)])
def healthz(session: SessionDep) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
