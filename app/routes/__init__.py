"""Routers, discovered: each module here that defines `router` is mounted.

Discovery keeps feature modules independent (no shared list to edit), and the
route-role matrix test guarantees each discovered route declares who may call it.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def _discover() -> list[APIRouter]:
    routers: list[APIRouter] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers


ROUTERS = _discover()
