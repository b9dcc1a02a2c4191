"""Unit-manager pages: the trainee table, categories, a trainee's decisions, CSV exports, API tokens.

Every route is ALLOW_MANAGER (managers and admins). A manager only ever sees their own unit; an
admin picks one with `?unit=`. Filters are plain GET query parameters, so the same URL works with and
without JavaScript, and htmx swaps only the results block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from app.deps import ALLOW_MANAGER, Principal, SessionDep, is_htmx
from app.models import Unit
from app.services import api_tokens, exports
from app.services import dashboard as dash
from app.templating import render

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

ManagerDep = Annotated[Principal, Depends(ALLOW_MANAGER)]

PERIODS: dict[str, tuple[str, int | None]] = {
    "7": ("Last 7 days", 7),
    "28": ("Last 4 weeks", 28),
    "90": ("Last 3 months", 90),
    "365": ("Last 12 months", 365),
    "all": ("All time", None),
}
DEFAULT_METRIC = "accuracy"


def _unit(session: SessionDep, principal: Principal, requested: int | None) -> Unit:
    try:
        return dash.resolve_unit(session, principal.user, requested)
    except dash.UnitAccessError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.message)


@dataclass(frozen=True)
class Filters:
    """The dashboard's GET parameters, parsed leniently: a bad value falls back to the default."""

    unit: int | None
    days: str
    sort: str
    order: str
    metric: str
    threshold: str

    @property
    def period_days(self) -> int | None:
        return PERIODS[self.days][1]

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    @property
    def threshold_value(self) -> float | None:
        return dash.threshold_value(self.metric, self.threshold)

    @property
    def threshold_unit(self) -> str:
        return dash.threshold_unit(self.metric)

    @property
    def worse_side(self) -> str:
        return dash.worse_side(self.metric)

    def as_metric(self, metric: str) -> Filters:
        """The same filters highlighting `metric`: the threshold is kept only if it was typed for it."""
        if metric == self.metric:
            return self
        return replace(self, metric=metric, threshold=dash.default_threshold(metric))

    def query(self, **changes: str | int | None) -> str:
        params: dict[str, str | int | None] = {
            "unit": self.unit, "days": self.days, "sort": self.sort, "order": self.order,
            "metric": self.metric, "threshold": self.threshold,
        }
        params.update(changes)
        # An empty threshold is kept ("threshold="): typed empty means no highlight, absent the default.
        return urlencode({k: v for k, v in params.items() if v is not None and (v != "" or k == "threshold")})

    def sort_link(self, key: str) -> str:
        order = "desc" if self.sort == key and not self.descending else "asc"
        if self.sort != key and dash.METRICS[key].higher_is_better is False:
            order = "desc"  # worst first for "lower is better" columns
        return self.query(sort=key, order=order)


def filters(
    unit: Annotated[int | None, Query()] = None,
    days: Annotated[str, Query(max_length=32)] = "all",
    sort: Annotated[str, Query(max_length=32)] = dash.DEFAULT_SORT,
    order: Annotated[str, Query(max_length=32)] = "asc",
    metric: Annotated[str, Query(max_length=32)] = DEFAULT_METRIC,
    threshold: Annotated[str | None, Query(max_length=32)] = None,
    threshold_metric: Annotated[str | None, Query(max_length=32)] = None,
) -> Filters:
    """`threshold_metric` is the metric the submitted threshold was shown for (a hidden field of the
    form). Switching the Highlight metric submits the old metric's threshold with it: that one is
    dropped for the new metric's default. With no threshold at all, the metric's default applies;
    an empty one (typed) means no highlight."""
    chosen = metric if metric in dash.THRESHOLD_METRICS else DEFAULT_METRIC
    stale = threshold_metric is not None and threshold_metric != chosen
    return Filters(
        unit=unit,
        days=days if days in PERIODS else "all",
        sort=sort if sort in dash.METRICS else dash.DEFAULT_SORT,
        order=order if order in ("asc", "desc") else "asc",
        metric=chosen,
        threshold=dash.default_threshold(chosen) if threshold is None or stale else threshold.strip(),
    )


FiltersDep = Annotated[Filters, Depends(filters)]


def _common(session: SessionDep, principal: Principal, f: Filters, unit: Unit) -> dict[str, object]:
    return {
        "unit": unit,
        "units": dash.all_units(session) if principal.role == "admin" else [],
        "f": f,
        "periods": PERIODS,
        "metrics": dash.METRICS,
        "threshold_metrics": dash.THRESHOLD_METRICS,
        "default_thresholds": dash.DEFAULT_THRESHOLDS,
    }


@router.get("", dependencies=[Depends(ALLOW_MANAGER)])
def unit_dashboard(request: Request, session: SessionDep, principal: ManagerDep, f: FiltersDep) -> Response:
    unit = _unit(session, principal, f.unit)
    scope = dash.scope_for_days(unit.id or 0, f.period_days)
    summary = dash.unit_summary(session, unit, scope)
    rows = dash.flag_rows(summary.rows, f.metric, f.threshold_value)
    rows = dash.sort_rows(rows, f.sort, f.descending)
    chart = dash.trend_chart(dash.weekly_trend(session, scope))
    ctx = {
        **_common(session, principal, f, unit),
        "summary": summary,
        "rows": rows,
        "flagged": sum(r.flagged for r in rows),
        "chart": chart,
        # An htmx swap replaces only #results: the threshold field (value and unit follow the
        # metric) comes along out of band.
        "threshold_oob": is_htmx(request),
    }
    return render(request, "pages/dashboard/index.html", ctx, block="results")


@router.get("/categories", dependencies=[Depends(ALLOW_MANAGER)])
def categories(request: Request, session: SessionDep, principal: ManagerDep, f: FiltersDep) -> Response:
    f = f.as_metric("accuracy")  # this page highlights accuracy only
    unit = _unit(session, principal, f.unit)
    scope = dash.scope_for_days(unit.id or 0, f.period_days)
    breakdown = dash.category_breakdown(session, scope)
    ctx = {
        **_common(session, principal, f, unit),
        "breakdown": breakdown,
        "trainees": breakdown.trainees(session),
        "min_accuracy": f.threshold_value,
    }
    return render(request, "pages/dashboard/categories.html", ctx, block="results")


@router.get("/trainees/{trainee_id:id}", dependencies=[Depends(ALLOW_MANAGER)])
def trainee_detail(
    request: Request,
    session: SessionDep,
    principal: ManagerDep,
    f: FiltersDep,
    trainee_id: int,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    unit = _unit(session, principal, f.unit)
    try:
        trainee = dash.trainee_in_unit(session, unit, trainee_id)
    except dash.UnitAccessError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.message)
    scope = dash.scope_for_days(unit.id or 0, f.period_days)
    mine = dash.Scope(unit_id=scope.unit_id, since=scope.since, trainee_id=trainee.id)
    row = dash.trainee_summary(session, scope, trainee)
    decisions, older = dash.recent_decisions(session, mine, before_id=before)
    breakdown = dash.category_breakdown(session, mine)
    ctx = {
        **_common(session, principal, f, unit),
        "trainee": trainee,
        "row": row,
        "decisions": decisions,
        "older": older,
        "before": before,
        "breakdown": breakdown,
        "by_category": {cat: cell for (_tid, cat), cell in breakdown.cells.items()},
        "chart": dash.trend_chart(dash.weekly_trend(session, mine)),
        "min_accuracy": f.as_metric("accuracy").threshold_value,
    }
    return render(request, "pages/dashboard/trainee.html", ctx, block="results")


def _csv_response(lines: object, filename: str) -> StreamingResponse:
    return StreamingResponse(
        lines,  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/export/summary.csv", dependencies=[Depends(ALLOW_MANAGER)])
def export_summary(session: SessionDep, principal: ManagerDep, f: FiltersDep) -> StreamingResponse:
    unit = _unit(session, principal, f.unit)
    summary = dash.unit_summary(session, unit, dash.scope_for_days(unit.id or 0, f.period_days))
    return _csv_response(exports.summary_csv(summary.rows), exports.export_filename("summary", unit.name))


@router.get("/export/decisions.csv", dependencies=[Depends(ALLOW_MANAGER)])
def export_decisions(
    session: SessionDep,
    principal: ManagerDep,
    f: FiltersDep,
    trainee: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    unit = _unit(session, principal, f.unit)
    scope = dash.scope_for_days(unit.id or 0, f.period_days)
    if trainee is not None:
        try:
            dash.trainee_in_unit(session, unit, trainee)
        except dash.UnitAccessError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.message)
        scope = dash.Scope(unit_id=scope.unit_id, since=scope.since, trainee_id=trainee)
    lines = exports.decisions_csv(dash.iter_decisions(session, scope))
    return _csv_response(lines, exports.export_filename("decisions", unit.name))


# --------------------------------------------------------------------------------------------------
# API tokens
# --------------------------------------------------------------------------------------------------


def _tokens_page(
    request: Request, session: SessionDep, principal: Principal, *, new_token: str | None = None,
    error: str | None = None, status_code: int = 200,
) -> Response:
    ctx = {
        "tokens": api_tokens.list_tokens(session, principal.user),
        "new_token": new_token,
        "error": error,
        "base_url": str(request.base_url).rstrip("/"),
    }
    response = render(request, "pages/dashboard/tokens.html", ctx, block="content", status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/tokens", dependencies=[Depends(ALLOW_MANAGER)])
def tokens(request: Request, session: SessionDep, principal: ManagerDep) -> Response:
    return _tokens_page(request, session, principal)


@router.post("/tokens", dependencies=[Depends(ALLOW_MANAGER)])
def create_token(
    request: Request,
    session: SessionDep,
    principal: ManagerDep,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        token, _row = api_tokens.create_token(session, principal.user, name)
    except api_tokens.TokenError as exc:
        return _tokens_page(request, session, principal, error=str(exc), status_code=422)
    # Shown once, in this response only: it is not stored and never appears on a later page.
    return _tokens_page(request, session, principal, new_token=token)


@router.post("/tokens/{token_id:id}/revoke", dependencies=[Depends(ALLOW_MANAGER)])
def revoke_token(request: Request, session: SessionDep, principal: ManagerDep, token_id: int) -> Response:
    try:
        api_tokens.revoke_token(session, principal.user, token_id)
    except api_tokens.TokenError as exc:
        raise HTTPException(status_code=404, detail=str(exc))
    if request.headers.get("hx-request") == "true":
        return _tokens_page(request, session, principal)
    return RedirectResponse("/dashboard/tokens", status_code=303)
