"""decision_tally and trainee_week_tally: kept by the database on every decision insert (SQLite and
PostgreSQL).

The reference for every check is the decisions themselves, tallied here in Python from the rows
the database holds, so a wrong SQL expression (in the trigger, the backfill or the dashboard's
partial weeks) shows up as a difference, not as the same mistake on both sides.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Table, insert, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from app.core.db import make_engine
from app.core.migrate import alembic_config, downgrade, upgrade
from app.models import CaseAttempt, Decision, DecisionTally, TraineeWeekTally, User
from app.services import dashboard as dash
from simulator.vocab import CATEGORIES
from tests.api import dashboard_fixtures as fx
from tests.api.dashboard_fixtures import D
from tests.conftest import BACKEND, new_database

COUNTS = (
    "n",
    "correct",
    "hits",
    "deteriorated",
    "false_alarms",
    "brier_units",
    "with_independent",
    "automation_bias",
    "no_alert_deteriorations",
    "no_alert_misses",
    "confidence_sum",
)
DECISION: Table = Decision.__table__  # type: ignore[attr-defined]
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # five weeks before fx.BASE's week, and then some


def migration() -> ModuleType:
    return ScriptDirectory.from_config(alembic_config("")).get_revision("0006").module  # type: ignore[union-attr]


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value[:10])


@dataclass(frozen=True)
class Row:
    """A stored decision, as the reference tally reads it."""

    unit_id: int | None
    trainee_id: int
    category: str
    action: str
    confidence: int
    independent_action: str | None
    alert_fired: bool
    deteriorated: bool
    correct: bool
    created_at: datetime


def stored(conn: Connection | Session) -> list[Row]:
    rows = conn.execute(
        text(
            "SELECT unit_id, trainee_id, category, action, confidence, independent_action, alert_fired, "
            "deteriorated, correct, created_at FROM decision"
        )
    )
    return [
        Row(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7]), bool(r[8]), _aware(r[9]))
        for r in rows
    ]


def week_of(at: datetime) -> date:
    at = at.astimezone(UTC)
    return at.date() - timedelta(days=at.weekday())


def tally(rows: Iterable[Row], key: Any) -> dict[Any, dict[str, Any]]:
    """What the dashboard counts, tallied one decision at a time in Python."""
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0) | {"last_at": None})
    for d in rows:
        t = out[key(d)]
        esc = d.action == "escalate"
        t["n"] += 1
        t["correct"] += d.correct
        t["hits"] += d.deteriorated and esc
        t["deteriorated"] += d.deteriorated
        t["false_alarms"] += not d.deteriorated and esc
        t["brier_units"] += (100 - d.confidence) ** 2 if d.correct else d.confidence**2
        t["with_independent"] += d.independent_action is not None
        t["automation_bias"] += (
            not d.correct
            and d.independent_action is not None
            and d.independent_action != d.action
            and d.alert_fired == esc
        )
        t["no_alert_deteriorations"] += d.deteriorated and not d.alert_fired
        t["no_alert_misses"] += d.deteriorated and not d.alert_fired and not esc
        t["confidence_sum"] += d.confidence
        t["last_at"] = max(t["last_at"] or d.created_at, d.created_at)
    return dict(out)


def expected_tables(rows: Iterable[Row]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Both tally tables as they should be: per category and week, and per week."""
    mine = [d for d in rows if d.unit_id is not None]
    return {
        "decision_tally": tally(mine, lambda d: (d.unit_id, d.trainee_id, d.category, week_of(d.created_at))),
        "trainee_week_tally": tally(mine, lambda d: (d.unit_id, d.trainee_id, week_of(d.created_at))),
    }


def tables(conn: Connection | Session) -> dict[str, dict[Any, dict[str, Any]]]:
    """Both tally tables as the database holds them."""
    cols = ", ".join((*COUNTS, "last_at"))
    out: dict[str, dict[Any, dict[str, Any]]] = {}
    for name, keys in (
        ("decision_tally", "unit_id, trainee_id, category"),
        ("trainee_week_tally", "unit_id, trainee_id"),
    ):
        out[name] = {}
        for r in conn.execute(text(f"SELECT {keys}, week_start, {cols} FROM {name}")):
            *key, week = r[: keys.count(",") + 2]
            values: dict[str, Any] = {c: int(v) for c, v in zip(COUNTS, r[len(key) + 1 : -1], strict=True)}
            values["last_at"] = _aware(r[-1])
            out[name][(*key, _day(week))] = values
    return out


def mixed_decisions(rng: random.Random, n: int) -> list[D]:
    """Decisions over five weeks with every combination of truth, alert, action and pre-alert call,
    some at the very edges of a UTC week (Sunday 23:59:59.999999, Monday 00:00)."""
    edges = [
        MONDAY + timedelta(days=7 * w) + offset
        for w in range(1, 5)
        for offset in (timedelta(microseconds=-1), timedelta(0))
    ]
    out = []
    for i in range(n):
        at = edges[i % len(edges)] if i % 5 == 0 else MONDAY + timedelta(seconds=rng.randrange(35 * 86400))
        action = rng.choice(["escalate", "dismiss"])
        out.append(
            D(
                det=rng.random() < 0.5,
                alert=rng.random() < 0.6,
                action=action,
                conf=rng.choice([50, 60, 70, 80, 90, 100]),
                indep=rng.choice([None, "escalate", "dismiss"]),
                ms=rng.randrange(500, 90_000),
                category=rng.choice(list(CATEGORIES)[:3]),
                at=at,
            )
        )
    return out


@pytest.fixture
def populated(db: Session) -> Session:
    """Two units, trainees in each, one trainee who moved units and one without a unit."""
    rng = random.Random(6)
    ward, other = fx.unit(db, "Tally ward"), fx.unit(db, "Tally other")
    trainees = [fx.user(db, f"tally-{i}", "trainee", ward if i < 3 else other) for i in range(5)]
    loner = fx.user(db, "tally-loner", "trainee", None)
    for t in trainees:
        fx.add(db, t, mixed_decisions(rng, 40))
    fx.add(db, trainees[3], mixed_decisions(rng, 10), unit_id=ward.id)  # decided here before moving
    fx.add(db, loner, mixed_decisions(rng, 10))
    return db


def test_the_trigger_keeps_the_table_equal_to_the_decisions(populated: Session):
    db = populated
    want = expected_tables(stored(db))
    assert tables(db) == want
    assert (
        sum(t["n"] for t in want["decision_tally"].values()) == 210
    )  # the loner's ten have no unit: not tallied
    # Several rows in one INSERT statement, two of them into the same tally row.
    trainee = db.exec(select(User).where(User.username == "tally-0")).one()
    version = fx.version(db, "artifact-fp")
    attempts = [
        CaseAttempt(
            trainee_id=trainee.id or 0,
            scenario_version_id=version.id or 0,
            seed=i,
            position=10_000 + i,
            view_json="{}",
            answer_json="{}",
            alert_fired=True,
            deteriorated=False,
        )
        for i in range(3)
    ]
    db.add_all(attempts)
    db.flush()
    at = [
        MONDAY + timedelta(days=28, hours=9),
        MONDAY + timedelta(days=28, hours=10),
        MONDAY + timedelta(days=35),
    ]
    db.execute(
        insert(DECISION).values(
            [
                {
                    "attempt_id": a.id,
                    "trainee_id": trainee.id,
                    "unit_id": trainee.unit_id,
                    "scenario_version_id": version.id,
                    "category": "artifact-fp",
                    "action": "dismiss",
                    "confidence": conf,
                    "independent_action": "escalate",
                    "alert_fired": True,
                    "deteriorated": False,
                    "correct": True,
                    "time_to_decide_ms": 1000,
                    "created_at": when,
                }
                for a, conf, when in zip(attempts, (60, 70, 90), at, strict=True)
            ]
        )
    )
    got = tables(db)
    assert got == expected_tables(stored(db))
    assert got["decision_tally"][(trainee.unit_id, trainee.id, "artifact-fp", week_of(at[0]))]["n"] >= 2


def test_rebuild_gives_the_same_table_as_the_trigger(populated: Session):
    """The backfill statement (also the benchmark's rebuild after a COPY) agrees with the triggers."""
    db = populated
    kept = tables(db)
    migration().rebuild_tallies(db.connection())
    assert tables(db) == kept == expected_tables(stored(db))


def test_the_app_models_read_the_tables(populated: Session):
    tallied = populated.execute(text("SELECT count(*) FROM decision WHERE unit_id IS NOT NULL")).scalar_one()
    for model in (DecisionTally, TraineeWeekTally):
        rows = populated.exec(select(model)).all()
        assert sum(r.n for r in rows) == tallied
        assert all(r.week_start.weekday() == 0 for r in rows)


# --- the dashboard reads the table (whole weeks) plus the decisions of partial weeks ----------


def windows() -> Iterator[tuple[datetime | None, datetime | None]]:
    """Windows starting and ending on Mondays, mid-week, a microsecond either side of a week
    boundary, open on either side, shorter than a week, and empty."""
    points: list[datetime | None] = [
        None,
        MONDAY + timedelta(days=7),  # a Monday
        MONDAY + timedelta(days=9, hours=13, minutes=7),  # a Wednesday
        MONDAY + timedelta(days=14, microseconds=-1),  # the last instant of a week
        MONDAY + timedelta(days=14, microseconds=1),
        MONDAY + timedelta(days=16),
        MONDAY + timedelta(days=28, hours=-1),  # Sunday night
        MONDAY + timedelta(days=28),
        MONDAY + timedelta(days=31, hours=5),
    ]
    for since in points:
        for until in points:
            if since is None or until is None or since <= until:
                yield since, until
    yield MONDAY.replace(tzinfo=None) + timedelta(days=10), None  # naive: taken as UTC
    yield (
        (MONDAY + timedelta(days=9)).astimezone(ZoneInfo("Pacific/Auckland")),
        None,
    )  # a Monday there, not in UTC


def _in(d: Row, since: datetime | None, until: datetime | None) -> bool:
    lo = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
    return (lo is None or d.created_at >= lo) and (until is None or d.created_at < until)


def _counts(t: dict[str, Any]) -> tuple[int, ...]:
    return (
        t["n"],
        t["correct"],
        t["hits"],
        t["deteriorated"] - t["hits"],
        t["false_alarms"],
        t["brier_units"],
        t["with_independent"],
        t["automation_bias"],
        t["no_alert_deteriorations"],
        t["no_alert_misses"],
        t["confidence_sum"],
    )


def _dash(c: dash.Counts) -> tuple[int, ...]:
    return (
        c.n,
        c.correct,
        c.hits,
        c.misses,
        c.false_alarms,
        round(c.brier_sum * 10_000),
        c.with_independent,
        c.automation_bias,
        c.no_alert_deteriorations,
        c.no_alert_misses,
        c.confidence_sum,
    )


def test_every_window_gives_the_figures_of_its_decisions(populated: Session):
    db = populated
    unit = fx.unit(db, "Tally ward")
    mine = [d for d in stored(db) if d.unit_id == unit.id]
    checked = 0
    for since, until in windows():
        scope = dash.Scope(unit_id=unit.id or 0, since=since, until=until)
        inside = [d for d in mine if _in(d, since, until)]
        per_trainee = tally(inside, lambda d: d.trainee_id)
        summary = dash.unit_summary(db, unit, scope)
        got = {r.trainee_id: (_dash(r.counts), r.last_decision_at) for r in summary.rows if r.counts.n}
        assert got == {k: (_counts(t), t["last_at"]) for k, t in per_trainee.items()}, (since, until)
        by_cat = tally(inside, lambda d: (d.trainee_id, d.category))
        breakdown = dash.category_breakdown(db, scope)
        assert {k: _dash(c.counts) for k, c in breakdown.cells.items()} == {
            k: _counts(t) for k, t in by_cat.items()
        }, (since, until)
        weekly = tally(inside, lambda d: week_of(d.created_at))
        trend = dash.weekly_trend(db, scope)
        assert [(p.week, p.counts.n, p.counts.correct, p.counts.hits) for p in trend] == [
            (w, t["n"], t["correct"], t["hits"]) for w, t in sorted(weekly.items())
        ], (since, until)
        checked += bool(inside)
    assert checked > 40


def test_a_trainees_window_and_category(populated: Session):
    db = populated
    unit = fx.unit(db, "Tally ward")
    trainee = db.exec(select(User).where(User.username == "tally-1")).one()
    since = MONDAY + timedelta(days=9, hours=13)
    inside = [
        d for d in stored(db) if d.unit_id == unit.id and d.trainee_id == trainee.id and _in(d, since, None)
    ]
    row = dash.trainee_summary(db, dash.Scope(unit_id=unit.id or 0, since=since), trainee)
    assert _dash(row.counts) == _counts(tally(inside, lambda _d: 0)[0])
    times = sorted(
        db.execute(
            select(Decision.time_to_decide_ms).where(
                Decision.unit_id == unit.id, Decision.trainee_id == trainee.id, Decision.created_at >= since
            )
        ).scalars()
    )
    mid = len(times) // 2
    assert row.median_ms == (times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2)
    cat = "artifact-fp" if "artifact-fp" in {d.category for d in inside} else inside[0].category
    scope = dash.Scope(unit_id=unit.id or 0, since=since, trainee_id=trainee.id, category=cat)
    [point_sum] = [sum(p.counts.n for p in dash.weekly_trend(db, scope))]
    assert point_sum == sum(d.category == cat for d in inside)


# --- migration: backfill and downgrade ------------------------------------------------------


def test_upgrade_backfills_existing_decisions_and_downgrade_drops_everything(tmp_path: Path):
    fresh = new_database(tmp_path)
    engine = make_engine(fresh.url, pool_size=2)
    try:
        # Decisions made before 0006: written with today's models, then taken back to 0005.
        upgrade(fresh.url)
        with Session(engine) as session:
            unit = fx.unit(session, "Before 0006")
            fx.add(session, fx.user(session, "early", "trainee", unit), mixed_decisions(random.Random(1), 30))
            session.commit()
        downgrade(fresh.url, "0005")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM decision")).scalar() == 30
        upgrade(fresh.url)
        with engine.connect() as conn:
            got = tables(conn)
            assert got == expected_tables(stored(conn)) and got["trainee_week_tally"]
        downgrade(fresh.url, "0005")
        with engine.connect() as conn:
            if BACKEND == "postgres":
                left = conn.execute(
                    text(
                        "SELECT proname FROM pg_proc WHERE proname = 'decision_tally_add' UNION ALL "
                        "SELECT tgname FROM pg_trigger WHERE tgname = 'decision_tally_on_insert' UNION ALL "
                        "SELECT relname FROM pg_class WHERE relname IN ('decision_tally', 'trainee_week_tally')"
                    )
                )
            else:
                left = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE '%tally%'"))
            assert left.all() == []
    finally:
        engine.dispose()
        fresh.drop()
