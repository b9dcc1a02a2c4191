"""A trainee's own history: every past decision with its replay, and accuracy by category."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.deps import ALLOW_TRAINEE, Principal, SessionDep
from app.services.attempts import accuracy_by_category, history_rows
from app.templating import render
from simulator import CATEGORIES

router = APIRouter(tags=["history"])

TraineeDep = Annotated[Principal, Depends(ALLOW_TRAINEE)]


@router.get("/history", dependencies=[Depends(ALLOW_TRAINEE)])
def my_history(request: Request, session: SessionDep, principal: TraineeDep) -> Response:
    rows = history_rows(session, trainee_id=principal.id)
    accuracy = accuracy_by_category(session, trainee_id=principal.id)
    return render(
        request,
        "pages/triage/history.html",
        {"rows": rows, "accuracy": accuracy, "categories": CATEGORIES, "title": "My history"},
        block="content",
    )
