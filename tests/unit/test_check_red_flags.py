"""The library check fails a seed whose patient does not deteriorate but whose chart shows NEWS2 >= 7.

A nurse who escalates such a seed follows the chart (clinical-reference §1.2: NEWS2 >= 7 is an
emergency response) and would be graded wrong, so `scenarios check` must report it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from app.cli.scenarios import scenarios_app
from simulator import parse_scenario
from simulator.check import RED_FLAG_NEWS2, check_scenario
from simulator.engine import simulate, simulate_batch

from .conftest import minimal

runner = CliRunner()


def _tremor(hr: list[int], rr: list[int]) -> dict[str, Any]:
    """A dismiss (artefact) case: a motion artefact on the set just before the decision."""
    return minimal(
        id="tiny-red-flag",
        category="artifact-fp",
        expected_action="dismiss",
        acceptable_dismissal_reasons=["artifact"],
        baseline={"vitals": {"hr": {"baseline": hr}, "rr": {"baseline": rr}}},
        measurement={"artifacts": [{"type": "motion", "at_h": [0, 0]}], "missing": {"rr": 0, "temp": 0}},
        timing={"decision_hour": [10, 12]},
    )


def _scenario(doc: dict[str, Any]) -> Any:
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False), "tiny-red-flag.yaml")


def test_batch_reports_the_news2_the_nurse_sees() -> None:
    scenario = _scenario(_tremor([100, 104], [22, 23]))
    batch = simulate_batch(scenario, [0, 1, 2])
    for seed, shown in zip(batch.seeds, batch.news2_at_decision.tolist(), strict=True):
        latest = simulate(scenario, seed).view.news2_latest
        assert latest is not None and latest.total == shown


def test_non_deteriorating_seed_with_news2_7_trips_the_guard() -> None:
    # Fast pulse and RR 22-23 (true NEWS2 3) plus the motion set (SpO2 80-88 %, HR +20-40): >= 7 charted.
    scenario = _scenario(_tremor([100, 104], [22, 23]))
    report = check_scenario(scenario, seeds=10, source="scenarios/tiny-red-flag.yaml")
    assert report.deteriorated_rate == 0.0 and report.agreement == 1.0
    assert report.red_flag_seeds, "the artefact set should score NEWS2 >= 7"
    assert report.flagged(0.95)
    message = report.red_flag_message()
    assert message is not None
    assert message.startswith("scenarios/tiny-red-flag.yaml: ")
    assert f"NEWS2 >= {RED_FLAG_NEWS2}" in message and str(report.red_flag_seeds[0]) in message
    assert report.as_dict(0.95)["red_flag_seeds"] == list(report.red_flag_seeds)
    assert "red flag:" in report.summary_line(0.95) and report.summary_line(0.95).startswith("FLAG")


def test_calm_baseline_passes_the_guard() -> None:
    report = check_scenario(_scenario(_tremor([66, 72], [14, 16])), seeds=10)
    assert report.red_flag_seeds == () and report.red_flag_message() is None
    assert not report.flagged(0.95)


def test_cli_check_fails_and_names_file_and_seed(tmp_path: Path) -> None:
    path = tmp_path / "tiny-red-flag.yaml"
    path.write_text(yaml.safe_dump(_tremor([100, 104], [22, 23]), sort_keys=False), encoding="utf-8")
    result = runner.invoke(scenarios_app, ["check", str(path), "--seeds", "10"])
    assert result.exit_code == 1
    assert f"{path}: " in result.stderr and "seed(s) " in result.stderr
    assert "1 with NEWS2 >= 7 at the decision" in result.stderr


LIBRARY = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_library_has_no_red_flag_seeds() -> None:
    """Every published scenario passes the guard over the CI seeds (the 200-seed check is in the docs)."""
    from simulator import load_scenario

    failing = [
        msg for path in LIBRARY
        if (msg := check_scenario(load_scenario(path), seeds=50, source=str(path.name)).red_flag_message())
    ]
    assert not failing, "\n".join(failing)
