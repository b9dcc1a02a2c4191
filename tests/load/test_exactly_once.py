"""A slim version of `bench/bench_load.py` for CI: a real server, real HTTP, one fault.

20 trainees x 10 decisions at once against gunicorn + uvicorn workers on 127.0.0.1 and a fresh
database of the run's kind (TEST_DATABASE / TEST_POSTGRES_URL). Halfway through, PostgreSQL's
backends are terminated (pg_terminate_backend) or, on SQLite, a worker is SIGKILLed. Every
acknowledged decision must then be in the database exactly once, with its answer, and nothing
else; no request may get a 500 (503 "retry shortly" is the one allowed 5xx, and only around the
fault).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

import httpx
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from _server import TRAINEE_PASSWORD, BenchServer  # noqa: E402
from _trainees import DECISIONS_SQL, Stats, Trainee, percentile, run_trainees, verify  # noqa: E402
from bench_load import FaultPlan  # noqa: E402

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
TRAINEES = 20
DECISIONS = 10


@pytest.fixture(scope="module")
def server():
    with BenchServer(db=BACKEND, workers=2, bench_routes=False) as srv:
        # Four scenarios are plenty here and keep the set-up short.
        srv.setup(trainees=TRAINEES, scenario_limit=4)
        srv.start(timeout=120)
        yield srv


def test_every_acknowledged_decision_is_stored_exactly_once_through_a_fault(server: BenchServer) -> None:
    fault = "pg-terminate" if BACKEND == "postgres" else "kill-worker"
    plan = FaultPlan(server, [fault], TRAINEES * DECISIONS, outage_s=0)
    users = [f"bench{i:04d}" for i in range(TRAINEES)]
    stats = asyncio.run(run_trainees(
        server.base_url, users, TRAINEE_PASSWORD, DECISIONS, seed=11,
        timeout_s=30, retry_budget_s=60, deadline_s=240, on_progress=plan.on_progress,
    ))
    plan.join()
    verdict = verify(server.query(DECISIONS_SQL), stats)
    lat = stats.latencies.get("decision", [])
    context = (f"{verdict.summary()}; statuses {dict(stats.statuses)}; transport errors "
               f"{dict(stats.transport_errors)}; faults {plan.log}; decision p50/p99 "
               f"{percentile(lat, 50) * 1000:.0f}/{percentile(lat, 99) * 1000:.0f} ms; errors {stats.errors[:3]}")
    assert plan.log, "the fault never fired: " + context
    assert not stats.errors, context
    assert len(stats.acks) == TRAINEES * DECISIONS, context
    assert verdict.ok, context
    assert stats.n_500 == 0, "a 5xx other than 503: " + context + "\n" + server.log_tail(60)


def test_a_retry_with_the_same_key_never_duplicates(server: BenchServer) -> None:
    """The same decision sent five times at once (a client retrying in a hurry) is stored once."""
    async def go() -> tuple[int, list[int]]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
            stats = Stats()
            t = Trainee(c, f"bench{TRAINEES - 1:04d}", TRAINEE_PASSWORD, stats, rng=random.Random(1),
                        retry_budget_s=30)
            await t.login()
            r = await c.post("/practice/next", headers={"X-CSRF-Token": t.csrf})
            attempt = int(r.headers["location"].rsplit("/", 1)[1])
            form = {"action": "dismiss", "reason": "baseline", "confidence": "80"}
            headers = {"X-CSRF-Token": t.csrf, "Idempotency-Key": "same-key-every-time"}
            answers = await asyncio.gather(*[
                c.post(f"/attempts/{attempt}/decision", data=form, headers=headers) for _ in range(5)
            ])
            return attempt, [a.status_code for a in answers]

    attempt, statuses = asyncio.run(go())
    assert statuses == [303] * 5, statuses
    rows = server.query("SELECT count(*) FROM decision WHERE attempt_id = :a", {"a": attempt})
    assert rows[0][0] == 1
