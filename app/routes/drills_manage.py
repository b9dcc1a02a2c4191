"""Educator pages for drills: list with completion, create and assign, per-trainee progress."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from app.deps import ALLOW_EDUCATOR, Principal, SessionDep, is_htmx
from app.services.drills import (
    MAX_CASES,
    MODES,
    DrillError,
    DrillForm,
    cohort_choices,
    create_drills,
    drill_progress,
    drill_visible_to,
    list_drills,
    parse_created,
    spec_summary,
    trainee_progress,
)
from app.services.scenario_library import library
from app.templating import render
from simulator import CATEGORIES

router = APIRouter(prefix="/manage/drills", tags=["educator"], dependencies=[Depends(ALLOW_EDUCATOR)])

Educator = Annotated[Principal, Depends(ALLOW_EDUCATOR)]
FORM = "pages/educator/drill_new.html"


async def drill_form(request: Request) -> DrillForm:
    """The posted drill form, kept as typed so a refused form comes back unchanged."""
    form: FormData = await request.form(max_fields=200, max_part_size=64 * 1024)

    def one(name: str, default: str = "") -> str:
        value = form.get(name)
        return value if isinstance(value, str) else default

    return DrillForm(
        title=one("title"),
        # `cohort_id` is the single select this form used to have; still accepted.
        cohort_ids=[v for name in ("cohort_ids", "cohort_id") for v in form.getlist(name) if isinstance(v, str)],
        source=one("source", "scenarios"),
        scenario_ids=[v for v in form.getlist("scenario_ids") if isinstance(v, str)],
        weights={slug: one(f"weight-{slug}") for slug in CATEGORIES},
        n_cases=one("n_cases"),
        mode=one("mode", "standard"),
        no_alert_pct=one("no_alert_pct", "0"),
        due_on=one("due_on"),
    )


def _form_context(session: SessionDep, principal: Principal, form: DrillForm, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "title": "New drill",
        "form": form,
        "errors": errors,
        "cohorts": cohort_choices(session, principal.user),
        "scenarios": library(session),
        "categories": CATEGORIES,
        "modes": MODES,
        "max_cases": MAX_CASES,
    }


@router.get("")
def drills(request: Request, session: SessionDep, principal: Educator, created: str | None = None) -> Response:
    """Drills of the educator's unit (all units for admins), newest first, with completion.

    `created` lists the drills just made ("7" or "7,8", one per cohort) for the confirmation.
    """
    rows = list_drills(session, principal.user)
    created_ids = parse_created(created)
    return render(
        request,
        "pages/educator/drills.html",
        {"title": "Drills", "rows": rows, "created": created_ids,
         "created_rows": [p for p in rows if p.drill.id in created_ids],
         "describe": spec_summary, "modes": MODES},
    )


@router.get("/new")
def new_drill(request: Request, session: SessionDep, principal: Educator) -> Response:
    cohorts = cohort_choices(session, principal.user)
    # With a single cohort to choose from, it is already ticked.
    form = DrillForm(cohort_ids=[str(cohorts[0].id)] if len(cohorts) == 1 else [])
    return render(request, FORM, _form_context(session, principal, form, {}))


@router.post("")
def create(
    request: Request,
    session: SessionDep,
    principal: Educator,
    form: Annotated[DrillForm, Depends(drill_form)],
) -> Response:
    """Create the drill for every chosen cohort, or re-show the form (422) with every problem marked."""
    try:
        created = create_drills(session, user=principal.user, form=form)
    except DrillError as err:
        return render(request, FORM, _form_context(session, principal, form, err.errors), block="drill_form",
                      status_code=422)
    target = "/manage/drills?created=" + ",".join(str(d.id) for d in created)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/{drill_id:id}")
def drill_detail(request: Request, session: SessionDep, principal: Educator, drill_id: int) -> Response:
    """One drill: what it deals and which cohort members have done how many cases."""
    found = drill_visible_to(session, principal.user, drill_id)
    if found is None:
        raise HTTPException(status_code=404, detail="No such drill in your unit.")
    drill, cohort = found
    return render(
        request,
        "pages/educator/drill.html",
        {"title": drill.title, "p": drill_progress(session, [found])[0], "cohort": cohort,
         "trainees": trainee_progress(session, drill), "describe": spec_summary, "modes": MODES},
    )
