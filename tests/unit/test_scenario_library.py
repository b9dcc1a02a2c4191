"""The shipped scenario library (issue #3): every file valid, the mix right, every scenario proven by simulation.

The simulation check runs the same code as `alertdrill scenarios check` (simulator.check) with
fewer seeds than the 200 of the acceptance run, so that the whole library stays well under a
minute on two cores; the thresholds are the acceptance thresholds.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import simulator
from simulator.check import check_scenario
from simulator.schema import Scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "scenarios"
FILES = sorted(SCENARIO_DIR.glob("*.yaml"))

#: Seeds per scenario in CI (the acceptance run uses 200: `alertdrill scenarios check scenarios/ --seeds 200`).
CI_SEEDS = 50
MIN_AGREEMENT = 0.95
FP_MIN_ALERT_RATE = 0.90
MASKED_MAX_ALERT_RATE = 0.20
CONTROL_MAX_ALERT_RATE = 0.10

FALSE_POSITIVE = {"chronic-baseline-fp", "expected-course-fp", "artifact-fp"}
DETERIORATING = {
    "true-deterioration",
    "deterioration-abnormal-baseline",
    "masked-deterioration",
    "lab-only-deterioration",
}


def _load_all() -> dict[str, Scenario]:
    return {p.name: simulator.load_scenario(p) for p in FILES}


@pytest.fixture(scope="module")
def library() -> dict[str, Scenario]:
    return _load_all()


def test_library_is_not_empty() -> None:
    assert len(FILES) >= 30, f"issue #3 asks for at least 30 scenarios, found {len(FILES)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_file_is_valid_and_named_after_its_id(path: Path) -> None:
    scenario = simulator.load_scenario(path)  # raises ScenarioValidationError with file:line:col
    assert path.name == f"{scenario.id}.yaml"


def test_mix_of_categories(library: dict[str, Scenario]) -> None:
    counts: Counter[str] = Counter(s.category for s in library.values())
    total = len(library)
    deteriorating = sum(counts[c] for c in DETERIORATING)
    assert len(counts) >= 8, f"at least 8 categories, found {sorted(counts)}"
    assert deteriorating / total >= 0.40, f"true deterioration {deteriorating}/{total} is below 40%"
    assert counts["chronic-baseline-fp"] / total >= 0.30, (
        f"chronic-baseline false positives {counts['chronic-baseline-fp']}/{total} are below 30%"
    )
    assert counts["masked-deterioration"] >= 3
    assert counts["stable-no-alert"] >= 2


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_teaching_content(path: Path) -> None:
    s = simulator.load_scenario(path)
    assert 2 <= len(s.teaching_points) <= 4, "two to four teaching points"
    assert s.learning_objectives
    if s.expected_action == "dismiss":
        assert s.acceptable_dismissal_reasons
    cited = [src for src in s.sources if re.search(r"clinical-reference §\d", src)]
    assert cited, "every scenario cites the clinical reference by section"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_simulation_agrees_with_expected_action(path: Path) -> None:
    scenario = simulator.load_scenario(path)
    report = check_scenario(scenario, seeds=CI_SEEDS)
    assert report.agreement >= MIN_AGREEMENT, report.summary_line(MIN_AGREEMENT)
    if scenario.category in FALSE_POSITIVE:
        assert report.alert_rate >= FP_MIN_ALERT_RATE, (
            f"false-positive scenario fires its alert in only {report.alert_rate:.0%} of seeds"
        )
    if scenario.category == "masked-deterioration":
        assert report.alert_rate <= MASKED_MAX_ALERT_RATE, (
            f"masked scenario fires its alert in {report.alert_rate:.0%} of seeds"
        )
    if scenario.category == "stable-no-alert":
        assert report.alert_rate <= CONTROL_MAX_ALERT_RATE, (
            f"no-alert control fires its alert in {report.alert_rate:.0%} of seeds"
        )
