"""`alertdrill` command line: database, accounts, scenarios, demo data, serving."""

from __future__ import annotations

import typer

from app.cli.admin import db_app, demo_app, scenarios_publish, users_app
from app.cli.demo import demo_seed, demo_setup
from app.cli.scenarios import scenarios_app, simulate_command

app = typer.Typer(no_args_is_help=True, help="alertdrill: AI deterioration-alert triage trainer.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
demo_app.command("setup")(demo_setup)
demo_app.command("seed")(demo_seed)
app.add_typer(demo_app, name="demo")
scenarios_app.command("publish")(scenarios_publish)
app.add_typer(scenarios_app, name="scenarios")
app.command("simulate")(simulate_command)
