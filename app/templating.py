"""Render a whole page, or one block of it for an htmx request.

One template per page with named blocks (jinja2-fragments): the fragment an htmx
swap receives is exactly the markup the full page includes, so the two never drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2_fragments.fastapi import Jinja2Blocks

from app.charts.scales import CHART_FUTURE_HOURS, CHART_PAST_HOURS
from app.deps import is_htmx, pre_session_csrf

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))
# Templates load once per process: no stat() of every template on every request. The cached
# case bodies (services/case_fragments.py) already need a restart after a template edit.
templates.env.auto_reload = False


@pass_context
def static_url(context: Context, path: str) -> str:
    """Path of a file under /static, without `url_for`'s route lookup on every page."""
    return f"{context['request'].scope.get('root_path', '')}/static/{path}"


templates.env.globals["static_url"] = static_url
# Every chart shares one time axis; pages that describe it read the same numbers.
templates.env.globals["chart_past_hours"] = CHART_PAST_HOURS
templates.env.globals["chart_future_hours"] = CHART_FUTURE_HOURS


def _base_context(request: Request) -> dict[str, Any]:
    principal = getattr(request.state, "principal", None)
    csrf = principal.session.csrf_token if principal and principal.session else pre_session_csrf(request)
    return {"principal": principal, "user": principal.user if principal else None, "csrf_token": csrf}


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    blocks: list[str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    ctx = _base_context(request)
    ctx.update(context or {})
    kwargs: dict[str, Any] = {}
    if is_htmx(request):
        if blocks:
            kwargs["block_names"] = blocks
        elif block:
            kwargs["block_name"] = block
    response: Response = templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers, **kwargs
    )
    response.headers["Vary"] = "HX-Request"
    seed = getattr(request.state, "pre_seed", None)
    if seed:
        response.set_cookie("alertdrill_pre", seed, httponly=True, samesite="lax", path="/")
    return response
