"""The scenario file format (format_version 1) as strict, frozen pydantic models.

`docs/scenario-format.md` explains every field for educators; `scenarios/scenario.schema.json` is
generated from `Scenario.model_json_schema()`. Physiological plausibility checks raise
`PydanticCustomError` with a ``subpath`` (or ``issues``) context entry so the loader can point at
the exact offending key rather than at the enclosing mapping.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .vocab import (
    CATEGORY_ACTIONS,
    LABS,
    VITALS,
    CategorySlug,
    DismissalReason,
    Measure,
    O2Device,
    TrajectoryType,
)

__all__ = [
    "FORMAT_VERSION",
    "AlertSettings",
    "Artifact",
    "Baseline",
    "LabBaselines",
    "LabDraw",
    "MeasureBaseline",
    "Measurement",
    "Modifier",
    "Oxygen",
    "Patient",
    "Scenario",
    "Timing",
    "TrajectoryEvent",
    "VitalBaselines",
]

FORMAT_VERSION = 1

_RANGE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "number"},
        {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    ],
    "description": "A single number, or [low, high]: each seed draws a value uniformly in the range.",
}


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_pair(v: object) -> object:
    """Accept `x` or `[low, high]`; refuse anything else with an educator-readable message."""
    if _is_number(v):
        return (v, v)
    if isinstance(v, list | tuple):
        if len(v) != 2 or not all(_is_number(x) for x in v):
            raise PydanticCustomError("range_shape", "a range must be a number or a list of two numbers [low, high]")
        return (v[0], v[1])
    raise PydanticCustomError("range_shape", "expected a number or a list of two numbers [low, high]")


def _ordered(v: tuple[float, float]) -> tuple[float, float]:
    if v[0] > v[1]:
        raise PydanticCustomError("range_order", "range low {low} is greater than high {high}", {"low": v[0], "high": v[1]})
    return v


Range = Annotated[
    tuple[float, float],
    BeforeValidator(_as_pair),
    AfterValidator(_ordered),
    WithJsonSchema(_RANGE_SCHEMA),
]
IntRange = Annotated[
    tuple[int, int],
    BeforeValidator(_as_pair),
    AfterValidator(_ordered),
    WithJsonSchema({**_RANGE_SCHEMA, "oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}]}),
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
ShortText = Annotated[str, Field(min_length=1, max_length=300)]


def _check_within(value: tuple[float, float], low: float, high: float, what: str, unit: str, subpath: str) -> None:
    if value[0] < low or value[1] > high:
        raise PydanticCustomError(
            "physiology",
            "{what} [{lo}, {hi}] {unit} is outside the possible range {low}–{high} {unit}",
            {"what": what, "lo": value[0], "hi": value[1], "low": low, "high": high, "unit": unit, "subpath": subpath},
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------------------------------
# Patient banner


def _both_sexes() -> list[Literal["female", "male"]]:
    return ["female", "male"]


def _sex_list(v: object) -> object:
    return [v] if isinstance(v, str) else v


class Patient(_Model):
    """What the chart says about the patient; `age` and `sex` may vary between seeds."""

    age: IntRange = Field(description="Age in years, or [low, high].")
    sex: Annotated[
        list[Literal["female", "male"]],
        BeforeValidator(_sex_list),
        Field(min_length=1, max_length=2),
        WithJsonSchema(
            {
                "oneOf": [
                    {"enum": ["female", "male"]},
                    {"type": "array", "items": {"enum": ["female", "male"]}, "minItems": 1, "maxItems": 2},
                ]
            }
        ),
    ] = Field(default_factory=_both_sexes, description="female, male, or a list to pick from.")
    diagnoses: list[ShortText] = Field(min_length=1, max_length=20)
    medications: list[ShortText] = Field(default_factory=list, max_length=30)
    allergies: list[ShortText] = Field(default_factory=lambda: ["No known drug allergies"], max_length=20)
    code_status: ShortText = "Full code"
    narrative: Text = Field(description="Short chart narrative the nurse reads at hand-over.")
    baseline_notes: list[ShortText] = Field(
        default_factory=list, max_length=20, description='Documented usual values, e.g. "Home O2 2 L; usual SpO2 88–92%".'
    )
    spo2_scale: Literal[1, 2] = Field(
        1, description="NEWS2 SpO2 scale documented in the chart (2 = hypercapnic failure, target 88–92%; §1.1)."
    )

    @field_validator("age")
    @classmethod
    def _adult(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 18 or v[1] > 110:
            raise PydanticCustomError("physiology", "adult ward patients only: age must lie within 18–110 years")
        return v


# --------------------------------------------------------------------------------------------------
# Chronic baseline


class MeasureBaseline(_Model):
    """A vital sign's or lab's usual value for this patient and how much it wanders."""

    baseline: Range = Field(description="Usual value; a range makes each seed draw its own usual value.")
    variability: float | None = Field(
        None, gt=0, description="SD of the slow wander around the usual value (default per measure)."
    )
    documented: bool = Field(
        False, description="True when the chart documents this usual value (the trainee may rely on it)."
    )
    usual: Range | None = Field(
        None,
        description="The usual range exactly as the chart documents it (what baseline_notes says, e.g. "
        "[90, 110]); the feedback compares alert factors with it. Needs documented: true and must contain "
        "baseline. Default: the baseline range.",
    )

    @model_validator(mode="after")
    def _usual_is_documented(self) -> MeasureBaseline:
        if self.usual is None:
            return self
        if not self.documented:
            raise PydanticCustomError(
                "value_error", "usual is the range the chart documents: also set documented: true", {"subpath": "usual"}
            )
        lo, hi = self.usual
        if self.baseline[0] < lo or self.baseline[1] > hi:
            raise PydanticCustomError(
                "physiology",
                "baseline [{b0}, {b1}] must lie within the documented usual range [{lo}, {hi}]",
                {"b0": self.baseline[0], "b1": self.baseline[1], "lo": lo, "hi": hi, "subpath": "baseline"},
            )
        return self

    @property
    def documented_range(self) -> tuple[float, float]:
        """The usual range the trainee can read in the chart: `usual`, else `baseline`."""
        return self.usual if self.usual is not None else self.baseline


def _bounds_check(measures: dict[str, Measure], key: str, spec: MeasureBaseline | None) -> None:
    if spec is None:
        return
    m = measures[key]
    _check_within(spec.baseline, m.low, m.high, f"{m.label} baseline", m.unit, "baseline")
    if spec.usual is not None:
        _check_within(spec.usual, m.low, m.high, f"{m.label} usual range", m.unit, "usual")
    if spec.variability is not None and spec.variability > (m.high - m.low) / 4:
        raise PydanticCustomError(
            "physiology",
            "variability {v} {unit} is implausibly large for {label}",
            {"v": spec.variability, "unit": m.unit, "label": m.label, "subpath": "variability"},
        )


class VitalBaselines(_Model):
    """Usual vital signs; any vital left out uses a normal adult default."""

    hr: MeasureBaseline | None = None
    rr: MeasureBaseline | None = None
    spo2: MeasureBaseline | None = None
    sbp: MeasureBaseline | None = None
    dbp: MeasureBaseline | None = None
    temp: MeasureBaseline | None = None

    @field_validator("hr", "rr", "spo2", "sbp", "dbp", "temp")
    @classmethod
    def _plausible(cls, v: MeasureBaseline | None, info: Any) -> MeasureBaseline | None:
        _bounds_check(VITALS, info.field_name, v)
        return v

    @model_validator(mode="after")
    def _pulse_pressure(self) -> VitalBaselines:
        s = self.sbp.baseline if self.sbp else VITALS["sbp"].default_baseline
        d = self.dbp.baseline if self.dbp else VITALS["dbp"].default_baseline
        if d[1] >= s[0]:
            raise PydanticCustomError(
                "physiology",
                "diastolic baseline (up to {d}) must stay below systolic baseline (from {s})",
                {"d": d[1], "s": s[0], "subpath": "dbp.baseline"},
            )
        return self


class LabBaselines(_Model):
    """Usual lab values; any lab left out uses a value inside the adult reference range."""

    wbc: MeasureBaseline | None = None
    hgb: MeasureBaseline | None = None
    platelets: MeasureBaseline | None = None
    sodium: MeasureBaseline | None = None
    potassium: MeasureBaseline | None = None
    bicarbonate: MeasureBaseline | None = None
    bun: MeasureBaseline | None = None
    creatinine: MeasureBaseline | None = None
    lactate: MeasureBaseline | None = None
    glucose: MeasureBaseline | None = None
    crp: MeasureBaseline | None = None
    ddimer: MeasureBaseline | None = None
    ntprobnp: MeasureBaseline | None = None
    ph: MeasureBaseline | None = None

    @field_validator(*LABS)
    @classmethod
    def _plausible(cls, v: MeasureBaseline | None, info: Any) -> MeasureBaseline | None:
        _bounds_check(LABS, info.field_name, v)
        return v


class Oxygen(_Model):
    """Usual oxygen: `air`, or a device with a flow (e.g. home O2 2 L by nasal cannula)."""

    device: O2Device = "air"
    flow_l_min: Range = (0.0, 0.0)
    documented: bool = False

    @model_validator(mode="after")
    def _flow_matches_device(self) -> Oxygen:
        lo, hi = self.flow_l_min
        if self.device == "air" and hi > 0:
            raise PydanticCustomError("physiology", "flow must be 0 on room air", {"subpath": "flow_l_min"})
        if self.device != "air" and lo <= 0:
            raise PydanticCustomError("physiology", "a device needs a flow above 0 L/min", {"subpath": "flow_l_min"})
        if hi > 15:
            raise PydanticCustomError("physiology", "ward oxygen flow above 15 L/min is not possible", {"subpath": "flow_l_min"})
        return self


class Baseline(_Model):
    """The chronic baseline the patient returns to when nothing is happening."""

    vitals: VitalBaselines = VitalBaselines()
    labs: LabBaselines = LabBaselines()
    oxygen: Oxygen = Oxygen()
    urine_output_ml_h: Range = Field((45.0, 90.0), description="Usual urine output, mL/h.")
    chronic_confusion: bool = Field(False, description="Confused at baseline (e.g. dementia): NEWS2 scores only *new* confusion.")

    @field_validator("urine_output_ml_h")
    @classmethod
    def _urine(cls, v: tuple[float, float]) -> tuple[float, float]:
        _check_within(v, 0, 500, "urine output", "mL/h", "")
        return v


# --------------------------------------------------------------------------------------------------
# Trajectory and modifiers


class TrajectoryEvent(_Model):
    """One process that moves vitals and labs together (clinical-reference §4)."""

    type: TrajectoryType
    onset_h: Range = Field(description="Onset, hours relative to the decision time (negative = before).")
    severity: Annotated[Range, Field(description="0–1; 1 reaches the end of the course in §4 (e.g. septic shock).")] = (1.0, 1.0)
    ramp_h: Range | None = Field(None, description="Hours from onset to full effect (default per type).")
    duration_h: Range | None = Field(
        None,
        description="Transient events only: hours after onset by which the effect has resolved (dialysis: "
        "by which the renal labs are back at their usual pre-dialysis level).",
    )

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: tuple[float, float]) -> tuple[float, float]:
        _check_within(v, 0, 1, "severity", "", "")
        return v

    @field_validator("ramp_h", "duration_h")
    @classmethod
    def _positive(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[0] <= 0:
            raise PydanticCustomError("value_error", "must be more than 0 hours")
        return v


class BetaBlocker(_Model):
    """β-blocker / rate control: blunted or absent tachycardia (clinical-reference §4.10, [S24])."""

    type: Literal["beta-blocker"]
    hr_response: Fraction = Field(0.25, description="Share of the usual heart-rate rise that still appears.")


class Antipyretic(_Model):
    """Regular paracetamol/NSAID: temperature suppressed ~4–6 h after each dose (§4.10, [C])."""

    type: Literal["antipyretic"]
    every_h: float = Field(6.0, ge=2, le=24)
    effect_h: float = Field(5.0, ge=1, le=8)
    suppression: Fraction = 0.8


class OlderAge(_Model):
    """"The older, the colder": fever ~0.15 °C lower per decade; some septic elders afebrile (§4.10)."""

    type: Literal["older-age"]
    per_decade_c: float = Field(0.15, ge=0, le=0.5)
    afebrile_probability: Fraction = Field(0.2, description="Share of variants with no fever response (15–30%, §4.10).")


class Steroids(_Model):
    """Steroids reduce or abolish fever (§4.10, [S27])."""

    type: Literal["steroids"]
    fever_response: Fraction = 0.5


Modifier = Annotated[BetaBlocker | Antipyretic | OlderAge | Steroids, Field(discriminator="type")]


# --------------------------------------------------------------------------------------------------
# Measurement plan


class LabDraw(_Model):
    """A lab draw: either every day at a clock hour, or once at a time relative to the decision."""

    tests: list[Literal[
        "wbc", "hgb", "platelets", "sodium", "potassium", "bicarbonate", "bun",
        "creatinine", "lactate", "glucose", "crp", "ddimer", "ntprobnp", "ph",
    ]] = Field(min_length=1)
    daily_at_hour: float | None = Field(None, ge=0, lt=24, description="Routine daily draw at this clock hour.")
    at_h: Range | None = Field(None, description="One draw at this time, hours relative to the decision.")
    result_delay_min: Range | None = Field(
        None, description="Minutes from draw to result (default: routine 60–120, single draws 30–60; §5.1)."
    )

    @model_validator(mode="after")
    def _one_timing(self) -> LabDraw:
        if (self.daily_at_hour is None) == (self.at_h is None):
            raise PydanticCustomError("value_error", "give exactly one of daily_at_hour or at_h")
        if self.result_delay_min is not None:
            _check_within(self.result_delay_min, 0, 24 * 60, "result delay", "min", "result_delay_min")
        return self


class Artifact(_Model):
    """A measurement artefact injected into the chart (clinical-reference §5.4)."""

    type: Literal["spo2-probe-off", "motion", "bp-cuff-small", "bp-cuff-large", "haemolysed-sample", "estimated-rr"]
    at_h: Range = Field(description="Hours relative to the decision: the observation (or draw) nearest this time.")
    to_h: Range | None = Field(
        None, description="bp-cuff-small / bp-cuff-large / estimated-rr: the artefact lasts until this time."
    )
    probability: Fraction = Field(1.0, description="Share of variants in which the artefact happens.")
    size: Range | None = Field(
        None,
        description="haemolysed-sample only: the false potassium rise in mmol/L, [low, high] (default 1.0–2.0).",
    )


class MissingRates(_Model):
    """Probability that a charted vital is left blank (RR is the most often missing, §5.1)."""

    hr: Fraction = 0.0
    rr: Fraction = 0.05
    spo2: Fraction = 0.0
    sbp: Fraction = 0.0
    dbp: Fraction = 0.0
    temp: Fraction = 0.02


def _default_labs() -> list[LabDraw]:
    return [
        LabDraw(
            tests=["wbc", "hgb", "platelets", "sodium", "potassium", "bicarbonate", "bun", "creatinine"],
            daily_at_hour=5.0,
        )
    ]


class Measurement(_Model):
    """When the chart gets observations and labs, and what goes wrong with them."""

    routine_every_h: float = Field(4.0, ge=1, le=12, description="Routine observations (§5.1: 4–6-hourly).")
    escalate: bool = Field(True, description="Hourly obs after NEWS2 ≥ 5 or a single 3, half-hourly at ≥ 7 (§1.2).")
    skip_night_obs: bool = Field(False, description="Skip routine obs 00:00–06:00 when the last NEWS2 was 0–2 (§5.1).")
    missing: MissingRates = MissingRates()
    rr_digit_preference: Fraction = Field(0.5, description="Share of normal RR readings snapped to 16/18/20 (§5.2).")
    labs: list[LabDraw] = Field(default_factory=_default_labs, max_length=20)
    artifacts: list[Artifact] = Field(default_factory=list, max_length=10)

    @field_validator("routine_every_h")
    @classmethod
    def _half_hours(cls, v: float) -> float:
        if abs(v * 2 - round(v * 2)) > 1e-9:
            raise PydanticCustomError("value_error", "must be a whole number of half-hours (e.g. 4 or 1.5)")
        return v


class Timing(_Model):
    """The case window around the decision time t = 0."""

    history_hours: StrictInt = Field(48, ge=48, le=168)
    future_hours: StrictInt = Field(12, ge=12, le=72)
    decision_hour: Range = Field((8.0, 20.0), description="Clock hour of the nominal decision time (0–24).")
    decision: Literal["fixed", "first-alert"] = Field(
        "fixed",
        description="fixed: decide at the nominal time. first-alert: decide at the first alert in the "
        "alert_search_h hours up to the nominal time (the nominal time if it never fires).",
    )
    alert_search_h: float = Field(12.0, ge=1, le=24, description="first-alert only: hours searched for the alert.")

    @field_validator("decision_hour")
    @classmethod
    def _clock(cls, v: tuple[float, float]) -> tuple[float, float]:
        _check_within(v, 0, 24, "decision hour", "h", "")
        return v

    def simulated_window_min(self) -> tuple[int, int]:
        """Minutes (relative to the nominal decision) the engine must simulate."""
        search = round(self.alert_search_h * 60) if self.decision == "first-alert" else 0
        return -self.history_hours * 60 - search, self.future_hours * 60


class AlertSettings(_Model):
    """The deterioration-index-style alert (docs/alert-model.md)."""

    model: Literal["di-points-v1"] = "di-points-v1"
    threshold: float = Field(60.0, ge=1, le=99, description="Score 0–100 at which the alert fires (EDI ≥ 60, §2.1).")
    medium_threshold: float = Field(45.0, ge=0, le=99, description="Lower edge of the 'medium' band.")

    @model_validator(mode="after")
    def _bands(self) -> AlertSettings:
        if self.medium_threshold >= self.threshold:
            raise PydanticCustomError(
                "value_error", "medium_threshold must be below threshold", {"subpath": "medium_threshold"}
            )
        return self


# --------------------------------------------------------------------------------------------------
# The scenario

class Scenario(_Model):
    """One educator-authored scenario file; each seed makes a different variant of it."""

    format_version: Literal[1] = Field(description="Always 1 for this version of the format.")
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=3, max_length=80)]
    version: StrictInt = Field(ge=1, description="Bump whenever the content changes: cases are replayed by (id, version, seed).")
    title: ShortText
    category: CategorySlug
    learning_objectives: list[ShortText] = Field(min_length=1, max_length=10)
    patient: Patient
    baseline: Baseline = Baseline()
    trajectory: list[TrajectoryEvent] = Field(default_factory=list, max_length=6)
    modifiers: list[Modifier] = Field(default_factory=list, max_length=6)
    measurement: Measurement = Measurement()
    timing: Timing = Timing()
    alert: AlertSettings = AlertSettings()
    expected_action: Literal["escalate", "dismiss"]
    acceptable_dismissal_reasons: list[DismissalReason] = Field(default_factory=list, max_length=4)
    teaching_points: list[Text] = Field(min_length=1, max_length=12)
    clue: Text = Field(description="What in the data should have told the nurse the right answer.")
    sources: list[ShortText] = Field(min_length=1, max_length=20)

    _content_hash: str | None = PrivateAttr(default=None)

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical source text (or of the canonical JSON when built in code)."""
        if self._content_hash is not None:
            return self._content_hash
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        problems: list[tuple[str, str]] = []
        lo_t, hi_t = -float(self.timing.history_hours), float(self.timing.future_hours)
        if self.expected_action == "dismiss" and not self.acceptable_dismissal_reasons:
            problems.append(("acceptable_dismissal_reasons", "a dismiss scenario needs at least one acceptable reason"))
        if self.expected_action == "escalate" and self.acceptable_dismissal_reasons:
            problems.append(("acceptable_dismissal_reasons", "must be empty when the expected action is escalate"))
        implied = CATEGORY_ACTIONS[self.category]
        if self.expected_action != implied:
            problems.append(("expected_action", f"category {self.category} implies expected action {implied}"))
        if len(set(self.acceptable_dismissal_reasons)) != len(self.acceptable_dismissal_reasons):
            problems.append(("acceptable_dismissal_reasons", "reasons must not repeat"))
        for i, ev in enumerate(self.trajectory):
            if ev.onset_h[0] < lo_t or ev.onset_h[1] > hi_t:
                problems.append((f"trajectory.{i}.onset_h", f"onset must lie within the case window {lo_t:g}…{hi_t:g} h"))
            if ev.duration_h is not None and ev.ramp_h is not None and ev.duration_h[0] < ev.ramp_h[1]:
                problems.append((f"trajectory.{i}.duration_h", "duration must be at least the ramp time"))
        for i, a in enumerate(self.measurement.artifacts):
            if a.at_h[0] < lo_t or a.at_h[1] > hi_t:
                problems.append((f"measurement.artifacts.{i}.at_h", f"must lie within the case window {lo_t:g}…{hi_t:g} h"))
            if a.to_h is not None and a.to_h[0] < a.at_h[1]:
                problems.append((f"measurement.artifacts.{i}.to_h", "must not be before at_h"))
            if a.size is not None and a.type != "haemolysed-sample":
                problems.append((f"measurement.artifacts.{i}.size", "only a haemolysed-sample artefact takes a size"))
            elif a.size is not None and (a.size[0] < 0.1 or a.size[1] > 3.0):
                problems.append((f"measurement.artifacts.{i}.size", "the potassium rise must lie within 0.1…3 mmol/L"))
        for i, d in enumerate(self.measurement.labs):
            if d.at_h is not None and (d.at_h[0] < lo_t or d.at_h[1] > hi_t):
                problems.append((f"measurement.labs.{i}.at_h", f"must lie within the case window {lo_t:g}…{hi_t:g} h"))
        if problems:
            raise PydanticCustomError(
                "scenario_coherence",
                "; ".join(f"{p}: {m}" for p, m in problems),
                {"issues": problems},
            )
        return self
