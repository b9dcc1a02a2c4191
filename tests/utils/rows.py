"""The fewest rows a decision needs, for tests that commit to a database of their own."""

from __future__ import annotations

from sqlmodel import Session

from app.models import ScenarioVersion, User


def trainee_and_version(session: Session) -> tuple[User, ScenarioVersion]:
    """A trainee (no unit) and a sepsis scenario version, flushed so both have ids."""
    trainee = User(username="t", display_name="T", password_hash="x", role="trainee")
    version = ScenarioVersion(scenario_id="s", version=1, title="S", category="sepsis",
                              expected_action="escalate", content_hash="0" * 64, source_text="{}")
    session.add(trainee)
    session.add(version)
    session.flush()
    return trainee, version
