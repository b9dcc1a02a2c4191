"""Who may open a case replay once its trainee has moved unit.

A manager's access follows the unit the decision was made in (Decision.unit_id), not the trainee's
current unit: the old unit's dashboard still lists those decisions and must open them; the new
unit's manager sees only what was decided there. Undecided cases stay closed to every manager.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import Decision, User
from app.services.accounts import create_user, get_or_create_unit
from tests.utils.auth import login
from tests.utils.triage import decide, next_case, publish, user

MIXED = ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure", "gi-bleed-upper"]


@pytest.fixture
def nurse(demo, client):
    publish(demo, MIXED)
    return login(client, "nurse")


def _move(db, username: str, unit_id: int) -> None:
    trainee = user(db, username)
    trainee.unit_id = unit_id
    db.add(trainee)
    db.commit()


def _decision_unit(db, attempt_id: int) -> int | None:
    db.expire_all()
    return db.exec(select(Decision.unit_id).where(Decision.attempt_id == attempt_id)).one()


def test_old_unit_manager_opens_a_moved_trainees_decided_case(nurse, demo, make_client):
    old_unit = user(demo, "nurse").unit_id
    ward9 = get_or_create_unit(demo, "Ward 9")
    create_user(demo, username="mgr9", password="demo", role="manager", unit=ward9)
    demo.commit()
    aid = next_case(nurse, "/practice/next")
    decide(nurse, aid, action="escalate")
    assert _decision_unit(demo, aid) == old_unit

    _move(demo, "nurse", ward9.id)
    old_manager = login(make_client(), "manager")
    new_manager = login(make_client(), "mgr9")
    r = old_manager.get(f"/attempts/{aid}")
    assert r.status_code == 200 and 'id="feedback"' in r.text
    # The new unit's manager cannot open what was decided in the old unit.
    assert new_manager.get(f"/attempts/{aid}").status_code == 403
    # The trainee still sees their own case; the admin any decided case.
    assert nurse.get(f"/attempts/{aid}").status_code == 200
    assert login(make_client(), "admin").get(f"/attempts/{aid}").status_code == 200


def test_decisions_after_the_move_belong_to_the_new_unit(nurse, demo, make_client):
    ward9 = get_or_create_unit(demo, "Ward 9")
    create_user(demo, username="mgr9", password="demo", role="manager", unit=ward9)
    demo.commit()
    _move(demo, "nurse", ward9.id)
    old_manager = login(make_client(), "manager")
    new_manager = login(make_client(), "mgr9")

    aid = next_case(nurse, "/practice/next")
    # Undecided: the answer is still secret, so no manager (old or new unit) may open it.
    assert old_manager.get(f"/attempts/{aid}").status_code == 403
    assert new_manager.get(f"/attempts/{aid}").status_code == 403

    decide(nurse, aid, action="escalate")
    assert _decision_unit(demo, aid) == ward9.id
    assert new_manager.get(f"/attempts/{aid}").status_code == 200
    assert old_manager.get(f"/attempts/{aid}").status_code == 403


def test_undecided_case_of_a_moved_trainee_stays_closed_to_managers(nurse, demo, make_client):
    ward9 = get_or_create_unit(demo, "Ward 9")
    create_user(demo, username="mgr9", password="demo", role="manager", unit=ward9)
    demo.commit()
    aid = next_case(nurse, "/practice/next")  # dealt in the old unit, never decided
    _move(demo, "nurse", ward9.id)
    for manager in ("manager", "mgr9"):
        assert login(make_client(), manager).get(f"/attempts/{aid}").status_code == 403


def test_dashboard_replay_links_of_a_moved_trainee_open(nurse, demo, make_client):
    """The drill-down lists the old unit's decisions; every replay link on it must open."""
    ward9 = get_or_create_unit(demo, "Ward 9")
    demo.commit()
    aid = next_case(nurse, "/practice/next")
    decide(nurse, aid, action="dismiss")
    me: User = user(demo, "nurse")
    _move(demo, "nurse", ward9.id)
    manager = login(make_client(), "manager")
    page = manager.get(f"/dashboard/trainees/{me.id}")
    assert page.status_code == 200 and f"/attempts/{aid}" in page.text
    assert manager.get(f"/attempts/{aid}").status_code == 200


def test_can_view_follows_the_decisions_unit_not_the_trainees():
    """The rule itself, on detached objects: the decision's unit decides, not the trainee's."""
    from app.models import CaseAttempt
    from app.services.attempts import can_view

    attempt = CaseAttempt(id=1, trainee_id=7, scenario_version_id=1, seed=1, view_json="{}", answer_json="{}",
                          alert_fired=True, deteriorated=True)
    trainee = User(id=7, username="t", role="trainee", unit_id=2, password_hash="x", display_name="T")
    old_mgr = User(id=8, username="m1", role="manager", unit_id=1, password_hash="x", display_name="M1")
    new_mgr = User(id=9, username="m2", role="manager", unit_id=2, password_hash="x", display_name="M2")
    admin = User(id=10, username="a", role="admin", unit_id=None, password_hash="x", display_name="A")
    decided_in_old = Decision(attempt_id=1, trainee_id=7, unit_id=1, scenario_version_id=1, category="c",
                              action="escalate", confidence=70, alert_fired=True, deteriorated=True,
                              correct=True, time_to_decide_ms=1)
    assert trainee.unit_id == new_mgr.unit_id != decided_in_old.unit_id  # the trainee has moved since
    assert can_view(attempt, viewer=old_mgr, decision=decided_in_old)
    assert not can_view(attempt, viewer=new_mgr, decision=decided_in_old)
    assert can_view(attempt, viewer=admin, decision=decided_in_old)
    assert can_view(attempt, viewer=trainee, decision=None)
    for viewer in (old_mgr, new_mgr, admin):
        assert not can_view(attempt, viewer=viewer, decision=None)
    orphan = Decision.model_validate(decided_in_old.model_dump() | {"unit_id": None})
    assert not can_view(attempt, viewer=old_mgr, decision=orphan)
