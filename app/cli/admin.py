"""Operator commands: migrations, accounts and demo data."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.core.migrate import downgrade, upgrade

db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
users_app = typer.Typer(no_args_is_help=True, help="User accounts.")
demo_app = typer.Typer(no_args_is_help=True, help="Demo accounts and data (never in production).")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. base")) -> None:
    """Revert migrations down to REVISION."""
    downgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@users_app.command("create")
def users_create(
    username: str,
    role: str = typer.Option(..., help="trainee, educator, manager or admin"),
    unit: str | None = typer.Option(None, help="unit name (created if new)"),
    display_name: str | None = None,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user account."""
    from app.services.accounts import AccountError, create_user, get_or_create_unit

    with Session(get_engine()) as session:
        try:
            unit_row = get_or_create_unit(session, unit) if unit else None
            create_user(session, username=username, password=password, role=role,
                        display_name=display_name, unit=unit_row)
            session.commit()
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)
    typer.echo(f"created {username} ({role})")


def _refuse_demo_in_production() -> None:
    if get_settings().is_production:
        typer.echo("refusing: demo accounts are never created when ALERTDRILL_ENV=production", err=True)
        raise typer.Exit(1)


@demo_app.command("accounts")
def demo_accounts() -> None:
    """Create the demo logins (nurse, educator, manager, admin; password demo)."""
    from app.services.accounts import ensure_demo_accounts

    _refuse_demo_in_production()
    with Session(get_engine()) as session:
        created = ensure_demo_accounts(session)
    typer.echo("created: " + (", ".join(created) if created else "none (already present)"))


@users_app.command("reset-password")
def users_reset_password(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a new password (also the way back in when the only admin is locked out)."""
    from sqlmodel import select

    from app.models import User
    from app.services.accounts import AccountError, reset_password

    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.username == username.strip().lower())).first()
        if user is None or user.id is None:
            typer.echo(f"error: no user {username!r}", err=True)
            raise typer.Exit(1)
        try:
            reset_password(session, actor_id=None, user_id=user.id, password=password)
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)
    typer.echo(f"password reset for {username}; their sessions have ended")


@users_app.command("import-roster")
def users_import_roster(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV file: username,display_name,cohort,password"),
    unit: str = typer.Option(..., help="name of an existing unit"),
) -> None:
    """Create trainee accounts from CSV: every row or none, problems listed by line."""
    from sqlmodel import select

    from app.models import Unit
    from app.services.accounts import import_roster

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        typer.echo("error: not UTF-8 text; save it from the spreadsheet as 'CSV UTF-8'", err=True)
        raise typer.Exit(1)
    with Session(get_engine()) as session:
        unit_row = session.exec(select(Unit).where(Unit.name == unit.strip())).first()
        if unit_row is None:
            known = ", ".join(u.name for u in session.exec(select(Unit)).all()) or "none yet"
            typer.echo(f"error: no unit {unit!r} (units: {known})", err=True)
            raise typer.Exit(1)
        result = import_roster(session, csv_text=text, unit=unit_row, actor_id=None)
    if result.errors:
        for error in result.errors:
            typer.echo(f"{path}:{error}", err=True)
        typer.echo(f"nothing imported: {len(result.errors)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"created {len(result.created)} trainee account(s) in {unit.strip()}")


def scenarios_publish(
    paths: list[str] = typer.Argument(..., help="scenario files or folders of *.yaml"),
) -> None:
    """Validate and publish scenario files into the database (all or none)."""
    from pathlib import Path

    from app.services.scenarios import publish_files, scenario_files
    from simulator import ScenarioValidationError

    files = scenario_files([Path(p) for p in paths])
    with Session(get_engine()) as session:
        try:
            results = publish_files(session, files)
        except ScenarioValidationError as exc:
            for issue in exc.issues:
                typer.echo(str(issue), err=True)
            typer.echo(f"nothing published: {len(exc.issues)} problem(s)", err=True)
            raise typer.Exit(1)
    created = sum(r.created for r in results)
    typer.echo(f"{len(results)} scenario file(s): {created} new version(s), {len(results) - created} unchanged")
