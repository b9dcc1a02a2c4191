"""Plain-text rendering of a case for `alertdrill simulate` (trainee view first, then the answer)."""

from __future__ import annotations

from collections.abc import Sequence

from .case import Case, LabSeries, Series

__all__ = ["case_text"]


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:g}"


def _hours(t: int) -> str:
    sign = "-" if t < 0 else "+"
    t = abs(t)
    return f"{sign}{t // 60}:{t % 60:02d}"


def _table(series: Sequence[Series], last: int | None = None) -> list[str]:
    if not series or not series[0].times_min:
        return ["  (no observations)"]
    times = series[0].times_min[-last:] if last else series[0].times_min
    n = len(times)
    head = "  time    " + " ".join(f"{s.key:>6}" for s in series)
    rows = [head]
    for j in range(len(series[0].times_min) - n, len(series[0].times_min)):
        rows.append(f"  {_hours(series[0].times_min[j]):>7} " + " ".join(f"{_num(s.values[j]):>6}" for s in series))
    return rows


def _labs(labs: Sequence[LabSeries]) -> list[str]:
    out = []
    for lab in labs:
        pts = ", ".join(f"{_hours(t)} {_num(v) if v is not None else 'pending'}" for t, v in zip(lab.times_min, lab.values, strict=True))
        ref = f"{_num(lab.ref_low)}–{_num(lab.ref_high)}" if lab.ref_low is not None else f"< {_num(lab.ref_high)}"
        unit = "" if lab.unit == "[pH]" else f"{lab.unit}, "  # pH has no unit; UCUM writes [pH]
        out.append(f"  {lab.label} ({unit}ref {ref}): {pts}")
    return out or ["  (none)"]


def case_text(case: Case, last_obs: int = 12) -> str:
    """Human-readable case; the answer is clearly separated below the trainee view."""
    v, a = case.view, case.answer
    p = v.patient
    lines = [
        f"=== TRAINEE VIEW: {v.scenario_id} v{v.scenario_version}, seed {v.seed}, decision at {v.decision_time_of_day} ===",
        f"{p.name}, {p.age} y, {p.sex}. Code status: {p.code_status}. Allergies: {', '.join(p.allergies)}",
        f"Diagnoses: {'; '.join(p.diagnoses)}",
        f"Medications: {'; '.join(p.medications) or 'none'}",
        f"Narrative: {p.narrative}",
    ]
    lines += [f"Baseline note: {n}" for n in p.baseline_notes]
    lines.append(f"Vital signs (last {last_obs} sets; times h:mm relative to now):")
    lines += _table(v.vitals, last_obs)
    lines.append("Labs:")
    lines += _labs(v.labs)
    if v.assessments:
        last = v.assessments[-1]
        lines.append(f"Latest assessment ({_hours(last.t_min)}): {last.note} Urine {last.urine_output_ml_h} mL/h.")
    al = v.alert
    lines.append(
        f"ALERT {'FIRED' if al.fired else 'not fired'}: {al.model_name} score {al.score} (threshold {al.threshold:g}, {al.band})"
    )
    lines += [f"  {f.points:+d}  {f.label}: {f.value_text}" for f in al.factors]
    if v.news2_latest:
        n = v.news2_latest
        lines.append(f"NEWS2 (scale {n.spo2_scale}) at {_hours(n.t_min)}: {n.total} ({n.band})")
    ex = a.explanation
    lines += [
        "",
        f"=== ANSWER: {ex.title} [{ex.category_label}] ===",
        f"Expected action: {a.expected_action}"
        + (f" (acceptable dismissal reasons: {', '.join(a.acceptable_dismissal_reasons)})" if a.acceptable_dismissal_reasons else ""),
        f"Deteriorated in the next {a.future_hours} h: {'yes' if a.deteriorated else 'no'}",
    ]
    for c in a.outcome_criteria:
        when = f" at {_hours(c.first_met_min)}" if c.first_met_min is not None else ""
        lines.append(f"  [{'x' if c.met else ' '}] {c.label}{when} ({c.detail})")
    lines.append("Future vital signs:")
    lines += _table(a.future_vitals)
    lines.append("Alert factors against the documented baseline:")
    lines += [f"  {f.label}: {f.status}. {f.change_text}" for f in ex.factors]
    lines.append(f"Clue: {ex.clue}")
    lines += [f"Teaching point: {t}" for t in ex.teaching_points]
    lines += [f"Source: {s}" for s in ex.sources]
    return "\n".join(lines)
