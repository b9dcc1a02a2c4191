"""Log-in, log-out, sessions and throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Executable, delete, func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import begin_write
from app.core.security import hash_password, needs_rehash, new_token, token_digest, verify_password
from app.models import AuditEvent, LoginFailure, User, UserSession


class LoginThrottled(Exception):
    """Too many recent failures for this username."""


def _aware(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def authenticate(session: Session, *, username: str, password: str, client: str = "") -> User | None:
    settings = get_settings()
    username = username.strip().lower()
    since = datetime.now(UTC) - timedelta(seconds=settings.login_lockout_s)
    failures = session.exec(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at >= since)
    ).one()
    if failures >= settings.login_max_failures:
        raise LoginThrottled(username)
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password)
    begin_write(session)
    if not ok or user is None or not user.is_active:
        session.add(LoginFailure(username=username, client=client[:64]))
        session.commit()
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    session.execute(delete(LoginFailure).where(col(LoginFailure.username) == username))
    session.commit()
    return user


def start_session(session: Session, user: User) -> tuple[str, UserSession]:
    """A fresh token on every log-in (no session fixation)."""
    begin_write(session)
    token = new_token()
    us = UserSession(
        id=token_digest(token),
        user_id=user.id or 0,
        csrf_token=new_token(),
        expires_at=datetime.now(UTC) + timedelta(seconds=get_settings().session_max_age_s),
    )
    session.add(us)
    session.add(AuditEvent(actor_id=user.id, action="login", target=f"user:{user.id}"))
    session.commit()
    return token, us


def load_session(session: Session, token: str | None) -> tuple[UserSession, User] | None:
    if not token:
        return None
    # One round trip for both rows: this runs on every signed-in request and every form post.
    row = session.exec(
        select(UserSession, User)
        .join(User, col(User.id) == col(UserSession.user_id))
        .where(UserSession.id == token_digest(token))
    ).first()
    if row is None:
        return None
    us, user = row
    return (us, user) if session_is_live(us, user) else None


def signed_in_row(
    session: Session, statement: Executable, token: str | None, attempt_id: int
) -> tuple[Any, ...] | None:
    """Run a query that reads the signed-in user with a route's own rows (one round trip for
    both): its first two columns are the session and its user, its parameters `session_id` and
    `attempt_id` (from the route's `{attempt_id:id}`, so one no row can have is already 0). None
    when the token names no live session."""
    if not token:
        return None
    params = {"attempt_id": attempt_id, "session_id": token_digest(token)}
    row = session.execute(statement, params).first()
    if row is None or not session_is_live(row[0], row[1]):
        return None
    return tuple(row)


def session_is_live(us: UserSession, user: User) -> bool:
    """A stored session still signs its user in: not expired, and the account is active."""
    return _aware(us.expires_at) >= datetime.now(UTC) and user.is_active


def end_session(session: Session, token: str | None) -> None:
    if not token:
        return
    begin_write(session)
    us = session.get(UserSession, token_digest(token))
    if us is not None:
        session.add(AuditEvent(actor_id=us.user_id, action="logout", target=f"user:{us.user_id}"))
        session.delete(us)
        session.commit()
    else:
        session.rollback()
