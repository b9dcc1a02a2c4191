"""Nothing of the answer reaches the browser before the decision is stored.

Every response a trainee can get before deciding (lists, drill pages, the case page as a
page and as an htmx fragment, validation errors, refusals, the independent-judgement step)
is scanned for every piece of the stored answer: outcome, expected action, future values
and the explanation.
"""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from app.services.attempts import answer_of, view_of
from tests.utils.auth import login
from tests.utils.triage import attempt, decide, make_drill, next_case, publish

HX = {"HX-Request": "true"}
FUTURE_MARKERS = ("chart-future", "chart-pt-future", "After alert (what happened)", "after the decision",
                  "after-alert", "data-expected", "expected_action", "deteriorated")
FUTURE_TIME = re.compile(r"[>\s(]\+\d+(h|m)\b")


def _needles(db, attempt_id: int) -> list[str]:
    stored = attempt(db, attempt_id)
    ans = answer_of(stored)
    ex = ans.explanation
    texts = [ex.title, ex.clue, ex.category, ex.category_label, *ex.teaching_points, *ex.learning_objectives,
             *ex.sources, view_of(stored).scenario_id]
    for c in ans.outcome_criteria:
        texts += [c.label, c.detail]
    texts += [f.change_text for f in ex.factors]
    out = []
    for t in texts:
        t = t.strip()
        if len(t) >= 8:  # long enough to be distinctive
            out += [t, str(escape(t))]
    return out


def _assert_clean(html: str, needles: list[str], where: str) -> None:
    for needle in needles:
        assert needle not in html, f"{where} leaks answer text: {needle[:60]!r}"
    for marker in FUTURE_MARKERS:
        assert marker not in html, f"{where} shows {marker!r} before the decision"
    assert not FUTURE_TIME.search(html), f"{where} shows a time after the decision"


@pytest.fixture
def nurse(demo, client):
    publish(demo)  # every shipped scenario
    return login(client, "nurse")


def test_no_answer_in_any_response_before_the_decision(nurse, demo):
    standard = make_drill(demo, title="All kinds", spec={"categories": {}}, n_cases=5, no_alert_share=0.4)
    independent = make_drill(demo, title="Own call first", n_cases=2, mode="independent-first")
    pages: list[tuple[str, str, list[str]]] = []
    attempts = []
    for drill in (standard, independent):
        for _ in range(drill.n_cases):
            aid = next_case(nurse, f"/drills/{drill.id}/next")
            attempts.append(aid)
            needles = _needles(demo, aid)
            url = f"/attempts/{aid}"
            pages.append((url, nurse.get(url).text, needles))
            pages.append((f"{url} (htmx)", nurse.get(url, headers=HX).text, needles))
            r = decide(nurse, aid, htmx=True, action="dismiss", reason="")
            assert r.status_code in (409, 422)  # 409: independent judgement still due
            pages.append((f"{url} invalid decision", r.text, needles))
            if drill.mode == "independent-first":
                r = nurse.post(f"{url}/independent", data={"action": "maybe"}, headers=HX)
                assert r.status_code == 422
                pages.append((f"{url} invalid judgement", r.text, needles))
                r = nurse.post(f"{url}/independent", data={"action": "escalate"}, headers=HX)
                assert r.status_code == 200 and "alert-panel" in r.text
                pages.append((f"{url} after own judgement", r.text, needles))
                pages.append((f"{url} with alert", nurse.get(url).text, needles))
            # Lists open while the case is undecided. Earlier, decided cases may rightly show
            # their own answer, which can share text (a category, a repeated scenario).
            shown = {n for a in attempts[:-1] for n in _needles(demo, a)}
            only_this = [n for n in needles if n not in shown]
            for list_url in ("/drills", f"/drills/{drill.id}", "/history", "/practice"):
                pages.append((f"{list_url} while {url} is open", nurse.get(list_url).text, only_this))
            # Decide, so the drill moves on; from here this case's answer may show.
            decide(nurse, aid, action="escalate")
    assert len(attempts) == 7
    for where, html, needles in pages:
        _assert_clean(html, needles, where)


def test_no_alert_cases_are_dealt_and_leak_nothing(nurse, demo):
    drill = make_drill(demo, title="Quiet alerts", n_cases=4, no_alert_share=0.5)
    quiet = 0
    for _ in range(4):
        aid = next_case(nurse, f"/drills/{drill.id}/next")
        html = nurse.get(f"/attempts/{aid}").text
        if not view_of(attempt(demo, aid)).alert.fired:
            quiet += 1
            assert "No AI alert" in html and "Judge the patient from the chart" in html
            assert "Don’t escalate" in html
        _assert_clean(html, _needles(demo, aid), f"/attempts/{aid}")
        decide(nurse, aid, action="escalate")
    assert quiet >= 2


def test_the_answer_appears_once_decided(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    decide(nurse, aid, action="escalate")
    html = nurse.get(f"/attempts/{aid}").text
    ans = answer_of(attempt(demo, aid))
    assert str(escape(ans.explanation.title)) in html
    assert str(escape(ans.explanation.teaching_points[0])) in html
    assert "chart-future" in html and "+12h" in html
