"""The case page's cached body: reused per attempt and state, never across attempts, users or states.

The immutable middle of a case page (alert panel, banner, charts, labs, assessments, feedback) is
rendered once and kept in the worker's cache (app.services.case_fragments). These tests pin what
that must never change: access is checked on every request, a body is only ever served for the
attempt and decision it was rendered from, nothing of the answer is read before the decision, and
what is per request (CSRF token, idempotency key, next-case form) is not frozen into the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import event
from sqlmodel import select

from app.core.db import get_engine
from app.models import CaseAttempt, Cohort, Unit, UserSession
from app.services.accounts import create_user
from app.services.attempts import answer_of, view_of
from app.services.case_fragments import CaseBody, FragmentCache, body_cache, fragment_key
from tests.utils.auth import login
from tests.utils.triage import attempt, decide, make_drill, next_case, publish, user

HX = {"HX-Request": "true"}
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def nurse(demo, client):
    publish(demo, ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure", "gi-bleed-upper"])
    body_cache.clear()
    return login(client, "nurse")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement the app sends while the test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _masked(html: str) -> str:
    return IDEMPOTENCY.sub('name="idempotency_key" value=""', html)


def test_second_view_reuses_the_body_and_renders_the_same_page(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    first = nurse.get(f"/attempts/{aid}")
    hits = body_cache.hits
    second = nurse.get(f"/attempts/{aid}")
    assert first.status_code == second.status_code == 200
    assert body_cache.hits == hits + 1
    assert _masked(second.text) == _masked(first.text)
    assert view_of(attempt(demo, aid)).patient.name in second.text
    # The htmx fragment is the same block, from the same body.
    fragment = nurse.get(f"/attempts/{aid}", headers=HX)
    assert fragment.text.lstrip().startswith('<article id="case"')
    assert _masked(fragment.text).strip() in _masked(second.text)


def test_per_request_parts_are_not_frozen_into_the_body(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    keys = {IDEMPOTENCY.search(nurse.get(f"/attempts/{aid}").text).group(1) for _ in range(3)}  # type: ignore[union-attr]
    assert len(keys) == 3  # every render gets its own idempotency key
    token = nurse.headers["X-CSRF-Token"]
    cached = [b for k, b in body_cache._items.items() if k[0] == aid]
    assert cached
    for body in cached:
        text = body.data + (body.alert or "")
        assert token not in text
        assert "csrf" not in text.lower() and "idempotency" not in text
        assert 'id="decision-form"' not in text


def test_each_attempt_gets_its_own_body(nurse, demo):
    drill = make_drill(demo, n_cases=3)
    ids = [next_case(nurse, f"/drills/{drill.id}/next")]
    decide(nurse, ids[0], action="escalate")
    ids.append(next_case(nurse, f"/drills/{drill.id}/next"))
    for aid in ids + ids:  # second pass comes from the cache
        html = nurse.get(f"/attempts/{aid}").text
        own = view_of(attempt(demo, aid))
        assert f'<h2 class="name" id="patient-name">{escape(own.patient.name)}</h2>' in html
        assert html.count('id="patient-name"') == 1
        assert str(escape(own.patient.narrative)) in html


def test_access_is_checked_before_the_cached_body_is_used(nurse, demo, make_client):
    me = user(demo, "nurse")
    create_user(
        demo,
        username="nurse2",
        password="demo",
        role="trainee",
        unit=demo.get(Unit, me.unit_id),
        cohort=demo.get(Cohort, me.cohort_id),
    )
    demo.commit()
    aid = next_case(nurse, "/practice/next")
    name = str(escape(view_of(attempt(demo, aid)).patient.name))
    assert name in nurse.get(f"/attempts/{aid}").text  # the body is now cached
    other = login(make_client(), "nurse2")
    manager = login(make_client(), "manager")
    for intruder in (other, manager):
        for headers in ({}, HX):
            r = intruder.get(f"/attempts/{aid}", headers=headers)
            assert r.status_code == 403
            assert name not in r.text and "chart-svg" not in r.text
    # Once decided, the manager reads the case; the other trainee still cannot.
    decide(nurse, aid, action="escalate")
    assert nurse.get(f"/attempts/{aid}").status_code == 200
    assert other.get(f"/attempts/{aid}").status_code == 403
    r = manager.get(f"/attempts/{aid}")
    assert r.status_code == 200 and "Review of Nurse Demo" in r.text and name in r.text
    assert "Next case" not in r.text


def test_the_cached_question_never_stands_in_for_the_feedback(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    for _ in range(2):
        html = nurse.get(f"/attempts/{aid}").text
        assert 'id="decision-form"' in html and 'id="feedback"' not in html
        assert "chart-future" not in html
    decide(nurse, aid, action="escalate")
    ans = answer_of(attempt(demo, aid))
    for _ in range(2):
        html = nurse.get(f"/attempts/{aid}").text
        assert 'id="feedback"' in html and 'id="decision-form"' not in html
        assert str(escape(ans.explanation.title)) in html and "chart-future" in html


def test_independent_first_shows_the_alert_only_after_the_own_call(nurse, demo):
    drill = make_drill(demo, n_cases=2, mode="independent-first")
    aid = next_case(nurse, f"/drills/{drill.id}/next")
    for _ in range(2):
        html = nurse.get(f"/attempts/{aid}").text
        assert 'data-state="pre-alert"' in html and "alert-panel" not in html
    r = nurse.post(f"/attempts/{aid}/independent", data={"action": "escalate"})
    assert r.status_code == 303
    for _ in range(2):
        html = nurse.get(f"/attempts/{aid}").text
        assert 'data-state="deciding"' in html and "alert-panel" in html
        assert "Before the alert you chose" in html


def test_next_case_button_follows_the_set_not_the_cache(nurse, demo):
    drill = make_drill(demo, n_cases=2)
    first = next_case(nurse, f"/drills/{drill.id}/next")
    decide(nurse, first, action="escalate")
    assert f'action="/drills/{drill.id}/next"' in nurse.get(f"/attempts/{first}").text
    second = next_case(nurse, f"/drills/{drill.id}/next")
    decide(nurse, second, action="escalate")
    # The drill is done: the same cached feedback body, but no "Next case" any more.
    html = nurse.get(f"/attempts/{first}").text
    assert 'id="feedback"' in html and f'action="/drills/{drill.id}/next"' not in html
    assert "See the summary" in html


def test_a_page_from_the_cache_never_reads_the_stored_case(nurse, demo, statements):
    aid = next_case(nurse, "/practice/next")
    statements.clear()
    nurse.get(f"/attempts/{aid}")  # first view renders the body: the view, never the answer
    assert any("view_json" in s for s in statements)
    assert not any("answer_json" in s for s in statements)
    statements.clear()
    nurse.get(f"/attempts/{aid}")
    assert not any("view_json" in s or "answer_json" in s for s in statements)


def test_a_repeat_view_is_one_query_that_also_signs_the_user_in(nurse, demo, statements):
    aid = next_case(nurse, "/practice/next")
    nurse.get(f"/attempts/{aid}")
    statements.clear()
    assert nurse.get(f"/attempts/{aid}").status_code == 200
    queries = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
    assert len(queries) == 1, queries
    assert "user_session" in queries[0] and "case_attempt" in queries[0]


def test_an_expired_session_gets_the_login_page_not_the_case(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    name = str(escape(view_of(attempt(demo, aid)).patient.name))
    assert name in nurse.get(f"/attempts/{aid}").text  # cached now
    for us in demo.exec(select(UserSession).where(UserSession.user_id == user(demo, "nurse").id)).all():
        us.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        demo.add(us)
    demo.commit()
    r = nurse.get(f"/attempts/{aid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert name not in r.text


def test_a_reused_id_is_a_different_key(nurse, demo):
    """SQLite can hand out a deleted row's id again: the key names the row by more than its id."""
    aid = next_case(nurse, "/practice/next")
    stored = attempt(demo, aid)
    key = fragment_key(stored, "deciding", None, None)
    same = CaseAttempt.model_validate(stored.model_dump())
    assert fragment_key(same, "deciding", None, None) == key
    for change in (
        {"seed": stored.seed + 1},
        {"started_at": stored.started_at + timedelta(seconds=1)},
        {"trainee_id": stored.trainee_id + 1},
        {"scenario_version_id": stored.scenario_version_id + 1},
    ):
        other = CaseAttempt.model_validate({**stored.model_dump(), **change})
        assert fragment_key(other, "deciding", None, None) != key
    assert fragment_key(stored, "pre-alert", None, None) != key
    with pytest.raises(ValueError):
        fragment_key(stored, "decided", None, None)


def _body(n: int) -> CaseBody:
    return CaseBody(
        alert=None,
        data=escape("x" * n),
        feedback=None,
        fired=True,
        time_of_day="02:00",
        history_hours=48,
        title=None,
    )


def test_fragment_cache_is_bounded_by_bytes_and_least_recently_used_goes_first():
    one = _body(1000)
    cache = FragmentCache(max_bytes=3 * one.nbytes)
    renders: list[str] = []

    def make(name: str) -> CaseBody:
        renders.append(name)
        return replace(one, title=name)

    for name in ("a", "b", "c"):
        cache.get_or_render((name,), lambda name=name: make(name))
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    assert cache.get_or_render(("a",), lambda: make("a2")).title == "a"  # a hit refreshes "a"
    cache.get_or_render(("d",), lambda: make("d"))  # evicts "b", the least recently used
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    cache.get_or_render(("a",), lambda: make("a3"))
    cache.get_or_render(("b",), lambda: make("b2"))
    assert renders == ["a", "b", "c", "d", "b2"]
    # A body larger than the whole budget is served but not kept.
    big = FragmentCache(max_bytes=10)
    assert big.get_or_render(("x",), lambda: one) is one and len(big) == 0


def test_fragment_templates_cannot_reach_for_request_state():
    """A body template that used the CSRF token or the user would fail, not cache an empty value."""
    from jinja2 import UndefinedError

    from app.services.case_screen import _FRAGMENTS

    for name in ("csrf_token", "user.display_name", "screen.notice"):
        with pytest.raises(UndefinedError):
            _FRAGMENTS.from_string("{{ " + name + " }}").render({"screen": object()})


def test_an_id_no_row_can_have_is_a_plain_not_found(nurse, make_client):
    huge = "100000000000000000000"
    assert nurse.get(f"/attempts/{huge}").status_code == 404
    assert nurse.post(f"/attempts/{huge}/decision", data={"action": "escalate"}).status_code == 404
    r = make_client().get(f"/attempts/{huge}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_decision_form_is_checked_only_after_sign_in_and_token(nurse, make_client):
    aid = next_case(nurse, "/practice/next")
    anonymous = make_client().post(f"/attempts/{aid}/decision", data={"action": "x" * 40}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    token = nurse.headers.pop("X-CSRF-Token")
    assert nurse.post(f"/attempts/{aid}/decision", data={"action": "x" * 40}).status_code == 403
    nurse.headers["X-CSRF-Token"] = token
    refused = nurse.post(f"/attempts/{aid}/decision", data={"action": "x" * 40, "reason_text": "y" * 5000})
    assert refused.status_code == 422 and "Nurse Demo" in refused.text  # the signed-in page, with errors
