"""Admin pages: accounts, units and cohorts, roster import.

Each form posts to a real URL and answers a plain request with 303 back to its
page (PRG), so everything works without JavaScript; an htmx request gets the
page's `panel` block instead. Validation problems re-render the panel with 422,
which the base layout tells htmx to swap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from app.deps import ALLOW_ADMIN, Principal, SessionDep, is_htmx
from app.models import ROLES, User
from app.services.accounts import (
    AccountError,
    AccountNotFound,
    admin_create_user,
    create_cohort,
    create_unit,
    import_roster,
    list_cohorts,
    list_units,
    list_users,
    reset_password,
    set_active,
    user_counts_by_unit,
)
from app.templating import render

router = APIRouter(prefix="/admin", tags=["admin"])

AdminDep = Annotated[Principal, Depends(ALLOW_ADMIN)]

MAX_ROSTER_BYTES = 1_000_000

# Messages shown after a redirect: the URL carries a code, never free text, so a
# crafted link cannot make the page say something the app did not.
NOTICES = {
    "created": "Account {subject} created.",
    "deactivated": "Account {subject} deactivated; their sessions have ended.",
    "reactivated": "Account {subject} reactivated.",
    "password": "Password for {subject} reset; their other sessions have ended.",
    "unit": "Unit {subject} created.",
    "cohort": "Cohort {subject} created.",
    "imported": "Roster imported: {subject} trainee accounts created.",
}


def _notice(code: str, subject: str) -> str | None:
    template = NOTICES.get(code)
    return template.format(subject=subject[:80]) if template else None


def _parse_id(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _done(request: Request, url: str, page: Callable[[], Response]) -> Response:
    """PRG for plain forms; the refreshed panel for htmx."""
    if is_htmx(request):
        return page()
    return RedirectResponse(url, status_code=303)


# --- users ------------------------------------------------------------------------


def _users_filters(unit: str, role: str) -> dict[str, str]:
    """Only well-formed filters survive (anything else means "all")."""
    return {
        "unit": unit if unit == "none" or _parse_id(unit) is not None else "",
        "role": role if role in ROLES else "",
    }


def _users_url(filters: dict[str, str], **extra: str) -> str:
    query = {k: v for k, v in {**filters, **extra}.items() if v}
    return "/admin/users" + (f"?{urlencode(query)}" if query else "")


def _users_page(
    request: Request,
    session: SessionDep,
    filters: dict[str, str],
    *,
    notice: str | None = None,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    units = list_units(session)
    cohorts = list_cohorts(session)
    users = list_users(
        session,
        unit_id=_parse_id(filters["unit"]),
        no_unit=filters["unit"] == "none",
        role=filters["role"] or None,
    )
    return render(
        request,
        "pages/admin/users.html",
        {
            "title": "Accounts",
            "users": users,
            "units": units,
            "cohorts": cohorts,
            "unit_names": {u.id: u.name for u in units},
            "cohort_names": {c.id: c.name for c in cohorts},
            "roles": ROLES,
            "filters": filters,
            "notice": notice,
            "errors": errors or [],
            "form": form or {},
        },
        block="panel",
        status_code=status_code,
    )


@router.get("")
def admin_home(_admin: AdminDep) -> Response:
    """The admin area starts at the account list."""
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/users")
def users(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    unit: str = "",
    role: str = "",
    notice: str = "",
    subject: str = "",
) -> Response:
    """All accounts, filtered by unit and role, with the create-account form."""
    return _users_page(request, session, _users_filters(unit, role), notice=_notice(notice, subject))


@router.post("/users")
def users_create(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    username: Annotated[str, Form(max_length=200)] = "",
    display_name: Annotated[str, Form(max_length=500)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    unit: Annotated[str, Form(max_length=20)] = "",
    cohort: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    filter_unit: Annotated[str, Form(max_length=20)] = "",
    filter_role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create one account of any role."""
    filters = _users_filters(filter_unit, filter_role)
    try:
        user = admin_create_user(
            session,
            actor_id=admin.id,
            username=username,
            display_name=display_name,
            role=role,
            password=password,
            unit_id=_parse_id(unit),
            cohort_id=_parse_id(cohort),
        )
    except AccountError as exc:
        form = {"username": username, "display_name": display_name, "role": role, "unit": unit,
                "cohort": cohort}
        return _users_page(request, session, filters, errors=[str(exc)], form=form, status_code=422)
    return _done(
        request,
        _users_url(filters, notice="created", subject=user.username),
        lambda: _users_page(request, session, filters, notice=_notice("created", user.username)),
    )


def _user_action(
    request: Request, session: SessionDep, filters: dict[str, str], action: Callable[[], User], code: str
) -> Response:
    try:
        user = action()
    except AccountNotFound:
        raise HTTPException(status_code=404, detail="No such account.")
    except AccountError as exc:
        return _users_page(request, session, filters, errors=[str(exc)], status_code=422)
    return _done(
        request,
        _users_url(filters, notice=code, subject=user.username),
        lambda: _users_page(request, session, filters, notice=_notice(code, user.username)),
    )


@router.post("/users/{user_id:id}/deactivate")
def users_deactivate(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    user_id: int,
    filter_unit: Annotated[str, Form(max_length=20)] = "",
    filter_role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Block log-in and end the user's sessions; their training records stay."""
    return _user_action(
        request, session, _users_filters(filter_unit, filter_role),
        lambda: set_active(session, actor_id=admin.id, user_id=user_id, active=False), "deactivated",
    )


@router.post("/users/{user_id:id}/reactivate")
def users_reactivate(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    user_id: int,
    filter_unit: Annotated[str, Form(max_length=20)] = "",
    filter_role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Allow a deactivated user to log in again."""
    return _user_action(
        request, session, _users_filters(filter_unit, filter_role),
        lambda: set_active(session, actor_id=admin.id, user_id=user_id, active=True), "reactivated",
    )


@router.post("/users/{user_id:id}/password")
def users_reset_password(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    user_id: int,
    password: Annotated[str, Form(max_length=500)] = "",
    filter_unit: Annotated[str, Form(max_length=20)] = "",
    filter_role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The admin sets a new password (e.g. for a nurse who forgot theirs)."""
    keep = admin.session.id if admin.session else None
    return _user_action(
        request, session, _users_filters(filter_unit, filter_role),
        lambda: reset_password(session, actor_id=admin.id, user_id=user_id, password=password,
                               keep_session=keep),
        "password",
    )


# --- units and cohorts ------------------------------------------------------------


def _units_page(
    request: Request,
    session: SessionDep,
    *,
    notice: str | None = None,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    units = list_units(session)
    cohorts = list_cohorts(session)
    return render(
        request,
        "pages/admin/units.html",
        {
            "title": "Units and cohorts",
            "units": units,
            "cohorts_by_unit": {u.id: [c for c in cohorts if c.unit_id == u.id] for u in units},
            "user_counts": user_counts_by_unit(session),
            "notice": notice,
            "errors": errors or [],
            "form": form or {},
        },
        block="panel",
        status_code=status_code,
    )


@router.get("/units")
def units(request: Request, session: SessionDep, _admin: AdminDep, notice: str = "",
          subject: str = "") -> Response:
    """Units with their cohorts, and forms to add both."""
    return _units_page(request, session, notice=_notice(notice, subject))


@router.post("/units")
def units_create(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    name: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Create a unit (a ward or department)."""
    try:
        unit = create_unit(session, actor_id=admin.id, name=name)
    except AccountError as exc:
        return _units_page(request, session, errors=[str(exc)], form={"unit_name": name}, status_code=422)
    return _done(
        request,
        "/admin/units?" + urlencode({"notice": "unit", "subject": unit.name}),
        lambda: _units_page(request, session, notice=_notice("unit", unit.name)),
    )


@router.post("/units/{unit_id:id}/cohorts")
def cohorts_create(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    unit_id: int,
    name: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Create a cohort (a group drills are assigned to) in a unit."""
    try:
        cohort = create_cohort(session, actor_id=admin.id, unit_id=unit_id, name=name)
    except AccountNotFound:
        raise HTTPException(status_code=404, detail="No such unit.")
    except AccountError as exc:
        return _units_page(request, session, errors=[str(exc)],
                           form={"cohort_unit": str(unit_id), "cohort_name": name}, status_code=422)
    return _done(
        request,
        "/admin/units?" + urlencode({"notice": "cohort", "subject": cohort.name}),
        lambda: _units_page(request, session, notice=_notice("cohort", cohort.name)),
    )


# --- roster import ----------------------------------------------------------------


def _roster_page(
    request: Request,
    session: SessionDep,
    *,
    unit: str = "",
    errors: list[str] | None = None,
    created: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "pages/admin/roster.html",
        {
            "title": "Import a roster",
            "units": list_units(session),
            "selected_unit": unit,
            "errors": errors or [],
            "created": created or [],
            "max_kb": MAX_ROSTER_BYTES // 1000,
        },
        block="panel",
        status_code=status_code,
    )


@router.get("/roster")
def roster(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    """The CSV upload form and the expected format."""
    return _roster_page(request, session)


@router.post("/roster")
def roster_import(
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    unit: Annotated[str, Form(max_length=20)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Create trainee accounts from a CSV file: every row, or none with line-numbered errors."""
    unit_row = next((u for u in list_units(session) if u.id == _parse_id(unit)), None)
    errors: list[str] = []
    text = ""
    if unit_row is None:
        errors.append("unit: choose the unit these trainees belong to")
    if file is None or not file.filename:
        errors.append("file: choose a CSV file")
    else:
        data = file.file.read(MAX_ROSTER_BYTES + 1)
        if len(data) > MAX_ROSTER_BYTES:
            errors.append(f"file: larger than {MAX_ROSTER_BYTES // 1000} kB; split it into several files")
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                errors.append("file: not UTF-8 text; save it from the spreadsheet as 'CSV UTF-8'")
    if errors or unit_row is None:
        return _roster_page(request, session, unit=unit, errors=errors, status_code=422)
    result = import_roster(session, csv_text=text, unit=unit_row, actor_id=admin.id)
    if result.errors:
        return _roster_page(request, session, unit=unit, errors=result.errors, status_code=422)
    filters = {"unit": str(unit_row.id), "role": "trainee"}
    return _done(
        request,
        _users_url(filters, notice="imported", subject=str(len(result.created))),
        lambda: _roster_page(request, session, unit=unit, created=result.created),
    )
