"""Educator drill pages: create and assign (with validation), list with completion, detail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.models import AuditEvent, Cohort, Drill, User
from app.services.accounts import DEMO_COHORT, get_or_create_cohort, get_or_create_unit
from app.services.drills import DrillError, DrillForm, create_drill, list_drills
from tests.utils.auth import login
from tests.utils.educator_data import COPD, decide, publish_example, trainee

HX = {"HX-Request": "true"}


@pytest.fixture
def educator(demo, client):
    return login(client, "educator")


@pytest.fixture
def cohort(demo) -> Cohort:
    return demo.exec(select(Cohort).where(Cohort.name == DEMO_COHORT)).one()


def _form(cohort: Cohort, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Baselines week 1",
        "cohort_id": str(cohort.id),
        "source": "scenarios",
        "scenario_ids": [COPD],
        "n_cases": "5",
        "mode": "standard",
        "no_alert_pct": "20",
        "due_on": (date.today() + timedelta(days=7)).isoformat(),
    }
    data.update(overrides)
    return data


def test_new_drill_form_offers_own_cohorts_and_published_scenarios(demo, educator, cohort):
    publish_example(demo, COPD)
    other_unit = get_or_create_unit(demo, "Ward 9")
    get_or_create_cohort(demo, other_unit, "9 nurses")
    r = educator.get("/manage/drills/new")
    assert r.status_code == 200
    assert f'<option value="{cohort.id}"' in r.text
    assert "9 nurses" not in r.text
    assert f'value="{COPD}"' in r.text
    assert 'name="weight-true-deterioration"' in r.text


def test_create_drill_from_scenarios_stores_the_dealer_spec(demo, educator, cohort):
    publish_example(demo, COPD)
    r = educator.post("/manage/drills", data=_form(cohort, mode="independent-first"))
    assert r.status_code == 303
    drill = demo.exec(select(Drill)).one()
    assert r.headers["location"] == f"/manage/drills?created={drill.id}"
    assert drill.spec == {"scenario_ids": [COPD]}
    assert drill.cohort_id == cohort.id and drill.n_cases == 5
    assert drill.mode == "independent-first" and drill.no_alert_share == pytest.approx(0.2)
    assert drill.due_at is not None and drill.due_at.date() == date.today() + timedelta(days=7)
    assert demo.exec(select(AuditEvent).where(AuditEvent.action == "drill.create")).one().target == f"drill:{drill.id}"
    listing = educator.get(r.headers["location"])
    assert "Drill created and assigned" in listing.text and "Baselines week 1" in listing.text


def test_create_drill_from_a_category_mix(demo, educator, cohort):
    publish_example(demo, COPD)
    data = _form(cohort, source="categories", scenario_ids=[])
    data["weight-chronic-baseline-fp"] = "3"
    data["weight-true-deterioration"] = "0"
    r = educator.post("/manage/drills", data=data, headers=HX)
    assert r.status_code == 204 and r.headers["hx-redirect"].startswith("/manage/drills?created=")
    assert demo.exec(select(Drill)).one().spec == {"categories": {"chronic-baseline-fp": 3.0}}


def test_invalid_drill_form_is_re_rendered_with_every_problem(demo, educator, cohort):
    publish_example(demo, COPD)
    data = _form(cohort, title=" ", scenario_ids=[], n_cases="0", no_alert_pct="150",
                 due_on=(date.today() - timedelta(days=1)).isoformat(), mode="chaos")
    r = educator.post("/manage/drills", data=data, headers=HX)
    assert r.status_code == 422
    assert r.text.lstrip().startswith('<form id="drill-form"')
    for message in ("Give the drill a title", "Choose at least one scenario", "whole number from 1 to 100",
                    "percentage from 0 to 100", "due date is in the past", "Choose standard or independent"):
        assert message in r.text
    assert 'aria-invalid="true" aria-describedby="err-title"' in r.text
    assert 'href="#field-n_cases"' in r.text
    assert demo.exec(select(Drill)).first() is None
    # What was typed comes back.
    assert 'value="150"' in r.text

    full = educator.post("/manage/drills", data={**data, "csrf_token": educator.headers["X-CSRF-Token"]})
    assert full.status_code == 422 and "<html" in full.text.lower()


def test_category_mix_needs_a_weight_and_published_scenarios(demo, educator, cohort):
    publish_example(demo, COPD)
    none = educator.post("/manage/drills", data=_form(cohort, source="categories"), headers=HX)
    assert none.status_code == 422 and "at least one category a weight above 0" in none.text
    data = _form(cohort, source="categories")
    data["weight-sepsis-nonsense"] = "5"  # ignored: not a category
    data["weight-true-deterioration"] = "2"
    empty = educator.post("/manage/drills", data=data, headers=HX)
    assert empty.status_code == 422 and "No published scenario in: True deterioration" in empty.text
    data["weight-true-deterioration"] = "lots"
    bad = educator.post("/manage/drills", data=data, headers=HX)
    assert bad.status_code == 422 and "Weights are numbers from 0 to 100" in bad.text


def test_unknown_scenario_and_foreign_cohort_are_refused(demo, educator, cohort):
    publish_example(demo, COPD)
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    r = educator.post("/manage/drills", data=_form(foreign, scenario_ids=["made-up"]), headers=HX)
    assert r.status_code == 422
    assert "Choose a cohort from your unit" in r.text
    assert "Not a published scenario: made-up" in r.text


def test_admin_may_assign_to_any_unit(demo, cohort):
    publish_example(demo, COPD)
    admin = demo.exec(select(User).where(User.username == "admin")).one()
    admin.unit_id = None
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    drill = create_drill(demo, user=admin, form=DrillForm(title="t", cohort_id=str(foreign.id), scenario_ids=[COPD]))
    assert drill.cohort_id == foreign.id


def test_educator_without_a_unit_is_told_why(demo, cohort):
    publish_example(demo, COPD)
    educator = demo.exec(select(User).where(User.username == "educator")).one()
    educator.unit_id = None
    with pytest.raises(DrillError) as err:
        create_drill(demo, user=educator, form=DrillForm(title="t", cohort_id=str(cohort.id), scenario_ids=[COPD]))
    assert "not linked to a unit" in err.value.errors["cohort_id"]


def test_completion_counts_decisions_of_current_cohort_members(demo, educator, cohort):
    version = publish_example(demo, COPD)
    educator_user = demo.exec(select(User).where(User.username == "educator")).one()
    drill = create_drill(demo, user=educator_user,
                         form=DrillForm(title="Week 1", cohort_id=str(cohort.id), scenario_ids=[COPD], n_cases="3"))
    nurse = demo.exec(select(User).where(User.username == "nurse")).one()
    ann = trainee(demo, "ann", cohort)
    trainee(demo, "bob", cohort)  # not started
    moved = trainee(demo, "cy", None)  # left the cohort: not counted
    for _ in range(3):
        decide(demo, nurse, version, correct=True, drill=drill)
    decide(demo, ann, version, correct=False, drill=drill)
    decide(demo, moved, version, correct=True, drill=drill)
    decide(demo, ann, version, correct=True)  # practice, not this drill

    [progress] = list_drills(demo, educator_user)
    assert progress.trainees == 3  # nurse, ann, bob
    assert progress.assigned == 9
    assert progress.done == 4
    assert progress.completed_trainees == 1

    r = educator.get("/manage/drills")
    assert "4 / 9" in r.text and "1 of 3" in r.text
    detail = educator.get(f"/manage/drills/{drill.id}")
    assert detail.status_code == 200
    assert "Finished" in detail.text and "In progress" in detail.text and "Not started" in detail.text


def test_drills_of_other_units_are_hidden(demo, educator):
    publish_example(demo, COPD)
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    drill = Drill(title="Ward 9 only", cohort_id=foreign.id or 0, spec={"scenario_ids": [COPD]})
    demo.add(drill)
    demo.flush()
    assert "Ward 9 only" not in educator.get("/manage/drills").text
    assert educator.get(f"/manage/drills/{drill.id}").status_code == 404
