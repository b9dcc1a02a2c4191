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
from starlette.convertors import Convertor, register_url_convertor

from app.models.base import MAX_ROW_ID


class RowIdConvertor(Convertor[int]):
    """`{name:id}` in a route's path: a row id. One the database's integer column cannot hold (a
    crafted URL) becomes 0, which no row has, so the route runs its checks (sign-in, role) and
    then answers its own 404; binding a larger number fails on both databases (a 500)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        number = int(value) if len(value) <= 18 else 0  # (int() refuses over 4,300 digits)
        return number if number <= MAX_ROW_ID else 0

    def to_string(self, value: int) -> str:
        return str(value)


# Before any route module is imported: each compiles its paths when it defines them.
register_url_convertor("id", RowIdConvertor())


def _discover() -> list[APIRouter]:
    found: list[tuple[int, str, APIRouter]] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((getattr(module, "ROUTE_ORDER", 100), info.name, router))
    return [router for _order, _name, router in sorted(found, key=lambda f: f[:2])]


ROUTERS = _discover()
