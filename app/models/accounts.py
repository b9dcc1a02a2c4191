"""People and where they work: units, cohorts, users, log-in sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from app.models.base import utcnow

Role = Literal["trainee", "educator", "manager", "admin"]
ROLES: tuple[Role, ...] = ("trainee", "educator", "manager", "admin")


class Unit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Cohort(SQLModel, table=True):
    """A group of trainees that drills are assigned to (e.g. "Ward 7B new starters")."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16, index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id", index=True)
    is_active: bool = True
    is_demo: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class UserSession(SQLModel, table=True):
    """Server-side session: logging out or deactivating a user really ends it."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie token
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


class LoginFailure(SQLModel, table=True):
    """Recent failed log-ins, counted per username to throttle guessing."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, index=True)
    client: str = Field(default="", max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)


class ApiToken(SQLModel, table=True):
    """Read-only bearer token a unit's reporting tool uses for the JSON API."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
