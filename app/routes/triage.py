"""The trainee's side: drills, practice, the case page and the decision.

Every form posts to a real URL and a plain request gets 303 back to the case page
(PRG), so the flow works without JavaScript; an htmx request gets the page's `case`
block, which is the same markup the full page includes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from app.core.db import read_autocommit
from app.deps import (
    ALLOW_TRAINEE,
    SESSION_COOKIE,
    AllowInRoute,
    DirectRoute,
    LazySession,
    Principal,
    SessionDep,
    is_htmx,
    read_form,
)
from app.models import CaseAttempt, Drill
from app.services import case_screen as screens
from app.services.attempts import (
    DecisionConflict,
    DecisionInvalid,
    DecisionRefused,
    can_view,
    drill_progress,
    drills_for_trainee,
    load_decider,
    next_drill_attempt,
    next_practice_attempt,
    practice_progress,
    record_decision,
    record_pre_alert,
)
from app.services.dealing import DealError
from app.templating import render

router = APIRouter(tags=["triage"])
ROUTE_ORDER = 0  # matched first: a drill is mostly case pages and decisions

TraineeDep = Annotated[Principal, Depends(ALLOW_TRAINEE)]

CASE_TEMPLATE = "pages/triage/case.html"


def _own_drill(session: SessionDep, principal: Principal, drill_id: int) -> Drill:
    drill = session.get(Drill, drill_id)
    if drill is None or drill.cohort_id != principal.user.cohort_id:
        raise HTTPException(status_code=404, detail="No such drill is assigned to you.")
    return drill


def _own_attempt(session: SessionDep, principal: Principal, attempt_id: int) -> CaseAttempt:
    attempt = session.get(CaseAttempt, attempt_id)
    if attempt is None:
        raise HTTPException(status_code=404, detail="No such case.")
    if attempt.trainee_id != principal.id:
        raise HTTPException(status_code=403, detail="This case belongs to another trainee.")
    return attempt


def _case_response(
    request: Request,
    session: SessionDep,
    principal: Principal,
    attempt: CaseAttempt,
    *,
    status_code: int = 200,
    form: screens.FormState | None = None,
    notice: str | None = None,
    loaded: screens.LoadedCase | None = None,
) -> Response:
    screen = screens.case_screen(session, attempt, viewer=principal.user, form=form, notice=notice, loaded=loaded)
    return render(request, CASE_TEMPLATE, {"screen": screen, "title": screen.heading},
                  block="case", status_code=status_code)


def _to_case(attempt: CaseAttempt) -> RedirectResponse:
    return RedirectResponse(f"/attempts/{attempt.id}", status_code=303)


@router.get("/drills", dependencies=[Depends(ALLOW_TRAINEE)])
def my_drills(request: Request, session: SessionDep, principal: TraineeDep) -> Response:
    cards = drills_for_trainee(session, principal.user)
    round_no, practice = practice_progress(session, trainee_id=principal.id)
    return render(request, "pages/triage/drills.html",
                  {"cards": cards, "practice": practice, "practice_round": round_no, "title": "My drills"},
                  block="content")


@router.get("/drills/{drill_id:id}", dependencies=[Depends(ALLOW_TRAINEE)])
def drill_page(request: Request, session: SessionDep, principal: TraineeDep, drill_id: int) -> Response:
    drill = _own_drill(session, principal, drill_id)
    progress = drill_progress(session, drill=drill, trainee_id=principal.id)
    ctx = screens.set_context(progress, title=drill.title, next_url=f"/drills/{drill.id}/next", drill=drill)
    return render(request, "pages/triage/set.html", ctx, block="content")


@router.post("/drills/{drill_id:id}/next", dependencies=[Depends(ALLOW_TRAINEE)])
def drill_next(session: SessionDep, principal: TraineeDep, drill_id: int) -> Response:
    drill = _own_drill(session, principal, drill_id)
    try:
        attempt = next_drill_attempt(session, drill=drill, trainee=principal.user)
    except DealError as exc:
        raise HTTPException(status_code=409, detail=str(exc))
    if attempt is None:
        return RedirectResponse(f"/drills/{drill_id}", status_code=303)
    return _to_case(attempt)


@router.get("/practice", dependencies=[Depends(ALLOW_TRAINEE)])
def practice_page(request: Request, session: SessionDep, principal: TraineeDep, round: int | None = None) -> Response:
    round_no, progress = practice_progress(session, trainee_id=principal.id, round_no=round)
    ctx = screens.set_context(progress, title=f"Practice round {round_no + 1}", next_url="/practice/next",
                              practice_round=round_no)
    return render(request, "pages/triage/set.html", ctx, block="content")


@router.post("/practice/next", dependencies=[Depends(ALLOW_TRAINEE)])
def practice_next(session: SessionDep, principal: TraineeDep) -> Response:
    try:
        attempt = next_practice_attempt(session, trainee=principal.user)
    except DealError as exc:
        raise HTTPException(status_code=409, detail=str(exc))
    return _to_case(attempt)


async def case_page(request: Request, rule: AllowInRoute, lazy: LazySession) -> Response:
    # The page every trainee opens most: the whole request in one thread hop, the signed-in user
    # and the case in one query, no transaction (docs/performance.md). Access is checked before
    # any cached body is used.
    return await run_in_threadpool(_case_page, request, lazy, rule, request.path_params["attempt_id"])


def _case_page(request: Request, lazy: LazySession, rule: AllowInRoute, attempt_id: int) -> Response:
    session = lazy.get()
    try:
        read_autocommit(session)
        found = screens.load_viewer_case(session, request.cookies.get(SESSION_COOKIE), attempt_id)
        principal = Principal(user=found[1], session=found[0]) if found else None
        principal = rule.admit_request(request, principal)
        loaded = found[2] if found else None
        if loaded is None:
            raise HTTPException(status_code=404, detail="No such case.")
        if not can_view(loaded.attempt, viewer=principal.user, decision=loaded.decision):
            raise HTTPException(status_code=403, detail="You cannot open this case.")
        return _case_response(request, session, principal, loaded.attempt, loaded=loaded)
    finally:
        lazy.close()  # in this thread: the request then ends with no database work left


@router.post("/attempts/{attempt_id:id}/independent", dependencies=[Depends(ALLOW_TRAINEE)])
def independent_judgement(
    request: Request,
    session: SessionDep,
    principal: TraineeDep,
    attempt_id: int,
    action: Annotated[str | None, Form(max_length=16)] = None,
) -> Response:
    attempt = _own_attempt(session, principal, attempt_id)
    try:
        record_pre_alert(session, attempt=attempt, trainee=principal.user, action=action)
    except DecisionInvalid as exc:
        return _case_response(request, session, principal, attempt, status_code=422,
                              form=screens.FormState(errors=exc.errors))
    except (DecisionRefused, DecisionConflict) as exc:
        return _case_response(request, session, principal, attempt, status_code=409, notice=str(exc))
    if not is_htmx(request):
        return _to_case(attempt)
    return _case_response(request, session, principal, attempt)


async def decide(request: Request, rule: AllowInRoute, lazy: LazySession) -> Response:
    # As the case page: one thread hop, and the signed-in user (with the CSRF token), the attempt,
    # its stored decision and its version's category in one query before the write. The form is
    # read as it came (`read_form` refuses one over 1 MiB); `record_decision` validates every
    # field, and the idempotency key is only ever stored as a digest.
    sent = await read_form(request)

    def text(name: str) -> str | None:
        value = sent.get(name)
        return value if isinstance(value, str) else None  # an uploaded file answers nothing

    form = screens.FormState(action=text("action"), reason=text("reason"), escalate_to=text("escalate_to"),
                             reason_text=text("reason_text"), confidence=text("confidence"))
    key = request.headers.get("idempotency-key") or text("idempotency_key")
    return await run_in_threadpool(_decide, request, lazy, rule, request.path_params["attempt_id"], form, key)


def _decide(
    request: Request, lazy: LazySession, rule: AllowInRoute, attempt_id: int, form: screens.FormState,
    idempotency_key: str | None,
) -> Response:
    session = lazy.get()
    try:
        read_autocommit(session)  # until the write, which begins its own transaction
        found = load_decider(session, request.cookies.get(SESSION_COOKIE), attempt_id)
        principal = rule.admit_request(request, Principal(user=found[1], session=found[0]) if found else None)
        if found is None or found[2] is None:
            raise HTTPException(status_code=404, detail="No such case.")
        attempt, context = found[2]
        if attempt.trainee_id != principal.id:
            raise HTTPException(status_code=403, detail="This case belongs to another trainee.")
        chosen_reason = form.escalate_to if (form.action or "").strip().lower() == "escalate" else form.reason
        try:
            record_decision(
                session, attempt=attempt, trainee=principal.user, action=form.action, reason=chosen_reason,
                reason_text=form.reason_text, confidence=form.confidence, idempotency_key=idempotency_key,
                context=context,
            )
        except DecisionInvalid as exc:
            return _case_response(request, session, principal, attempt, status_code=422,
                                  form=replace(form, errors=exc.errors))
        except (DecisionRefused, DecisionConflict) as exc:
            return _case_response(request, session, principal, attempt, status_code=409, notice=str(exc))
        if not is_htmx(request):
            return _to_case(attempt)
        return _case_response(request, session, principal, attempt)
    finally:
        lazy.close()  # in this thread (a refused form has read only; a decision is committed)


# The two requests every trainee makes most, served without FastAPI's dependency solving
# (app.deps.DirectRoute); managers and admins may open a decided case read-only (the dashboard
# drills down to it).
router.routes[:0] = [
    DirectRoute("/attempts/{attempt_id:id}", case_page, methods=["GET"],
                rule=AllowInRoute("trainee", "manager", "admin")),
    DirectRoute("/attempts/{attempt_id:id}/decision", decide, methods=["POST"], rule=AllowInRoute("trainee")),
]
