"""Accounts: users, units and cohorts, the demo logins, roster import, admin actions.

Every admin action writes an `AuditEvent` in the same transaction as the change,
so the audit trail can never claim a change that did not happen (or miss one).
Functions called by routes commit; the lower-level helpers (`create_user`,
`get_or_create_*`) only flush, so callers can group them into one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.core.db import begin_write
from app.core.security import hash_password
from app.models import ROLES, AuditEvent, Cohort, LoginFailure, Unit, User, UserSession

DEMO_UNIT = "Demo Ward 7B"
DEMO_COHORT = "7B nurses"
DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo credential, never created in production
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("nurse", "Nurse Demo", "trainee"),
    ("educator", "Educator Demo", "educator"),
    ("manager", "Manager Demo", "manager"),
    ("admin", "Admin Demo", "admin"),
)

MIN_PASSWORD_LENGTH = 4  # the demo password; admin-entered passwords need ADMIN_MIN_PASSWORD_LENGTH
ADMIN_MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200  # the log-in form refuses longer input, so longer could never log in
MAX_NAME_LENGTH = 120
MAX_ROSTER_ROWS = 2000
ROLES_NEEDING_UNIT = frozenset({"trainee", "manager"})


class AccountError(ValueError):
    """A user-facing problem with account data."""


class AccountNotFound(LookupError):
    """The user, unit or cohort id does not exist."""


# --- validation -------------------------------------------------------------------


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> None:
    if (
        not username
        or len(username) > 80
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise AccountError(f"username {username!r}: use letters, digits, '.', '-' or '_' (at most 80)")


def check_password(password: str, *, min_length: int = MIN_PASSWORD_LENGTH) -> None:
    if len(password) < min_length:
        raise AccountError(f"password: at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password: at most {MAX_PASSWORD_LENGTH} characters")


def check_name(what: str, name: str) -> str:
    name = name.strip()
    if not name:
        raise AccountError(f"{what}: must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise AccountError(f"{what}: at most {MAX_NAME_LENGTH} characters")
    return name



# --- lookups ----------------------------------------------------------------------


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


def list_units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(col(Unit.name))).all())


def list_cohorts(session: Session) -> list[Cohort]:
    return list(session.exec(select(Cohort).order_by(col(Cohort.unit_id), col(Cohort.name))).all())


def list_users(session: Session, *, unit_id: int | None = None, no_unit: bool = False,
               role: str | None = None) -> list[User]:
    """Users for the admin list; `no_unit` selects staff not tied to any unit."""
    query = select(User)
    if no_unit:
        query = query.where(col(User.unit_id).is_(None))
    elif unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    if role:
        query = query.where(User.role == role)
    return list(session.exec(query.order_by(col(User.username))).all())


def user_counts_by_unit(session: Session) -> dict[int, int]:
    rows = session.exec(
        select(User.unit_id, func.count()).where(col(User.unit_id).is_not(None)).group_by(col(User.unit_id))
    ).all()
    return {unit_id: count for unit_id, count in rows if unit_id is not None}


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AccountNotFound(f"user {user_id}")
    return user


# --- creating accounts ------------------------------------------------------------


def _insert_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    role: str,
    unit_id: int | None,
    cohort_id: int | None,
    is_demo: bool,
    actor_id: int | None,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        unit_id=unit_id,
        cohort_id=cohort_id,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    session.add(AuditEvent(actor_id=actor_id, action="user.create", target=f"user:{user.id}",
                           detail={"role": role, "username": username}))
    return user


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
    min_password_length: int = MIN_PASSWORD_LENGTH,
) -> User:
    """Validate and add one user (flushed, not committed)."""
    username = normalise_username(username)
    check_username(username)
    if role not in ROLES:
        raise AccountError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    check_password(password, min_length=min_password_length)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise AccountError(f"username {username!r} already exists")
    return _insert_user(
        session,
        username=username,
        display_name=(display_name or username).strip()[:MAX_NAME_LENGTH] or username,
        password_hash=hash_password(password),
        role=role,
        unit_id=unit.id if unit else None,
        cohort_id=cohort.id if cohort else None,
        is_demo=is_demo,
        actor_id=actor_id,
    )


def admin_create_user(
    session: Session,
    *,
    actor_id: int,
    username: str,
    display_name: str,
    role: str,
    password: str,
    unit_id: int | None,
    cohort_id: int | None,
) -> User:
    """The admin form: trainees and managers belong to a unit, a cohort to its unit."""
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit_id is not None and unit is None:
        raise AccountError("unit: no such unit")
    cohort = session.get(Cohort, cohort_id) if cohort_id is not None else None
    if cohort_id is not None and cohort is None:
        raise AccountError("cohort: no such cohort")
    if cohort is not None:
        if unit is None:
            unit = session.get(Unit, cohort.unit_id)
        elif cohort.unit_id != unit.id:
            raise AccountError("cohort: belongs to another unit")
        if role != "trainee":
            raise AccountError("cohort: only trainees belong to a cohort")
    if role in ROLES_NEEDING_UNIT and unit is None:
        raise AccountError(f"unit: a {role} must belong to a unit")
    begin_write(session)
    user = create_user(
        session,
        username=username,
        password=password,
        role=role,
        display_name=check_name("display name", display_name) if display_name.strip() else None,
        unit=unit,
        cohort=cohort,
        actor_id=actor_id,
        min_password_length=ADMIN_MIN_PASSWORD_LENGTH,
    )
    session.commit()
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


# --- changing accounts ------------------------------------------------------------


def _end_sessions(session: Session, user_id: int, *, keep: str | None = None) -> None:
    query = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep is not None:
        query = query.where(col(UserSession.id) != keep)
    session.execute(query)


def set_active(session: Session, *, actor_id: int | None, user_id: int, active: bool) -> User:
    """Deactivating ends the user's sessions at once; an admin cannot lock themself out."""
    user = _get_user(session, user_id)
    if not active and user.id == actor_id:
        raise AccountError("you cannot deactivate your own account")
    begin_write(session)
    user.is_active = active
    session.add(user)
    if not active:
        _end_sessions(session, user_id)
    session.add(AuditEvent(actor_id=actor_id, action="user.reactivate" if active else "user.deactivate",
                           target=f"user:{user_id}", detail={"username": user.username}))
    session.commit()
    return user


def reset_password(
    session: Session, *, actor_id: int | None, user_id: int, password: str, keep_session: str | None = None
) -> User:
    """Set a new password, end the user's other sessions and lift any log-in lockout."""
    user = _get_user(session, user_id)
    check_password(password, min_length=ADMIN_MIN_PASSWORD_LENGTH)
    new_hash = hash_password(password)  # before the write lock: argon2 is deliberately slow
    begin_write(session)
    user.password_hash = new_hash
    session.add(user)
    _end_sessions(session, user_id, keep=keep_session)
    session.execute(delete(LoginFailure).where(col(LoginFailure.username) == user.username))
    session.add(AuditEvent(actor_id=actor_id, action="user.password_reset", target=f"user:{user_id}",
                           detail={"username": user.username}))
    session.commit()
    return user


def create_unit(session: Session, *, actor_id: int, name: str) -> Unit:
    name = check_name("unit name", name)
    if session.exec(select(Unit).where(func.lower(Unit.name) == name.lower())).first() is not None:
        raise AccountError(f"unit {name!r} already exists")
    begin_write(session)
    unit = Unit(name=name)
    session.add(unit)
    session.flush()
    session.add(AuditEvent(actor_id=actor_id, action="unit.create", target=f"unit:{unit.id}",
                           detail={"name": name}))
    session.commit()
    return unit


def create_cohort(session: Session, *, actor_id: int, unit_id: int, name: str) -> Cohort:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise AccountNotFound(f"unit {unit_id}")
    name = check_name("cohort name", name)
    exists = session.exec(
        select(Cohort).where(Cohort.unit_id == unit_id, func.lower(Cohort.name) == name.lower())
    ).first()
    if exists is not None:
        raise AccountError(f"cohort {name!r} already exists in {unit.name}")
    begin_write(session)
    cohort = Cohort(unit_id=unit_id, name=name)
    session.add(cohort)
    session.flush()
    session.add(AuditEvent(actor_id=actor_id, action="cohort.create", target=f"cohort:{cohort.id}",
                           detail={"name": name, "unit_id": unit_id}))
    session.commit()
    return cohort


# --- roster import ----------------------------------------------------------------


@dataclass
class RosterResult:
    created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _RosterRow:
    line: int
    username: str
    display_name: str
    cohort: str
    password: str


def _parse_roster(csv_text: str, errors: list[str]) -> list[_RosterRow]:
    """Rows with the physical line each starts on; every problem goes to `errors`."""
    reader = csv.reader(io.StringIO(csv_text.removeprefix("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        errors.append("line 1: the file is empty")
        return []
    except csv.Error as exc:
        errors.append(f"line 1: not readable as CSV ({exc})")
        return []
    required = ("username", "display_name", "password")
    missing = [h for h in required if h not in header]
    if missing:
        errors.append(f"line 1: header must include {', '.join(required)} (and optionally cohort); "
                      f"missing {', '.join(missing)}")
        return []
    index = {name: header.index(name) for name in (*required, "cohort") if name in header}
    rows: list[_RosterRow] = []
    consumed = reader.line_num  # physical lines read so far (a quoted field may span several)
    try:
        for record in reader:
            start, consumed = consumed + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are harmless
            if len(record) != len(header):
                errors.append(f"line {start}: expected {len(header)} fields, found {len(record)}")
                continue
            if len(rows) == MAX_ROSTER_ROWS:
                errors.append(f"line {start}: at most {MAX_ROSTER_ROWS} trainees per file")
                break
            rows.append(_RosterRow(
                line=start,
                username=normalise_username(record[index["username"]]),
                display_name=record[index["display_name"]].strip(),
                cohort=record[index["cohort"]].strip() if "cohort" in index else "",
                password=record[index["password"]],
            ))
    except csv.Error as exc:
        errors.append(f"line {consumed + 1}: not readable as CSV ({exc})")
    return rows


def _row_errors(row: _RosterRow) -> list[str]:
    checks: tuple[Callable[[], object], ...] = (
        lambda: check_username(row.username),
        lambda: check_password(row.password, min_length=ADMIN_MIN_PASSWORD_LENGTH),
        lambda: check_name("display_name", row.display_name),
        lambda: check_name("cohort", row.cohort) if row.cohort else None,
    )
    errors = []
    for check in checks:
        try:
            check()
        except AccountError as exc:
            errors.append(f"line {row.line}: {exc}")
    return errors


def import_roster(session: Session, *, csv_text: str, unit: Unit, actor_id: int | None) -> RosterResult:
    """Trainees from CSV (`username,display_name,cohort,password`): all rows or none.

    Every row is checked before anything is written, and every problem is reported
    with its line number, so a manager never has to work out which half of a ward
    got accounts. Passwords are hashed before the write lock is taken.
    """
    result = RosterResult()
    rows = _parse_roster(csv_text, result.errors)
    first_line: dict[str, int] = {}
    for row in rows:
        result.errors.extend(_row_errors(row))
        if row.username in first_line:
            result.errors.append(
                f"line {row.line}: username {row.username!r} already appears on line {first_line[row.username]}"
            )
        first_line.setdefault(row.username, row.line)
    if rows and not result.errors:
        taken = set(session.exec(select(User.username).where(col(User.username).in_(list(first_line)))).all())
        result.errors.extend(
            f"line {row.line}: username {row.username!r} already exists" for row in rows if row.username in taken
        )
    if not rows and not result.errors:
        result.errors.append("line 2: the file has a header but no trainees")
    if result.errors:
        _audit_failed_import(session, actor_id=actor_id, unit=unit, n_errors=len(result.errors))
        return result

    hashes = [hash_password(row.password) for row in rows]
    begin_write(session)
    cohorts: dict[str, Cohort] = {}
    for row, password_hash in zip(rows, hashes, strict=True):
        cohort = None
        if row.cohort:
            if row.cohort not in cohorts:
                cohorts[row.cohort] = get_or_create_cohort(session, unit, row.cohort)
            cohort = cohorts[row.cohort]
        _insert_user(
            session,
            username=row.username,
            display_name=row.display_name,
            password_hash=password_hash,
            role="trainee",
            unit_id=unit.id,
            cohort_id=cohort.id if cohort else None,
            is_demo=False,
            actor_id=actor_id,
        )
        result.created.append(row.username)
    session.add(AuditEvent(actor_id=actor_id, action="roster.import", target=f"unit:{unit.id}",
                           detail={"created": len(result.created), "cohorts": sorted(cohorts)}))
    session.commit()
    return result


def _audit_failed_import(session: Session, *, actor_id: int | None, unit: Unit, n_errors: int) -> None:
    """A refused import changes nothing but is still recorded (who tried, where, how many problems)."""
    begin_write(session)
    session.add(AuditEvent(actor_id=actor_id, action="roster.import_refused", target=f"unit:{unit.id}",
                           detail={"errors": n_errors}))
    session.commit()
