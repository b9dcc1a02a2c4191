"""Determinism, separation of view and answer, size and speed of one case."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from simulator import Scenario, TraineeView, simulate
from simulator.engine import simulate_batch


def test_same_seed_gives_byte_identical_json(sepsis_classic: Scenario) -> None:
    a = simulate(sepsis_classic, 42).model_dump_json()
    b = simulate(sepsis_classic, 42).model_dump_json()
    assert a == b


def test_determinism_across_processes(copd: Scenario) -> None:
    code = (
        "import hashlib, simulator;"
        "s = simulator.load_scenario('scenarios/copd-hypercapnic-baseline.yaml');"
        "print(hashlib.sha256(simulator.simulate(s, 7).model_dump_json().encode()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    import hashlib

    assert out.stdout.strip() == hashlib.sha256(simulate(copd, 7).model_dump_json().encode()).hexdigest()


def test_different_seeds_give_different_variants(sepsis_classic: Scenario) -> None:
    views = {simulate(sepsis_classic, s).view.model_dump_json() for s in range(5)}
    assert len(views) == 5


def test_batch_agrees_with_single_simulation(sepsis_bb: Scenario) -> None:
    seeds = [3, 11, 12, 40]
    batch = simulate_batch(sepsis_bb, seeds)
    for i, seed in enumerate(seeds):
        case = simulate(sepsis_bb, seed)
        assert case.view.alert.score == int(batch.scores[i])
        assert case.answer.deteriorated == bool(batch.deteriorated[i])
        assert [c.met for c in case.answer.outcome_criteria] == batch.criteria_met[i].tolist()


def test_view_contains_nothing_of_the_answer(sepsis_bb: Scenario, copd: Scenario) -> None:
    fields = set(TraineeView.model_fields)
    assert not fields & {"title", "category", "expected_action", "outcome", "deteriorated", "explanation",
                         "teaching_points", "clue", "future_vitals", "acceptable_dismissal_reasons"}
    for scenario in (sepsis_bb, copd):
        case = simulate(scenario, 5)
        text = case.view.model_dump_json()
        for secret in (scenario.title, scenario.clue, *scenario.teaching_points, *scenario.learning_objectives):
            assert secret not in text
        assert scenario.category not in text
        assert '"escalate"' not in text and '"dismiss"' not in text
        times = [t for s in case.view.vitals for t in s.times_min] + [a.t_min for a in case.view.assessments]
        assert max(times) <= 0
        assert all(t <= 0 for lab in case.view.labs for t in lab.times_min)
        assert min(t for s in case.answer.future_vitals for t in s.times_min) > 0


def test_history_and_future_windows(sepsis_classic: Scenario) -> None:
    case = simulate(sepsis_classic, 1)
    hr = case.view.vitals[0]
    assert hr.times_min[0] >= -48 * 60 and hr.times_min[0] < -44 * 60  # starts within the first routine cycle
    assert case.view.history_hours >= 48 and case.answer.future_hours >= 12
    fut = case.answer.future_vitals[0].times_min
    assert fut[-1] <= 12 * 60 and fut[-1] > 8 * 60


def test_case_json_is_small_and_fast(sepsis_classic: Scenario, copd: Scenario) -> None:
    for scenario in (sepsis_classic, copd):
        simulate(scenario, 0)
        timings = []
        for seed in range(15):
            t = time.perf_counter()
            case = simulate(scenario, seed)
            timings.append(time.perf_counter() - t)
            assert len(case.model_dump_json()) < 150_000
        # The web app builds one case per request: median well under 20 ms (loose bound for CI noise).
        assert float(np.median(timings)) < 0.040


def test_json_round_trips(copd: Scenario) -> None:
    from simulator import Case

    case = simulate(copd, 3)
    again = Case.model_validate_json(case.model_dump_json())
    assert again == case
    assert json.loads(case.view.model_dump_json())["scenario_id"] == "copd-hypercapnic-baseline"


def test_simulator_imports_no_web_stack() -> None:
    code = (
        "import sys, simulator, simulator.check, simulator.render;"
        "bad = [m for m in ('fastapi', 'sqlmodel', 'sqlalchemy', 'app', 'starlette', 'typer') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
