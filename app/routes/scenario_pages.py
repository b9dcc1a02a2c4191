"""Educator pages for the scenario library: browse, read, preview, check, write, publish.

Every page renders whole for a normal request and as its named block for htmx, so
the editor, filters and the simulation check work with and without JavaScript.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from app.deps import ALLOW_EDUCATOR, Principal, SessionDep, is_htmx
from app.services import scenario_library as lib
from app.services.scenario_editor import (
    MAX_BYTES,
    Submission,
    publish_submission,
    submission_from_text,
    submission_from_upload,
    too_large,
    validate_submission,
)
from app.templating import render
from simulator import CATEGORIES

router = APIRouter(tags=["educator"], dependencies=[Depends(ALLOW_EDUCATOR)])

Educator = Annotated[Principal, Depends(ALLOW_EDUCATOR)]

# A form may carry the editor text and an uploaded file, each up to MAX_BYTES.
MAX_FORM_BYTES = 2 * MAX_BYTES + 16 * 1024
EDITOR = "pages/educator/scenario_edit.html"


async def read_submission(request: Request) -> Submission:
    """The scenario sent by the editor form (an uploaded file wins over the text box).

    A declared body over the limit is refused before it is read; the file is read
    at most one byte past the limit, so an oversized upload never sits in memory.
    """
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        return Submission("", "scenario", [too_large()])
    form = await request.form(max_files=2, max_fields=20, max_part_size=MAX_FORM_BYTES)
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_BYTES + 1)
        if data:
            return submission_from_upload(data, upload.filename)
    text = form.get("text")
    return submission_from_text(text if isinstance(text, str) else "")


SubmissionDep = Annotated[Submission, Depends(read_submission)]


@router.get("/scenarios")
def scenario_list(request: Request, session: SessionDep, category: str | None = None) -> Response:
    """The library, newest version of each scenario, optionally one category."""
    chosen = category if category in CATEGORIES else None
    return render(
        request,
        "pages/educator/scenarios.html",
        {"title": "Scenario library", "rows": lib.library(session, category=chosen), "category": chosen,
         "categories": CATEGORIES},
        block="results",
    )


@router.get("/scenarios/new")
def scenario_new(
    request: Request,
    session: SessionDep,
    from_: Annotated[str | None, Query(alias="from", max_length=80)] = None,
) -> Response:
    """The editor, empty or holding the newest text of a scenario with the next free version."""
    text = lib.next_version_text(session, from_) if from_ else None
    if from_ and text is None:
        raise HTTPException(status_code=404, detail=f"No published scenario '{from_}'.")
    return render(request, EDITOR, {"title": "Write a scenario", "outcome": None, "text": text or "",
                                    "based_on": from_})


@router.post("/scenarios/validate")
def scenario_validate(request: Request, session: SessionDep, sub: SubmissionDep) -> Response:
    """Every problem at its line (422), or a summary of the valid scenario ready to publish."""
    outcome = validate_submission(session, sub)
    return render(
        request,
        EDITOR,
        {"title": "Write a scenario", "outcome": outcome, "text": sub.text, "based_on": None},
        block="editor",
        status_code=200 if outcome.ok else 422,
    )


@router.post("/scenarios/publish")
def scenario_publish(request: Request, session: SessionDep, principal: Educator, sub: SubmissionDep) -> Response:
    """Store a new immutable version (all or nothing), then show it."""
    version, outcome = publish_submission(session, sub, user_id=principal.id)
    if version is None:
        return render(
            request,
            EDITOR,
            {"title": "Write a scenario", "outcome": outcome, "text": sub.text, "based_on": None},
            block="editor",
            status_code=422,
        )
    target = f"/scenarios/{version.scenario_id}?version={version.version}&published=1"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/scenarios/{scenario_id}")
def scenario_detail(
    request: Request,
    session: SessionDep,
    scenario_id: str,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    published: bool = False,
) -> Response:
    """One scenario: its versions and the source of one of them, line by line."""
    detail = lib.detail(session, scenario_id, version)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"No published scenario '{scenario_id}' with that version.")
    return render(
        request,
        "pages/educator/scenario.html",
        {"title": detail.current.title, "d": detail, "published": published, "check": None,
         "check_seeds": lib.CHECK_SEEDS},
    )


@router.get("/scenarios/{scenario_id}/preview")
def scenario_preview(
    request: Request,
    session: SessionDep,
    scenario_id: str,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 1,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    future: bool = False,
) -> Response:
    """The case page a trainee would get at this seed, followed by its answer."""
    detail = lib.detail(session, scenario_id, version)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"No published scenario '{scenario_id}' with that version.")
    p = lib.preview(detail.current, seed)
    return render(
        request,
        "pages/educator/preview.html",
        {"title": f"Preview: {detail.current.title}", "d": detail, "seed": seed, "future": future, "p": p,
         "v": p.case.view, "screen": p.screen(future=future), "fb": p.answer if future else None},
        block="preview",
    )


@router.post("/scenarios/{scenario_id}/check")
def scenario_check(
    request: Request,
    session: SessionDep,
    scenario_id: str,
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    seeds: Annotated[int, Form(ge=1, le=lib.MAX_CHECK_SEEDS)] = lib.CHECK_SEEDS,
) -> Response:
    """Simulate many seeds of one version: does the outcome agree with the expected action?"""
    detail = lib.detail(session, scenario_id, version)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"No published scenario '{scenario_id}' with that version.")
    check = lib.run_check(detail.current, seeds)
    return render(
        request,
        "pages/educator/scenario.html",
        {"title": detail.current.title, "d": detail, "published": False, "check": check, "check_seeds": seeds},
        block="check",
    )
