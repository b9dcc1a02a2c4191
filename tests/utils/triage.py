"""Helpers for the trainee-side tests: publish scenarios, make drills, walk a case over HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models import CaseAttempt, Cohort, Drill, User
from app.services.scenarios import publish_files, scenario_files

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
ATTEMPT_URL = re.compile(r"^/attempts/(\d+)$")


def publish(db: Session, names: list[str] | None = None) -> None:
    """Publish scenarios/ (or only the named files, without .yaml) into the test database."""
    paths = scenario_files([SCENARIOS])
    if names is not None:
        paths = [p for p in paths if p.stem in names]
        assert len(paths) == len(names), f"missing scenario files: {set(names) - {p.stem for p in paths}}"
    publish_files(db, paths)


def user(db: Session, username: str) -> User:
    found = db.exec(select(User).where(User.username == username)).one()
    return found


def make_drill(db: Session, *, cohort_id: int | None = None, **fields: Any) -> Drill:
    if cohort_id is None:
        cohort_id = user(db, "nurse").cohort_id
    assert cohort_id is not None
    drill = Drill(
        title=fields.pop("title", "Night-shift alerts"),
        cohort_id=cohort_id,
        spec=fields.pop("spec", {}),
        n_cases=fields.pop("n_cases", 3),
        mode=fields.pop("mode", "standard"),
        no_alert_share=fields.pop("no_alert_share", 0.0),
        **fields,
    )
    db.add(drill)
    db.commit()
    db.refresh(drill)
    return drill


def cohort_of(db: Session, username: str) -> Cohort:
    u = user(db, username)
    cohort = db.get(Cohort, u.cohort_id)
    assert cohort is not None
    return cohort


def next_case(client: TestClient, url: str) -> int:
    """POST a "next case" URL and return the attempt id it redirects to."""
    r = client.post(url)
    assert r.status_code == 303, r.text[:500]
    match = ATTEMPT_URL.match(r.headers["location"])
    assert match, r.headers["location"]
    return int(match.group(1))


def attempt(db: Session, attempt_id: int) -> CaseAttempt:
    db.expire_all()
    found = db.get(CaseAttempt, attempt_id)
    assert found is not None
    return found


def decide(client: TestClient, attempt_id: int, *, htmx: bool = False, **form: str) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"action": "dismiss", "reason": "baseline", "confidence": "70", **form}
    return client.post(f"/attempts/{attempt_id}/decision", data=data, headers=headers)
