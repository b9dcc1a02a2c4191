"""Routers, discovered: each module here that defines `router` is mounted.

Discovery keeps feature modules independent (no shared list to edit), and the
route-role matrix test guarantees each discovered route declares who may call it.
A module may set `ROUTE_ORDER` (default 100; lower is matched first): Starlette tries
routes in order, so the trainee's pages, which most requests hit, go first.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def _discover() -> list[APIRouter]:
    found: list[tuple[int, str, APIRouter]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((getattr(module, "ROUTE_ORDER", 100), info.name, router))
    return [router for _order, _name, router in sorted(found, key=lambda f: f[:2])]


ROUTERS = _discover()
