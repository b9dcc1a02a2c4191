"""Unit-manager dashboard: per-trainee decision-quality aggregates computed in the database.

Why a rollup: a unit accumulates hundreds of thousands of decisions, so the tallies are not counted
from `decision` on each request but read from `trainee_week_tally` (one row per unit, trainee and
UTC week) or, for the category breakdown, `decision_tally` (per category too): app/models/tallies.py.
The database itself keeps both up to date with a trigger on every decision insert (migration 0006). Each figure is a GROUP BY over those rows; a time window that
does not start or end on a Monday adds the decisions of its partial weeks, counted from `decision`
with the same definitions, so every window stays exact. The median time to decide still comes from
the decisions (from an index, alone). Only small count rows reach Python, where `app.metrics` turns
them into d′ and c (per trainee, never pooled). `bench/bench_dashboard.py` measures this at
1,000,000 decisions against loading the rows into Python.

Definitions (docs/metrics.md): signal = the patient deteriorated; escalate = yes. The AI's advice is
its alert (an alert advises escalation, silence advises leaving the patient be).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Select, Table, and_, case, cast, func, literal_column, or_, select, union_all
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session
from sqlmodel import select as sm_select

from app import metrics
from app.models import Decision, DecisionTally, ScenarioVersion, TraineeWeekTally, Unit, User
from simulator.vocab import CATEGORIES, CATEGORY_ACTIONS

DECISION: Table = Decision.__table__  # type: ignore[attr-defined]
_d = DECISION.c
# Tallies per unit, trainee, week and category; and per unit, trainee and week (all categories).
TALLY: Table = DecisionTally.__table__  # type: ignore[attr-defined]
TRAINEE_WEEK: Table = TraineeWeekTally.__table__  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------------
# Scope: which decisions an aggregate covers
# --------------------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _monday(value: datetime, *, after: bool) -> datetime:
    """Monday 00:00 UTC on or before `value` (or on or after it)."""
    value = _utc(value)
    start = datetime.combine(value.date() - timedelta(days=value.weekday()), time(), UTC)
    return start + timedelta(days=7) if after and start < value else start


@dataclass(frozen=True)
class Scope:
    """Decisions of one unit, optionally one trainee and a half-open time window [since, until)."""

    unit_id: int
    since: datetime | None = None
    until: datetime | None = None
    trainee_id: int | None = None
    category: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        """The scope over `decision`."""
        clauses: list[ColumnElement[bool]] = [_d.unit_id == self.unit_id]
        if self.trainee_id is not None:
            clauses.append(_d.trainee_id == self.trainee_id)
        if self.since is not None:
            clauses.append(_d.created_at >= _utc(self.since))
        if self.until is not None:
            clauses.append(_d.created_at < _utc(self.until))
        if self.category is not None:
            clauses.append(_d.category == self.category)
        return clauses

    def split(self, tally: Table) -> tuple[list[ColumnElement[bool]] | None, list[ColumnElement[bool]] | None]:
        """The scope as (whole weeks over the `tally` table, the rest over `decision`); None = no rows.

        The window's whole UTC weeks (Monday to Monday) are read from the tallies; a window that
        starts or ends mid-week adds the decisions of those partial weeks. A window shorter than its
        weeks (no whole week inside it) reads decisions only.
        """
        since = _utc(self.since) if self.since is not None else None
        until = _utc(self.until) if self.until is not None else None
        lo = _monday(since, after=True) if since is not None else None
        hi = _monday(until, after=False) if until is not None else None
        if lo is not None and hi is not None and lo >= hi:
            return None, self.where()
        _t = tally.c
        weeks: list[ColumnElement[bool]] = [_t.unit_id == self.unit_id]
        if self.trainee_id is not None:
            weeks.append(_t.trainee_id == self.trainee_id)
        if self.category is not None:
            weeks.append(_t.category == self.category)
        edges: list[ColumnElement[bool]] = []
        if lo is not None:
            weeks.append(_t.week_start >= lo.date())
            if lo != since:
                edges.append(_d.created_at < lo)
        if hi is not None:
            weeks.append(_t.week_start < hi.date())
            if hi != until:
                edges.append(_d.created_at >= hi)
        if not edges:
            return weeks, None
        return weeks, [*self.where(), or_(*edges)]


def scope_for_days(unit_id: int, days: int | None, *, now: datetime | None = None) -> Scope:
    """The last `days` days (None = all time), for the dashboard's period filter."""
    if days is None:
        return Scope(unit_id=unit_id)
    return Scope(unit_id=unit_id, since=(now or datetime.now(UTC)) - timedelta(days=days))


# --------------------------------------------------------------------------------------------------
# Counts: the columns every aggregate selects
# --------------------------------------------------------------------------------------------------


def _n(cond: ColumnElement[bool]) -> ColumnElement[int]:
    # COUNT(*) FILTER (WHERE ...): PostgreSQL, and SQLite since 3.30.
    return func.count().filter(cond)


def _count_columns(*, core_only: bool = False) -> list[ColumnElement[Any]]:
    """The tallies every GROUP BY selects: as few, and as cheap per row, as the metrics allow.

    `core_only` keeps just what accuracy, sensitivity and specificity need (the weekly trend).

    Misses and correct rejections follow from the others (misses = deteriorated − hits, CR = n −
    deteriorated − false alarms). `correct` is the stored flag, (action == escalate) == deteriorated.
    Brier: with p = conf/100 for escalate and 1 − conf/100 for dismiss (metrics.p_deteriorating) and o
    the truth, (p − o)² is ((100 − conf)/100)² when the decision was right and (conf/100)² when it was
    wrong, so the database sums integers and Python divides by 10,000. Automation bias: with a
    pre-alert answer that differs from a wrong final one, the pre-alert answer was right; the final
    one followed the AI when it escalated exactly when the alert fired.
    """
    escalated = _d.action == "escalate"
    det = _d.deteriorated == True  # noqa: E712 - SQL boolean, not Python truthiness
    stable = _d.deteriorated == False  # noqa: E712
    no_alert = _d.alert_fired == False  # noqa: E712
    right = _d.correct == True  # noqa: E712
    wrong = _d.correct == False  # noqa: E712
    core: list[ColumnElement[Any]] = [
        func.count().label("n"),
        _n(right).label("correct"),
        _n(and_(det, escalated)).label("hits"),
        _n(det).label("deteriorated"),
        _n(and_(stable, escalated)).label("false_alarms"),
    ]
    if core_only:
        return core
    # Keep in step with migration 0006's tally_sql, which keeps the same counts in decision_tally.
    return [
        *core,
        func.coalesce(
            func.sum(case((right, (100 - _d.confidence) * (100 - _d.confidence)), else_=_d.confidence * _d.confidence)),
            0,
        ).label("brier_units"),
        func.count(_d.independent_action).label("with_independent"),
        _n(and_(wrong, _d.independent_action != _d.action, _d.alert_fired == escalated)).label("automation_bias"),
        _n(and_(det, no_alert)).label("no_alert_deteriorations"),
        _n(and_(det, no_alert, _d.action == "dismiss")).label("no_alert_misses"),
        func.coalesce(func.sum(_d.confidence), 0).label("confidence_sum"),
        func.max(_d.created_at).label("last_at"),
    ]


_CORE = ("n", "correct", "hits", "deteriorated", "false_alarms")
_ALL = (*_CORE, "brier_units", "with_independent", "automation_bias", "no_alert_deteriorations",
        "no_alert_misses", "confidence_sum")


def _tally_columns(tally: Table, *, core_only: bool = False) -> list[ColumnElement[Any]]:
    """The same tallies as `_count_columns`, added up from rows of a tally table."""
    _t = tally.c
    if core_only:
        return [func.sum(_t[c]).label(c) for c in _CORE]
    return [*(func.sum(_t[c]).label(c) for c in _ALL), func.max(_t.last_at).label("last_at")]


def _group_keys(
    session: Session, tally: Table, group: Sequence[str]
) -> tuple[list[ColumnElement[Any]], list[ColumnElement[Any]]]:
    """The group columns over (the tally table, decision): trainee_id, category or week."""
    over_tally: dict[str, ColumnElement[Any]] = {g: tally.c[g] for g in ("trainee_id", "category") if g in tally.c}
    over_tally["week"] = tally.c.week_start.label("week")
    dec = {"trainee_id": _d.trainee_id, "category": _d.category, "week": _week_start(session)}
    return [over_tally[g] for g in group], [dec[g] for g in group]


def _tally_query(session: Session, scope: Scope, group: Sequence[str], *, core_only: bool = False) -> Select[Any]:
    """Tallies per group for the scope: the tallies of its whole weeks plus the decisions of its
    partial weeks (see Scope.split), added up in the database."""
    # Without categories, the per-trainee-week table has the same sums in 8 times fewer rows.
    tally = TALLY if "category" in group or scope.category is not None else TRAINEE_WEEK
    weeks, edges = scope.split(tally)
    tally_keys, dec_keys = _group_keys(session, tally, group)
    parts: list[Select[Any]] = []
    if weeks is not None:
        parts.append(select(*tally_keys, *_tally_columns(tally, core_only=core_only)).where(*weeks))
    if edges is not None:
        parts.append(select(*dec_keys, *_count_columns(core_only=core_only)).where(*edges))
    if len(parts) == 1:
        query = parts[0]
        return query.group_by(*(tally_keys if weeks is not None else dec_keys)) if group else query
    for i, keys in enumerate((tally_keys, dec_keys)):
        if group:
            parts[i] = parts[i].group_by(*keys)
    both = union_all(*parts).subquery()
    names = _CORE if core_only else _ALL
    columns = [func.sum(both.c[c]).label(c) for c in names]
    if not core_only:
        columns.append(func.max(both.c.last_at).label("last_at"))
    keys = [both.c[g] for g in group]
    query = select(*keys, *columns)
    return query.group_by(*keys) if keys else query


def _astuple(counts: Counts) -> tuple[Any, ...]:
    """The fields in declaration order (dataclasses.astuple also deep-copies, which is slow)."""
    return tuple(getattr(counts, f) for f in counts.__dataclass_fields__)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class Counts:
    """Tallies for one group of decisions, and the metrics derived from them."""

    n: int = 0
    correct: int = 0
    hits: int = 0
    misses: int = 0
    false_alarms: int = 0
    correct_rejections: int = 0
    brier_sum: float = 0.0
    with_independent: int = 0
    automation_bias: int = 0
    no_alert_deteriorations: int = 0
    no_alert_misses: int = 0
    confidence_sum: int = 0

    @classmethod
    def from_row(cls, row: RowMapping) -> Counts:
        n, hits, det, fas = int(row["n"]), int(row["hits"]), int(row["deteriorated"]), int(row["false_alarms"])
        if "brier_units" not in row:  # a core-only tally (see _count_columns)
            return cls(n=n, correct=int(row["correct"]), hits=hits, misses=det - hits, false_alarms=fas,
                       correct_rejections=n - det - fas)
        return cls(
            n=n,
            correct=int(row["correct"]),
            hits=hits,
            misses=det - hits,
            false_alarms=fas,
            correct_rejections=n - det - fas,
            brier_sum=int(row["brier_units"]) / 10_000,
            with_independent=int(row["with_independent"]),
            automation_bias=int(row["automation_bias"]),
            no_alert_deteriorations=int(row["no_alert_deteriorations"]),
            no_alert_misses=int(row["no_alert_misses"]),
            confidence_sum=int(row["confidence_sum"]),
        )

    def __add__(self, other: Counts) -> Counts:
        """Tallies of two disjoint groups (the unit row is the sum of the trainee rows)."""
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__})

    @classmethod
    def total(cls, groups: Iterable[Counts]) -> Counts:
        """Tallies of many disjoint groups, added up field by field."""
        fields = [_astuple(c) for c in groups]
        if not fields:
            return cls()
        return cls(*(sum(column) for column in zip(*fields, strict=True)))

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.correct, self.n)

    @property
    def sdt(self) -> metrics.SDT:
        return metrics.sdt(self.hits, self.misses, self.false_alarms, self.correct_rejections)

    @property
    def sensitivity(self) -> float | None:
        return _ratio(self.hits, self.hits + self.misses)

    @property
    def specificity(self) -> float | None:
        return _ratio(self.correct_rejections, self.false_alarms + self.correct_rejections)

    @property
    def has_both_classes(self) -> bool:
        return self.hits + self.misses > 0 and self.false_alarms + self.correct_rejections > 0

    @property
    def d_prime(self) -> float | None:
        """Log-linear corrected d′; None unless there was at least one case of each kind, since the
        correction alone (rate 0.5 for an empty class) would otherwise pass for a measurement."""
        return self.sdt.d_prime if self.has_both_classes else None

    @property
    def criterion(self) -> float | None:
        return self.sdt.criterion if self.has_both_classes else None

    @property
    def brier(self) -> float | None:
        return _ratio(self.brier_sum, self.n)

    @property
    def automation_bias_rate(self) -> float | None:
        return _ratio(self.automation_bias, self.with_independent)

    @property
    def no_alert_miss_rate(self) -> float | None:
        return _ratio(self.no_alert_misses, self.no_alert_deteriorations)

    @property
    def mean_confidence(self) -> float | None:
        return _ratio(self.confidence_sum, self.n)


# --------------------------------------------------------------------------------------------------
# Median time to decide (still in the database)
# --------------------------------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _medians(session: Session, scope: Scope, group: list[str]) -> dict[tuple[Any, ...], float]:
    """Median time to decide per group, in the database.

    A query of its own so the tallies above stay a (parallel) hash aggregate: an ordered-set
    aggregate would force PostgreSQL to sort every row. PostgreSQL: percentile_cont. SQLite has no
    percentile_cont, so window functions pick the middle row (or the mean of the two middle rows)
    of each partition ordered by time.
    """
    keys = [_d[g] for g in group]
    if _is_postgres(session):
        median = func.percentile_cont(0.5).within_group(_d.time_to_decide_ms)
        query = select(*keys, median).where(*scope.where())
        if keys:
            query = query.group_by(*keys)
    else:
        ranked = (
            select(
                *keys,
                _d.time_to_decide_ms.label("t"),
                func.row_number().over(partition_by=keys, order_by=_d.time_to_decide_ms).label("rn"),
                func.count().over(partition_by=keys).label("cnt"),
            )
            .where(*scope.where())
            .subquery()
        )
        rk = [ranked.c[g] for g in group]
        query = select(*rk, func.avg(ranked.c.t)).where(
            or_(ranked.c.rn == (ranked.c.cnt + 1) // 2, ranked.c.rn == (ranked.c.cnt + 2) // 2)
        )
        if rk:
            query = query.group_by(*rk)
    return {tuple(r[: len(group)]): float(r[-1]) for r in session.execute(query) if r[-1] is not None}


def _grouped(
    session: Session, scope: Scope, group: list[str], *, with_median: bool
) -> list[tuple[tuple[Any, ...], Counts, float | None, RowMapping]]:
    """Tallies per group for `scope`; returns (group key, counts, median ms, raw row)."""
    rows = [r for r in session.execute(_tally_query(session, scope, group)).mappings() if r["n"]]
    medians = _medians(session, scope, group) if with_median and rows else {}
    out = []
    for row in rows:
        key = tuple(row[g] for g in group)
        out.append((key, Counts.from_row(row), medians.get(key), row))
    return out


# --------------------------------------------------------------------------------------------------
# Per-trainee summary (the unit table)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraineeRow:
    trainee_id: int
    name: str
    username: str
    counts: Counts
    median_ms: float | None = None
    last_decision_at: datetime | None = None
    flagged: bool = False


@dataclass(frozen=True)
class UnitSummary:
    unit: Unit
    scope: Scope
    rows: list[TraineeRow]
    totals: Counts  # the trainees' tallies added up
    median_ms: float | None  # median across trainees of each trainee's median time

    @property
    def mean_d_prime(self) -> float | None:
        """Mean of per-trainee d′ (pooling the counts would hide who discriminates and who does not)."""
        values = [r.counts.d_prime for r in self.rows if r.counts.d_prime is not None]
        return sum(values) / len(values) if values else None

    @property
    def mean_criterion(self) -> float | None:
        values = [r.counts.criterion for r in self.rows if r.counts.criterion is not None]
        return sum(values) / len(values) if values else None


def unit_trainees(session: Session, unit_id: int) -> list[User]:
    return list(
        session.execute(
            select(User).where(User.unit_id == unit_id, User.role == "trainee").order_by(User.display_name)  # type: ignore[arg-type]
        ).scalars()
    )


def trainee_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    query = select(_U.c.id, _U.c.display_name).where(_U.c.id.in_(wanted))
    return {int(i): str(n) for i, n in session.execute(query)}


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns MAX() of a datetime column as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def unit_summary(session: Session, unit: Unit, scope: Scope) -> UnitSummary:
    """Every trainee of the unit (also those without decisions yet, and former members who decided
    in this unit) with their tallies, median time and last activity."""
    grouped = _grouped(session, scope, ["trainee_id"], with_median=True)
    who = select(_U.c.id, _U.c.display_name, _U.c.username)  # names only: no User objects for 1,000 rows
    members: dict[int, tuple[str, str]] = {}
    if scope.trainee_id is None:
        trainees = who.where(_U.c.unit_id == scope.unit_id, _U.c.role == "trainee")
        members = {int(i): (name, login) for i, name, login in session.execute(trainees)}
    decided = {key[0]: (counts, median, row) for key, counts, median, row in grouped}
    missing = [tid for tid in decided if tid not in members]
    if missing:
        members.update((int(i), (name, login)) for i, name, login in session.execute(who.where(_U.c.id.in_(missing))))
    rows = []
    for tid, (name, login) in members.items():
        counts, median, raw = decided.get(tid, (Counts(), None, None))
        rows.append(
            TraineeRow(
                trainee_id=tid,
                name=name,
                username=login,
                counts=counts,
                median_ms=median,
                last_decision_at=_aware(raw["last_at"]) if raw is not None else None,
            )
        )
    rows.sort(key=lambda r: (r.name.lower(), r.trainee_id))
    totals = Counts.total(r.counts for r in rows)
    medians = [r.median_ms for r in rows if r.median_ms is not None]
    return UnitSummary(
        unit=unit, scope=scope, rows=rows, totals=totals, median_ms=statistics.median(medians) if medians else None
    )


def trainee_summary(session: Session, scope: Scope, trainee: User) -> TraineeRow:
    """The same figures as one row of the unit table, for the drill-down page."""
    scoped = replace(scope, trainee_id=trainee.id)
    grouped = _grouped(session, scoped, ["trainee_id"], with_median=True)
    counts, median, last = Counts(), None, None
    if grouped:
        _key, counts, median, raw = grouped[0]
        last = _aware(raw["last_at"])
    return TraineeRow(trainee.id or 0, trainee.display_name, trainee.username, counts, median, last)


# --------------------------------------------------------------------------------------------------
# Sorting and the threshold highlight
# --------------------------------------------------------------------------------------------------

Kind = Literal["text", "count", "pct", "num", "seconds"]


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: str
    kind: Kind
    get: Callable[[TraineeRow], float | str | None]
    higher_is_better: bool | None = True  # None: neither direction is "worse" (criterion c, name)
    help: str = ""


METRICS: dict[str, MetricDef] = {
    m.key: m
    for m in (
        MetricDef("name", "Trainee", "text", lambda r: r.name.lower(), None),
        MetricDef("cases", "Cases", "count", lambda r: r.counts.n, True, "decisions made"),
        MetricDef("accuracy", "Accuracy", "pct", lambda r: r.counts.accuracy, True, "share of correct decisions"),
        MetricDef(
            "sensitivity", "Sensitivity", "pct", lambda r: r.counts.sensitivity, True,
            "escalated when the patient deteriorated",
        ),
        MetricDef(
            "specificity", "Specificity", "pct", lambda r: r.counts.specificity, True,
            "dismissed when the patient did not deteriorate",
        ),
        MetricDef("d_prime", "d′", "num", lambda r: r.counts.d_prime, True, "discrimination (0 chance, 2 good)"),
        MetricDef(
            "criterion", "c", "num", lambda r: r.counts.criterion, None,
            "bias: negative escalates readily, positive dismisses readily",
        ),
        MetricDef(
            "automation_bias", "Automation bias", "pct", lambda r: r.counts.automation_bias_rate, False,
            "own judgement right, then switched to the alert's wrong advice",
        ),
        MetricDef(
            "no_alert_misses", "Missed, no alert", "pct", lambda r: r.counts.no_alert_miss_rate, False,
            "deteriorations dismissed when no alert fired",
        ),
        MetricDef(
            "median_time", "Median time", "seconds",
            lambda r: r.median_ms / 1000 if r.median_ms is not None else None, False, "time to decide",
        ),
        MetricDef("brier", "Brier", "num", lambda r: r.counts.brier, False, "calibration of confidence (0 best)"),
    )
}
THRESHOLD_METRICS = tuple(k for k, m in METRICS.items() if m.higher_is_better is not None)

DEFAULT_THRESHOLDS: dict[str, str] = {
    # As typed in the threshold field (percentages in %, times in seconds); see docs/metrics.md §5
    # for where each comes from. d′ 1.0 ("fair") and Brier 0.25 (always answering 50 %) are from the
    # clinical reference §7.1 and §7.3; the others are local defaults an educator can change.
    "cases": "20",
    "accuracy": "70",
    "sensitivity": "70",
    "specificity": "70",
    "d_prime": "1.0",
    "automation_bias": "20",
    "no_alert_misses": "30",
    "median_time": "120",
    "brier": "0.25",
}
"""The threshold each Highlight metric starts with when the manager has not typed one."""

THRESHOLD_UNITS: dict[Kind, str] = {"pct": "%", "seconds": "s", "count": "cases", "num": "", "text": ""}


def default_threshold(metric_key: str) -> str:
    return DEFAULT_THRESHOLDS.get(metric_key, "")


def threshold_unit(metric_key: str) -> str:
    """The unit the threshold is typed in: "%", "s", "cases" or "" (d′, Brier: plain numbers)."""
    metric = METRICS.get(metric_key)
    return THRESHOLD_UNITS.get(metric.kind, "") if metric else ""


def worse_side(metric_key: str) -> str:
    """ "below" or "above": the side of the threshold that is worse for this metric."""
    metric = METRICS.get(metric_key)
    return "above" if metric is not None and metric.higher_is_better is False else "below"
DEFAULT_SORT = "name"


def sort_rows(rows: Iterable[TraineeRow], key: str, descending: bool) -> list[TraineeRow]:
    """Sort by a metric; trainees without a value go last whichever the direction."""
    metric = METRICS.get(key, METRICS[DEFAULT_SORT])
    items = list(rows)
    with_value = [r for r in items if metric.get(r) is not None]
    without = [r for r in items if metric.get(r) is None]
    with_value.sort(key=lambda r: (metric.get(r), r.name.lower()), reverse=descending)
    return with_value + without


def threshold_value(metric_key: str, raw: str | None) -> float | None:
    """Parse the threshold as typed: percentages in %, times in seconds, others as they read."""
    metric = METRICS.get(metric_key)
    if metric is None or metric.higher_is_better is None or raw is None or not raw.strip():
        return None
    try:
        value = float(raw.strip().rstrip("%"))
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value / 100 if metric.kind == "pct" else value


def is_worse(metric_key: str, value: float | str | None, threshold: float | None) -> bool:
    """True when `value` is on the wrong side of `threshold` (below it, or above it for metrics where
    lower is better such as automation bias or the Brier score)."""
    metric = METRICS.get(metric_key)
    if metric is None or threshold is None or value is None or isinstance(value, str):
        return False
    if metric.higher_is_better:
        return value < threshold
    return value > threshold


def flag_rows(rows: Iterable[TraineeRow], metric_key: str, threshold: float | None) -> list[TraineeRow]:
    metric = METRICS.get(metric_key)
    if metric is None:
        return list(rows)
    return [replace(r, flagged=is_worse(metric_key, metric.get(r), threshold)) for r in rows]


# --------------------------------------------------------------------------------------------------
# Breakdown by scenario category
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCell:
    trainee_id: int | None  # None for the unit-wide row
    category: str
    counts: Counts

    @property
    def label(self) -> str:
        return CATEGORIES.get(self.category, self.category)

    @property
    def expected_action(self) -> str | None:
        return CATEGORY_ACTIONS.get(self.category)


@dataclass(frozen=True)
class TraineeRef:
    trainee_id: int
    name: str


@dataclass(frozen=True)
class CategoryBreakdown:
    categories: list[str]
    cells: dict[tuple[int, str], CategoryCell]
    unit_totals: dict[str, CategoryCell]

    def cell(self, trainee_id: int, category: str) -> CategoryCell | None:
        return self.cells.get((trainee_id, category))

    def trainees(self, session: Session) -> list[TraineeRef]:
        """The trainees with decisions in the breakdown, by name."""
        names = trainee_names(session, (tid for tid, _cat in self.cells))
        return sorted((TraineeRef(tid, name) for tid, name in names.items()), key=lambda t: (t.name.lower(), t.trainee_id))


def _category_order(found: Iterable[str]) -> list[str]:
    order = {slug: i for i, slug in enumerate(CATEGORIES)}
    return sorted(set(found), key=lambda c: (order.get(c, len(order)), c))


def category_breakdown(session: Session, scope: Scope) -> CategoryBreakdown:
    """GROUP BY trainee, category; the unit row of each category adds up its trainees' cells."""
    per = _grouped(session, scope, ["trainee_id", "category"], with_median=False)
    cells = {(k[0], k[1]): CategoryCell(k[0], k[1], c) for k, c, _m, _r in per}
    by_category: dict[str, list[Counts]] = {}
    for (_tid, cat), cell in cells.items():
        by_category.setdefault(cat, []).append(cell.counts)
    totals = {cat: CategoryCell(None, cat, Counts.total(counts)) for cat, counts in by_category.items()}
    return CategoryBreakdown(categories=_category_order(totals), cells=cells, unit_totals=totals)


# --------------------------------------------------------------------------------------------------
# Trend by week
# --------------------------------------------------------------------------------------------------


def _week_start(session: Session) -> ColumnElement[Any]:
    """Monday of the decision's (UTC) week, bucketed by the database itself.

    Must equal migration 0006's WEEK (the week the trigger files each decision's tally under): the
    partial weeks at the edges of a time window are bucketed here, the whole weeks there. On
    PostgreSQL it also matches the statistics object of migration 0004 (st_decision_week).
    """
    if _is_postgres(session):
        return cast(func.date_trunc("week", func.timezone("UTC", _d.created_at)), _date_type()).label("week")
    # SQLite: 'weekday 0' moves to the coming Sunday (or stays on one); 6 days back is its Monday.
    # Only the stored text's date part: SQLite's date functions round times to milliseconds, which
    # would move Sunday 23:59:59.9996 into the next week.
    return func.date(
        func.substr(_d.created_at, 1, 10), literal_column("'weekday 0'"), literal_column("'-6 days'")
    ).label("week")


def _date_type() -> Any:
    from sqlalchemy import Date

    return Date()


@dataclass(frozen=True)
class TrendPoint:
    """One week; `counts` holds the core tallies only (n, correct, hits, misses, FA, CR)."""

    week: date
    counts: Counts


def weekly_trend(session: Session, scope: Scope) -> list[TrendPoint]:
    points = []
    for row in session.execute(_tally_query(session, scope, ["week"], core_only=True)).mappings():
        raw = row["week"]
        wk = raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
        points.append(TrendPoint(week=wk, counts=Counts.from_row(row)))
    return sorted(points, key=lambda p: p.week)


@dataclass(frozen=True)
class ChartSeries:
    key: str
    label: str
    css: str
    color: str
    dash: str
    paths: list[str]
    points: list[tuple[float, float, str]]  # x, y, tooltip


@dataclass(frozen=True)
class TrendChart:
    """Coordinates for the dashboard's weekly trend SVG (drawn by a Jinja macro)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    series: list[ChartSeries]
    description: str
    rows: list[tuple[str, int, str, str, str]]  # week, cases, accuracy, sensitivity, specificity


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def trend_chart(points: Sequence[TrendPoint], *, width: int = 640, height: int = 220) -> TrendChart | None:
    """Weekly accuracy, sensitivity and specificity as line coordinates; weeks without cases break
    the line rather than being drawn as 0 %."""
    if not points:
        return None
    left, right, top, bottom = 44, 30, 14, 30
    first, last = points[0].week, points[-1].week
    n_weeks = (last - first).days // 7 + 1
    by_week = {p.week: p for p in points}
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n_weeks - 1) if n_weeks > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - v)

    # Colours keep ≥ 4.5:1 contrast on white; the dash pattern, not the colour, tells lines apart.
    specs: list[tuple[str, str, str, str, str, Callable[[Counts], float | None]]] = [
        ("accuracy", "Accuracy", "series-accuracy", "#17497f", "", lambda c: c.accuracy),
        ("sensitivity", "Sensitivity", "series-sensitivity", "#a1001c", "6 3", lambda c: c.sensitivity),
        ("specificity", "Specificity", "series-specificity", "#2f6b35", "2 3", lambda c: c.specificity),
    ]
    series = []
    for key, label, css, color, dash, get in specs:
        paths: list[str] = []
        current: list[str] = []
        pts: list[tuple[float, float, str]] = []
        for i in range(n_weeks):
            wk = first + timedelta(days=7 * i)
            p = by_week.get(wk)
            v = get(p.counts) if p else None
            if v is None:
                if current:
                    paths.append(" ".join(current))
                current = []
                continue
            x, y = round(x_of(i), 1), round(y_of(v), 1)
            current.append(f"{'M' if not current else 'L'}{x} {y}")
            pts.append((x, y, f"{label} week of {wk.isoformat()}: {_pct(v)}"))
        if current:
            paths.append(" ".join(current))
        series.append(ChartSeries(key, label, css, color, dash, paths, pts))
    step = max(1, math.ceil(n_weeks / 8))
    x_ticks = [
        (round(x_of(i), 1), (first + timedelta(days=7 * i)).strftime("%d %b")) for i in range(0, n_weeks, step)
    ]
    y_ticks = [(round(y_of(v), 1), f"{round(v * 100)}%") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    acc = [p.counts.accuracy for p in points if p.counts.accuracy is not None]
    description = (
        f"{len(points)} week(s) with decisions from {first.isoformat()} to {last.isoformat()}; "
        f"weekly accuracy ranged from {_pct(min(acc))} to {_pct(max(acc))}, "
        f"{_pct(acc[0])} in the first and {_pct(acc[-1])} in the latest week."
        if acc
        else "No decisions in this period."
    )
    rows = [
        (p.week.isoformat(), p.counts.n, _pct(p.counts.accuracy), _pct(p.counts.sensitivity), _pct(p.counts.specificity))
        for p in points
    ]
    return TrendChart(width, height, left, right, top, bottom, y_ticks, x_ticks, series, description, rows)


# --------------------------------------------------------------------------------------------------
# Individual decisions (drill-down, CSV, JSON)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    attempt_id: int
    created_at: datetime
    trainee_id: int
    trainee_name: str
    scenario_id: str
    scenario_version: int
    scenario_title: str
    category: str
    alert_fired: bool
    deteriorated: bool
    action: str
    correct: bool
    confidence: int
    independent_action: str | None
    reason: str | None
    reason_text: str | None
    time_to_decide_ms: int

    @property
    def p_deteriorating(self) -> float:
        return metrics.p_deteriorating(self.action, self.confidence)  # type: ignore[arg-type]

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.category, self.category)


_SV: Table = ScenarioVersion.__table__  # type: ignore[attr-defined]
_U: Table = User.__table__  # type: ignore[attr-defined]


def _decision_query() -> Any:
    return select(
        _d.id, _d.attempt_id, _d.created_at, _d.trainee_id, _U.c.display_name.label("trainee_name"),
        _SV.c.scenario_id, _SV.c.version.label("scenario_version"), _SV.c.title.label("scenario_title"),
        _d.category, _d.alert_fired, _d.deteriorated, _d.action, _d.correct, _d.confidence,
        _d.independent_action, _d.reason, _d.reason_text, _d.time_to_decide_ms,
    ).select_from(
        DECISION.join(_SV, _SV.c.id == _d.scenario_version_id).join(_U, _U.c.id == _d.trainee_id)
    )


def _record(row: RowMapping) -> DecisionRecord:
    values = dict(row)
    values["created_at"] = _aware(values["created_at"])
    values["alert_fired"] = bool(values["alert_fired"])
    values["deteriorated"] = bool(values["deteriorated"])
    values["correct"] = bool(values["correct"])
    return DecisionRecord(**values)


def decisions_page(
    session: Session, scope: Scope, *, after_id: int = 0, limit: int = 500
) -> tuple[list[DecisionRecord], int | None]:
    """Oldest first, keyset-paginated on id: (records, the after_id for the next page or None)."""
    query = _decision_query().where(*scope.where(), _d.id > after_id).order_by(_d.id).limit(limit + 1)
    records = [_record(r) for r in session.execute(query).mappings()]
    more = len(records) > limit
    records = records[:limit]
    return records, (records[-1].id if more and records else None)


def recent_decisions(
    session: Session, scope: Scope, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[DecisionRecord], int | None]:
    """Newest first for the drill-down list: (records, the before_id for older ones or None)."""
    query = _decision_query().where(*scope.where())
    if before_id is not None:
        query = query.where(_d.id < before_id)
    records = [_record(r) for r in session.execute(query.order_by(_d.id.desc()).limit(limit + 1)).mappings()]
    more = len(records) > limit
    records = records[:limit]
    return records, (records[-1].id if more and records else None)


def iter_decisions(session: Session, scope: Scope, *, batch: int = 2000) -> Iterable[DecisionRecord]:
    """Every decision in scope, fetched in keyset batches so an export never holds the whole table."""
    after = 0
    while True:
        records, nxt = decisions_page(session, scope, after_id=after, limit=batch)
        yield from records
        if nxt is None:
            return
        after = nxt


# --------------------------------------------------------------------------------------------------
# Who may see which unit
# --------------------------------------------------------------------------------------------------


class UnitAccessError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def resolve_unit(session: Session, user: User, requested: int | None) -> Unit:
    """Managers see only their own unit; admins may pick any unit (default: their own, else the first)."""
    if user.role == "admin":
        unit_id = requested if requested is not None else user.unit_id
        if unit_id is None:
            first = session.exec(sm_select(Unit).order_by(Unit.id)).first()  # type: ignore[arg-type]
            if first is None:
                raise UnitAccessError(404, "There are no units yet.")
            return first
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise UnitAccessError(404, "No such unit.")
        return unit
    if user.role != "manager":
        raise UnitAccessError(403, "Only unit managers can see unit dashboards.")
    if user.unit_id is None:
        raise UnitAccessError(403, "Your account is not assigned to a unit; ask an administrator.")
    if requested is not None and requested != user.unit_id:
        raise UnitAccessError(403, "You can only see your own unit.")
    unit = session.get(Unit, user.unit_id)
    if unit is None:
        raise UnitAccessError(403, "Your unit no longer exists.")
    return unit


def trainee_in_unit(session: Session, unit: Unit, trainee_id: int) -> User:
    """A trainee of the unit, or one who made decisions in it (before moving elsewhere)."""
    trainee = session.get(User, trainee_id)
    if trainee is None or trainee.role != "trainee":
        raise UnitAccessError(404, "No such trainee.")
    if trainee.unit_id == unit.id:
        return trainee
    decided_here = session.execute(
        select(_d.id).where(_d.unit_id == unit.id, _d.trainee_id == trainee_id).limit(1)
    ).first()
    if decided_here is None:
        raise UnitAccessError(403, "This trainee is not in your unit.")
    return trainee


def all_units(session: Session) -> list[Unit]:
    return list(session.exec(sm_select(Unit).order_by(Unit.name)))
