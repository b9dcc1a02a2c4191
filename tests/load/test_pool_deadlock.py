"""Many concurrent requests on one worker never deadlock the connection pool against the threadpool.

Each request holds a pooled connection from its first query until its session closes and moves
between threadpool threads meanwhile. Without app.main.PoolSizedConcurrency, more requests in
flight than threads (40) plus connections stall the worker until pool_timeout and then answer 500.
Here: a pool of 2 + 2 connections, 60 signed-in requests at once, in one event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlmodel import Session, create_engine

from app.core.db import get_session
from app.core.migrate import upgrade
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.services.accounts import create_user, get_or_create_unit
from app.services.auth import start_session
from tests.conftest import new_database

CONCURRENT = 60
ROUNDS = 2


def test_sixty_concurrent_requests_with_four_connections_all_succeed(tmp_path: Path) -> None:
    fresh = new_database(tmp_path)
    engine = create_engine(fresh.url, pool_size=2, max_overflow=2, pool_timeout=5)
    try:
        upgrade(fresh.url)
        with Session(engine) as s:
            unit = get_or_create_unit(s, "Ward")
            user = create_user(s, username="nurse1", password="pass-1234", role="trainee", unit=unit)
            s.commit()
            token, _ = start_session(s, user)

        app = create_app()

        def small_pool_session() -> Iterator[Session]:
            with Session(engine) as session:
                yield session

        app.dependency_overrides[get_session] = small_pool_session

        async def run() -> Counter[int]:
            statuses: Counter[int] = Counter()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                         cookies={SESSION_COOKIE: token}, timeout=60) as client:
                async def one() -> None:
                    for _ in range(ROUNDS):
                        r = await client.get("/drills")
                        statuses[r.status_code] += 1

                await asyncio.wait_for(asyncio.gather(*[one() for _ in range(CONCURRENT)]), timeout=90)
            return statuses

        statuses = asyncio.run(run())
        assert statuses == Counter({200: CONCURRENT * ROUNDS}), statuses
    finally:
        engine.dispose()
        fresh.drop()
