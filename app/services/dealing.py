"""Dealing cases: which scenario version and seed each position of a drill gets.

A drill is dealt lazily, one case at a time, when the trainee reaches it: the attempt
row is created the moment its case page is first asked for, so `started_at` is the
moment the nurse first saw the case. The choice itself is a pure function of the drill
id, the trainee id and the published versions, so replaying a trainee's drill gives
the same cases, and two requests racing to create the same position create one row
(unique `(drill_id, trainee_id, position)`; the loser re-reads).

Self-serve practice has no drill (`drill_id` NULL): its cases are numbered per trainee
in rounds of `PRACTICE_SIZE`, so round r holds positions r*10 … r*10+9.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.db import begin_write
from app.models import CaseAttempt, Drill, ScenarioVersion, User
from app.services.scenarios import latest_versions, scenario_of

__all__ = [
    "MAX_SEED_TRIES",
    "NO_ALERT_CATEGORIES",
    "PRACTICE_NO_ALERT_SHARE",
    "PRACTICE_SIZE",
    "DealError",
    "GeneratedCase",
    "Slot",
    "candidate_versions",
    "deal_attempt",
    "find_attempt",
    "generate_case",
    "plan_slots",
    "practice_round_of",
    "seed_for",
]

PRACTICE_SIZE = 10
PRACTICE_NO_ALERT_SHARE = 0.2
MAX_SEED_TRIES = 12
# Categories written so that the alert stays quiet: the nurse must judge from the data.
NO_ALERT_CATEGORIES: frozenset[str] = frozenset({"masked-deterioration", "stable-no-alert"})


class DealError(Exception):
    """Nothing can be dealt (no published scenario matches the drill)."""


@dataclass(frozen=True)
class GeneratedCase:
    """A simulated case, serialised once: what the nurse sees and what happened."""

    view_json: str
    answer_json: str
    alert_fired: bool
    deteriorated: bool
    news2_at_decision: int | None  # the NEWS2 the chart shows at the decision; None if none is charted

    def attempt_columns(self) -> dict[str, Any]:
        """The CaseAttempt columns that store this case: its JSON, and the two facts a decision
        reads without it (every place that deals or seeds a case sets all four from here)."""
        return {"view_json": self.view_json, "answer_json": self.answer_json,
                "alert_fired": self.alert_fired, "deteriorated": self.deteriorated}


@dataclass(frozen=True)
class Slot:
    """One position of a dealt set: the scenario to use and whether its alert should fire."""

    position: int
    scenario_id: str
    want_alert: bool


def generate_case(version: ScenarioVersion, seed: int) -> GeneratedCase:
    """Run the simulator once for (version, seed); the same inputs give the same bytes."""
    import simulator

    case = simulator.simulate(scenario_of(version), seed)
    return GeneratedCase(
        view_json=case.view.model_dump_json(),
        answer_json=case.answer.model_dump_json(),
        alert_fired=bool(case.view.alert.fired),
        deteriorated=bool(case.answer.deteriorated),
        news2_at_decision=case.view.news2_latest.total if case.view.news2_latest else None,
    )


def seed_for(namespace: str, position: int, attempt: int) -> int:
    """A stable 31-bit seed (not Python's salted `hash`), identical in every process."""
    digest = hashlib.sha256(f"{namespace}:{position}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _rng(namespace: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(namespace.encode()).digest()[:8], "big"))


def candidate_versions(session: Session, spec: dict[str, Any]) -> tuple[list[ScenarioVersion], dict[str, float]]:
    """The newest active versions a spec allows, and each one's weight.

    `{"scenario_ids": [...]}` weighs the listed scenarios equally; `{"categories":
    {slug: weight}}` spreads each category's weight over its scenarios; an empty
    spec means every category equally (practice).
    """
    versions = latest_versions(session)
    weights: dict[str, float] = {}
    if spec.get("scenario_ids"):
        wanted = [str(s) for s in spec["scenario_ids"]]
        chosen = [v for v in versions if v.scenario_id in wanted]
        weights = {v.scenario_id: 1.0 for v in chosen}
        return chosen, weights
    categories: dict[str, float] = {
        str(k): float(w) for k, w in (spec.get("categories") or {}).items() if float(w) > 0
    }
    if not categories:
        categories = {v.category: 1.0 for v in versions}
    by_cat: dict[str, list[ScenarioVersion]] = {}
    for v in versions:
        if v.category in categories:
            by_cat.setdefault(v.category, []).append(v)
    chosen = []
    for cat, members in by_cat.items():
        for v in members:
            weights[v.scenario_id] = categories[cat] / len(members)
            chosen.append(v)
    return chosen, weights


def _weighted_cycle(
    rng: random.Random, pool: Sequence[ScenarioVersion], weights: dict[str, float], n: int
) -> list[str]:
    """n scenario ids drawn by weight without repeats until the pool runs out, then again."""
    out: list[str] = []
    remaining: list[ScenarioVersion] = []
    while len(out) < n:
        if not remaining:
            remaining = list(pool)
        ws = [max(weights.get(v.scenario_id, 1.0), 1e-9) for v in remaining]
        pick = rng.choices(range(len(remaining)), weights=ws, k=1)[0]
        out.append(remaining.pop(pick).scenario_id)
    return out


def plan_slots(
    candidates: Sequence[ScenarioVersion],
    weights: dict[str, float],
    *,
    namespace: str,
    n_cases: int,
    no_alert_share: float,
    first_position: int = 0,
    fallback_no_alert: Sequence[ScenarioVersion] = (),
) -> list[Slot]:
    """The whole set's plan: which scenario each position gets and whether its alert fires.

    round(share × n) positions, chosen at random, are no-alert cases drawn from the
    quiet categories (or, failing those, from any scenario with a seed whose alert
    stayed quiet); the rest are alert cases from the other categories.
    """
    if not candidates:
        raise DealError("No published scenario matches this drill.")
    rng = _rng(namespace)
    ordered = sorted(candidates, key=lambda v: v.scenario_id)
    n_quiet = min(n_cases, max(0, round(no_alert_share * n_cases)))
    quiet_pool = [v for v in ordered if v.category in NO_ALERT_CATEGORIES]
    quiet_weights = dict(weights)
    if n_quiet and not quiet_pool:
        quiet_pool = sorted(fallback_no_alert, key=lambda v: v.scenario_id) or ordered
        quiet_weights.update({v.scenario_id: 1.0 for v in quiet_pool if v.scenario_id not in weights})
    loud_pool = [v for v in ordered if v.category not in NO_ALERT_CATEGORIES] or ordered
    quiet_positions = set(rng.sample(range(n_cases), n_quiet)) if n_quiet else set()
    quiet_ids = _weighted_cycle(rng, quiet_pool, quiet_weights, n_quiet) if n_quiet else []
    loud_ids = _weighted_cycle(rng, loud_pool, weights, n_cases - n_quiet)
    slots: list[Slot] = []
    for i in range(n_cases):
        if i in quiet_positions:
            slots.append(Slot(first_position + i, quiet_ids.pop(0), want_alert=False))
        else:
            slots.append(Slot(first_position + i, loud_ids.pop(0), want_alert=True))
    return slots


def _pick_seed(
    version: ScenarioVersion, namespace: str, slot: Slot, generate: Callable[[ScenarioVersion, int], GeneratedCase]
) -> tuple[int, GeneratedCase]:
    """The first of a fixed seed sequence whose alert matches the slot (or the first seed).

    A seed whose patient does not deteriorate but whose chart shows NEWS2 >= 7 at the decision is
    passed over too: escalating it would follow the chart (clinical-reference §1.2) yet be graded wrong.
    """
    from simulator.check import RED_FLAG_NEWS2

    def usable(case: GeneratedCase) -> bool:
        if case.alert_fired != slot.want_alert:
            return False
        return case.deteriorated or (case.news2_at_decision or 0) < RED_FLAG_NEWS2

    first_seed = seed_for(namespace, slot.position, 0)
    first = generate(version, first_seed)
    if usable(first):
        return first_seed, first
    for k in range(1, MAX_SEED_TRIES):
        seed = seed_for(namespace, slot.position, k)
        case = generate(version, seed)
        if usable(case):
            return seed, case
    return first_seed, first


def _drill_namespace(drill_id: int, trainee_id: int) -> str:
    return f"drill:{drill_id}:trainee:{trainee_id}"


def _practice_namespace(trainee_id: int, round_no: int) -> str:
    return f"practice:trainee:{trainee_id}:round:{round_no}"


def practice_round_of(position: int) -> int:
    return position // PRACTICE_SIZE


@dataclass(frozen=True)
class _Plan:
    namespace: str
    slots: list[Slot]
    versions: dict[str, ScenarioVersion]


def _plan_for(session: Session, *, drill: Drill | None, trainee_id: int, position: int) -> _Plan:
    everything = latest_versions(session)
    by_id = {v.scenario_id: v for v in everything}
    if drill is not None:
        candidates, weights = candidate_versions(session, drill.spec)
        fallback = [v for v in everything if v.category in NO_ALERT_CATEGORIES]
        namespace = _drill_namespace(drill.id or 0, trainee_id)
        slots = plan_slots(
            candidates, weights, namespace=namespace, n_cases=drill.n_cases,
            no_alert_share=drill.no_alert_share, fallback_no_alert=fallback,
        )
        return _Plan(namespace, slots, by_id)
    round_no = practice_round_of(position)
    candidates, weights = candidate_versions(session, {})
    namespace = _practice_namespace(trainee_id, round_no)
    has_quiet = any(v.category in NO_ALERT_CATEGORIES for v in candidates)
    slots = plan_slots(
        candidates, weights, namespace=namespace, n_cases=PRACTICE_SIZE,
        no_alert_share=PRACTICE_NO_ALERT_SHARE if has_quiet else 0.0,
        first_position=round_no * PRACTICE_SIZE,
    )
    return _Plan(namespace, slots, by_id)


def find_attempt(session: Session, *, drill_id: int | None, trainee_id: int, position: int) -> CaseAttempt | None:
    query = select(CaseAttempt).where(CaseAttempt.trainee_id == trainee_id, CaseAttempt.position == position)
    if drill_id is None:
        query = query.where(col(CaseAttempt.drill_id).is_(None))
    else:
        query = query.where(CaseAttempt.drill_id == drill_id)
    return session.exec(query.order_by(col(CaseAttempt.id))).first()


def deal_attempt(
    session: Session,
    *,
    drill: Drill | None,
    trainee: User,
    position: int,
    generate: Callable[[ScenarioVersion, int], GeneratedCase] | None = None,
) -> CaseAttempt:
    """The attempt at `position`, created (and its case generated once) if it does not exist.

    Race-safe for drills: the unique (drill, trainee, position) constraint lets only one
    insert win; the other request re-reads the winner's row.
    """
    drill_id = drill.id if drill else None
    trainee_id = trainee.id or 0
    independent = bool(drill and drill.mode == "independent-first")
    existing = find_attempt(session, drill_id=drill_id, trainee_id=trainee_id, position=position)
    if existing is not None:
        return existing
    plan = _plan_for(session, drill=drill, trainee_id=trainee_id, position=position)
    slot = next((s for s in plan.slots if s.position == position), None)
    if slot is None:
        raise DealError(f"Position {position} is outside this set of cases.")
    version = plan.versions[slot.scenario_id]
    version_id = version.id or 0
    # Simulate before taking the write lock: begin_write ends the read transaction and
    # takes the lock up front (SQLite) instead of upgrading a read.
    seed, case = _pick_seed(version, plan.namespace, slot, generate or generate_case)
    begin_write(session)
    existing = find_attempt(session, drill_id=drill_id, trainee_id=trainee_id, position=position)
    if existing is not None:
        session.rollback()
        return existing
    attempt = CaseAttempt(
        trainee_id=trainee_id,
        drill_id=drill_id,
        position=position,
        scenario_version_id=version_id,
        seed=seed,
        independent_first=independent,
        **case.attempt_columns(),
    )
    session.add(attempt)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again = find_attempt(session, drill_id=drill_id, trainee_id=trainee_id, position=position)
        if again is None:
            raise
        return again
    session.refresh(attempt)
    return attempt

