"""The immutable part of a case page, rendered once per attempt and state and then reused.

A dealt case never changes (`case_attempt.view_json` / `answer_json` are written once), a decision
and a pre-alert judgement are append-only, so what the case page shows *about the case* is fixed
by four facts: the attempt, the page state ("pre-alert", "deciding", "decided"), the decision and
the pre-alert judgement. That markup (alert panel, banner, charts, labs, assessments and, once
decided, the feedback) is most of the page's bytes and nearly all of its cost: parsing the stored
view, drawing six SVG charts and rendering ~60 KB of Jinja. It is rendered here once and kept:

    key  = (attempt, state, decision, pre-alert judgement, STAMP)   (rows named by id and more)
    body = CaseBody(alert, data, feedback markup + the few scalars the page head needs)

What stays per request (rendered by `pages/triage/case.html` around the body): the CSRF token,
navigation, the crumbs and heading (drill title, "Review of X's case"), notices, the decision and
pre-alert forms with their idempotency key and errors, and the feedback's "Next case" form.

Why an in-process LRU and not stored markup: it needs no schema change, a new template or chart
style applies as soon as a worker restarts (stored markup would need re-rendering or a version
column), and a case that is never opened costs nothing. The cost is one render per worker per
attempt and state, and memory bounded by `MAX_BYTES` per worker.

Safety rules (tests/api/test_case_page_cache.py):

- The caller checks access (owner, or a manager/admin for decided cases) before asking for a
  body; this module never decides who may see what.
- The key starts with the attempt (its id, owner, scenario version, seed and creation time, since
  SQLite can hand out a deleted row's id again), so one attempt's body is never served for another.
- The "decided" body, the only one that reads the answer, is keyed by its decision: before a
  decision is stored no such key is ever looked up, and nothing pre-decision can hit it.
- Fragments are rendered from the case alone: no request, user or CSRF token is in their context.
- STAMP hashes the templates and modules that produce the markup, so two deploys never share a
  key. Jinja's auto-reload does not reach cached fragments: restart the worker after editing a
  template (``uvicorn --reload --reload-include '*.html'`` in development).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from app.models import CaseAttempt, Decision, PreAlertJudgement

__all__ = ["MAX_BYTES", "STAMP", "CaseBody", "FragmentCache", "body_cache", "fragment_key"]

_APP = Path(__file__).resolve().parents[1]
_SOURCES = (
    "templates/partials/triage/alert.html",
    "templates/partials/triage/banner.html",
    "templates/partials/triage/case_body.html",
    "templates/partials/triage/case_data.html",
    "templates/partials/triage/feedback_body.html",
    "templates/macros/charts.html",
    "charts/scales.py",
    "charts/svg.py",
    "charts/text.py",
    "services/case_screen.py",
)


def _stamp() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode())
        digest.update((_APP / name).read_bytes())
    return digest.hexdigest()[:16]


STAMP = _stamp()
"""Version of the code and templates that render a body."""

MAX_BYTES = 32 * 1024 * 1024
"""Per worker. A question body is ~60 K characters (≈ 120 KB as a Python str, which stores the
page's en dashes in two bytes a character), so this holds a few hundred open cases."""


@dataclass(frozen=True)
class CaseBody:
    """The rendered, immutable part of one case page, and the scalars its head shows."""

    alert: Markup | None  # the AI alert panel; None while the alert is hidden (pre-alert state)
    data: Markup  # banner, vital-sign charts, labs, assessments (the order depends on the state)
    feedback: Markup | None  # decided only: verdict, what happened, why, teaching points
    fired: bool
    time_of_day: str
    history_hours: int
    title: str | None  # decided only: the scenario title (it can give the answer away)

    @property
    def nbytes(self) -> int:
        return sum(sys.getsizeof(m) for m in (self.alert, self.data, self.feedback) if m is not None)


FragmentKey = tuple[object, ...]


def fragment_key(
    attempt: CaseAttempt, state: str, decision: Decision | None, pre_alert: PreAlertJudgement | None
) -> FragmentKey:
    """The cache key of one body: which rows it was rendered from, and the code that rendered it.

    Rows are named by id *and* by what makes them unique beyond it (owner, scenario version, seed
    and creation time), because an id can come back: SQLite hands out a deleted top row's id
    again, and a rolled-back test reuses them all.
    """
    if (state == "decided") != (decision is not None):
        raise ValueError(f"state {state!r} does not match the decision ({decision is not None})")
    return (
        attempt.id,
        attempt.trainee_id,
        attempt.scenario_version_id,
        attempt.seed,
        attempt.started_at,
        state,
        None if decision is None else (decision.id, decision.created_at),
        None if pre_alert is None else (pre_alert.id, pre_alert.created_at),
        STAMP,
    )


class FragmentCache:
    """A thread-safe LRU bounded by the bytes it holds. Two threads missing the same key at once
    both render (the result is identical); neither waits for the other."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[FragmentKey, CaseBody] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get_or_render(self, key: FragmentKey, render: Callable[[], CaseBody]) -> CaseBody:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return body
            self.misses += 1
        body = render()
        size = body.nbytes
        if size > self.max_bytes:
            return body
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = body
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return body

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0


body_cache = FragmentCache()
"""The worker's cache of case bodies."""
