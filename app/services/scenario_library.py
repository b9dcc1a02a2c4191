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

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import Decision, ScenarioVersion, User
from app.services.attempts import CONFIDENCE_MAX
from app.services.case_screen import Feedback, QuestionPage, feedback_page, question_page
from app.services.scenario_editor import SourceLine, annotate, with_version
from app.services.scenarios import latest_versions, next_version, scenario_of
from simulator import CATEGORIES, Case, Scenario, simulate
from simulator.check import CheckReport, check_scenario

__all__ = [
    "CHECK_BUDGET_S",
    "CHECK_SEEDS",
    "MAX_CHECK_SEEDS",
    "MIN_AGREEMENT",
    "CheckResult",
    "Detail",
    "LibraryRow",
    "Preview",
    "PreviewScreen",
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
class PreviewScreen:
    """The slice of the trainee case screen that its partials read (read-only, no form)."""

    page: QuestionPage
    pre_alert: None = None
    read_only: bool = True


@dataclass(frozen=True)
class Preview:
    """One seed of a version: the trainee's screen and, for the educator, the answer."""

    case: Case
    question: QuestionPage
    answer: Feedback

    @property
    def agrees(self) -> bool:
        """Whether this seed's outcome matches the scenario's expected action."""
        return self.case.answer.deteriorated == (self.case.answer.expected_action == "escalate")

    def screen(self, *, future: bool) -> PreviewScreen:
        """Charts of the past only (as the nurse sees them), or with the next hours dashed."""
        return PreviewScreen(page=self.answer.page if future else self.question)


def _expected_call(case: Case) -> Decision:
    """A transient, never-stored decision for the expected action: the trainee screen's
    feedback builder needs one to lay out the answer (outcome, factor explanations)."""
    answer = case.answer
    action = answer.expected_action
    return Decision(
        attempt_id=0,
        trainee_id=0,
        scenario_version_id=0,
        category=answer.explanation.category,
        action=action,
        reason=(answer.acceptable_dismissal_reasons[0] if answer.acceptable_dismissal_reasons else "other")
        if action == "dismiss"
        else "notify-provider",
        confidence=CONFIDENCE_MAX,
        alert_fired=case.view.alert.fired,
        deteriorated=answer.deteriorated,
        correct=(action == "escalate") == answer.deteriorated,
        time_to_decide_ms=0,
    )


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


_previews = _Memo(32)
_checks = _Memo(128)


def preview(version: ScenarioVersion, seed: int) -> Preview:
    """The case at this seed; paging back and forth between seeds does not re-simulate."""

    def make() -> Preview:
        case = simulate(scenario_of(version), seed)
        return Preview(
            case=case,
            question=question_page(case.view),
            answer=feedback_page(case.view, case.answer, _expected_call(case), None),
        )

    return _previews.get((version.id, version.content_hash, seed), make)


@dataclass(frozen=True)
class CheckResult:
    """The library check (`alertdrill scenarios check`) over as many seeds as the budget allows."""

    requested: int
    report: CheckReport
    seconds: float

    @property
    def seeds(self) -> int:
        return self.report.seeds

    @property
    def agreement(self) -> float:
        return self.report.agreement

    @property
    def alert_rate(self) -> float:
        return self.report.alert_rate

    @property
    def deterioration_rate(self) -> float:
        return self.report.deteriorated_rate

    @property
    def expected_action(self) -> str:
        return self.report.expected_action

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.report.warnings

    @property
    def complete(self) -> bool:
        return self.seeds >= self.requested

    @property
    def passes(self) -> bool:
        return not self.report.flagged(MIN_AGREEMENT)

    @property
    def min_agreement(self) -> float:
        return MIN_AGREEMENT


def run_check(version: ScenarioVersion, seeds: int, *, budget_s: float = CHECK_BUDGET_S) -> CheckResult:
    """Seeds 0..seeds-1 through the library check, cut down to what fits the time budget."""
    seeds = max(1, min(seeds, MAX_CHECK_SEEDS))
    key = (version.id, version.content_hash, seeds)
    result = _checks.get(key, lambda: _check(scenario_of(version), seeds, budget_s))
    if not result.complete:
        # A cut-short run is not remembered: a later, less busy try may finish.
        with _checks.lock:
            _checks.items.pop(key, None)
    return result


def _check(scenario: Scenario, seeds: int, budget_s: float) -> CheckResult:
    """Time one batch first, then run as many seeds as the rest of the budget allows."""
    start = time.perf_counter()
    probe = min(CHECK_BATCH, seeds)
    report = check_scenario(scenario, seeds=probe)
    spent = time.perf_counter() - start
    if seeds > probe:
        per_seed = max(spent / probe, 1e-6)
        affordable = int(max(budget_s - spent, 0.0) / per_seed)
        n = min(seeds, max(probe, affordable))
        if n > probe:
            report = check_scenario(scenario, seeds=n)
    return CheckResult(requested=seeds, report=report, seconds=time.perf_counter() - start)
