"""Educator page for item analysis: how each scenario performs as a test item."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.deps import ALLOW_EDUCATOR, SessionDep
from app.metrics import TOO_EASY_AT
from app.services.items import FEW_RESPONSES, item_rows
from app.templating import render
from simulator import CATEGORIES

router = APIRouter(tags=["educator"], dependencies=[Depends(ALLOW_EDUCATOR)])


@router.get("/items")
def items(request: Request, session: SessionDep, category: str | None = None, flagged: bool = False) -> Response:
    """Difficulty, discrimination and common wrong reasons per scenario, with review flags."""
    chosen = category if category in CATEGORIES else None
    return render(
        request,
        "pages/educator/items.html",
        {"title": "Item analysis", "rows": item_rows(session, category=chosen, flagged_only=flagged),
         "category": chosen, "flagged": flagged, "categories": CATEGORIES, "too_easy_at": TOO_EASY_AT,
         "few": FEW_RESPONSES},
        block="results",
    )
