"""The unit's data as it leaves alertdrill: CSV downloads and the read-only JSON API.

One set of pydantic record models serves both, so a CSV column and a JSON field of the same name
always hold the same number (the API's OpenAPI document describes these models). CSV cells that a
spreadsheet would read as a formula (starting with = + - @, or a tab / carriage return) get a
leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from app.services.dashboard import CategoryBreakdown, CategoryCell, Counts, DecisionRecord, TraineeRow


class UnitRef(BaseModel):
    id: int
    name: str


class CountsOut(BaseModel):
    """Tallies and rates for a group of decisions; a rate is null when its denominator is 0."""

    cases: int = Field(description="Decisions made.")
    correct: int
    accuracy: float | None = Field(description="correct / cases")
    hits: int = Field(description="Escalated, and the patient deteriorated.")
    misses: int = Field(description="Dismissed, and the patient deteriorated.")
    false_alarms: int = Field(description="Escalated, and the patient did not deteriorate.")
    correct_rejections: int = Field(description="Dismissed, and the patient did not deteriorate.")
    sensitivity: float | None = Field(description="hits / (hits + misses)")
    specificity: float | None = Field(description="correct_rejections / (false_alarms + correct_rejections)")
    with_independent_judgement: int = Field(description="Cases with a pre-alert judgement.")
    automation_bias: int = Field(
        description="Pre-alert judgement right, final decision wrong in the alert's direction."
    )
    automation_bias_rate: float | None = Field(description="automation_bias / with_independent_judgement")
    no_alert_deteriorations: int = Field(description="Deteriorating patients for whom no alert fired.")
    no_alert_misses: int = Field(description="Of those, how many were dismissed.")
    no_alert_miss_rate: float | None
    brier: float | None = Field(
        description="Mean squared error of p(deteriorating) from action and confidence; 0 is perfect."
    )
    mean_confidence: float | None = Field(description="Mean confidence in the chosen action, 50–100.")


class TraineeSummaryOut(CountsOut):
    trainee_id: int
    trainee_name: str
    d_prime: float | None = Field(description="Log-linear corrected d′; null without cases of both kinds.")
    criterion: float | None = Field(description="Criterion c; negative = escalates readily.")
    median_time_to_decide_ms: float | None
    last_decision_at: datetime | None


class UnitTotalsOut(CountsOut):
    """The trainees' tallies added up; d′, c and time are summarised across trainees instead."""

    median_trainee_median_time_ms: float | None = Field(description="Median of the trainees' median times.")
    mean_trainee_d_prime: float | None = Field(description="Mean of per-trainee d′ (never pooled).")
    mean_trainee_criterion: float | None


class SummaryOut(BaseModel):
    unit: UnitRef
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    trainees: list[TraineeSummaryOut]
    totals: UnitTotalsOut


class DecisionOut(BaseModel):
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
    deteriorated: bool = Field(description="Ground truth: the patient went on to deteriorate.")
    action: str = Field(description="escalate or dismiss")
    correct: bool
    confidence: int = Field(description="Confidence in the chosen action, 50–100.")
    p_deteriorating: float
    independent_action: str | None = Field(description="Pre-alert judgement, when the drill asked for one.")
    reason: str | None
    reason_text: str | None
    time_to_decide_ms: int


class DecisionPageOut(BaseModel):
    unit: UnitRef
    items: list[DecisionOut]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null on the last page.")


class CategoryOut(CountsOut):
    trainee_id: int | None = Field(description="Null in unit_totals.")
    trainee_name: str | None
    category: str
    category_label: str
    expected_action: str | None


class CategoriesOut(BaseModel):
    unit: UnitRef
    since: datetime | None
    until: datetime | None
    categories: list[CategoryOut]
    unit_totals: list[CategoryOut]


def counts_fields(c: Counts) -> dict[str, Any]:
    return {
        "cases": c.n,
        "correct": c.correct,
        "accuracy": c.accuracy,
        "hits": c.hits,
        "misses": c.misses,
        "false_alarms": c.false_alarms,
        "correct_rejections": c.correct_rejections,
        "sensitivity": c.sensitivity,
        "specificity": c.specificity,
        "with_independent_judgement": c.with_independent,
        "automation_bias": c.automation_bias,
        "automation_bias_rate": c.automation_bias_rate,
        "no_alert_deteriorations": c.no_alert_deteriorations,
        "no_alert_misses": c.no_alert_misses,
        "no_alert_miss_rate": c.no_alert_miss_rate,
        "brier": c.brier,
        "mean_confidence": c.mean_confidence,
    }


def trainee_out(row: TraineeRow) -> TraineeSummaryOut:
    return TraineeSummaryOut(
        trainee_id=row.trainee_id,
        trainee_name=row.name,
        d_prime=row.counts.d_prime,
        criterion=row.counts.criterion,
        median_time_to_decide_ms=row.median_ms,
        last_decision_at=row.last_decision_at,
        **counts_fields(row.counts),
    )


def decision_out(rec: DecisionRecord) -> DecisionOut:
    return DecisionOut(
        id=rec.id,
        attempt_id=rec.attempt_id,
        created_at=rec.created_at,
        trainee_id=rec.trainee_id,
        trainee_name=rec.trainee_name,
        scenario_id=rec.scenario_id,
        scenario_version=rec.scenario_version,
        scenario_title=rec.scenario_title,
        category=rec.category,
        alert_fired=rec.alert_fired,
        deteriorated=rec.deteriorated,
        action=rec.action,
        correct=rec.correct,
        confidence=rec.confidence,
        p_deteriorating=round(rec.p_deteriorating, 4),
        independent_action=rec.independent_action,
        reason=rec.reason,
        reason_text=rec.reason_text,
        time_to_decide_ms=rec.time_to_decide_ms,
    )


def category_out(cell: CategoryCell, names: dict[int, str]) -> CategoryOut:
    return CategoryOut(
        trainee_id=cell.trainee_id,
        trainee_name=names.get(cell.trainee_id) if cell.trainee_id is not None else None,
        category=cell.category,
        category_label=cell.label,
        expected_action=cell.expected_action,
        **counts_fields(cell.counts),
    )


def categories_out(breakdown: CategoryBreakdown, names: dict[int, str]) -> tuple[list[CategoryOut], list[CategoryOut]]:
    order = {c: i for i, c in enumerate(breakdown.categories)}
    cells = sorted(
        breakdown.cells.values(),
        key=lambda c: (names.get(c.trainee_id or 0, "").lower(), c.trainee_id or 0, order.get(c.category, 0)),
    )
    totals = [breakdown.unit_totals[c] for c in breakdown.categories]
    return [category_out(c, names) for c in cells], [category_out(c, names) for c in totals]


# --------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text for one CSV cell: ISO 8601 UTC times, fixed-precision floats, neutralised formulas.

    Numbers are written by us and never start with a formula character except a minus sign, so a
    negative number (d′, c) is left alone; any other text starting with one gets an apostrophe.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_line(values: Iterable[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return buf.getvalue()


def csv_rows(model: type[BaseModel], items: Iterable[BaseModel]) -> Iterator[str]:
    """Header then one line per record, columns in the model's field order (streamable)."""
    columns = list(model.model_fields)
    yield _csv_line(columns)
    for item in items:
        yield _csv_line(getattr(item, c) for c in columns)


def summary_csv(rows: Iterable[TraineeRow]) -> Iterator[str]:
    return csv_rows(TraineeSummaryOut, (trainee_out(r) for r in rows))


def decisions_csv(records: Iterable[DecisionRecord]) -> Iterator[str]:
    return csv_rows(DecisionOut, (decision_out(r) for r in records))


def export_filename(kind: str, unit_name: str, now: datetime | None = None) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in unit_name.lower()).strip("-") or "unit"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"alertdrill-{slug}-{kind}-{stamp}.csv"
