"""The two halves of a training case, as separate frozen models.

    Case
      .view:   TraineeView   everything a trainee may see before deciding
      .answer: CaseAnswer    outcome, future, explanation, scenario metadata

TraineeView deliberately has no field that could carry the answer (no title, category, expected
action, outcome, future values, teaching points or explanation), so a page that renders only
`case.view` cannot leak it. Both dump to deterministic JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Alert",
    "AlertFactor",
    "Assessment",
    "Case",
    "CaseAnswer",
    "Explanation",
    "FactorExplanation",
    "LabSeries",
    "News2Summary",
    "OutcomeCriterion",
    "PatientBanner",
    "Series",
    "TraineeView",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Series(_Frozen):
    """One charted vital sign: times in minutes relative to the decision (negative = past)."""

    key: Literal["hr", "rr", "spo2", "sbp", "dbp", "temp"]
    label: str
    unit: str  # UCUM
    loinc: str
    times_min: tuple[int, ...]
    values: tuple[float | None, ...]  # None = not recorded


class LabSeries(_Frozen):
    """One lab test: collection times relative to the decision, with the reference range."""

    key: str
    label: str
    unit: str
    loinc: str
    times_min: tuple[int, ...]
    values: tuple[float | None, ...]
    ref_low: float | None
    ref_high: float | None


class Assessment(_Frozen):
    """A nursing assessment charted with an observation set."""

    t_min: int
    consciousness: Literal["A", "C", "V", "P", "U"]
    new_confusion: bool
    oriented: bool
    o2_device: str
    o2_flow_l_min: float
    urine_output_ml_h: int | None
    note: str


class AlertFactor(_Frozen):
    key: str
    label: str
    value_text: str
    points: int


class Alert(_Frozen):
    """The AI deterioration alert as the EHR shows it at the decision time."""

    fired: bool
    score: int
    threshold: float
    band: Literal["low", "medium", "high"]
    factors: tuple[AlertFactor, ...]
    model_name: str
    trend_times_min: tuple[int, ...]
    trend_scores: tuple[int, ...]


class News2Summary(_Frozen):
    t_min: int
    total: int
    parameters: dict[str, int]
    band: Literal["low", "low-medium", "medium", "high"]
    single_parameter_3: bool
    spo2_scale: Literal[1, 2]


class PatientBanner(_Frozen):
    name: str
    age: int
    sex: Literal["female", "male"]
    diagnoses: tuple[str, ...]
    medications: tuple[str, ...]
    allergies: tuple[str, ...]
    code_status: str
    narrative: str
    baseline_notes: tuple[str, ...]
    spo2_scale: Literal[1, 2]


class TraineeView(_Frozen):
    """What the trainee sees: chart up to the decision time and the alert. Nothing of the answer."""

    scenario_id: str
    scenario_version: int
    seed: int
    decision_time_of_day: str  # "HH:MM"
    history_hours: int
    patient: PatientBanner
    vitals: tuple[Series, ...]
    labs: tuple[LabSeries, ...]
    assessments: tuple[Assessment, ...]
    alert: Alert
    news2_latest: News2Summary | None


class OutcomeCriterion(_Frozen):
    """One objective deterioration criterion evaluated on the simulated future."""

    key: str
    label: str
    met: bool
    first_met_min: int | None
    detail: str


class FactorExplanation(_Frozen):
    key: str
    label: str
    points: int
    value_text: str
    status: Literal["explained-by-baseline", "changed-from-baseline", "no-documented-baseline"]
    baseline_low: float | None
    baseline_high: float | None
    change: float | None
    change_text: str


class Explanation(_Frozen):
    factors: tuple[FactorExplanation, ...]
    teaching_points: tuple[str, ...]
    learning_objectives: tuple[str, ...]
    clue: str
    title: str
    category: str
    category_label: str
    sources: tuple[str, ...]


class CaseAnswer(_Frozen):
    """What happened next and why: shown only after the trainee has decided."""

    deteriorated: bool
    outcome_criteria: tuple[OutcomeCriterion, ...]
    expected_action: Literal["escalate", "dismiss"]
    acceptable_dismissal_reasons: tuple[Literal["baseline", "artifact", "expected-course", "other"], ...]
    future_hours: int
    future_vitals: tuple[Series, ...]
    future_labs: tuple[LabSeries, ...]
    future_assessments: tuple[Assessment, ...]
    explanation: Explanation


class Case(_Frozen):
    view: TraineeView
    answer: CaseAnswer
