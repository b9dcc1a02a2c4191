"""simulate(scenario, seed) -> Case, and a batched summary path for `scenarios check`.

Pipeline per seed: draw the variant -> latent physiology (numpy, batched) -> chart the
observations, assessments and labs -> score the alert at t = 0 from the chart only -> evaluate
the objective outcome on the latent future -> assemble the trainee view and the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import alert_model
from .case import (
    Alert,
    AlertFactor,
    Assessment,
    Case,
    CaseAnswer,
    Explanation,
    LabSeries,
    News2Summary,
    OutcomeCriterion,
    PatientBanner,
    Series,
    TraineeView,
)
from .charting import Chart, LabResult, ObsSet, chart_batch
from .explain import explain_factors
from .outcome import CRITERIA, Outcomes, evaluate
from .physiology import Latent, simulate_latent
from .schema import Scenario
from .variant import Variant, draw_variant, lab_measure, streams
from .vocab import CATEGORIES, LAB_KEYS, VITAL_KEYS, VITALS

__all__ = ["BatchRun", "BatchSummary", "alert_at", "run_batch", "simulate", "simulate_batch"]

LAB_LOOKBACK_MIN = 72 * 60


def _latest(obs: Sequence[ObsSet], key: str, at: int) -> float | None:
    for o in reversed(obs):
        if o.t <= at and o.values[key] is not None:
            return o.values[key]
    return None


def alert_at(chart_: Chart, v: Variant, at: int) -> alert_model.Score:
    """Score the alert model on what the chart shows at time `at` (values carried forward)."""
    obs = [o for o in chart_.obs if o.t <= at]
    current = {k: _latest(obs, k, at) for k in ("hr", "rr", "spo2", "sbp", "temp")}
    before = {k: _latest(obs, k, at - 24 * 60) for k in ("hr", "rr", "sbp")}

    def change(k: str) -> float | None:
        now, then = current[k], before[k]
        return None if now is None or then is None else now - then

    labs: dict[str, float] = {}
    for r in chart_.labs:
        if r.t_result <= at and r.t_draw >= at - LAB_LOOKBACK_MIN:
            labs[r.key] = r.value  # results are in draw order, so the latest wins
    last = obs[-1] if obs else None
    inputs = alert_model.AlertInputs(
        age=v.age,
        hr=current["hr"],
        rr=current["rr"],
        spo2=current["spo2"],
        sbp=current["sbp"],
        temp=current["temp"],
        o2_flow_l_min=last.o2_flow if last else v.o2_flow0,
        o2_device=last.o2_device if last else v.o2_device0,
        consciousness=last.consciousness if last else "A",
        oriented=last.oriented if last else True,
        labs=labs,
        hr_change_24h=change("hr"),
        rr_change_24h=change("rr"),
        sbp_change_24h=change("sbp"),
    )
    return alert_model.score(inputs)


@dataclass(frozen=True, slots=True)
class BatchRun:
    variants: list[Variant]
    latent: Latent
    charts: list[Chart]
    t0: npt.NDArray[np.int64]  # decision time per variant, minutes relative to the nominal time
    scores: list[alert_model.Score]  # alert at t0
    outcomes: Outcomes
    news2_at_t0: npt.NDArray[np.int64]  # NEWS2 of the latest scored obs set at or before t0; -1 if none
    red_at_t0: tuple[tuple[str, ...], ...] = ()  # parameters scoring 3 (§1.1) in that same set, per seed


def _decision(scenario: Scenario, v: Variant, ch: Chart) -> tuple[int, alert_model.Score]:
    """Nominal time, or (first-alert) the model run just after the first obs set that crossed the threshold."""
    if scenario.timing.decision == "first-alert":
        lo = -round(scenario.timing.alert_search_h * 60)
        for o in ch.obs:
            at = o.t + v.obs_offset_min  # the next 15-minute model run after charting
            if o.t < lo or at > 0:
                continue
            scored = alert_at(ch, v, at)
            if scored.score >= scenario.alert.threshold:
                return at, scored
    return 0, alert_at(ch, v, 0)


def run_batch(scenario: Scenario, seeds: Sequence[int]) -> BatchRun:
    """Everything for a batch of seeds: variants, latent state, charts, decision times, outcomes."""
    rngs = [streams(scenario, s) for s in seeds]
    variants = [draw_variant(scenario, s, r.params) for s, r in zip(seeds, rngs, strict=True)]
    latent = simulate_latent(variants, [r.latent for r in rngs], scenario.timing.simulated_window_min())
    charts = chart_batch(scenario, variants, latent, [r.measure for r in rngs])
    decisions = [_decision(scenario, v, c) for v, c in zip(variants, charts, strict=True)]
    t0 = np.array([d[0] for d in decisions], dtype=np.int64)
    outcomes = evaluate(variants, latent, scenario.patient.spo2_scale, t0, scenario.timing.future_hours * 60)
    news2 = np.array([_news2_at(c, int(t)) for c, t in zip(charts, t0, strict=True)], dtype=np.int64)
    red = tuple(_red_scores_at(c, int(t)) for c, t in zip(charts, t0, strict=True))
    return BatchRun(variants, latent, charts, t0, [d[1] for d in decisions], outcomes, news2, red)


def _scored_at(ch: Chart, t0: int) -> ObsSet | None:
    """The obs set whose NEWS2 the nurse sees at the decision: the latest scored set at or before t0."""
    return next((o for o in reversed(ch.obs) if o.t <= t0 and o.news2 is not None), None)


def _news2_at(ch: Chart, t0: int) -> int:
    """The NEWS2 the nurse sees at the decision (latest scored obs set at or before t0), -1 if none."""
    latest = _scored_at(ch, t0)
    return -1 if latest is None or latest.news2 is None else latest.news2.total


def _red_scores_at(ch: Chart, t0: int) -> tuple[str, ...]:
    """The parameters scoring 3 on their own (a NEWS2 "red score", §1.1/§1.2) in the set the nurse sees at t0."""
    latest = _scored_at(ch, t0)
    if latest is None or latest.news2 is None:
        return ()
    return tuple(k for k, points in latest.news2.parameters.items() if points == 3)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Per-seed alert and outcome, without building case objects (for `scenarios check`)."""

    seeds: tuple[int, ...]
    scores: npt.NDArray[np.int64]
    fired: npt.NDArray[np.bool_]
    deteriorated: npt.NDArray[np.bool_]
    criteria_met: npt.NDArray[np.bool_]  # (seeds, criteria) in outcome.CRITERIA order
    news2_at_decision: npt.NDArray[np.int64]  # NEWS2 shown at the decision; -1 if none charted
    red_scores_at_decision: tuple[tuple[str, ...], ...] = ()  # parameters scoring 3 in that set, per seed


def simulate_batch(scenario: Scenario, seeds: Sequence[int]) -> BatchSummary:
    """Alert score and outcome for many seeds at once; agrees seed-by-seed with simulate()."""
    run = run_batch(scenario, seeds)
    scores = np.array([sc.score for sc in run.scores], dtype=np.int64)
    return BatchSummary(
        seeds=tuple(seeds),
        scores=scores,
        fired=scores >= scenario.alert.threshold,
        deteriorated=run.outcomes.deteriorated,
        criteria_met=run.outcomes.met,
        news2_at_decision=run.news2_at_t0,
        red_scores_at_decision=run.red_at_t0,
    )


def _series(obs: Sequence[ObsSet], t0: int) -> tuple[Series, ...]:
    out = []
    for key in VITAL_KEYS:
        m = VITALS[key]
        out.append(Series(
            key=key,
            label=m.label, unit=m.unit, loinc=m.loinc,
            times_min=tuple(o.t - t0 for o in obs), values=tuple(o.values[key] for o in obs),
        ))
    return tuple(out)


def _lab_series(rows_all: Sequence[LabResult], sex: str, t0: int, visible_until: int) -> tuple[LabSeries, ...]:
    out = []
    for key in LAB_KEYS:
        rows = [r for r in rows_all if r.key == key]
        if not rows:
            continue
        m = lab_measure(key, sex)
        out.append(LabSeries(
            key=key, label=m.label, unit=m.unit, loinc=m.loinc,
            times_min=tuple(r.t_draw - t0 for r in rows),
            values=tuple(r.value if r.t_result <= visible_until else None for r in rows),
            ref_low=m.ref_low, ref_high=m.ref_high,
        ))
    return tuple(out)


def _assessments(obs: Sequence[ObsSet], t0: int) -> tuple[Assessment, ...]:
    return tuple(
        Assessment(
            t_min=o.t - t0, consciousness=o.consciousness, new_confusion=o.new_confusion,
            oriented=o.oriented, o2_device=o.o2_device, o2_flow_l_min=o.o2_flow,
            urine_output_ml_h=o.urine, note=o.note,
        )
        for o in obs
    )


def _criteria(outcomes: Outcomes, i: int) -> tuple[OutcomeCriterion, ...]:
    peaks = {k: float(v[i]) for k, v in outcomes.peaks.items()}
    details = {
        "news2-high": f"highest NEWS2 {peaks['news2']:.0f}",
        "hypotension": f"lowest SBP {peaks['sbp_min']:.0f} mmHg",
        "lactate-high": f"highest lactate {peaks['lactate_max']:.1f} mmol/L",
        "respiratory-failure": f"highest RR {peaks['rr_max']:.0f}/min",
        "reduced-consciousness": "reached V/P/U" if peaks["consciousness_max"] >= 0.6 else "stayed alert or confused only",
        "severe-hyperkalaemia": f"highest potassium {peaks['potassium_max']:.1f} mmol/L",
        "aki": f"largest creatinine rise {peaks['creatinine_rise']:+.2f} mg/dL",
        "haemoglobin-drop": f"largest haemoglobin fall {peaks['hgb_fall']:.1f} g/dL",
        "bradycardia": f"lowest HR {peaks['hr_min']:.0f}/min, lowest SBP {peaks['sbp_min']:.0f} mmHg",
        "metabolic-acidosis": f"lowest pH {peaks['ph_min']:.2f}, lowest bicarbonate {peaks['hco3_min']:.0f} mmol/L",
    }
    out = []
    for j, (key, label) in enumerate(CRITERIA.items()):
        first = int(outcomes.first_met_min[i, j])
        out.append(OutcomeCriterion(
            key=key, label=label, met=first >= 0, first_met_min=first if first >= 0 else None, detail=details[key],
        ))
    return tuple(out)


def simulate(scenario: Scenario, seed: int) -> Case:
    """Build the training case for one seed: deterministic for (scenario id, version, seed)."""
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    run = run_batch(scenario, [seed])
    v, ch, scored, t0 = run.variants[0], run.charts[0], run.scores[0], int(run.t0[0])
    first, last = t0 - scenario.timing.history_hours * 60, t0 + scenario.timing.future_hours * 60
    past = [o for o in ch.obs if first <= o.t <= t0]
    future = [o for o in ch.obs if t0 < o.t <= last]
    threshold = scenario.alert.threshold
    trend_obs = [o.t for o in past if o.t >= t0 - 24 * 60 and o.t != t0]
    trend_scores = (*(alert_at(ch, v, t).score for t in trend_obs), scored.score)
    latest = next((o for o in reversed(past) if o.news2 is not None), None)
    clock = (v.clock0_min + t0) % 1440
    p = scenario.patient
    view = TraineeView(
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        seed=seed,
        decision_time_of_day=f"{clock // 60:02d}:{clock % 60:02d}",
        history_hours=scenario.timing.history_hours,
        patient=PatientBanner(
            name=v.name, age=v.age, sex=v.sex,
            diagnoses=tuple(p.diagnoses), medications=tuple(p.medications), allergies=tuple(p.allergies),
            code_status=p.code_status, narrative=p.narrative, baseline_notes=tuple(p.baseline_notes),
            spo2_scale=p.spo2_scale,
        ),
        vitals=_series(past, t0),
        labs=_lab_series([r for r in ch.labs if first <= r.t_draw <= t0], v.sex, t0, t0),
        assessments=_assessments(past, t0),
        alert=Alert(
            fired=scored.score >= threshold,
            score=scored.score,
            threshold=threshold,
            band=alert_model.band(scored.score, threshold, scenario.alert.medium_threshold),
            factors=tuple(AlertFactor(key=f.key, label=f.label, value_text=f.value_text, points=f.points) for f in scored.factors),
            model_name=alert_model.MODEL_NAME,
            trend_times_min=(*(t - t0 for t in trend_obs), 0),
            trend_scores=trend_scores,
        ),
        news2_latest=None if latest is None or latest.news2 is None else News2Summary(
            t_min=latest.t - t0, total=latest.news2.total, parameters=dict(latest.news2.parameters),
            band=latest.news2.band, single_parameter_3=latest.news2.single_parameter_3, spo2_scale=p.spo2_scale,
        ),
    )
    answer = CaseAnswer(
        deteriorated=bool(run.outcomes.deteriorated[0]),
        outcome_criteria=_criteria(run.outcomes, 0),
        expected_action=scenario.expected_action,
        acceptable_dismissal_reasons=tuple(scenario.acceptable_dismissal_reasons),
        future_hours=scenario.timing.future_hours,
        future_vitals=_series(future, t0),
        future_labs=_lab_series([r for r in ch.labs if r.t_result > t0 and r.t_draw <= last], v.sex, t0, last + 24 * 60),
        future_assessments=_assessments(future, t0),
        explanation=Explanation(
            factors=explain_factors(scenario, v, ch, scored.factors, at_min=t0),
            teaching_points=tuple(scenario.teaching_points),
            learning_objectives=tuple(scenario.learning_objectives),
            clue=scenario.clue,
            title=scenario.title,
            category=scenario.category,
            category_label=CATEGORIES[scenario.category],
            sources=tuple(scenario.sources),
        ),
    )
    return Case(view=view, answer=answer)
