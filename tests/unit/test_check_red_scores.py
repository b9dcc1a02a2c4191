"""`scenarios check` reports single-parameter NEWS2 red scores at the decision, and warns without failing.

A seed that does not deteriorate but whose decision-time set has one parameter scoring 3
(clinical-reference §1.1; §1.2: "red score" → urgent ward-based response) is a red-score seed. Above
5% of seeds, outside artifact-fp (where the red score is the point of the case), the check prints a
warning naming the file, the parameter(s) and some seeds. It never fails the check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from app.cli.scenarios import scenarios_app
from simulator import parse_scenario
from simulator.check import RED_SCORE_WARN_SHARE, check_scenario
from simulator.engine import simulate, simulate_batch

from .conftest import minimal

runner = CliRunner()


def _resting(rr: list[float], category: str = "expected-course-fp") -> dict[str, Any]:
    """A quiet dismiss case decided at the nominal time: RR 24-26 scores 3 in about half the sets, nothing else."""
    reason = "artifact" if category == "artifact-fp" else "expected-course"
    return minimal(
        id="tiny-red-score",
        category=category,
        expected_action="dismiss",
        acceptable_dismissal_reasons=[reason],
        patient={"age": [60, 70], "diagnoses": ["Test"], "narrative": "Test patient."},
        baseline={"vitals": {"rr": {"baseline": rr}, "hr": {"baseline": [70, 76]}, "spo2": {"baseline": [97, 98]}}},
        measurement={"missing": {"rr": 0, "temp": 0}},
        timing={"decision": "fixed", "decision_hour": [10, 12]},
    )


def _scenario(doc: dict[str, Any]) -> Any:
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False), "tiny-red-score.yaml")


def test_batch_reports_the_red_parameters_the_nurse_sees() -> None:
    scenario = _scenario(_resting([24, 26]))
    batch = simulate_batch(scenario, [0, 1, 2, 3])
    for seed, red in zip(batch.seeds, batch.red_scores_at_decision, strict=True):
        latest = simulate(scenario, seed).view.news2_latest
        assert latest is not None
        assert set(red) == {k for k, v in latest.parameters.items() if v == 3}
        assert bool(red) == latest.single_parameter_3


def test_red_score_share_above_5_percent_warns_but_does_not_flag() -> None:
    report = check_scenario(_scenario(_resting([24, 26])), seeds=20, source="scenarios/tiny-red-score.yaml")
    assert report.deteriorated_rate == 0.0 and report.red_flag_seeds == ()
    assert report.red_score_rate > RED_SCORE_WARN_SHARE
    assert report.red_score_rate == len(report.red_score_seeds) / 20
    assert report.red_score_counts() == {"rr": len(report.red_score_seeds)}
    assert report.red_score_warned() and not report.flagged(0.95)
    message = report.red_score_message()
    assert message is not None and message.startswith("scenarios/tiny-red-score.yaml: ")
    assert "rr in " in message and str(report.red_score_seeds[0]) in message
    line = report.summary_line(0.95)
    assert line.startswith("ok  ") and "warning: red score: scenarios/tiny-red-score.yaml" in line
    data = report.as_dict(0.95)
    assert data["flagged"] is False
    assert data["red_score_rate"] == round(report.red_score_rate, 4)
    assert data["red_score_seeds"] == list(report.red_score_seeds)
    assert data["red_score_parameters"] == {"rr": len(report.red_score_seeds)}
    assert data["red_score_warning"] == message


def test_calm_baseline_has_no_red_score() -> None:
    report = check_scenario(_scenario(_resting([14, 16])), seeds=20)
    assert report.red_score_seeds == () and report.red_score_rate == 0.0
    assert report.red_score_message() is None
    assert "red score" not in report.summary_line(0.95)
    assert report.as_dict(0.95)["red_score_warning"] is None


def test_artifact_cases_are_reported_but_not_warned() -> None:
    report = check_scenario(_scenario(_resting([24, 26], category="artifact-fp")), seeds=20)
    assert report.red_score_rate > RED_SCORE_WARN_SHARE
    assert not report.red_score_warned() and report.red_score_message() is None
    assert report.as_dict(0.95)["red_score_rate"] > RED_SCORE_WARN_SHARE


def test_cli_prints_the_warning_and_still_passes(tmp_path: Path) -> None:
    path = tmp_path / "tiny-red-score.yaml"
    path.write_text(yaml.safe_dump(_resting([24, 26]), sort_keys=False), encoding="utf-8")
    result = runner.invoke(scenarios_app, ["check", str(path), "--seeds", "20"])
    assert result.exit_code == 0, result.output
    assert f"warning: red score: {path}: " in result.stdout
    assert "1 scenario(s) outside artifact-fp show a single-parameter NEWS2 red score" in result.stderr

    as_json = runner.invoke(scenarios_app, ["check", str(path), "--seeds", "20", "--json"])
    assert as_json.exit_code == 0
    (row,) = json.loads(as_json.stdout)
    assert row["red_score_rate"] > RED_SCORE_WARN_SHARE and row["red_score_parameters"].keys() == {"rr"}
    assert row["red_score_warning"].startswith(f"{path}: ")
