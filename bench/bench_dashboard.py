"""Manager-dashboard benchmark: SQL aggregates vs loading every decision into Python.

Run:  .venv/bin/python bench/bench_dashboard.py [--decisions 1000000] [--trainees 1000] [--runs 5]

What it does, on PostgreSQL at 127.0.0.1:5432 (user postgres, trust; override with
BENCH_POSTGRES_URL):

1. Creates a uniquely named database, migrates it, and bulk-loads (COPY) one unit with N trainees,
   200 scenario versions over the eight categories, and D case attempts with one decision each.
   Decisions are realistic: each trainee is an SDT observer (own skill and bias, some automation
   bias), alerts fire with category-dependent rates, a third of cases have a pre-alert judgement,
   times are log-normal, dates spread over 26 weeks.
   The load bypasses triggers (session_replication_role = replica, for the foreign keys), so it then
   rebuilds the tally tables (`decision_tally`, `trainee_week_tally`) with migration 0006's own
   statements (`rebuild_tallies`, the same as its backfill and its trigger).
2. Times the dashboard's own code (`app.services.dashboard`): the per-trainee summary (the tallies
   from `trainee_week_tally` and percentile_cont over an index for the median, plus the unit row), the
   weekly trend and the per-category breakdown; the median of --runs runs each (goal: summary < 0.5 s).
3. Times the alternative the issue rules out: SELECT every decision of the unit into Python and
   compute the same per-trainee figures there, checks all agree, and prints the ratio (goal: >= 20x).
4. Times what the tally trigger adds to a decision insert: --inserts single-row INSERTs with the
   trigger and as many without it (ALTER TABLE ... DISABLE TRIGGER), interleaved in rounds, each
   row its own transaction as in the app and, separately, all in one transaction (the trigger's
   own work without the commit).
5. Drops the database.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ALERTDRILL_ENV", "test")

import psycopg  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from app import metrics  # noqa: E402
from app.core.db import make_engine  # noqa: E402
from app.core.migrate import alembic_config, upgrade  # noqa: E402
from app.models import Decision, Unit  # noqa: E402
from app.services import dashboard as dash  # noqa: E402
from simulator.vocab import CATEGORIES, CATEGORY_ACTIONS  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Share of cases whose alert fires, per category (masked and control cases stay quiet).
ALERT_RATE = {
    "chronic-baseline-fp": 0.85, "expected-course-fp": 0.8, "artifact-fp": 0.8, "true-deterioration": 0.8,
    "deterioration-abnormal-baseline": 0.6, "masked-deterioration": 0.05, "lab-only-deterioration": 0.2,
    "stable-no-alert": 0.02,
}


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _db_url(name: str) -> str:
    return re.sub(r"/[^/]*$", f"/{name}", PG_ADMIN_URL)


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


# --------------------------------------------------------------------------------------------------
# Data


def generate(n_decisions: int, n_trainees: int, n_versions: int, seed: int = 5) -> dict[str, np.ndarray]:
    """Column arrays for every decision, drawn from per-trainee SDT observers (vectorised)."""
    rng = np.random.default_rng(seed)
    cats = list(CATEGORIES)
    version_cat = np.arange(n_versions) % len(cats)
    d_prime = rng.uniform(0.3, 3.0, n_trainees)
    crit = rng.normal(0.0, 0.5, n_trainees)
    follow = rng.beta(2, 5, n_trainees)
    median_s = rng.uniform(25, 150, n_trainees)

    trainee = np.repeat(np.arange(n_trainees), int(np.ceil(n_decisions / n_trainees)))[:n_decisions]
    version = rng.integers(0, n_versions, n_decisions)
    cat = version_cat[version]
    escalate_cats = np.array([CATEGORY_ACTIONS[c] == "escalate" for c in cats])
    det = escalate_cats[cat] ^ (rng.random(n_decisions) < 0.04)  # a few outcomes differ from the label
    alert = rng.random(n_decisions) < np.array([ALERT_RATE[c] for c in cats])[cat]
    x = rng.normal(np.where(det, d_prime[trainee] / 2, -d_prime[trainee] / 2), 1.0)
    margin = x - crit[trainee]
    own = margin > 0
    sway = (own != alert) & (rng.random(n_decisions) < follow[trainee])
    final = np.where(sway, alert, own)
    conf = np.clip(np.round((50 + 50 * (2 * _phi(np.abs(margin)) - 1) + rng.normal(0, 6, n_decisions)) / 10) * 10, 50, 100)
    conf = np.where(sway, np.maximum(50, conf - 20), conf).astype(np.int64)
    has_indep = rng.random(n_decisions) < 0.33
    ms = (median_s[trainee] * np.exp(rng.normal(0, 0.45, n_decisions)) * 1000).astype(np.int64)
    created = NOW.timestamp() - rng.uniform(0, 182 * 86400, n_decisions)
    cols = {
        "trainee": trainee, "version": version, "cat": cat, "det": det, "alert": alert, "own": own,
        "final": final, "conf": conf, "has_indep": has_indep, "ms": ms, "created": created,
    }
    # Rows arrive in time order, trainees interleaved, as on a real ward (ids grow with time).
    order = np.argsort(created)
    return {k: v[order] for k, v in cols.items()}


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (vectorised through math.erf; numpy has no erf)."""
    from math import erf, sqrt

    return 0.5 * (1 + np.frompyfunc(lambda v: erf(v / sqrt(2)), 1, 1)(z).astype(float))  # type: ignore[no-any-return]


def _iso(epoch: np.ndarray) -> list[str]:
    return [t + "+00:00" for t in np.datetime_as_string((epoch * 1e6).astype("datetime64[us]"), unit="us")]


def _strs(values: np.ndarray) -> list[str]:
    return values.astype(str).tolist()  # type: ignore[no-any-return]


def tf(values: np.ndarray) -> list[str]:
    return np.where(values, "t", "f").tolist()  # type: ignore[no-any-return]


def _copy(conn: psycopg.Connection[Any], sql: str, columns: list[list[str]]) -> None:
    """COPY rows given column-wise (text format: tab-separated, \\N for NULL)."""
    body = "\n".join("\t".join(row) for row in zip(*columns, strict=True)) + "\n"
    with conn.cursor() as cur, cur.copy(sql) as copy:
        copy.write(body)


def load(url: str, cols: dict[str, np.ndarray], n_trainees: int, n_versions: int) -> int:
    """COPY the unit, users, scenario versions, attempts and decisions; returns the unit id."""
    cats = list(CATEGORIES)
    n = len(cols["trainee"])
    with psycopg.connect(_libpq(url), autocommit=False) as conn:
        # Generated rows are consistent by construction; skip per-row foreign-key triggers while loading.
        conn.execute("SET session_replication_role = replica")
        row = conn.execute("INSERT INTO unit (name, created_at) VALUES ('Bench ward', now()) RETURNING id").fetchone()
        assert row is not None
        unit_id = int(row[0])
        first_user = 1_000
        now = NOW.isoformat()
        idx = range(n_trainees)
        _copy(conn, 'COPY "user" (id, username, display_name, password_hash, role, unit_id, is_active, is_demo, '
                    "created_at) FROM STDIN",
              [[str(first_user + i) for i in idx], [f"bench-{i:05d}" for i in idx],
               [f"Bench trainee {i:05d}" for i in idx], ["!"] * n_trainees, ["trainee"] * n_trainees,
               [str(unit_id)] * n_trainees, ["t"] * n_trainees, ["t"] * n_trainees, [now] * n_trainees])
        vdx = range(n_versions)
        _copy(conn, "COPY scenario_version (id, scenario_id, version, title, category, expected_action, "
                    "content_hash, source_text, is_active, published_at) FROM STDIN",
              [[str(i + 1) for i in vdx], [f"bench-{i:03d}" for i in vdx], ["1"] * n_versions,
               [f"Bench scenario {i:03d}" for i in vdx], [cats[i % len(cats)] for i in vdx],
               [CATEGORY_ACTIONS[cats[i % len(cats)]] for i in vdx], ["0" * 64] * n_versions,
               ["bench"] * n_versions, ["t"] * n_versions, [now] * n_versions])
        # Build secondary indexes once after loading instead of row by row (much faster bulk load).
        secondary = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('decision', 'case_attempt') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for index, _ddl in secondary:
            conn.execute(f'DROP INDEX "{index}"')
        step = 250_000
        for lo in range(0, n, step):
            c = {k: v[lo : lo + step] for k, v in cols.items()}
            m = len(c["trainee"])
            ids = _strs(np.arange(lo + 1, lo + m + 1))
            trainee_ids = _strs(c["trainee"] + first_user)
            version_ids = _strs(c["version"] + 1)
            action = np.where(c["final"], "escalate", "dismiss")
            _copy(conn, "COPY case_attempt (id, trainee_id, position, scenario_version_id, seed, independent_first, "
                        "view_json, answer_json, alert_fired, deteriorated, started_at) FROM STDIN",
                  [ids, trainee_ids, ids, version_ids, ids, tf(c["has_indep"]), ["{}"] * m, ["{}"] * m,
                   tf(c["alert"]), tf(c["det"]), _iso(c["created"] - c["ms"] / 1000)])
            _copy(conn, "COPY decision (id, attempt_id, trainee_id, unit_id, scenario_version_id, category, action, "
                        "reason, confidence, independent_action, alert_fired, deteriorated, correct, "
                        "time_to_decide_ms, created_at) FROM STDIN",
                  [ids, ids, trainee_ids, [str(unit_id)] * m, version_ids, [cats[k] for k in c["cat"]],
                   action.tolist(), np.where(c["final"], "notify-provider", "baseline").tolist(),
                   _strs(c["conf"]),
                   np.where(c["has_indep"], np.where(c["own"], "escalate", "dismiss"), "\\N").tolist(),
                   tf(c["alert"]), tf(c["det"]), tf(c["final"] == c["det"]), _strs(c["ms"]), _iso(c["created"])])
        for _index, ddl in secondary:
            conn.execute(ddl)
        for table in ("user", "scenario_version", "case_attempt", "decision"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))")
        conn.commit()
    return unit_id


def rebuild_tallies(url: str) -> float:
    """Refill decision_tally after the trigger-less load, with the migration's backfill statement
    (one definition of a tally: migration 0006's tally_sql); returns the seconds it took."""
    revision = ScriptDirectory.from_config(alembic_config(url)).get_revision("0006")
    assert revision is not None
    engine = make_engine(url, pool_size=1)
    t = time.perf_counter()
    with engine.begin() as conn:
        revision.module.rebuild_tallies(conn)
    took = time.perf_counter() - t
    engine.dispose()
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return took


# --------------------------------------------------------------------------------------------------
# The two ways of computing the dashboard


Figures = tuple[int, int, int, int, int, float, int, int, int, int, float, float]


def _tally(rows: Iterable[tuple[int, str, bool, bool, bool, int, str | None, int]]) -> dict[int, Figures]:
    """The dashboard's per-trainee figures, computed in Python from individual decisions."""
    acc: dict[int, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, []])
    for trainee_id, action, det, alert, correct, conf, indep, ms in rows:
        a = acc[trainee_id]
        esc = action == "escalate"
        a[0] += 1
        a[1] += correct
        a[2 if det else 3] += esc
        a[4] += det and not esc
        p = conf / 100 if esc else 1 - conf / 100
        a[5] += (p - det) ** 2
        if indep is not None:
            a[6] += 1
            a[7] += ((indep == "escalate") == det) and not correct and esc == alert
        if det and not alert:
            a[8] += 1
            a[9] += not esc
        a[10].append(ms)
    out = {}
    for tid, a in acc.items():
        hits, fas, misses = a[2], a[3], a[4]
        s = metrics.sdt(hits, misses, fas, a[0] - hits - fas - misses)
        out[tid] = (a[0], a[1], hits, misses, fas, a[5], a[6], a[7], a[8], a[9], s.d_prime, statistics.median(a[10]))
    return out


def python_lean(session: Session, unit_id: int, since: datetime | None = None) -> dict[int, Figures]:
    """Best case for Python: only the eight columns needed, as plain tuples, then a dict loop."""
    rows = session.execute(
        text(
            "SELECT trainee_id, action, deteriorated, alert_fired, correct, confidence, independent_action, "
            "time_to_decide_ms FROM decision WHERE unit_id = :u AND created_at >= :since"
        ),
        {"u": unit_id, "since": since or datetime(1970, 1, 1, tzinfo=UTC)},
    ).all()
    return _tally(rows)


def python_orm(session: Session, unit_id: int) -> dict[int, Figures]:
    """What the app's models invite: load the Decision objects, then the same loop."""
    decisions = session.exec(select(Decision).where(Decision.unit_id == unit_id)).all()
    out = _tally(
        (d.trainee_id, d.action, d.deteriorated, d.alert_fired, d.correct, d.confidence, d.independent_action,
         d.time_to_decide_ms)
        for d in decisions
    )
    session.expunge_all()
    return out


def in_sql(session: Session, unit: Unit) -> dash.UnitSummary:
    return dash.unit_summary(session, unit, dash.Scope(unit_id=unit.id or 0))


class Timer:
    """Collects run times per label; runs of different labels are interleaved by the caller so that
    they share the machine's (possibly changing) load."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)

    def run(self, label: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        result = fn()
        self.times[label].append(time.perf_counter() - t)
        return result

    def median(self, label: str) -> float:
        return statistics.median(self.times[label])


def _check(summary: dash.UnitSummary, ref: dict[int, Figures]) -> None:
    """Both ways must give the same figures."""
    for row in summary.rows:
        c = row.counts
        if c.n == 0 and row.trainee_id not in ref:
            continue
        want = ref[row.trainee_id]
        got = (c.n, c.correct, c.hits, c.misses, c.false_alarms, c.brier_sum, c.with_independent,
               c.automation_bias, c.no_alert_deteriorations, c.no_alert_misses, c.sdt.d_prime, row.median_ms)
        assert got[:5] == want[:5] and got[6:10] == want[6:10], (row.trainee_id, got, want)
        assert abs(got[5] - want[5]) < 1e-6 and abs(got[10] - want[10]) < 1e-9 and got[11] == want[11]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--trainees", type=int, default=1_000)
    ap.add_argument("--versions", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5, help="SQL runs (and lean-Python runs)")
    ap.add_argument("--orm-runs", type=int, default=1, help="ORM-loading runs (slow); 0 to skip")
    ap.add_argument("--inserts", type=int, default=10_000,
                    help="single-row INSERTs with the tally trigger, and as many without (per mode); 0 to skip")
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed) for EXPLAIN")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before timing, wait up to this long for the 1-minute load average to drop below 1")
    args = ap.parse_args()

    name = f"alertdrill_bench_dash_{os.getpid()}_{secrets.token_hex(4)}"
    url = _db_url(name)
    _admin(f'CREATE DATABASE "{name}"')
    try:
        upgrade(url)
        t = time.perf_counter()
        cols = generate(args.decisions, args.trainees, args.versions)
        t_gen = time.perf_counter() - t
        unit_id = load(url, cols, args.trainees, args.versions)
        t_rebuild = rebuild_tallies(url)
        with psycopg.connect(_libpq(url)) as conn:
            sizes = conn.execute(
                "SELECT (SELECT count(*) FROM decision_tally), (SELECT count(*) FROM trainee_week_tally)"
            ).fetchone()
        assert sizes is not None
        print(f"PostgreSQL {_server_version(url)}; generated in {t_gen:.1f} s, loaded {args.decisions:,} decisions "
              f"for {args.trainees:,} trainees in {time.perf_counter() - t:.1f} s, of which rebuilding the tallies "
              f"({sizes[0]:,} decision_tally and {sizes[1]:,} trainee_week_tally rows) took {t_rebuild:.1f} s")
        waited = _wait_idle(args.wait_idle)
        load_before = os.getloadavg()[0]
        engine = make_engine(url, pool_size=2)
        timer = Timer()
        with Session(engine) as session:
            unit = session.exec(select(Unit).where(Unit.id == unit_id)).one()
            scope = dash.Scope(unit_id=unit_id)
            last_28 = dash.scope_for_days(unit_id, 28, now=NOW)
            in_sql(session, unit)  # warm caches once, as a running server would have them
            python_lean(session, unit_id)
            summary = None
            lean: dict[int, Figures] = {}
            for i in range(args.runs):
                summary = timer.run("summary", lambda: in_sql(session, unit))
                timer.run("tallies", lambda: session.execute(dash._tally_query(session, scope, ["trainee_id"])).all())
                timer.run("medians", lambda: dash._medians(session, scope, ["trainee_id"]))
                # "Last 4 weeks" starts mid-week: whole weeks from the tallies plus the first days' decisions.
                recent = timer.run("summary_28d", lambda: dash.unit_summary(session, unit, last_28))
                timer.run("trend", lambda: dash.weekly_trend(session, scope))
                timer.run("categories", lambda: dash.category_breakdown(session, scope))
                lean = timer.run("python_lean", lambda: python_lean(session, unit_id))
                if i < args.orm_runs:
                    _check(summary, timer.run("python_orm", lambda: python_orm(session, unit_id)))
            session.rollback()
        assert summary is not None
        with Session(engine) as session:
            _check(recent, python_lean(session, unit_id, since=last_28.since))
        engine.dispose()
        _check(summary, lean)

        t_sum = timer.median("summary")
        page = t_sum + timer.median("trend")
        rows = [
            ("dashboard summary: per-trainee GROUP BY + median", t_sum, "goal < 500 ms"),
            ("weekly trend", timer.median("trend"), ""),
            ("summary, last 4 weeks (tallies + 4.5 days of rows)", timer.median("summary_28d"), ""),
            ("dashboard page total (summary + trend)", page, ""),
            ("category breakdown (its own page)", timer.median("categories"), ""),
            ("Python, lean: 8 columns as tuples + dict loop", timer.median("python_lean"), ""),
        ]
        if args.orm_runs:
            rows.append(("Python, ORM: Decision objects + same loop", timer.median("python_orm"), ""))
        for label, secs, note in rows:
            print(f"{label:50s} {secs * 1000:9.0f} ms  {note}")
        print(f"{'ratio lean Python / SQL summary':50s} {timer.median('python_lean') / t_sum:9.1f} x  goal >= 20x")
        if args.orm_runs:
            print(f"{'ratio ORM Python / SQL summary':50s} {timer.median('python_orm') / t_sum:9.1f} x  goal >= 20x")
        print(f"{'  of the summary: tallies (trainee_week_tally)':50s} {timer.median('tallies') * 1000:9.0f} ms")
        print(f"{'  of the summary: medians (percentile_cont, index)':50s} {timer.median('medians') * 1000:9.0f} ms")
        print(f"(medians of {args.runs} interleaved runs, {args.orm_runs} ORM run(s); all figures cross-checked for "
              f"{len(summary.rows)} trainees; 1-min load average {load_before:.1f} before timing "
              f"(after waiting {waited:.0f} s), {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs)")
        if args.inserts:
            load_before = os.getloadavg()[0]
            cost = insert_cost(url, unit_id, args.trainees, args.versions, args.inserts)
            for mode, what in (("commit", "each its own transaction"), ("tx", "all in one transaction")):
                with_t, without = cost[f"{mode}_with"] * 1e6, cost[f"{mode}_without"] * 1e6
                print(f"single-row decision INSERT, {what}: {with_t:6.0f} us with the tally trigger, "
                      f"{without:6.0f} us without: {with_t / without:.2f} x ({with_t - without:+.0f} us)")
            print(f"({args.inserts:,} inserts each way and mode, interleaved in 10 rounds; 1-min load average "
                  f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    finally:
        if args.keep:
            print(f"kept database {name}: drop it with DROP DATABASE \"{name}\"")
        else:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


INSERT_SQL = (
    "INSERT INTO decision (attempt_id, trainee_id, unit_id, scenario_version_id, category, action, reason, "
    "confidence, independent_action, alert_fired, deteriorated, correct, time_to_decide_ms, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, 'baseline', %s, NULL, %s, %s, %s, %s, %s)"
)


def insert_cost(url: str, unit_id: int, n_trainees: int, n_versions: int, n: int, rounds: int = 10) -> dict[str, float]:
    """Mean seconds per single-row decision INSERT with and without the tally trigger, interleaved in
    `rounds` rounds of n/rounds rows each; per-row commits ("commit") and one transaction ("tx")."""
    cats = list(CATEGORIES)
    rng = np.random.default_rng(11)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM case_attempt").fetchone()
        assert first is not None
        start = int(first[0])
        total = 4 * n  # two modes x with/without
        conn.execute(
            "INSERT INTO case_attempt (id, trainee_id, position, scenario_version_id, seed, independent_first, "
            "view_json, answer_json, alert_fired, deteriorated, started_at) SELECT i, 1000 + (i %% %s), i, "
            "1 + (i %% %s), i, false, '{}', '{}', true, false, now() FROM generate_series(%s::int, %s::int) AS i",
            (n_trainees, n_versions, start, start + total - 1),
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('case_attempt', 'id'), (SELECT max(id) FROM case_attempt))")
        conn.execute("ANALYZE case_attempt")
    attempts = iter(range(start, start + total))
    per_round = max(1, n // rounds)
    times: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for _ in range(rounds):
            for mode in ("commit", "tx"):
                for trigger in (True, False):
                    conn.execute(f"ALTER TABLE decision {'ENABLE' if trigger else 'DISABLE'} TRIGGER "
                                 "decision_tally_on_insert")
                    rows = []
                    for _i in range(per_round):
                        a = next(attempts)
                        version = int(rng.integers(0, n_versions))
                        det, alert, esc = (bool(x) for x in rng.random(3) < 0.5)
                        rows.append((a, 1000 + a % n_trainees, unit_id, version + 1, cats[version % len(cats)],
                                     "escalate" if esc else "dismiss", int(rng.integers(5, 11)) * 10, alert, det,
                                     esc == det, int(rng.integers(5_000, 200_000)),
                                     NOW + np.timedelta64(int(rng.integers(0, 7 * 86400)), "s").item()))
                    t = time.perf_counter()
                    if mode == "commit":
                        for row in rows:
                            conn.execute(INSERT_SQL, row)
                    else:
                        with conn.transaction():
                            for row in rows:
                                conn.execute(INSERT_SQL, row)
                    key = f"{mode}_{'with' if trigger else 'without'}"
                    times[key] += time.perf_counter() - t
                    counts[key] += len(rows)
        conn.execute("ALTER TABLE decision ENABLE TRIGGER decision_tally_on_insert")
    return {k: times[k] / counts[k] for k in times}


def _wait_idle(limit_s: float) -> float:
    """Other work on the machine (test suites, builds) inflates every timing; wait for a quiet spell."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s and os.getloadavg()[0] >= 1.0:
        time.sleep(5)
    return time.monotonic() - start


def _server_version(url: str) -> str:
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


if __name__ == "__main__":
    main()
