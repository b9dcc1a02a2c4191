"""Simulated trainees over real HTTP, and the exactly-once check on what they were told.

Each trainee logs in (log-in page, pre-session CSRF token, POST /login), then for each case:
POST /practice/next (303 to the case), GET /attempts/{id} (the case page), POST the decision
with an `Idempotency-Key` header. A decision counts as acknowledged only on a 2xx/303 answer
to its POST. After a timeout, a connection error or a 5xx the same request is sent again with
the same key and the same answer (bounded by `retry_budget_s`), as a browser or a careful
client would.

`verify(...)` then compares the database with the acknowledgements: every acknowledged
decision is stored exactly once, with the acknowledged answer, and nothing else is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CSRF_FORM_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
ATTEMPT_RE = re.compile(r"/attempts/(\d+)$")
RETRY_STATUSES = frozenset({500, 502, 503, 504})
DISMISS_REASONS = ("baseline", "artifact", "expected-course")


@dataclass
class Ack:
    attempt_id: int
    key: str
    action: str
    trainee: str


@dataclass
class Stats:
    """What the clients saw; latencies in seconds per kind of request (final tries only)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    status_by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    acks: list[Ack] = field(default_factory=list)
    abandoned: list[Ack] = field(default_factory=list)  # gave up without an answer: may or may not be stored
    errors: list[str] = field(default_factory=list)
    first_decision_at: float | None = None
    last_decision_at: float | None = None
    events: list[tuple[float, str]] = field(default_factory=list)

    def record(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.status_by_kind[(kind, status)] += 1
        self.latencies.setdefault(kind, []).append(seconds)

    @property
    def n_5xx(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)

    @property
    def n_500(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500 and s != 503)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class GiveUp(Exception):
    pass


class Trainee:
    def __init__(self, client: httpx.AsyncClient, username: str, password: str, stats: Stats, *,
                 rng: random.Random, retry_budget_s: float, think_s: float = 0.0) -> None:
        self.c = client
        self.username = username
        self.password = password
        self.stats = stats
        self.rng = rng
        self.retry_budget_s = retry_budget_s
        self.think_s = think_s
        self.csrf = ""

    async def _send(self, kind: str, method: str, url: str, *, ok: Callable[[httpx.Response], bool],
                    **kw: Any) -> httpx.Response:
        """Send until `ok` or a non-retryable answer; retries reuse the same request."""
        deadline = time.monotonic() + self.retry_budget_s
        delay = 0.05
        while True:
            t0 = time.monotonic()
            try:
                r = await self.c.request(method, url, **kw)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                self.stats.transport_errors[type(exc).__name__] += 1
                r = None
            else:
                self.stats.record(kind, r.status_code, time.monotonic() - t0)
                if ok(r) or r.status_code not in RETRY_STATUSES:
                    return r
            if time.monotonic() > deadline:
                raise GiveUp(f"{self.username} {kind} {url}: no answer within {self.retry_budget_s}s")
            self.stats.retries += 1
            retry_after = r.headers.get("retry-after") if r is not None else None
            wait = float(retry_after) if retry_after and retry_after.isdigit() else delay
            await asyncio.sleep(min(wait, 2.0) * (0.5 + self.rng.random()))
            delay = min(delay * 2, 2.0)

    async def login(self) -> None:
        while True:
            page = await self._send("login_page", "GET", "/login", ok=lambda r: r.status_code == 200)
            m = CSRF_FORM_RE.search(page.text)
            if not m:
                raise GiveUp(f"{self.username}: log-in page without a token ({page.status_code})")
            r = await self._send(
                "login", "POST", "/login", ok=lambda r: r.status_code == 303,
                data={"username": self.username, "password": self.password, "csrf_token": m.group(1)},
            )
            if r.status_code == 303:
                break
            if r.status_code == 403:  # pre-session token of a replaced cookie: take a fresh page
                continue
            raise GiveUp(f"{self.username}: log-in answered {r.status_code}")
        home = await self._send("home", "GET", r.headers["location"], ok=lambda r: r.status_code == 200)
        m = CSRF_META_RE.search(home.text)
        if not m:
            raise GiveUp(f"{self.username}: no CSRF token after log-in ({home.status_code})")
        self.csrf = m.group(1)

    async def one_case(self) -> None:
        h = {"X-CSRF-Token": self.csrf}
        r = await self._send("next", "POST", "/practice/next", headers=h, ok=lambda r: r.status_code == 303)
        m = ATTEMPT_RE.search(r.headers.get("location", "")) if r.status_code == 303 else None
        if not m:
            raise GiveUp(f"{self.username}: /practice/next answered {r.status_code}")
        attempt_id = int(m.group(1))
        page = await self._send("case_page", "GET", f"/attempts/{attempt_id}", ok=lambda r: r.status_code == 200)
        if page.status_code != 200:
            raise GiveUp(f"{self.username}: case page {attempt_id} answered {page.status_code}")
        if self.think_s:
            await asyncio.sleep(self.rng.random() * self.think_s)
        action = self.rng.choice(("escalate", "dismiss"))
        form = {"action": action, "confidence": str(self.rng.choice(range(50, 101, 10)))}
        if action == "dismiss":
            form["reason"] = self.rng.choice(DISMISS_REASONS)
        else:
            form["escalate_to"] = self.rng.choice(("notify-provider", "rapid-response"))
        ack = Ack(attempt_id, uuid.uuid4().hex, action, self.username)
        try:
            d = await self._send(
                "decision", "POST", f"/attempts/{attempt_id}/decision", data=form,
                headers={**h, "Idempotency-Key": ack.key}, ok=lambda r: r.status_code in (200, 303),
            )
        except GiveUp:
            self.stats.abandoned.append(ack)
            raise
        if d.status_code in (200, 303):
            now = time.monotonic()
            self.stats.first_decision_at = self.stats.first_decision_at or now
            self.stats.last_decision_at = now
            self.stats.acks.append(ack)
        else:
            raise GiveUp(f"{self.username}: decision on {attempt_id} answered {d.status_code}")


async def run_trainees(
    base_url: str,
    usernames: list[str],
    password: str,
    decisions_each: int,
    *,
    seed: int = 7,
    timeout_s: float = 30.0,
    retry_budget_s: float = 120.0,
    deadline_s: float = 900.0,
    think_s: float = 0.0,
    on_progress: Callable[[Stats], None] | None = None,
) -> Stats:
    """All trainees at once, each on its own connection(s); bounded by `deadline_s`."""
    stats = Stats()

    async def one(i: int, username: str) -> None:
        rng = random.Random(seed * 100_003 + i)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, follow_redirects=False,
                                     limits=httpx.Limits(max_connections=2)) as client:
            t = Trainee(client, username, password, stats, rng=rng, retry_budget_s=retry_budget_s, think_s=think_s)
            try:
                await t.login()
                for _ in range(decisions_each):
                    await t.one_case()
                    if on_progress:
                        on_progress(stats)
            except GiveUp as exc:
                stats.errors.append(str(exc))

    tasks = [asyncio.create_task(one(i, u)) for i, u in enumerate(usernames)]
    done, pending = await asyncio.wait(tasks, timeout=deadline_s)
    for p in pending:
        p.cancel()
    if pending:
        stats.errors.append(f"{len(pending)} trainee(s) still running at the {deadline_s}s deadline")
        await asyncio.gather(*pending, return_exceptions=True)
    for d in done:
        if d.exception() is not None:
            stats.errors.append(f"client crashed: {d.exception()!r}")
    return stats


def key_digest(attempt_id: int, key: str) -> str:
    """How the app stores an idempotency key (scoped to the attempt)."""
    return hashlib.sha256(f"{attempt_id}:{key}".encode()).hexdigest()


@dataclass
class Verdict:
    acked: int
    stored: int
    missing: list[Ack]
    duplicated: list[tuple[Any, ...]]
    unexpected: list[tuple[Any, ...]]
    wrong_answer: list[tuple[Ack, str]]
    abandoned_stored: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected or self.wrong_answer)

    def summary(self) -> str:
        return (f"acknowledged {self.acked}, stored {self.stored}: missing {len(self.missing)}, "
                f"duplicated {len(self.duplicated)}, unexpected {len(self.unexpected)}, "
                f"wrong answer {len(self.wrong_answer)}, abandoned-but-stored {self.abandoned_stored}")


def verify(rows: list[tuple[Any, ...]], stats: Stats) -> Verdict:
    """rows: (attempt_id, idempotency_key, action) for every decision of the bench trainees."""
    by_attempt: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_attempt.setdefault(int(row[0]), []).append(row)
    duplicated = [r for rs in by_attempt.values() if len(rs) > 1 for r in rs]
    keys = Counter(str(r[1]) for r in rows)
    duplicated += [r for r in rows if keys[str(r[1])] > 1 and r not in duplicated]
    missing, wrong = [], []
    expected: set[tuple[int, str]] = set()
    for ack in stats.acks:
        digest = key_digest(ack.attempt_id, ack.key)
        expected.add((ack.attempt_id, digest))
        stored = by_attempt.get(ack.attempt_id, [])
        if not any(str(r[1]) == digest for r in stored):
            missing.append(ack)
        elif any(str(r[2]) != ack.action for r in stored):
            wrong.append((ack, str(stored[0][2])))
    abandoned = {(a.attempt_id, key_digest(a.attempt_id, a.key)) for a in stats.abandoned}
    unexpected = [r for r in rows if (int(r[0]), str(r[1])) not in expected | abandoned]
    abandoned_stored = sum(1 for r in rows if (int(r[0]), str(r[1])) in abandoned)
    return Verdict(len(stats.acks), len(rows), missing, duplicated, unexpected, wrong, abandoned_stored)


DECISIONS_SQL = (
    "SELECT d.attempt_id, d.idempotency_key, d.action FROM decision d "
    "JOIN \"user\" u ON u.id = d.trainee_id WHERE u.username LIKE 'bench%'"
)
