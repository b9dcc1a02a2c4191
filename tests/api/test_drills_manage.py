"""Educator drill pages: create and assign (with validation), list with completion, detail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.models import AuditEvent, Cohort, Drill, User
from app.services.accounts import DEMO_COHORT, DEMO_UNIT, get_or_create_cohort, get_or_create_unit
from app.services.drills import DrillError, DrillForm, create_drills, list_drills
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
        "cohort_ids": [str(cohort.id)],
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
    assert f'<input type="checkbox" name="cohort_ids" value="{cohort.id}" checked>' in r.text  # the only one
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
    assert "Choose only cohorts of your unit" in r.text
    assert "Not a published scenario: made-up" in r.text


def test_admin_may_assign_to_any_unit(demo, cohort):
    publish_example(demo, COPD)
    admin = demo.exec(select(User).where(User.username == "admin")).one()
    admin.unit_id = None
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    [drill] = create_drills(demo, user=admin, form=DrillForm(title="t", cohort_ids=[str(foreign.id)],
                                                             scenario_ids=[COPD]))
    assert drill.cohort_id == foreign.id


def test_educator_without_a_unit_is_told_why(demo, cohort):
    publish_example(demo, COPD)
    educator = demo.exec(select(User).where(User.username == "educator")).one()
    educator.unit_id = None
    with pytest.raises(DrillError) as err:
        create_drills(demo, user=educator, form=DrillForm(title="t", cohort_ids=[str(cohort.id)], scenario_ids=[COPD]))
    assert "not linked to a unit" in err.value.errors["cohort_ids"]


def test_completion_counts_decisions_of_current_cohort_members(demo, educator, cohort):
    version = publish_example(demo, COPD)
    educator_user = demo.exec(select(User).where(User.username == "educator")).one()
    [drill] = create_drills(demo, user=educator_user,
                            form=DrillForm(title="Week 1", cohort_ids=[str(cohort.id)], scenario_ids=[COPD], n_cases="3"))
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


# --- one drill, several cohorts ------------------------------------------------------------


@pytest.fixture
def night(demo, cohort) -> Cohort:
    """A second cohort of the educator's own unit."""
    unit = get_or_create_unit(demo, DEMO_UNIT)
    assert unit.id == cohort.unit_id
    return get_or_create_cohort(demo, unit, "7B night nurses")


def _drills(demo) -> list[Drill]:
    return list(demo.exec(select(Drill).order_by(Drill.id)).all())


def _audits(demo) -> list[AuditEvent]:
    return list(demo.exec(select(AuditEvent).where(AuditEvent.action == "drill.create").order_by(AuditEvent.id)).all())


def test_several_cohorts_are_offered_unticked_as_accessible_checkboxes(demo, educator, cohort, night):
    publish_example(demo, COPD)
    r = educator.get("/manage/drills/new")
    assert r.status_code == 200
    assert '<fieldset id="field-cohort_ids" aria-describedby="cohorts-hint">' in r.text
    assert "<legend>Cohorts</legend>" in r.text
    for c in (cohort, night):
        assert f'<label class="check"><input type="checkbox" name="cohort_ids" value="{c.id}"> {c.name}</label>' in r.text
    assert 'name="cohort_id"' not in r.text


@pytest.mark.parametrize("htmx", [False, True])
def test_one_drill_for_two_cohorts_makes_two_drills_with_the_same_settings(demo, educator, cohort, night, htmx):
    publish_example(demo, COPD)
    data = _form(cohort, cohort_ids=[str(night.id), str(cohort.id)], mode="independent-first")
    r = educator.post("/manage/drills", data=data, headers=HX if htmx else {})
    first, second = _drills(demo)
    assert {first.cohort_id, second.cohort_id} == {cohort.id, night.id}
    target = f"/manage/drills?created={first.id},{second.id}"
    if htmx:
        assert r.status_code == 204 and r.headers["hx-redirect"] == target
    else:
        assert r.status_code == 303 and r.headers["location"] == target
    settings = ("title", "spec", "n_cases", "mode", "no_alert_share", "due_at", "created_by")
    assert [getattr(first, s) for s in settings] == [getattr(second, s) for s in settings]
    assert first.title == "Baselines week 1" and first.spec == {"scenario_ids": [COPD]} and first.n_cases == 5
    assert first.mode == "independent-first" and first.due_at is not None

    audits = _audits(demo)
    assert [a.target for a in audits] == [f"drill:{first.id}", f"drill:{second.id}"]
    assert audits[0].detail["assigned_with"] == [second.id]
    assert audits[1].detail["assigned_with"] == [first.id]
    assert {a.detail["cohort_id"] for a in audits} == {cohort.id, night.id}

    # The list confirms both and keeps one row per cohort, each with its own cohort and completion.
    listing = educator.get(target)
    assert "Drill created and assigned to 2 cohorts:" in listing.text
    assert cohort.name in listing.text and night.name in listing.text
    by_id = {cohort.id: cohort, night.id: night}
    for d in (first, second):
        row = listing.text.split(f'id="drill-{d.id}"')[0].rsplit("<tr", 1)[1]
        assert 'class="current"' in row
        cells = listing.text.split(f'id="drill-{d.id}"')[1].split("</tr>")[0]
        assert f"<td>{by_id[d.cohort_id].name}</td>" in cells
        # Each drill's own page is about its own cohort.
        detail = educator.get(f"/manage/drills/{d.id}")
        assert detail.status_code == 200 and by_id[d.cohort_id].name in detail.text


def test_a_foreign_cohort_among_the_chosen_refuses_the_whole_form(demo, educator, cohort, night):
    publish_example(demo, COPD)
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    data = _form(cohort, cohort_ids=[str(cohort.id), str(foreign.id), str(night.id)])
    r = educator.post("/manage/drills", data=data, headers=HX)
    assert r.status_code == 422
    assert "Choose only cohorts of your unit" in r.text
    assert 'href="#field-cohort_ids"' in r.text
    assert 'aria-describedby="cohorts-hint err-cohort_ids"' in r.text
    assert '<p class="error field-error" id="err-cohort_ids">' in r.text
    assert _drills(demo) == [] and _audits(demo) == []
    # What was ticked comes back ticked; the foreign cohort is not offered at all.
    for c in (cohort, night):
        assert f'name="cohort_ids" value="{c.id}" checked>' in r.text
    assert "9 nurses" not in r.text


@pytest.mark.parametrize("ids", [[], [""], ["abc"], ["0"]])
def test_no_cohort_chosen_is_refused(demo, educator, cohort, night, ids):
    publish_example(demo, COPD)
    r = educator.post("/manage/drills", data=_form(cohort, cohort_ids=ids), headers=HX)
    assert r.status_code == 422
    message = "Choose at least one cohort." if ids in ([], [""]) else "Choose only cohorts of your unit."
    assert message in r.text
    assert 'checked>' not in r.text.split('id="field-cohort_ids"')[1].split("</fieldset>")[0]
    assert _drills(demo) == []


def test_a_refused_form_keeps_the_chosen_cohorts_ticked(demo, educator, cohort, night):
    publish_example(demo, COPD)
    data = {**_form(cohort, cohort_ids=[str(night.id)], title=""), "csrf_token": educator.headers["X-CSRF-Token"]}
    r = educator.post("/manage/drills", data=data)
    assert r.status_code == 422 and "<html" in r.text.lower()  # without JavaScript: the whole page
    assert f'name="cohort_ids" value="{night.id}" checked>' in r.text
    assert f'name="cohort_ids" value="{cohort.id}">' in r.text
    assert _drills(demo) == []


def test_the_same_cohort_twice_makes_one_drill_and_the_old_field_name_still_works(demo, educator, cohort):
    publish_example(demo, COPD)
    data = _form(cohort, cohort_ids=[str(cohort.id), f" {cohort.id} "])
    r = educator.post("/manage/drills", data=data)
    [drill] = _drills(demo)
    assert r.headers["location"] == f"/manage/drills?created={drill.id}"
    data = _form(cohort, cohort_ids=[])
    data["cohort_id"] = str(cohort.id)
    assert educator.post("/manage/drills", data=data).status_code == 303
    assert [d.cohort_id for d in _drills(demo)] == [cohort.id, cohort.id]


def test_admin_may_assign_one_drill_to_cohorts_of_several_units(demo, cohort):
    publish_example(demo, COPD)
    admin = demo.exec(select(User).where(User.username == "admin")).one()
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    drills = create_drills(demo, user=admin, form=DrillForm(title="t", cohort_ids=[str(foreign.id), str(cohort.id)],
                                                          scenario_ids=[COPD]))
    assert sorted(d.cohort_id for d in drills) == sorted([cohort.id, foreign.id])


def test_a_failure_while_storing_stores_no_drill_at_all(demo, cohort, night, monkeypatch):
    publish_example(demo, COPD)
    educator = demo.exec(select(User).where(User.username == "educator")).one()
    demo.commit()

    def refuse() -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(demo, "commit", refuse)
    with pytest.raises(RuntimeError):
        create_drills(demo, user=educator, form=DrillForm(title="t", cohort_ids=[str(cohort.id), str(night.id)],
                                                          scenario_ids=[COPD]))
    monkeypatch.undo()
    assert _drills(demo) == [] and _audits(demo) == []


@pytest.mark.parametrize("username", ["nurse", "manager"])
def test_other_roles_cannot_assign_to_several_cohorts(demo, make_client, cohort, night, username):
    publish_example(demo, COPD)
    client = login(make_client(), username)
    data = _form(cohort, cohort_ids=[str(cohort.id), str(night.id)])
    assert client.post("/manage/drills", data=data).status_code == 403
    assert client.post("/manage/drills", data=data, headers=HX).status_code == 403
    assert client.get("/manage/drills?created=1,2").status_code == 403
    assert _drills(demo) == []


def test_the_confirmation_ignores_junk_and_drills_of_other_units(demo, educator, cohort):
    publish_example(demo, COPD)
    foreign = get_or_create_cohort(demo, get_or_create_unit(demo, "Ward 9"), "9 nurses")
    hidden = Drill(title="Ward 9 only", cohort_id=foreign.id or 0, spec={"scenario_ids": [COPD]})
    demo.add(hidden)
    demo.flush()
    r = educator.get(f"/manage/drills?created=x,{hidden.id},-3,")
    assert r.status_code == 200
    assert "Ward 9 only" not in r.text and "9 nurses" not in r.text
    assert "Drill created and assigned." in r.text
