"""Creating drills and counting how far each cohort has got with them.

Educators assign drills to cohorts of their own unit (admins to any cohort). One
form may assign the same drill to several cohorts: that stores one `Drill` row per
cohort (each with its own completion), all in one transaction. The spec written here is exactly what the dealer reads (`app/services/dealing.py`):
`{"scenario_ids": [...]}` or `{"categories": {slug: weight}}`. Every problem with
the form is collected and returned together, so the educator fixes them in one go.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import AuditEvent, CaseAttempt, Cohort, Decision, Drill, Unit, User
from app.models.base import utcnow
from app.services.scenarios import latest_versions
from simulator import CATEGORIES

__all__ = [
    "MAX_CASES",
    "MODES",
    "CohortChoice",
    "DrillError",
    "DrillForm",
    "DrillProgress",
    "TraineeProgress",
    "cohort_choices",
    "create_drills",
    "drill_progress",
    "drill_visible_to",
    "list_drills",
    "parse_created",
    "spec_summary",
    "trainee_progress",
]

MAX_CASES = 100
MODES: dict[str, str] = {
    "standard": "Standard: the alert is shown with the case",
    "independent-first": "Independent assessment first: the nurse decides before seeing the alert",
}


class DrillError(ValueError):
    """The drill form has problems; `errors` maps each form field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class DrillForm:
    """The drill form as typed (strings), so a refused form is shown back unchanged."""

    title: str = ""
    cohort_ids: list[str] = field(default_factory=list)
    source: str = "scenarios"  # scenarios | categories
    scenario_ids: list[str] = field(default_factory=list)
    weights: dict[str, str] = field(default_factory=dict)
    n_cases: str = "10"
    mode: str = "standard"
    no_alert_pct: str = "20"
    due_on: str = ""


@dataclass(frozen=True)
class CohortChoice:
    id: int
    label: str


def cohort_choices(session: Session, user: User) -> list[CohortChoice]:
    """Cohorts this user may assign to: the educator's own unit, every unit for admins."""
    query = select(Cohort, Unit).join(Unit, col(Unit.id) == col(Cohort.unit_id))
    if user.role != "admin":
        if user.unit_id is None:
            return []
        query = query.where(Cohort.unit_id == user.unit_id)
    rows = session.exec(query.order_by(col(Unit.name), col(Cohort.name))).all()
    multi_unit = len({u.id for _c, u in rows}) > 1
    return [CohortChoice(c.id or 0, f"{u.name} · {c.name}" if multi_unit else c.name) for c, u in rows]


def _int_in(raw: str, low: int, high: int) -> int | None:
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def _number_in(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _validate(session: Session, user: User, form: DrillForm, today: date) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    title = " ".join(form.title.split())
    if not title:
        errors["title"] = "Give the drill a title the nurses will recognise."
    elif len(title) > 200:
        errors["title"] = "Keep the title to 200 characters or fewer."
    values["title"] = title

    allowed = [c.id for c in cohort_choices(session, user)]
    typed = {raw.strip() for raw in form.cohort_ids if raw.strip()}
    picked = {_int_in(raw, 1, 2**31 - 1) for raw in typed}
    if not allowed:
        errors["cohort_ids"] = "Your account is not linked to a unit with cohorts; ask an administrator."
    elif not typed:
        errors["cohort_ids"] = "Choose at least one cohort."
    elif not picked <= set(allowed):
        errors["cohort_ids"] = "Choose only cohorts of your unit."
    # In the order the form lists them, each once.
    values["cohort_ids"] = [c for c in allowed if c in picked]

    published = latest_versions(session)
    if form.source == "scenarios":
        known = {v.scenario_id for v in published}
        chosen = list(dict.fromkeys(s.strip() for s in form.scenario_ids if s.strip()))
        unknown = [s for s in chosen if s not in known]
        if not chosen:
            errors["scenario_ids"] = "Choose at least one scenario."
        elif unknown:
            errors["scenario_ids"] = f"Not a published scenario: {', '.join(unknown[:5])}."
        values["spec"] = {"scenario_ids": chosen}
    elif form.source == "categories":
        weights: dict[str, float] = {}
        bad: list[str] = []
        for slug, raw in form.weights.items():
            if slug not in CATEGORIES or not raw.strip():
                continue
            w = _number_in(raw, 0, 100)
            if w is None:
                bad.append(CATEGORIES[slug])
            elif w > 0:
                weights[slug] = w
        have = {v.category for v in published}
        empty = [CATEGORIES[s] for s in weights if s not in have]
        if bad:
            errors["weights"] = f"Weights are numbers from 0 to 100; check: {', '.join(bad)}."
        elif not weights:
            errors["weights"] = "Give at least one category a weight above 0."
        elif empty:
            errors["weights"] = f"No published scenario in: {', '.join(empty)}. Set its weight to 0 or publish one."
        values["spec"] = {"categories": {s: weights[s] for s in CATEGORIES if s in weights}}
    else:
        errors["source"] = "Choose either scenarios or a category mix."

    n_cases = _int_in(form.n_cases, 1, MAX_CASES)
    if n_cases is None:
        errors["n_cases"] = f"Number of cases: a whole number from 1 to {MAX_CASES}."
    values["n_cases"] = n_cases

    if form.mode not in MODES:
        errors["mode"] = "Choose standard or independent assessment first."
    values["mode"] = form.mode

    pct = _number_in(form.no_alert_pct or "0", 0, 100)
    if pct is None:
        errors["no_alert_pct"] = "Share of no-alert cases: a percentage from 0 to 100."
    values["no_alert_share"] = (pct or 0.0) / 100

    due_at: datetime | None = None
    if form.due_on.strip():
        try:
            due = date.fromisoformat(form.due_on.strip())
        except ValueError:
            errors["due_on"] = "Due date: use the date picker or write YYYY-MM-DD."
        else:
            if due < today:
                errors["due_on"] = "The due date is in the past."
            else:
                # Due by the end of that day (UTC), so "due 3 March" includes 3 March.
                due_at = datetime.combine(due, time(23, 59, 59), tzinfo=UTC)
    values["due_at"] = due_at
    return values, errors


def create_drills(session: Session, *, user: User, form: DrillForm, today: date | None = None) -> list[Drill]:
    """Validate the whole form and store one drill per chosen cohort, all or none; raises DrillError.

    The drills share every setting; each gets its own audit entry naming the others
    created with it, so the audit trail shows they were assigned together.
    """
    values, errors = _validate(session, user, form, today or utcnow().date())
    if errors:
        raise DrillError(errors)
    drills = [
        Drill(
            title=values["title"],
            cohort_id=cohort_id,
            created_by=user.id,
            spec=values["spec"],
            n_cases=values["n_cases"],
            mode=values["mode"],
            no_alert_share=values["no_alert_share"],
            due_at=values["due_at"],
        )
        for cohort_id in values["cohort_ids"]
    ]
    try:
        session.add_all(drills)
        session.flush()
        together = [d.id for d in drills]
        for drill in drills:
            detail: dict[str, Any] = {"cohort_id": drill.cohort_id, "spec": drill.spec, "n_cases": drill.n_cases}
            if len(drills) > 1:
                detail["assigned_with"] = [i for i in together if i != drill.id]
            session.add(
                AuditEvent(actor_id=user.id, action="drill.create", target=f"drill:{drill.id}", detail=detail)
            )
        session.commit()
    except Exception:
        session.rollback()
        raise
    for drill in drills:
        session.refresh(drill)
    return drills


def parse_created(raw: str | None) -> list[int]:
    """Drill ids from the `created=` confirmation parameter ("7" or "7,8"); junk is ignored."""
    out: list[int] = []
    for part in (raw or "").split(",")[:50]:
        value = _int_in(part, 1, 2**31 - 1)
        if value is not None and value not in out:
            out.append(value)
    return out


@dataclass(frozen=True)
class DrillProgress:
    """One drill with its completion: cases decided over cases assigned."""

    drill: Drill
    cohort_name: str
    trainees: int
    assigned: int
    done: int
    completed_trainees: int

    @property
    def share(self) -> float | None:
        return self.done / self.assigned if self.assigned else None

    @property
    def overdue(self) -> bool:
        due = self.drill.due_at
        if due is None or self.done >= self.assigned:
            return False
        if due.tzinfo is None:  # SQLite hands back naive datetimes
            due = due.replace(tzinfo=UTC)
        return due < utcnow()


def _visible_drills_query(user: User) -> Any:
    query = select(Drill, Cohort).join(Cohort, col(Cohort.id) == col(Drill.cohort_id))
    if user.role != "admin":
        query = query.where(Cohort.unit_id == (user.unit_id if user.unit_id is not None else -1))
    return query


def drill_visible_to(session: Session, user: User, drill_id: int) -> tuple[Drill, Cohort] | None:
    row = session.exec(_visible_drills_query(user).where(Drill.id == drill_id)).first()
    return (row[0], row[1]) if row else None


def _decided_counts(session: Session, drill_ids: list[int]) -> dict[tuple[int, int], int]:
    """Decisions per (drill, trainee), counting only trainees still in the drill's cohort."""
    if not drill_ids:
        return {}
    rows = session.exec(
        select(CaseAttempt.drill_id, CaseAttempt.trainee_id, func.count(col(Decision.id)))
        .join(Decision, col(Decision.attempt_id) == col(CaseAttempt.id))
        .join(Drill, col(Drill.id) == col(CaseAttempt.drill_id))
        .join(User, col(User.id) == col(CaseAttempt.trainee_id))
        .where(col(CaseAttempt.drill_id).in_(drill_ids), col(User.cohort_id) == col(Drill.cohort_id))
        .group_by(col(CaseAttempt.drill_id), col(CaseAttempt.trainee_id))
    ).all()
    return {(int(d or 0), int(t)): int(n) for d, t, n in rows}


def _cohort_sizes(session: Session, cohort_ids: set[int]) -> dict[int, int]:
    if not cohort_ids:
        return {}
    rows = session.exec(
        select(User.cohort_id, func.count(col(User.id)))
        .where(col(User.cohort_id).in_(cohort_ids), User.role == "trainee", User.is_active == True)  # noqa: E712
        .group_by(col(User.cohort_id))
    ).all()
    return {int(c or 0): int(n) for c, n in rows}


def list_drills(session: Session, user: User) -> list[DrillProgress]:
    """Drills this user may see, newest first, each with its completion (two GROUP BYs)."""
    rows = session.exec(_visible_drills_query(user).order_by(col(Drill.created_at).desc(), col(Drill.id).desc())).all()
    return drill_progress(session, [(d, c) for d, c in rows])


def drill_progress(session: Session, rows: list[tuple[Drill, Cohort]]) -> list[DrillProgress]:
    sizes = _cohort_sizes(session, {c.id or 0 for _d, c in rows})
    counts = _decided_counts(session, [d.id or 0 for d, _c in rows])
    out: list[DrillProgress] = []
    for drill, cohort in rows:
        per_trainee = [n for (d, _t), n in counts.items() if d == drill.id]
        capped = [min(n, drill.n_cases) for n in per_trainee]
        trainees = sizes.get(cohort.id or 0, 0)
        out.append(
            DrillProgress(
                drill=drill,
                cohort_name=cohort.name,
                trainees=trainees,
                assigned=trainees * drill.n_cases,
                done=sum(capped),
                completed_trainees=sum(1 for n in capped if n >= drill.n_cases),
            )
        )
    return out


@dataclass(frozen=True)
class TraineeProgress:
    name: str
    done: int
    assigned: int

    @property
    def complete(self) -> bool:
        return self.done >= self.assigned


def trainee_progress(session: Session, drill: Drill) -> list[TraineeProgress]:
    """Each cohort member's cases done in this drill, so the educator sees who has not started."""
    members = session.exec(
        select(User)
        .where(User.cohort_id == drill.cohort_id, User.role == "trainee", User.is_active == True)  # noqa: E712
        .order_by(col(User.display_name), col(User.id))
    ).all()
    counts = _decided_counts(session, [drill.id or 0])
    return [
        TraineeProgress(
            name=m.display_name,
            done=min(counts.get((drill.id or 0, m.id or 0), 0), drill.n_cases),
            assigned=drill.n_cases,
        )
        for m in members
    ]


def spec_summary(spec: dict[str, Any]) -> str:
    """A one-line description of a drill's spec for lists."""
    if spec.get("scenario_ids"):
        ids = [str(s) for s in spec["scenario_ids"]]
        return f"{len(ids)} scenario{'s' if len(ids) != 1 else ''}: " + ", ".join(ids[:3]) + ("…" if len(ids) > 3 else "")
    cats = spec.get("categories") or {}
    total = sum(float(w) for w in cats.values()) or 1.0
    return "Category mix: " + ", ".join(f"{CATEGORIES.get(s, s)} {float(w) / total:.0%}" for s, w in cats.items())
