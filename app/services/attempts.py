"""Case attempts and the decisions made on them: the one write path for a decision.

`record_decision` is used by the trainee's form and the load test, and the demo-history seeder
builds its rows with the same `decision_values`, so correctness, timing and the denormalised
dashboard columns are decided in exactly one place. A decision is stored once: the same
submission again returns the stored row, a different answer is refused (`DecisionConflict`),
and the unique constraint on `decision.attempt_id` settles races.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from app.core.db import begin_write, commit_keeping_loaded, end_read_snapshot
from app.models import (
    AuditEvent,
    CaseAttempt,
    Decision,
    Drill,
    PreAlertJudgement,
    ScenarioVersion,
    User,
    UserSession,
)
from app.models.base import utcnow
from app.services.auth import signed_in_row
from app.services.dealing import PRACTICE_SIZE, deal_attempt, practice_round_of
from app.services.decision_commit import write_decision
from simulator.case import CaseAnswer, TraineeView

__all__ = [
    "ACTIONS",
    "CONFIDENCE_DEFAULT",
    "DISMISS_REASONS",
    "ESCALATE_REASONS",
    "AttemptState",
    "CategoryAccuracy",
    "DecisionConflict",
    "DecisionContext",
    "DecisionInput",
    "DecisionInvalid",
    "DecisionRefused",
    "SetProgress",
    "accuracy_by_category",
    "answer_of",
    "can_view",
    "decision_for",
    "drill_progress",
    "drills_for_trainee",
    "history_rows",
    "load_decider",
    "next_drill_attempt",
    "next_practice_attempt",
    "practice_progress",
    "pre_alert_for",
    "record_decision",
    "record_pre_alert",
    "signed_in_attempt_select",
    "view_of",
]

ACTIONS: tuple[str, ...] = ("escalate", "dismiss")
DISMISS_REASONS: dict[str, str] = {
    "baseline": "Within the documented baseline",
    "artifact": "Measurement artefact",
    "expected-course": "Expected clinical course",
    "other": "Other (say why)",
}
ESCALATE_REASONS: dict[str, str] = {
    "notify-provider": "Notify the provider",
    "rapid-response": "Call the rapid response team",
}
CONFIDENCE_MIN, CONFIDENCE_MAX, CONFIDENCE_DEFAULT = 50, 100, 70
REASON_TEXT_MAX = 500


class DecisionInvalid(ValueError):
    """The submitted form is incomplete or out of range; `errors` maps field → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class DecisionRefused(Exception):
    """The decision cannot be taken now (e.g. the independent judgement comes first)."""


class DecisionConflict(Exception):
    """A different answer for a case that is already decided: the stored one stands."""

    def __init__(self, message: str, stored: Decision | PreAlertJudgement) -> None:
        super().__init__(message)
        self.stored = stored


@dataclass(frozen=True)
class DecisionInput:
    """A decision as submitted, normalised: what "the same submission" compares."""

    action: str
    reason: str | None
    reason_text: str | None
    confidence: int

    @classmethod
    def parse(
        cls,
        *,
        action: str | None,
        reason: str | None,
        reason_text: str | None,
        confidence: int | str | None,
        alert_fired: bool = True,
    ) -> DecisionInput:
        """Validate the form; `alert_fired` only words the messages as the form does (with no alert
        there is nothing to dismiss: the button reads "Don’t escalate")."""
        errors: dict[str, str] = {}
        declining = "dismissing the alert" if alert_fired else "not escalating"
        act = (action or "").strip().lower()
        if act not in ACTIONS:
            errors["action"] = "Choose Escalate or Dismiss." if alert_fired else "Choose Escalate or Don’t escalate."
        why = (reason or "").strip().lower() or None
        text = (reason_text or "").strip() or None
        if text is not None and len(text) > REASON_TEXT_MAX:
            errors["reason_text"] = f"Keep the reason under {REASON_TEXT_MAX} characters."
        if act == "dismiss":
            if why not in DISMISS_REASONS:
                errors["reason"] = f"Choose why you are {declining}."
            elif why == "other" and not text:
                errors["reason_text"] = (
                    "Say in a few words why you are dismissing it." if alert_fired
                    else "Say in a few words why you are not escalating."
                )
        elif act == "escalate":
            why = why if why in ESCALATE_REASONS else "notify-provider"
            text = None
        if why != "other" and act == "dismiss":
            text = None
        try:
            conf = int(str(confidence if confidence is not None else "").strip())
            if not CONFIDENCE_MIN <= conf <= CONFIDENCE_MAX:
                raise ValueError
        except ValueError:
            errors["confidence"] = f"Confidence is a whole number from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}."
            conf = CONFIDENCE_DEFAULT
        if errors:
            raise DecisionInvalid(errors)
        return cls(action=act, reason=why, reason_text=text, confidence=conf)

    def matches(self, d: Decision) -> bool:
        return (self.action, self.reason, self.reason_text, self.confidence) == (
            d.action,
            d.reason,
            d.reason_text,
            d.confidence,
        )


def view_of(attempt: CaseAttempt) -> TraineeView:
    """What the nurse is shown; safe to render before the decision."""
    return TraineeView.model_validate_json(attempt.view_json)


def answer_of(attempt: CaseAttempt) -> CaseAnswer:
    """What happened: only ever read once a decision is stored (or to grade one)."""
    return CaseAnswer.model_validate_json(attempt.answer_json)


def decision_for(session: Session, attempt_id: int) -> Decision | None:
    return session.exec(select(Decision).where(Decision.attempt_id == attempt_id)).first()


def pre_alert_for(session: Session, attempt_id: int) -> PreAlertJudgement | None:
    return session.exec(select(PreAlertJudgement).where(PreAlertJudgement.attempt_id == attempt_id)).first()


def can_view(attempt: CaseAttempt, *, viewer: User, decision: Decision | None) -> bool:
    """Trainees see their own cases; admins any decided case; a manager a decided case whose
    decision was made in the manager's unit.

    A manager's access follows the decision's `unit_id` (the trainee's unit when they decided),
    not the trainee's current unit: a trainee who moves leaves their past decisions with the old
    unit's dashboard, and the new unit's manager sees only what was decided there. Undecided
    cases stay closed to managers and admins (the answer is secret until the decision).
    """
    if viewer.role == "trainee":
        return attempt.trainee_id == viewer.id
    if decision is None:
        return False
    if viewer.role == "admin":
        return True
    return viewer.role == "manager" and viewer.unit_id is not None and decision.unit_id == viewer.unit_id


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _key_digest(attempt_id: int, key: str | None) -> str | None:
    """Keys are scoped to the attempt, so one trainee's key can never reach another's row."""
    if not key:
        return None
    return hashlib.sha256(f"{attempt_id}:{key}".encode()).hexdigest()


def _settle_existing(
    existing: Decision, submitted: DecisionInput, key_digest: str | None
) -> tuple[int, bool]:
    """A repeated submission (the same answer, or the same idempotency key) gets the stored
    decision's id back; a different answer is refused."""
    if submitted.matches(existing) or (key_digest is not None and existing.idempotency_key == key_digest):
        return existing.id or 0, False
    raise DecisionConflict(
        "This case is already decided and a decision cannot be changed: your first answer is shown.", existing
    )


@dataclass(frozen=True)
class DecisionContext:
    """What a decision reads before it writes, loaded with the attempt in one query."""

    decided: Decision | None
    category: str | None


def signed_in_attempt_select(*columns: Any) -> Select[Any]:
    """The statement `signed_in_row` runs for a route's attempt: the signed-in user's session and
    account, the attempt without its stored case (kilobytes of JSON; loaded on access where a
    page needs it), its decision's id only (most attempts have none, and its columns are most of
    the row's width; the caller loads it by id), then `columns`, which the caller outer-joins.
    Its parameters are `session_id` and `attempt_id`. More entities than sqlmodel's typed select
    takes, hence SQLAlchemy's."""
    return (
        sa_select(UserSession, User, CaseAttempt, col(Decision.id), *columns)
        .join(User, col(User.id) == col(UserSession.user_id))
        .outerjoin(CaseAttempt, col(CaseAttempt.id) == bindparam("attempt_id"))
        .outerjoin(Decision, col(Decision.attempt_id) == CaseAttempt.id)
        .where(col(UserSession.id) == bindparam("session_id"))
        .options(defer(CaseAttempt.view_json), defer(CaseAttempt.answer_json))  # type: ignore[arg-type]
    )


# Built once: constructing the statement costs more than running it (primary-key lookups).
_LOAD_DECIDER = signed_in_attempt_select(col(ScenarioVersion.category)).outerjoin(
    ScenarioVersion, col(ScenarioVersion.id) == CaseAttempt.scenario_version_id
)


def load_decider(
    session: Session, token: str | None, attempt_id: int
) -> tuple[UserSession, User, tuple[CaseAttempt, DecisionContext] | None] | None:
    """The signed-in user's session and account, the attempt, its stored decision (if any) and its
    version's category: one query. Reading the decision before the write transaction is safe:
    decisions are append-only, so one seen stays; one committed meanwhile is caught by the unique
    constraint on insert.

    None when the token names no live session; the case part is None when no such attempt
    exists. Access and the CSRF token are the caller's to check.
    """
    row = signed_in_row(session, _LOAD_DECIDER, token, attempt_id)
    if row is None:
        return None
    us, user, attempt, decision_id, category = row
    if attempt is None:
        return us, user, None
    decided = session.get(Decision, decision_id) if decision_id is not None else None
    return us, user, (attempt, DecisionContext(decided, category))


def decision_values(
    *,
    attempt: CaseAttempt,
    trainee: User,
    category: str,
    submitted: DecisionInput,
    independent_action: str | None,
    decided_at: datetime,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """A decision's columns (all but its id): the one definition of what a decision stores, for
    `record_decision` and the demo history. A dict, not a `Decision`: the write path inserts
    columns, and building the model costs more than the rest of the decision's Python."""
    return {
        "attempt_id": attempt.id or 0,
        "idempotency_key": idempotency_key,
        "trainee_id": trainee.id or 0,
        "unit_id": trainee.unit_id,
        "scenario_version_id": attempt.scenario_version_id,
        "category": category,
        "action": submitted.action,
        "reason": submitted.reason,
        "reason_text": submitted.reason_text,
        "confidence": submitted.confidence,
        "independent_action": independent_action,
        "alert_fired": attempt.alert_fired,
        "deteriorated": attempt.deteriorated,
        "correct": (submitted.action == "escalate") == attempt.deteriorated,
        "time_to_decide_ms": max(0, int((decided_at - _as_utc(attempt.started_at)).total_seconds() * 1000)),
        "created_at": decided_at,
    }


def record_decision(
    session: Session,
    *,
    attempt: CaseAttempt,
    trainee: User,
    action: str | None,
    reason: str | None,
    reason_text: str | None,
    confidence: int | str | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    context: DecisionContext | None = None,
) -> tuple[int, bool]:
    """Store the trainee's decision once; returns its id and whether this call stored it.

    Raises DecisionInvalid (bad form), DecisionRefused (independent judgement still
    due) or DecisionConflict (already decided differently).

    Lean on purpose (it is the trainee's hot path): the version's category is the only
    column read from it, the case's facts come from the attempt's own columns (never its
    stored JSON), the pre-alert judgement is looked up only where the drill asks for one, and
    the write is shared with the decisions made at the same moment (`write_decision`). `context` (from
    `load_decider`) saves the "decided already?" and category queries; reading them before
    the write is safe because decisions are append-only and the insert skips an attempt
    that was decided meanwhile.
    """
    try:
        submitted = DecisionInput.parse(
            action=action, reason=reason, reason_text=reason_text, confidence=confidence
        )
    except DecisionInvalid:
        # Worded again for the case: the messages say "dismissing the alert" only where one
        # fired, as the form itself does.
        DecisionInput.parse(
            action=action, reason=reason, reason_text=reason_text, confidence=confidence,
            alert_fired=attempt.alert_fired,
        )
        raise
    attempt_id = attempt.id or 0
    digest = _key_digest(attempt_id, idempotency_key)
    decided = context.decided if context is not None else decision_for(session, attempt_id)
    if decided is not None:
        return _settle_existing(decided, submitted, digest)  # nothing to write
    pre = pre_alert_for(session, attempt_id) if attempt.independent_first else None
    if attempt.independent_first and pre is None:
        raise DecisionRefused("Record whether you would escalate before the alert is shown, then decide.")
    category = (
        context.category
        if context is not None
        else session.exec(
            select(ScenarioVersion.category).where(ScenarioVersion.id == attempt.scenario_version_id)
        ).first()
    )
    if category is None:  # the foreign key makes this impossible
        raise RuntimeError(f"attempt {attempt_id}: its scenario version is missing")
    values = decision_values(
        attempt=attempt, trainee=trainee, category=category, submitted=submitted,
        independent_action=pre.action if pre else None, decided_at=now or utcnow(), idempotency_key=digest,
    )
    # Committed with whatever other decisions this worker is writing at the same moment
    # (app/services/decision_commit.py); None: one for this attempt was stored first.
    new_id = write_decision(session, values)
    # A request whose decision another wrote may still hold the read snapshot it began with: what it
    # reads next (the feedback, the stored row) must see that commit.
    end_read_snapshot(session)
    if new_id is None:
        stored = decision_for(session, attempt_id)
        if stored is None:
            raise RuntimeError(f"attempt {attempt_id}: decision refused as a duplicate, yet none is stored")
        return _settle_existing(stored, submitted, digest)
    return new_id, True


def record_pre_alert(
    session: Session, *, attempt: CaseAttempt, trainee: User, action: str | None
) -> tuple[PreAlertJudgement, bool]:
    """The nurse's own call before seeing the alert (independent-first drills), stored once."""
    act = (action or "").strip().lower()
    if act not in ACTIONS:
        raise DecisionInvalid({"independent_action": "Choose whether you would escalate."})
    if not attempt.independent_first:
        raise DecisionRefused("This case does not ask for a judgement before the alert.")
    attempt_id = attempt.id or 0
    begin_write(session, keep_loaded=True)
    existing = pre_alert_for(session, attempt_id)
    if existing is None:
        judgement = PreAlertJudgement(attempt_id=attempt_id, action=act)
        session.add(judgement)
        try:
            session.flush()
            session.add(
                AuditEvent(
                    actor_id=trainee.id,
                    action="decision.pre-alert",
                    target=f"attempt:{attempt_id}",
                    detail={"action": act},
                )
            )
            commit_keeping_loaded(session)  # the judgement holds what was written: no refresh
            return judgement, True
        except IntegrityError:
            session.rollback()
            existing = pre_alert_for(session, attempt_id)
            if existing is None:
                raise
    stored = existing.action
    session.rollback()
    if stored == act:
        return existing, False
    raise DecisionConflict(
        "Your judgement before the alert is already recorded and cannot be changed.", existing
    )


# --------------------------------------------------------------------------------------------------
# Sets of cases: a drill, or a practice round


@dataclass(frozen=True)
class AttemptState:
    position: int
    attempt: CaseAttempt | None
    decision: Decision | None
    title: str | None  # only once decided: the title can give the answer away


@dataclass
class SetProgress:
    """Where a trainee is in a drill or practice round, and the summary once it is done."""

    n_cases: int
    states: list[AttemptState] = field(default_factory=list)

    @property
    def decided(self) -> list[Decision]:
        return [s.decision for s in self.states if s.decision is not None]

    @property
    def n_decided(self) -> int:
        return len(self.decided)

    @property
    def complete(self) -> bool:
        return self.n_decided >= self.n_cases

    @property
    def n_correct(self) -> int:
        return sum(d.correct for d in self.decided)

    @property
    def missed_deteriorations(self) -> list[AttemptState]:
        return [
            s
            for s in self.states
            if s.decision and s.decision.deteriorated and s.decision.action == "dismiss"
        ]

    @property
    def unnecessary_escalations(self) -> list[AttemptState]:
        return [
            s
            for s in self.states
            if s.decision and not s.decision.deteriorated and s.decision.action == "escalate"
        ]

    @property
    def next_position(self) -> int | None:
        for s in self.states:
            if s.decision is None:
                return s.position
        return None

    @property
    def median_seconds(self) -> float | None:
        times = sorted(d.time_to_decide_ms for d in self.decided)
        if not times:
            return None
        mid = len(times) // 2
        ms = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
        return round(ms / 1000, 1)


def _progress(session: Session, attempts: Sequence[CaseAttempt], positions: Sequence[int]) -> SetProgress:
    ids = [a.id or 0 for a in attempts]
    decisions = (
        {d.attempt_id: d for d in session.exec(select(Decision).where(col(Decision.attempt_id).in_(ids)))}
        if ids
        else {}
    )
    version_ids = {a.scenario_version_id for a in attempts}
    titles = (
        {
            v.id: v.title
            for v in session.exec(
                select(ScenarioVersion).where(col(ScenarioVersion.id).in_(list(version_ids)))
            )
        }
        if version_ids
        else {}
    )
    by_pos = {a.position: a for a in attempts}
    progress = SetProgress(n_cases=len(positions))
    for pos in positions:
        a = by_pos.get(pos)
        d = decisions.get(a.id or 0) if a else None
        progress.states.append(
            AttemptState(
                pos, a, d, titles.get(a.scenario_version_id) if a is not None and d is not None else None
            )
        )
    return progress


def drill_progress(session: Session, *, drill: Drill, trainee_id: int) -> SetProgress:
    attempts = session.exec(
        select(CaseAttempt).where(CaseAttempt.drill_id == drill.id, CaseAttempt.trainee_id == trainee_id)
    ).all()
    return _progress(session, attempts, range(drill.n_cases))


def _latest_practice_round(session: Session, trainee_id: int) -> int | None:
    top = session.exec(
        select(func.max(CaseAttempt.position)).where(
            CaseAttempt.trainee_id == trainee_id, col(CaseAttempt.drill_id).is_(None)
        )
    ).one()
    return None if top is None else practice_round_of(int(top))


def practice_progress(
    session: Session, *, trainee_id: int, round_no: int | None = None
) -> tuple[int, SetProgress]:
    """(round number, progress) for the given or the latest practice round."""
    if round_no is None:
        round_no = _latest_practice_round(session, trainee_id) or 0
    first = round_no * PRACTICE_SIZE
    attempts = session.exec(
        select(CaseAttempt).where(
            CaseAttempt.trainee_id == trainee_id,
            col(CaseAttempt.drill_id).is_(None),
            col(CaseAttempt.position) >= first,
            col(CaseAttempt.position) < first + PRACTICE_SIZE,
        )
    ).all()
    return round_no, _progress(session, attempts, range(first, first + PRACTICE_SIZE))


def next_drill_attempt(session: Session, *, drill: Drill, trainee: User) -> CaseAttempt | None:
    """The case to show next (dealt now if need be), or None when the drill is done."""
    position = drill_progress(session, drill=drill, trainee_id=trainee.id or 0).next_position
    if position is None:
        return None
    return deal_attempt(session, drill=drill, trainee=trainee, position=position)


def next_practice_attempt(session: Session, *, trainee: User) -> CaseAttempt:
    """The next practice case: continue the open round, or start a new one."""
    round_no, progress = practice_progress(session, trainee_id=trainee.id or 0)
    position = progress.next_position
    if position is None:
        position = (round_no + 1) * PRACTICE_SIZE
    return deal_attempt(session, drill=None, trainee=trainee, position=position)


@dataclass(frozen=True)
class DrillCard:
    drill: Drill
    n_decided: int


def drills_for_trainee(session: Session, trainee: User) -> list[DrillCard]:
    """Drills assigned to the trainee's cohort, newest first, with how far they got."""
    if trainee.cohort_id is None:
        return []
    drills = session.exec(
        select(Drill).where(Drill.cohort_id == trainee.cohort_id).order_by(col(Drill.created_at).desc())
    ).all()
    counts: dict[int, int] = {}
    if drills:
        rows = session.exec(
            select(CaseAttempt.drill_id, func.count())
            .join(Decision, col(Decision.attempt_id) == col(CaseAttempt.id))
            .where(
                CaseAttempt.trainee_id == trainee.id, col(CaseAttempt.drill_id).in_([d.id for d in drills])
            )
            .group_by(col(CaseAttempt.drill_id))
        ).all()
        counts = {int(drill_id or 0): int(n) for drill_id, n in rows}
    return [DrillCard(d, counts.get(d.id or 0, 0)) for d in drills]


# --------------------------------------------------------------------------------------------------
# A trainee's own history


@dataclass(frozen=True)
class HistoryRow:
    decision: Decision
    attempt: CaseAttempt
    title: str
    drill_title: str | None


@dataclass(frozen=True)
class CategoryAccuracy:
    category: str
    n: int
    n_correct: int

    @property
    def percent(self) -> int:
        return round(100 * self.n_correct / self.n) if self.n else 0


def history_rows(session: Session, *, trainee_id: int, limit: int = 200) -> list[HistoryRow]:
    rows = session.exec(
        select(Decision, CaseAttempt, ScenarioVersion)
        .join(CaseAttempt, col(CaseAttempt.id) == col(Decision.attempt_id))
        .join(ScenarioVersion, col(ScenarioVersion.id) == col(Decision.scenario_version_id))
        .where(Decision.trainee_id == trainee_id)
        .order_by(col(Decision.created_at).desc(), col(Decision.id).desc())
        .limit(limit)
    ).all()
    drill_ids = {a.drill_id for _, a, _ in rows if a.drill_id is not None}
    titles = (
        {d.id: d.title for d in session.exec(select(Drill).where(col(Drill.id).in_(list(drill_ids))))}
        if drill_ids
        else {}
    )
    return [HistoryRow(d, a, v.title, titles.get(a.drill_id) if a.drill_id else None) for d, a, v in rows]


def accuracy_by_category(session: Session, *, trainee_id: int) -> list[CategoryAccuracy]:
    rows = session.exec(
        select(Decision.category, func.count(), func.sum(case((col(Decision.correct), 1), else_=0)))
        .where(Decision.trainee_id == trainee_id)
        .group_by(Decision.category)
        .order_by(Decision.category)
    ).all()
    return [CategoryAccuracy(str(cat), int(n), int(ok or 0)) for cat, n, ok in rows]
