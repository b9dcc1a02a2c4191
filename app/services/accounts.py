"""Creating users, units and cohorts; the demo accounts; roster import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.core.security import hash_password
from app.models import ROLES, AuditEvent, Cohort, Unit, User

DEMO_UNIT = "Demo Ward 7B"
DEMO_COHORT = "7B nurses"
DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo credential, never created in production
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("nurse", "Nurse Demo", "trainee"),
    ("educator", "Educator Demo", "educator"),
    ("manager", "Manager Demo", "manager"),
    ("admin", "Admin Demo", "admin"),
)


class AccountError(ValueError):
    """A user-facing problem with account data."""


def get_or_create_unit(session: Session, name: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.name == name)).first()
    if unit is None:
        unit = Unit(name=name)
        session.add(unit)
        session.flush()
    return unit


def get_or_create_cohort(session: Session, unit: Unit, name: str) -> Cohort:
    cohort = session.exec(select(Cohort).where(Cohort.unit_id == unit.id, Cohort.name == name)).first()
    if cohort is None:
        cohort = Cohort(unit_id=unit.id or 0, name=name)
        session.add(cohort)
        session.flush()
    return cohort


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    unit: Unit | None = None,
    cohort: Cohort | None = None,
    is_demo: bool = False,
    actor_id: int | None = None,
) -> User:
    username = username.strip().lower()
    if not username or len(username) > 80 or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError(f"username {username!r}: use letters, digits, '.', '-' or '_' (at most 80)")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    if len(password) < 4:
        raise AccountError("password: at least 4 characters")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise AccountError(f"username {username!r} already exists")
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:120],
        password_hash=hash_password(password),
        role=role,
        unit_id=unit.id if unit else None,
        cohort_id=cohort.id if cohort else None,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    session.add(AuditEvent(actor_id=actor_id, action="user.create", target=f"user:{user.id}", detail={"role": role}))
    return user


def ensure_demo_accounts(session: Session) -> list[str]:
    """Create the four demo logins in the demo unit unless they exist; returns those created."""
    unit = get_or_create_unit(session, DEMO_UNIT)
    cohort = get_or_create_cohort(session, unit, DEMO_COHORT)
    created = []
    for username, display, role in DEMO_ACCOUNTS:
        if session.exec(select(User).where(User.username == username)).first() is None:
            create_user(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=display,
                unit=unit,
                cohort=cohort if role == "trainee" else None,
                is_demo=True,
            )
            created.append(username)
    session.commit()
    return created


@dataclass
class RosterResult:
    created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def import_roster(session: Session, *, csv_text: str, unit: Unit, actor_id: int | None) -> RosterResult:
    """Trainees from CSV (`username,display_name,cohort,password`): all rows or none.

    Any bad row stops the whole import, with every problem reported by line, so a
    manager never has to work out which half of a ward got accounts.
    """
    result = RosterResult()
    reader = csv.DictReader(io.StringIO(csv_text))
    required = {"username", "display_name", "password"}
    if reader.fieldnames is None or not required <= {f.strip() for f in reader.fieldnames}:
        result.errors.append(f"line 1: header must include {', '.join(sorted(required))} (and optionally cohort)")
        return result
    rows = list(reader)
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):
        name = (row.get("username") or "").strip().lower()
        if name in seen:
            result.errors.append(f"line {i}: username: {name!r} appears twice in the file")
        seen.add(name)
    if result.errors:
        return result
    for i, row in enumerate(rows, start=2):
        cohort_name = (row.get("cohort") or "").strip()
        try:
            cohort = get_or_create_cohort(session, unit, cohort_name) if cohort_name else None
            create_user(
                session,
                username=row.get("username") or "",
                password=row.get("password") or "",
                role="trainee",
                display_name=row.get("display_name"),
                unit=unit,
                cohort=cohort,
                actor_id=actor_id,
            )
            result.created.append((row.get("username") or "").strip().lower())
        except AccountError as exc:
            result.errors.append(f"line {i}: {exc}")
    if result.errors:
        result.created.clear()
        session.rollback()
        return result
    session.commit()
    return result
