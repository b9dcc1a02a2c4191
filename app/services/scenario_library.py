"""Reading the published library for educators: lists, one scenario, previews, checks.

A preview simulates the stored version at any seed exactly as a trainee would get it
(same code path as dealing), so what the educator reads is what nurses will see.
The simulation check runs the simulator over many seeds in small batches under a
time budget, so a slow scenario cannot tie up a web worker.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import Decision, ScenarioVersion, User
from app.services.scenario_editor import SourceLine, annotate, with_version
from app.services.scenarios import latest_versions, next_version, scenario_of
from simulator import CATEGORIES, Case, Scenario, simulate

__all__ = [
    "CHECK_BUDGET_S",
    "CHECK_SEEDS",
    "MAX_CHECK_SEEDS",
    "MIN_AGREEMENT",
    "CheckResult",
    "Detail",
    "LibraryRow",
    "Preview",
    "VersionRow",
    "detail",
    "library",
    "next_version_text",
    "preview",
    "run_check",
]

CHECK_SEEDS = 50
MAX_CHECK_SEEDS = 200
CHECK_BUDGET_S = 5.0
CHECK_BATCH = 25

T = TypeVar("T")
MIN_AGREEMENT = 0.95  # the same bar as `alertdrill scenarios check`


@dataclass(frozen=True)
class LibraryRow:
    version: ScenarioVersion
    n_versions: int

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.version.category, self.version.category)


def library(session: Session, *, category: str | None = None) -> list[LibraryRow]:
    """The newest active version of each scenario, with how many versions exist."""
    counts = dict(
        session.exec(
            select(ScenarioVersion.scenario_id, func.count(col(ScenarioVersion.id))).group_by(
                col(ScenarioVersion.scenario_id)
            )
        ).all()
    )
    return [LibraryRow(v, int(counts.get(v.scenario_id, 1))) for v in latest_versions(session, category=category)]


@dataclass(frozen=True)
class VersionRow:
    version: ScenarioVersion
    publisher: str | None
    decisions: int


@dataclass(frozen=True)
class Detail:
    """One scenario: every version (newest first) and the one being shown."""

    scenario_id: str
    versions: list[VersionRow]
    current: ScenarioVersion

    @property
    def latest(self) -> ScenarioVersion:
        return self.versions[0].version

    @property
    def is_latest(self) -> bool:
        return self.current.id == self.latest.id

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.current.category, self.current.category)

    @property
    def lines(self) -> list[SourceLine]:
        return annotate(self.current.source_text, [])

    @property
    def published_at(self) -> datetime:
        return self.current.published_at


def detail(session: Session, scenario_id: str, version: int | None = None) -> Detail | None:
    """The scenario's versions and the requested one (default: the newest); None if unknown."""
    rows = session.exec(
        select(ScenarioVersion, User.display_name)
        .outerjoin(User, col(User.id) == col(ScenarioVersion.published_by))
        .where(ScenarioVersion.scenario_id == scenario_id)
        .order_by(col(ScenarioVersion.version).desc())
    ).all()
    if not rows:
        return None
    ids = [v.id for v, _ in rows]
    decided = dict(
        session.exec(
            select(Decision.scenario_version_id, func.count(col(Decision.id)))
            .where(col(Decision.scenario_version_id).in_(ids))
            .group_by(col(Decision.scenario_version_id))
        ).all()
    )
    versions = [VersionRow(v, name, int(decided.get(v.id or 0, 0))) for v, name in rows]
    if version is None:
        active = [r.version for r in versions if r.version.is_active]
        current = active[0] if active else versions[0].version
    else:
        match = [r.version for r in versions if r.version.version == version]
        if not match:
            return None
        current = match[0]
    return Detail(scenario_id, versions, current)


def next_version_text(session: Session, scenario_id: str) -> str | None:
    """The newest text of a scenario with `version:` set to the next free number."""
    found = detail(session, scenario_id)
    if found is None:
        return None
    return with_version(found.latest.source_text, next_version(session, scenario_id))


@dataclass(frozen=True)
class Preview:
    case: Case
    version: ScenarioVersion

    @property
    def agrees(self) -> bool:
        """Whether this seed's outcome matches the scenario's expected action."""
        return self.case.answer.deteriorated == (self.case.answer.expected_action == "escalate")


class _Memo:
    """A small LRU memo keyed on (version id, content hash, ...): published text never
    changes, so the same key always means the same result."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]  # type: ignore[return-value]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_cases = _Memo(64)
_checks = _Memo(128)


def preview(version: ScenarioVersion, seed: int) -> Preview:
    """The case at this seed; paging back and forth between seeds does not re-simulate."""
    key = (version.id, version.content_hash, seed)
    return Preview(_cases.get(key, lambda: simulate(scenario_of(version), seed)), version)


@dataclass(frozen=True)
class CheckResult:
    """Outcome agreement and alert rate over the seeds simulated within the time budget."""

    requested: int
    seeds: int
    agreement: float
    alert_rate: float
    deterioration_rate: float
    expected_action: str
    seconds: float
    disagreeing_seeds: tuple[int, ...]

    @property
    def complete(self) -> bool:
        return self.seeds >= self.requested

    @property
    def passes(self) -> bool:
        return self.agreement >= MIN_AGREEMENT

    @property
    def min_agreement(self) -> float:
        return MIN_AGREEMENT


def run_check(version: ScenarioVersion, seeds: int, *, budget_s: float = CHECK_BUDGET_S) -> CheckResult:
    """Simulate seeds 0..seeds-1 in batches until done or the time budget is spent."""
    seeds = max(1, min(seeds, MAX_CHECK_SEEDS))
    key = (version.id, version.content_hash, seeds)
    result = _checks.get(key, lambda: _check(scenario_of(version), seeds, budget_s))
    if not result.complete:
        # A cut-short run is not remembered: a later, less busy try may finish.
        with _checks.lock:
            _checks.items.pop(key, None)
    return result


def _check(scenario: Scenario, seeds: int, budget_s: float) -> CheckResult:
    from simulator.engine import simulate_batch

    start = time.perf_counter()
    fired: list[np.bool_] = []
    deteriorated: list[np.bool_] = []
    done: list[int] = []
    for first in range(0, seeds, CHECK_BATCH):
        batch = list(range(first, min(first + CHECK_BATCH, seeds)))
        summary = simulate_batch(scenario, batch)
        fired += list(summary.fired)
        deteriorated += list(summary.deteriorated)
        done += batch
        if time.perf_counter() - start > budget_s:
            break
    escalate = scenario.expected_action == "escalate"
    agree = [bool(d) == escalate for d in deteriorated]
    n = len(done)
    return CheckResult(
        requested=seeds,
        seeds=n,
        agreement=sum(agree) / n,
        alert_rate=sum(bool(f) for f in fired) / n,
        deterioration_rate=sum(bool(d) for d in deteriorated) / n,
        expected_action=scenario.expected_action,
        seconds=time.perf_counter() - start,
        disagreeing_seeds=tuple(s for s, ok in zip(done, agree, strict=True) if not ok)[:10],
    )
