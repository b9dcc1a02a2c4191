"""Passwords (argon2) and server-side session tokens.

The cookie holds a random token; the database holds only its sha256, so a leaked
database backup cannot be replayed as a log-in.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST

from app.core.config import get_settings


@lru_cache
def hasher() -> PasswordHasher:
    if get_settings().argon2_profile == "test":
        return PasswordHasher.from_parameters(CHEAPEST)
    return PasswordHasher()


@lru_cache
def _dummy_hash() -> str:
    return hasher().hash("not-a-real-password")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time: an unknown user still costs one argon2 verify."""
    try:
        return hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
