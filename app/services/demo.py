"""Demo decision history: synthetic trainees of different skill and bias deciding real cases.

Why: on a fresh install the manager dashboard, its trends and the educators' item analysis need
weeks of decisions to show anything. Each synthetic trainee is a signal-detection observer with a
skill d′ (improving over the period), a criterion c (shifted in some categories, e.g. a nurse who
dismisses deterioration in patients with abnormal baselines), a tendency to follow the AI alert when
it disagrees with them (automation bias), alert fatigue, speed and over-confidence. For every case,
drawn from the published scenarios and simulated by `simulator.simulate`, the trainee's own judgement
is drawn from SDT using the case's true outcome, then the alert may sway it.

The rows are those the write path (`app.services.attempts.record_decision`, `record_pre_alert`)
produces: a CaseAttempt holding the simulated case, a PreAlertJudgement in independent-first drills,
the Decision with its denormalised columns (from `decision_values`, as `record_decision` stores them;
a test checks the two rows agree) and the audit events. They are bulk-inserted because
`record_decision` stamps audit times with "now" and commits per decision, which is too slow for
`alertdrill demo seed` at scale. Never in production.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.models import (
    AuditEvent,
    CaseAttempt,
    Cohort,
    Decision,
    Drill,
    PreAlertJudgement,
    ScenarioVersion,
    Unit,
    User,
)
from app.services.accounts import (
    DEMO_COHORT,
    DEMO_UNIT,
    ensure_demo_accounts,
    get_or_create_cohort,
    get_or_create_unit,
)
from app.services.attempts import DecisionInput, decision_values
from app.services.dealing import NO_ALERT_CATEGORIES, GeneratedCase, generate_case, seed_for
from app.services.decision_commit import decision_audit
from app.services.scenarios import latest_versions

SYNTHETIC_PREFIX = "sim-"
SYNTHETIC_PASSWORD_HASH = "!synthetic-no-login"  # noqa: S105 - not an argon2 hash, so no log-in matches it
DRILL_SIZE = 10
PRACTICE_SIZE = 10
NO_ALERT_SHARE = 0.2
_PHI = NormalDist().cdf


class DemoRefused(RuntimeError):
    """Demo data is never created in production, nor without published scenarios."""


# --------------------------------------------------------------------------------------------------
# Simulated trainees
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """A synthetic trainee's decision style (signal-detection parameters and reliance on the AI)."""

    name: str
    d_start: float  # skill (d′) at the start of the history
    d_end: float  # ... and at its end (learning)
    criterion: float  # c: negative escalates readily, positive dismisses readily
    follow_alert: float = 0.2  # P(escalate because the alert fired, when they would have dismissed)
    follow_silence: float = 0.2  # P(dismiss because no alert fired, when they would have escalated)
    alert_fatigue: float = 0.0  # P(dismiss a fired alert they would have escalated)
    category_shift: dict[str, float] = field(default_factory=dict)  # added to c in these categories
    median_s: float = 60.0
    overconfidence: float = 0.0  # confidence points added
    engagement: float = 0.6  # P(doing an extra practice round in a week)


PERSONAS: tuple[Persona, ...] = (
    Persona("Amira Haddad", 2.6, 3.0, 0.0, 0.05, 0.05, median_s=55, engagement=0.8),
    Persona("Ben Okafor", 1.9, 2.3, 0.0, 0.15, 0.15, median_s=70),
    Persona("Chloe Martin", 1.7, 2.0, -0.9, 0.35, 0.05, median_s=45, engagement=0.5),  # over-escalates
    Persona("Daniel Novak", 1.5, 1.8, 0.7, 0.10, 0.40, median_s=65),  # conservative, trusts silence
    Persona("Elena Rossi", 1.2, 1.5, 0.0, 0.75, 0.65, median_s=35, overconfidence=8),  # automation bias
    Persona(
        "Farid Rahman", 2.0, 2.2, 0.1, 0.15, 0.15,
        category_shift={"deterioration-abnormal-baseline": 1.8, "chronic-baseline-fp": 0.6},
    ),  # dismisses true deterioration when the baseline is abnormal
    Persona("Grace Liu", 0.4, 2.1, 0.2, 0.30, 0.30, median_s=90, engagement=0.9),  # novice, learning fast
    Persona("Hannah Schmidt", 2.3, 2.5, 0.0, 0.10, 0.10, median_s=140, overconfidence=-6),  # slow, careful
    Persona("Isaac Mensah", 0.8, 0.9, -0.2, 0.40, 0.40, median_s=20, overconfidence=15, engagement=0.3),
    Persona("Jade Turner", 1.8, 1.9, 0.5, 0.05, 0.10, alert_fatigue=0.35, median_s=40),  # alert fatigue
    Persona("Kofi Asante", 1.4, 1.7, 0.2, 0.30, 0.30, median_s=75),
    Persona(
        "Lena Fischer", 1.9, 2.1, 0.0, 0.10, 0.70,
        category_shift={"masked-deterioration": 1.0, "lab-only-deterioration": 0.8},
    ),  # misses deterioration the alert does not flag
)


def random_persona(rng: random.Random, index: int) -> Persona:
    """A plausible trainee for scale runs: skill 0.3–3, bias, reliance and speed vary."""
    d0 = rng.uniform(0.3, 2.6)
    shift: dict[str, float] = {}
    if rng.random() < 0.2:
        shift[rng.choice(["deterioration-abnormal-baseline", "masked-deterioration", "chronic-baseline-fp"])] = (
            rng.uniform(0.6, 1.8)
        )
    return Persona(
        name=f"Synthetic trainee {index:05d}",
        d_start=d0,
        d_end=min(3.2, d0 + rng.uniform(0.0, 0.8)),
        criterion=rng.gauss(0.0, 0.5),
        follow_alert=rng.betavariate(2, 5),
        follow_silence=rng.betavariate(2, 5),
        alert_fatigue=rng.betavariate(1, 8),
        category_shift=shift,
        median_s=rng.uniform(25, 150),
        overconfidence=rng.gauss(0, 6),
        engagement=rng.uniform(0.2, 0.9),
    )


@dataclass(frozen=True)
class SimDecision:
    own_escalate: bool  # the independent judgement (before or without the alert)
    final_escalate: bool
    confidence: int  # 50–100 in steps of 10, as the decision form offers
    time_ms: int
    switched: bool  # the alert changed the decision


def simulate_decision(
    persona: Persona, *, skill: float, deteriorated: bool, alert: bool, category: str, rng: random.Random
) -> SimDecision:
    """One decision from equal-variance SDT: evidence x ~ N(±d′/2, 1), escalate when x > c; then the
    alert may sway a disagreeing trainee (follow_alert / follow_silence) or be shrugged off (fatigue)."""
    c = persona.criterion + persona.category_shift.get(category, 0.0)
    x = rng.gauss(skill / 2 if deteriorated else -skill / 2, 1.0)
    own = x > c
    final = own
    if alert and not own and rng.random() < persona.follow_alert:
        final = True
    elif not alert and own and rng.random() < persona.follow_silence:
        final = False
    elif alert and own and rng.random() < persona.alert_fatigue:
        final = False
    switched = final != own
    margin = abs(x - c)
    raw = 50 + 50 * (2 * _PHI(margin) - 1) + persona.overconfidence + rng.gauss(0, 6)
    if switched:
        raw = 50 + (raw - 50) * 0.4
    confidence = int(min(100, max(50, round(raw / 10) * 10)))
    seconds = persona.median_s * (1.35 if switched else 1.0) * math.exp(rng.gauss(0, 0.45))
    time_ms = int(min(15 * 60, max(5.0, seconds)) * 1000)
    return SimDecision(own, final, confidence, time_ms, switched)


_DISMISS_REASON = {"chronic-baseline-fp": "baseline", "artifact-fp": "artifact", "expected-course-fp": "expected-course"}
_OTHER_TEXTS = ("Looked stable on review", "Patient comfortable, obs at usual values", "Will recheck in an hour")


def decision_input(sim: SimDecision, category: str, rng: random.Random) -> DecisionInput:
    """The form a simulated nurse submits, normalised by the write path's own parser."""
    if sim.final_escalate:
        urgent = sim.confidence >= 90 and rng.random() < 0.5
        return DecisionInput.parse(action="escalate", reason="rapid-response" if urgent else "notify-provider",
                                   reason_text=None, confidence=sim.confidence)
    why = _DISMISS_REASON.get(category) if rng.random() < 0.8 else None
    why = why or rng.choice(["baseline", "expected-course", "other"])
    text = rng.choice(_OTHER_TEXTS) if why == "other" else None
    return DecisionInput.parse(action="dismiss", reason=why, reason_text=text, confidence=sim.confidence)


# --------------------------------------------------------------------------------------------------
# Rows, as the write path makes them
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCase:
    version: ScenarioVersion
    seed: int
    case: GeneratedCase


def case_pool(
    versions: Sequence[ScenarioVersion],
    seeds_per_scenario: int,
    generate: Callable[[ScenarioVersion, int], GeneratedCase] = generate_case,
) -> list[PoolCase]:
    """A few simulated variants per published scenario, generated once and reused by every trainee."""
    pool = []
    for v in versions:
        for i in range(seeds_per_scenario):
            seed = seed_for(f"demo:{v.scenario_id}:v{v.version}", i, 0)
            pool.append(PoolCase(v, seed, generate(v, seed)))
    return pool


@dataclass
class _Plan:
    """What one trainee does in one sitting: which cases, in which drill, when."""

    drill: Drill | None
    positions: list[int]
    cases: list[PoolCase]
    start: datetime


def _pick_cases(pool: Sequence[PoolCase], n: int, rng: random.Random) -> list[PoolCase]:
    """Like a dealt drill: about NO_ALERT_SHARE quiet cases (alert silent), the rest with an alert."""
    quiet = [p for p in pool if not p.case.alert_fired]
    loud = [p for p in pool if p.case.alert_fired]
    n_quiet = round(NO_ALERT_SHARE * n) if quiet and loud else 0
    prefer = [p for p in quiet if p.version.category in NO_ALERT_CATEGORIES] or quiet
    chosen = [rng.choice(prefer) for _ in range(n_quiet)]
    rest = loud or quiet
    chosen += [rng.choice(rest) for _ in range(n - n_quiet)]
    rng.shuffle(chosen)
    return chosen


def _stable_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class SeedReport:
    unit: str
    trainees: int = 0
    drills: int = 0
    attempts: int = 0
    decisions: int = 0
    skipped: bool = False
    notes: list[str] = field(default_factory=list)


def _refuse_in_production() -> None:
    if get_settings().is_production:
        raise DemoRefused("refusing: demo data is never created when ALERTDRILL_ENV=production")


def _synthetic_count(session: Session) -> int:
    return int(
        session.exec(
            select(func.count()).select_from(User).where(col(User.username).startswith(SYNTHETIC_PREFIX))
        ).one()
    )


def _new_trainees(
    session: Session, unit: Unit, cohort: Cohort, personas: Sequence[Persona], usernames: Sequence[str]
) -> list[User]:
    users = [
        User(
            username=name,
            display_name=p.name,
            password_hash=SYNTHETIC_PASSWORD_HASH,
            role="trainee",
            unit_id=unit.id,
            cohort_id=cohort.id,
            is_demo=True,
        )
        for p, name in zip(personas, usernames, strict=True)
    ]
    session.add_all(users)
    session.flush()
    return users


def _weekly_drills(session: Session, cohort: Cohort, start: datetime, days: int, now: datetime) -> list[Drill]:
    """One drill per week of history; every other one asks for the nurse's own call first."""
    drills = []
    for k in range(max(1, math.ceil(days / 7))):
        opens = start + timedelta(days=7 * k)
        if opens >= now:
            break
        independent = k % 2 == 1
        drills.append(
            Drill(
                title=f"Week {k + 1}: {'your judgement before the alert' if independent else 'mixed alerts'}",
                cohort_id=cohort.id or 0,
                spec={},
                n_cases=DRILL_SIZE,
                mode="independent-first" if independent else "standard",
                no_alert_share=NO_ALERT_SHARE,
                due_at=min(opens + timedelta(days=7), now),
                created_at=opens,
            )
        )
    session.add_all(drills)
    session.flush()
    return drills


def _sitting_start(rng: random.Random, day: datetime, latest: datetime) -> datetime:
    """A time on a working shift (07:00–20:00 UTC) of `day`, at least an hour before `latest`."""
    moment = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=rng.randint(7 * 60, 20 * 60))
    cutoff = latest - timedelta(hours=1)
    return moment if moment <= cutoff else cutoff - timedelta(minutes=rng.randint(0, 120))


def _history_for(
    session: Session,
    trainee: User,
    persona: Persona,
    drills: Sequence[Drill],
    pool: Sequence[PoolCase],
    *,
    start: datetime,
    days: int,
    now: datetime,
) -> tuple[int, int]:
    """Create one trainee's attempts, pre-alert judgements, decisions and audit events."""
    rng = _stable_rng("demo-history", trainee.username)
    plans: list[_Plan] = []
    practice_round = 0
    for k, drill in enumerate(drills):
        week_start = start + timedelta(days=7 * k)
        week_days = max(1, min(7, (now - week_start).days))
        if rng.random() < 0.6 + 0.4 * persona.engagement:
            at = _sitting_start(rng, week_start + timedelta(days=rng.randrange(week_days)), now)
            done = DRILL_SIZE if rng.random() < 0.85 else rng.randint(3, DRILL_SIZE - 1)
            plans.append(_Plan(drill, list(range(done)), _pick_cases(pool, done, rng), at))
        if rng.random() < persona.engagement:
            at = _sitting_start(rng, week_start + timedelta(days=rng.randrange(week_days)), now)
            first = practice_round * PRACTICE_SIZE
            plans.append(
                _Plan(None, list(range(first, first + PRACTICE_SIZE)), _pick_cases(pool, PRACTICE_SIZE, rng), at)
            )
            practice_round += 1
    span = max(timedelta(days=days).total_seconds(), 1.0)

    made: list[tuple[CaseAttempt, PoolCase, SimDecision, datetime, bool]] = []
    for plan in plans:
        independent = plan.drill is not None and plan.drill.mode == "independent-first"
        clock = plan.start
        for position, pc in zip(plan.positions, plan.cases, strict=True):
            progress = min(1.0, max(0.0, (clock - start).total_seconds() / span))
            skill = persona.d_start + (persona.d_end - persona.d_start) * progress
            sim = simulate_decision(
                persona, skill=skill, deteriorated=pc.case.deteriorated, alert=pc.case.alert_fired,
                category=pc.version.category, rng=rng,
            )
            decided_at = clock + timedelta(milliseconds=sim.time_ms)
            attempt = CaseAttempt(
                trainee_id=trainee.id or 0,
                drill_id=plan.drill.id if plan.drill else None,
                position=position,
                scenario_version_id=pc.version.id or 0,
                seed=pc.seed,
                independent_first=independent,
                **pc.case.attempt_columns(),
                started_at=clock,
            )
            made.append((attempt, pc, sim, decided_at, independent))
            clock = decided_at + timedelta(seconds=rng.randint(20, 120))
    session.add_all([m[0] for m in made])
    session.flush()

    decisions: list[Decision] = []
    extras: list[PreAlertJudgement | AuditEvent] = []
    for attempt, pc, sim, decided_at, independent in made:
        own = ("escalate" if sim.own_escalate else "dismiss") if independent else None
        if own is not None:
            judged_at = attempt.started_at + (decided_at - attempt.started_at) * 0.6
            extras.append(PreAlertJudgement(attempt_id=attempt.id or 0, action=own, created_at=judged_at))
            extras.append(AuditEvent(at=judged_at, actor_id=trainee.id, action="decision.pre-alert",
                                     target=f"attempt:{attempt.id}", detail={"action": own}))
        decisions.append(
            Decision(**decision_values(
                attempt=attempt, trainee=trainee, category=pc.version.category,
                submitted=decision_input(sim, pc.version.category, rng), independent_action=own,
                decided_at=decided_at,
            ))
        )
    session.add_all(decisions)
    session.flush()
    extras += [AuditEvent(**decision_audit(d.id or 0, d.model_dump())) for d in decisions]
    session.add_all(extras)
    session.flush()
    return len(made), len(decisions)


def _published(session: Session) -> list[ScenarioVersion]:
    versions = latest_versions(session)
    if not versions:
        raise DemoRefused("no published scenarios: run `alertdrill scenarios publish scenarios/` first")
    return versions


def seed_history(
    session: Session,
    *,
    unit_name: str,
    personas: Sequence[Persona],
    usernames: Sequence[str],
    days: int,
    seeds_per_scenario: int = 3,
    now: datetime | None = None,
    cohort_name: str | None = None,
) -> SeedReport:
    """Synthetic trainees (one per persona) in `unit_name` with `days` of history ending `now`."""
    _refuse_in_production()
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or datetime.now(UTC)
    # Weeks start at midnight so a drill never opens after its first sitting.
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    pool = case_pool(_published(session), seeds_per_scenario)
    unit = get_or_create_unit(session, unit_name)
    cohort = get_or_create_cohort(session, unit, cohort_name or f"{unit_name} synthetic trainees")
    report = SeedReport(unit=unit_name)
    drills = _weekly_drills(session, cohort, start, days, now)
    report.drills = len(drills)
    batch = 25
    for i in range(0, len(personas), batch):
        chunk = list(personas[i : i + batch])
        trainees = _new_trainees(session, unit, cohort, chunk, usernames[i : i + batch])
        for trainee, persona in zip(trainees, chunk, strict=True):
            attempts, decided = _history_for(session, trainee, persona, drills, pool, start=start, days=days, now=now)
            report.attempts += attempts
            report.decisions += decided
        report.trainees += len(trainees)
        session.commit()
    session.add(AuditEvent(action="demo.history", target=f"unit:{unit.id}",
                           detail={"trainees": report.trainees, "days": days, "decisions": report.decisions}))
    session.commit()
    return report


def _welcome_drills(session: Session, cohort: Cohort, now: datetime) -> None:
    """Two open drills for the demo nurse's cohort, so `nurse` has work on the first log-in:
    a standard mixed drill and a short one that asks for their own call before the alert."""
    if session.exec(select(Drill.id).where(Drill.cohort_id == cohort.id)).first() is not None:
        return
    due = now + timedelta(days=14)
    session.add_all([
        Drill(title="Start here: ten alerts on 7B", cohort_id=cohort.id or 0, spec={}, n_cases=DRILL_SIZE,
              mode="standard", no_alert_share=NO_ALERT_SHARE, due_at=due, created_at=now),
        Drill(title="Your judgement before the alert", cohort_id=cohort.id or 0, spec={}, n_cases=5,
              mode="independent-first", no_alert_share=NO_ALERT_SHARE, due_at=due, created_at=now),
    ])
    session.commit()


def setup_demo(session: Session, *, days: int = 26, now: datetime | None = None) -> tuple[list[str], SeedReport]:
    """`alertdrill demo setup`: the demo logins plus about a dozen synthetic trainees with a few
    weeks of history in the demo unit. Idempotent: skipped when the demo unit already has them."""
    _refuse_in_production()
    created = ensure_demo_accounts(session)
    unit = session.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    _welcome_drills(session, get_or_create_cohort(session, unit, DEMO_COHORT), now or datetime.now(UTC))
    existing = session.exec(
        select(func.count()).select_from(User).where(
            User.unit_id == unit.id, col(User.username).startswith(SYNTHETIC_PREFIX)
        )
    ).one()
    if existing:
        return created, SeedReport(unit=DEMO_UNIT, skipped=True, notes=[f"{existing} synthetic trainees already there"])
    usernames = [f"{SYNTHETIC_PREFIX}{i + 1:02d}-{p.name.split()[0].lower()}" for i, p in enumerate(PERSONAS)]
    report = seed_history(
        session, unit_name=DEMO_UNIT, personas=PERSONAS, usernames=usernames, days=days,
        now=now, cohort_name="7B synthetic history",
    )
    return created, report


def seed_scale(
    session: Session, *, trainees: int, days: int, unit_name: str = DEMO_UNIT, seeds_per_scenario: int = 4,
    now: datetime | None = None,
) -> SeedReport:
    """`alertdrill demo seed`: many more synthetic trainees with random personas, for trying the
    dashboards at scale. Adds to what is there (new usernames each run)."""
    _refuse_in_production()
    if trainees < 1:
        raise ValueError("trainees must be at least 1")
    offset = _synthetic_count(session)
    rng = _stable_rng("demo-scale", offset)
    personas = [random_persona(rng, offset + i + 1) for i in range(trainees)]
    usernames = [f"{SYNTHETIC_PREFIX}s{offset + i + 1:05d}" for i in range(trainees)]
    return seed_history(
        session, unit_name=unit_name, personas=personas, usernames=usernames, days=days,
        seeds_per_scenario=seeds_per_scenario, now=now,
    )
