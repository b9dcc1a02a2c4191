"""`alertdrill simulate` and `alertdrill scenarios check|schema` through typer's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from app.cli.scenarios import scenarios_app, simulate_command
from simulator import load_scenario, simulate
from simulator.schema_export import schema_json

ROOT = Path(__file__).resolve().parents[2]
COPD = ROOT / "scenarios" / "copd-hypercapnic-baseline.yaml"
SEPSIS = ROOT / "scenarios" / "sepsis-classic.yaml"
runner = CliRunner()


def _simulate_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate_command)
    return app


def test_simulate_json_is_the_case() -> None:
    result = runner.invoke(_simulate_app(), [str(COPD), "--seed", "9", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = json.loads(simulate(load_scenario(COPD), 9).model_dump_json())
    assert data == expected


def test_simulate_text_separates_view_and_answer() -> None:
    result = runner.invoke(_simulate_app(), [str(SEPSIS), "--seed", "1"])
    assert result.exit_code == 0, result.output
    view, _, answer = result.stdout.partition("=== ANSWER")
    assert "TRAINEE VIEW" in view and "ALERT" in view
    assert load_scenario(SEPSIS).title not in view and load_scenario(SEPSIS).title in answer


def test_simulate_invalid_file_reports_issues(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("format_version: 2\n", encoding="utf-8")
    result = runner.invoke(_simulate_app(), [str(bad), "--seed", "1"])
    assert result.exit_code == 1
    assert f"{bad}:1:1: format_version:" in result.output
    assert "Traceback" not in result.output


def test_check_passes_the_examples() -> None:
    result = runner.invoke(scenarios_app, ["check", str(COPD), str(SEPSIS), "--seeds", "40", "--json"])
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [r["scenario_id"] for r in reports] == ["copd-hypercapnic-baseline", "sepsis-classic"]
    assert all(r["agreement"] >= 0.95 and not r["flagged"] for r in reports)


def test_check_json_output_is_only_json() -> None:
    """--json: stdout parses as JSON on its own and, with no progress bar, so does stdout + stderr."""
    result = runner.invoke(scenarios_app, ["check", str(COPD), "--seeds", "10", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.output) == json.loads(result.stdout)


def test_check_json_parses_from_a_real_process() -> None:
    """The installed command as a shell pipeline sees it: stdout and stderr as separate OS streams."""
    code = "from app.cli import app; app()"
    out = subprocess.run(
        [sys.executable, "-c", code, "scenarios", "check", str(COPD), "--seeds", "10", "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    assert [r["scenario_id"] for r in reports] == ["copd-hypercapnic-baseline"]
    assert "Simulating" not in out.stdout and "Simulating" not in out.stderr


def test_check_text_mode_keeps_progress_off_stdout() -> None:
    result = runner.invoke(scenarios_app, ["check", str(COPD), "--seeds", "10"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok   copd-hypercapnic-baseline")
    assert "Simulating" in result.stderr and "1 scenario(s)" in result.stderr


def test_check_flags_a_scenario_whose_outcome_contradicts_it(tmp_path: Path) -> None:
    doc = yaml.safe_load(COPD.read_text(encoding="utf-8"))
    doc["id"] = "copd-with-hidden-sepsis"
    doc["trajectory"] = [{"type": "sepsis", "onset_h": -12, "severity": 1.0}]
    path = tmp_path / "copd-with-hidden-sepsis.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = runner.invoke(scenarios_app, ["check", str(path), "--seeds", "20"])
    assert result.exit_code == 1
    assert "FLAG copd-with-hidden-sepsis" in result.stdout


def test_schema_command_prints_the_committed_schema(tmp_path: Path) -> None:
    result = runner.invoke(scenarios_app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == schema_json()
    out = tmp_path / "s.json"
    assert runner.invoke(scenarios_app, ["schema", "-o", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == schema_json()
