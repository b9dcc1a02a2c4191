"""`alertdrill scenarios validate|check|schema` and `alertdrill simulate`: thin wrappers over simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulator import ScenarioIssue, ScenarioValidationError, load_scenario
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


def _load_all(paths: list[Path]) -> tuple[list[Scenario], list[ScenarioIssue]]:
    scenarios: list[Scenario] = []
    issues: list[ScenarioIssue] = []
    for path in _expand(paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioValidationError as err:
            issues += err.issues
    return scenarios, issues


@scenarios_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or directories of *.yaml files.")],
) -> None:
    """Report every error in every file as file:line:col: field: message; exit 1 on any error."""
    files = _expand(paths)
    scenarios, issues = _load_all(paths)
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


def simulate_command(
    file: Annotated[Path, typer.Argument(help="Scenario file.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Variant seed.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print the case as JSON.")] = False,
) -> None:
    """Print one simulated case (engine lands in the next commit)."""
    typer.echo(f"simulate {file} --seed {seed}{' --json' if json_ else ''}: engine not available yet", err=True)
    raise typer.Exit(2)
