"""`alertdrill demo setup|seed`: demo logins plus synthetic decision history (never in production).

Exports `demo_data_app` (a Typer app with both commands) and the two command functions, so the
lead's `demo` group can mount them next to `demo accounts`:

    from app.cli.demo import demo_seed, demo_setup
    demo_app.command("setup")(demo_setup)
    demo_app.command("seed")(demo_seed)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from sqlmodel import Session

from app.core.db import get_engine
from app.services.accounts import DEMO_UNIT

if TYPE_CHECKING:
    from app.services.demo import SeedReport

demo_data_app = typer.Typer(no_args_is_help=True, help="Demo accounts and synthetic decision history.")


def _report(report: SeedReport, seconds: float) -> None:
    if report.skipped:
        typer.echo(f"demo history: already seeded in {report.unit} ({'; '.join(report.notes)})")
        return
    typer.echo(
        f"demo history: {report.trainees} synthetic trainees, {report.drills} weekly drills, "
        f"{report.decisions} decisions in {report.unit} ({seconds:.1f} s)"
    )


@demo_data_app.command("setup")
def demo_setup(
    days: Annotated[int, typer.Option(min=7, max=120, help="Days of history for the synthetic trainees.")] = 26,
) -> None:
    """Demo logins (password demo) and about a dozen synthetic trainees with weeks of decisions.

    Idempotent: run it again and nothing is added. Needs published scenarios.
    """
    from app.services.demo import DemoRefused, setup_demo

    started = time.perf_counter()
    with Session(get_engine()) as session:
        try:
            created, report = setup_demo(session, days=days)
        except DemoRefused as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1)
    typer.echo("demo logins created: " + (", ".join(created) if created else "none (already present)"))
    _report(report, time.perf_counter() - started)


@demo_data_app.command("seed")
def demo_seed(
    trainees: Annotated[int, typer.Option(min=1, max=100_000, help="Synthetic trainees to add.")] = 50,
    days: Annotated[int, typer.Option(min=1, max=730, help="Days of history for each.")] = 28,
    unit: Annotated[str, typer.Option(help="Unit to add them to (created if new).")] = DEMO_UNIT,
) -> None:
    """Add many synthetic trainees with random skill and bias, to try the dashboards at scale.

    Each trainee makes about 10–20 decisions a week, every one on a stored simulated case (about
    15 kB each), so 1,000 trainees over 90 days is roughly 200,000 cases and a few GB.
    """
    from app.services.demo import DemoRefused, seed_scale

    started = time.perf_counter()
    with Session(get_engine()) as session:
        try:
            report = seed_scale(session, trainees=trainees, days=days, unit_name=unit)
        except DemoRefused as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1)
    _report(report, time.perf_counter() - started)
