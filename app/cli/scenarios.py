"""`alertdrill scenarios validate|check|schema` and `alertdrill simulate`: thin wrappers over simulator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from simulator import ScenarioIssue, ScenarioValidationError, load_scenario
from simulator.loader import file_name_issue
from simulator.schema import Scenario

scenarios_app = typer.Typer(no_args_is_help=True, help="Validate, check and describe scenario files.")


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories contribute their *.yaml / *.yml files, sorted."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            out.append(p)
    return out


def _load_all(paths: list[Path], *, check_names: bool = False) -> tuple[list[Scenario], list[ScenarioIssue]]:
    """Every valid scenario and every issue; with check_names a file not named <id>.yaml is an issue too."""
    loaded, issues = _load_with_paths(paths, check_names=check_names)
    return [sc for _, sc in loaded], issues


def _load_with_paths(
    paths: list[Path], *, check_names: bool = False
) -> tuple[list[tuple[Path, Scenario]], list[ScenarioIssue]]:
    """Like _load_all, keeping the file each scenario came from."""
    scenarios: list[tuple[Path, Scenario]] = []
    issues: list[ScenarioIssue] = []
    for path in _expand(paths):
        try:
            scenario = load_scenario(path)
        except ScenarioValidationError as err:
            issues += err.issues
            continue
        misnamed = file_name_issue(path, scenario) if check_names else None
        if misnamed is None:
            scenarios.append((path, scenario))
        else:
            issues.append(misnamed)
    return scenarios, issues


@scenarios_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or directories of *.yaml files.")],
) -> None:
    """Report every error in every file as file:line:col: field: message; exit 1 on any error.

    Besides the content, each file must be named after its id (<id>.yaml).
    """
    files = _expand(paths)
    scenarios, issues = _load_all(paths, check_names=True)
    for issue in issues:
        typer.echo(str(issue))
    bad = len({i.source for i in issues})
    typer.echo(f"{len(files)} file(s) checked: {len(scenarios)} valid, {bad} with errors.", err=True)
    if issues or not files:
        raise typer.Exit(1)


@scenarios_app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of the scenario format (scenarios/scenario.schema.json)."""
    from simulator.schema_export import schema_json

    text = schema_json()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@scenarios_app.command("check")
def check(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or directories of *.yaml files.")],
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=100_000, help="Seeds per scenario.")] = 200,
    min_agreement: Annotated[float, typer.Option("--min-agreement", min=0.0, max=1.0)] = 0.95,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Simulate each scenario over many seeds: outcome agreement with the expected action, alert rate.

    Reports go to stdout; progress, file problems and the summary go to stderr. With --json stdout
    holds nothing but the JSON list, and there is no progress bar, so stderr carries only problems.
    """
    from simulator.check import RED_SCORE_WARN_SHARE, CheckReport, check_scenario

    scenarios, issues = _load_with_paths(paths)
    for issue in issues:
        typer.echo(str(issue), err=True)
    reports: list[CheckReport] = []
    if json_:
        reports = [check_scenario(sc, seeds=seeds, source=str(path)) for path, sc in scenarios]
    else:
        with typer.progressbar(scenarios, label="Simulating", file=sys.stderr, show_pos=True) as bar:
            for path, sc in bar:
                reports.append(check_scenario(sc, seeds=seeds, source=str(path)))
    flagged = [r for r in reports if r.flagged(min_agreement)]
    if json_:
        typer.echo(json.dumps([r.as_dict(min_agreement) for r in reports], indent=2))
    else:
        for r in reports:
            typer.echo(r.summary_line(min_agreement))
        low = sum(r.agreement < min_agreement for r in reports)
        red = [r for r in reports if r.red_flag_seeds]
        typer.echo(
            f"{len(reports)} scenario(s), {seeds} seeds each: {low} below {min_agreement:.0%} agreement, "
            f"{len(red)} with NEWS2 >= 7 at the decision in a seed that does not deteriorate.",
            err=True,
        )
        for r in red:
            typer.echo(r.red_flag_message(), err=True)
        warned = [r for r in reports if r.red_score_warned()]
        if warned:
            typer.echo(
                f"Warning (does not fail the check): {len(warned)} scenario(s) outside artifact-fp show a "
                f"single-parameter NEWS2 red score at the decision, in a patient who does not deteriorate, in more "
                f"than {RED_SCORE_WARN_SHARE:.0%} of seeds.",
                err=True,
            )
    if issues or flagged or not reports:
        raise typer.Exit(1)


def simulate_command(
    file: Annotated[Path, typer.Argument(help="Scenario file.")],
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Variant seed.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print the case as JSON.")] = False,
) -> None:
    """Print one simulated case: the trainee view and the answer."""
    from simulator import simulate
    from simulator.render import case_text

    try:
        scenario = load_scenario(file)
    except ScenarioValidationError as err:
        for issue in err.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(1)
    case = simulate(scenario, seed)
    if json_:
        typer.echo(case.model_dump_json(indent=2))
    else:
        typer.echo(case_text(case))
