"""Read-only API tokens for a unit's reporting tools.

Only the sha256 digest is stored (as for log-in sessions), so the token text is shown once, at
creation. A token acts as its owner: it stops working when the owner is deactivated or is no longer a
manager or admin, and it only ever reaches the owner's own unit.
"""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.security import new_token, token_digest
from app.models import ApiToken, AuditEvent, User

TOKEN_PREFIX = "adk_"  # noqa: S105 - a recognisable prefix, not a secret
API_ROLES = frozenset({"manager", "admin"})


class TokenError(ValueError):
    """A user-facing problem creating or revoking a token."""


def create_token(session: Session, user: User, name: str) -> tuple[str, ApiToken]:
    """A new token for `user`: (the token text, to show once; the stored row)."""
    name = name.strip()
    if not name or len(name) > 120:
        raise TokenError("Give the token a name of 1–120 characters (e.g. the tool that will use it).")
    token = TOKEN_PREFIX + new_token()
    row = ApiToken(digest=token_digest(token), user_id=user.id or 0, name=name)
    session.add(row)
    session.flush()
    session.add(AuditEvent(actor_id=user.id, action="api_token.create", target=f"api_token:{row.id}",
                           detail={"name": name}))
    session.commit()
    return token, row


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())  # type: ignore[attr-defined]
    return list(session.exec(query))


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Managers revoke their own tokens; admins any token."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != user.id and user.role != "admin"):
        raise TokenError("No such token.")
    if not row.revoked:
        row.revoked = True
        session.add(row)
        session.add(AuditEvent(actor_id=user.id, action="api_token.revoke", target=f"api_token:{row.id}"))
        session.commit()
    return row


def user_for_token(session: Session, token: str) -> User | None:
    """The active manager/admin a bearer token belongs to, or None if it is unknown or revoked."""
    row = session.exec(select(ApiToken).where(ApiToken.digest == token_digest(token))).first()
    if row is None or row.revoked:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return user
