"""Read-only JSON API for a unit's own reporting tools (docs/api.md).

Authentication: `Authorization: Bearer <token>` with a token a manager created on /dashboard/tokens,
or a manager's browser session. Both reach only the caller's unit (admins: any unit via `?unit=`).
GET only; every response is `Cache-Control: no-store`.

Role marker: `API_READER` is an `Allow("manager", "admin")` subclass, so the route-role matrix reads it
as a manager route. It adds the bearer-token path: no credentials -> 401 (with `WWW-Authenticate:
Bearer`), an unknown or revoked token -> 401, a signed-in trainee or educator -> 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.deps import Allow, Principal, SessionDep, optional_principal
from app.models import Unit
from app.models.base import MAX_ROW_ID
from app.services import api_tokens, exports
from app.services import dashboard as dash

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="alertdrill"'}
# Declared so the OpenAPI document shows the bearer scheme; the header itself is checked below.
_bearer_doc = HTTPBearer(auto_error=False, scheme_name="API token", description="Token from /dashboard/tokens.")


class BearerOrSession(Allow):
    """`Allow(manager, admin)` that also accepts a read-only API token instead of a session."""

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        session: SessionDep,
        response: Response,
        _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_doc)],
    ) -> Principal:
        response.headers["Cache-Control"] = "no-store"
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPException(status_code=401, detail="Use 'Authorization: Bearer <token>'.", headers=_CHALLENGE)
            user = api_tokens.user_for_token(session, token.strip())
            if user is None:
                raise HTTPException(status_code=401, detail="Unknown or revoked API token.", headers=_CHALLENGE)
            principal = Principal(user=user, session=None)
        else:
            found = optional_principal(request, session)
            if found is None:
                raise HTTPException(status_code=401, detail="Not signed in: send an API token.", headers=_CHALLENGE)
            principal = found
        if principal.role not in self.roles:
            raise HTTPException(status_code=403, detail="Only unit managers can read unit data.")
        return principal


API_READER = BearerOrSession("manager", "admin")
ReaderDep = Annotated[Principal, Depends(API_READER)]

router = APIRouter(prefix="/api/v1", tags=["unit reporting (read-only)"])


def _unit(session: SessionDep, principal: Principal, requested: int | None) -> Unit:
    try:
        return dash.resolve_unit(session, principal.user, requested)
    except dash.UnitAccessError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.message)


def _ref(unit: Unit) -> exports.UnitRef:
    return exports.UnitRef(id=unit.id or 0, name=unit.name)


# Row ids are 32-bit INTEGER columns: a larger number would reach the driver and fail as a 500.
UnitQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID,
                                        description="Admins only: which unit. Managers always get their own.")]
SinceQuery = Annotated[datetime | None, Query(description="Only decisions at or after this time (ISO 8601).")]
UntilQuery = Annotated[datetime | None, Query(description="Only decisions before this time (ISO 8601).")]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get("/unit/summary", response_model=exports.SummaryOut, dependencies=[Depends(API_READER)])
def unit_summary(
    session: SessionDep,
    principal: ReaderDep,
    unit: UnitQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> exports.SummaryOut:
    """One row per trainee of the unit: the dashboard table, with every count behind each rate."""
    row = _unit(session, principal, unit)
    scope = dash.Scope(unit_id=row.id or 0, since=_utc(since), until=_utc(until))
    summary = dash.unit_summary(session, row, scope)
    totals = exports.UnitTotalsOut(
        median_trainee_median_time_ms=summary.median_ms,
        mean_trainee_d_prime=summary.mean_d_prime,
        mean_trainee_criterion=summary.mean_criterion,
        **exports.counts_fields(summary.totals),
    )
    return exports.SummaryOut(
        unit=_ref(row),
        since=scope.since,
        until=scope.until,
        generated_at=datetime.now(UTC),
        trainees=[exports.trainee_out(r) for r in summary.rows],
        totals=totals,
    )


@router.get("/unit/decisions", response_model=exports.DecisionPageOut, dependencies=[Depends(API_READER)])
def unit_decisions(
    session: SessionDep,
    principal: ReaderDep,
    unit: UnitQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Keyset cursor: next_after_id of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> exports.DecisionPageOut:
    """Every decision of the unit, oldest first, a page at a time (follow `next_after_id`)."""
    row = _unit(session, principal, unit)
    scope = dash.Scope(unit_id=row.id or 0, since=_utc(since), until=_utc(until))
    records, next_after = dash.decisions_page(session, scope, after_id=after_id, limit=limit)
    return exports.DecisionPageOut(
        unit=_ref(row), items=[exports.decision_out(r) for r in records], next_after_id=next_after
    )


@router.get("/unit/categories", response_model=exports.CategoriesOut, dependencies=[Depends(API_READER)])
def unit_categories(
    session: SessionDep,
    principal: ReaderDep,
    unit: UnitQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> exports.CategoriesOut:
    """Tallies per trainee and scenario category, plus unit-wide totals per category."""
    row = _unit(session, principal, unit)
    scope = dash.Scope(unit_id=row.id or 0, since=_utc(since), until=_utc(until))
    breakdown = dash.category_breakdown(session, scope)
    names = dash.trainee_names(session, (c.trainee_id for c in breakdown.cells.values() if c.trainee_id))
    per, totals = exports.categories_out(breakdown, names)
    return exports.CategoriesOut(unit=_ref(row), since=scope.since, until=scope.until, categories=per,
                                 unit_totals=totals)
