"""Log-in, log-out and the role-aware home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.core.config import get_settings
from app.deps import (
    ALLOW_ANY_USER,
    PUBLIC,
    SESSION_COOKIE,
    Principal,
    SessionDep,
    optional_principal,
)
from app.services.auth import LoginThrottled, authenticate, end_session, start_session
from app.templating import render

router = APIRouter(tags=["auth"])

HOME_BY_ROLE = {
    "trainee": "/drills",
    "educator": "/scenarios",
    "manager": "/dashboard",
    "admin": "/admin/users",
}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: never bounce a nurse to another host after log-in.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/", dependencies=[Depends(PUBLIC)])
def home(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Response:
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_BY_ROLE.get(principal.role, "/login"), status_code=303)


@router.get("/login", dependencies=[Depends(PUBLIC)])
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "pages/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", dependencies=[Depends(PUBLIC)])
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    client = request.client.host if request.client else ""
    try:
        user = authenticate(session, username=username, password=password, client=client)
    except LoginThrottled:
        return render(
            request,
            "pages/login.html",
            {"next": _safe_next(next), "error": "Too many failed attempts. Wait a few minutes and try again."},
            status_code=429,
        )
    if user is None:
        return render(
            request,
            "pages/login.html",
            {"next": _safe_next(next), "error": "Unknown username or wrong password."},
            status_code=401,
        )
    token, _ = start_session(session, user)
    target = _safe_next(next) or HOME_BY_ROLE.get(user.role, "/")
    response = RedirectResponse(target, status_code=303)
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )
    return response


@router.post("/logout", dependencies=[Depends(ALLOW_ANY_USER)])
def logout(request: Request, session: SessionDep) -> Response:
    end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
