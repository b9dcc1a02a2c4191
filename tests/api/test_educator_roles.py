"""Only educators and admins reach the educator pages; nurses and managers get 403."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import Cohort, Drill, ScenarioVersion
from app.services.accounts import DEMO_COHORT
from tests.utils.auth import login
from tests.utils.educator_data import COPD, example_text, publish_example

PAGES = (
    "/scenarios",
    "/scenarios?category=chronic-baseline-fp",
    "/scenarios/new",
    f"/scenarios/new?from={COPD}",
    f"/scenarios/{COPD}",
    f"/scenarios/{COPD}/preview?seed=3",
    "/manage/drills",
    "/manage/drills/new",
    "/items",
)


@pytest.fixture
def library(demo):
    publish_example(demo, COPD)
    return demo


@pytest.mark.parametrize("username", ["nurse", "manager"])
def test_other_roles_get_403_on_every_educator_page(library, make_client, username):
    client = login(make_client(), username)
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 403, url
        assert "Not allowed" in r.text
    cohort = library.exec(select(Cohort).where(Cohort.name == DEMO_COHORT)).one()
    drill = Drill(title="x", cohort_id=cohort.id or 0, spec={"scenario_ids": [COPD]})
    library.add(drill)
    library.flush()
    assert client.get(f"/manage/drills/{drill.id}").status_code == 403


@pytest.mark.parametrize("username", ["nurse", "manager"])
def test_other_roles_cannot_publish_check_or_assign(library, make_client, username):
    client = login(make_client(), username)
    text = example_text(COPD).replace("version: 1", "version: 2", 1)
    assert client.post("/scenarios/validate", data={"text": text}).status_code == 403
    assert client.post("/scenarios/publish", data={"text": text}).status_code == 403
    assert client.post(f"/scenarios/{COPD}/check", data={"seeds": "20"}).status_code == 403
    assert client.post("/manage/drills", data={"title": "x", "scenario_ids": COPD}).status_code == 403
    assert len(library.exec(select(ScenarioVersion)).all()) == 1
    assert library.exec(select(Drill)).first() is None


@pytest.mark.parametrize("username", ["educator", "admin"])
def test_educators_and_admins_reach_every_page(library, make_client, username):
    client = login(make_client(), username)
    for url in PAGES:
        assert client.get(url).status_code == 200, url


def test_anonymous_visitors_are_sent_to_log_in(library, client):
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_publishing_needs_the_csrf_token(library, make_client):
    client = login(make_client(), "educator")
    client.headers.pop("X-CSRF-Token")
    text = example_text(COPD).replace("version: 1", "version: 2", 1)
    assert client.post("/scenarios/publish", data={"text": text}).status_code == 403
    assert len(library.exec(select(ScenarioVersion)).all()) == 1
