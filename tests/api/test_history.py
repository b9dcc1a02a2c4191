"""A trainee's own history: decided cases only, with replay links, and accuracy by category."""

from __future__ import annotations

import re

from sqlmodel import select

from app.models import Decision
from app.services.attempts import answer_of
from tests.utils.auth import login
from tests.utils.triage import attempt, decide, make_drill, next_case, publish, user

MIXED = ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure", "gi-bleed-upper"]


def test_empty_history_points_to_the_drills(demo, client):
    nurse = login(client, "nurse")
    r = nurse.get("/history")
    assert r.status_code == 200 and "No decisions yet" in r.text and 'href="/drills"' in r.text


def test_history_lists_decisions_with_replay_and_accuracy_by_category(demo, client):
    publish(demo, MIXED)
    nurse = login(client, "nurse")
    drill = make_drill(demo, title="Respiratory week", spec={"scenario_ids": MIXED}, n_cases=3)
    decided = []
    for _ in range(3):
        aid = next_case(nurse, f"/drills/{drill.id}/next")
        decide(nurse, aid, action="escalate")
        decided.append(aid)
    open_case = next_case(nurse, "/practice/next")  # undecided: must not be listed

    html = nurse.get("/history").text
    for aid in decided:
        assert f'href="/attempts/{aid}"' in html
        assert answer_of(attempt(demo, aid)).explanation.title.split(":")[0] in html
    assert f'href="/attempts/{open_case}"' not in html
    assert html.count("Respiratory week") == 3

    decisions = demo.exec(select(Decision).where(Decision.trainee_id == user(demo, "nurse").id)).all()
    by_cat: dict[str, list[bool]] = {}
    for d in decisions:
        by_cat.setdefault(d.category, []).append(d.correct)
    for cat, results in by_cat.items():
        row = re.search(rf'<tr data-category="{cat}">(.*?)</tr>', html, re.S)
        assert row, cat
        cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
        pct = round(100 * sum(results) / len(results))
        assert cells == [str(len(results)), str(sum(results)), f"{pct}%"]


def test_history_shows_only_my_decisions(demo, client, make_client):
    from app.models import Cohort, Unit
    from app.services.accounts import create_user

    publish(demo, MIXED)
    me = user(demo, "nurse")
    create_user(demo, username="nurse2", password="demo", role="trainee",
                unit=demo.get(Unit, me.unit_id), cohort=demo.get(Cohort, me.cohort_id))
    demo.commit()
    other = login(make_client(), "nurse2")
    theirs = next_case(other, "/practice/next")
    decide(other, theirs, action="escalate")
    nurse = login(client, "nurse")
    assert f'href="/attempts/{theirs}"' not in nurse.get("/history").text
    assert f'href="/attempts/{theirs}"' in other.get("/history").text


def test_replay_from_history_shows_the_same_feedback(demo, client):
    publish(demo, MIXED)
    nurse = login(client, "nurse")
    aid = next_case(nurse, "/practice/next")
    first = decide(nurse, aid, htmx=True, action="dismiss", reason="artifact", confidence="90")
    replay = nurse.get(f"/attempts/{aid}", headers={"HX-Request": "true"})
    strip = re.compile(r'name="csrf_token" value="[^"]*"')
    assert strip.sub("", first.text) == strip.sub("", replay.text)


def test_history_is_for_trainees(demo, make_client):
    for username in ("educator", "manager", "admin"):
        assert login(make_client(), username).get("/history").status_code == 403


def test_history_says_dont_escalate_where_no_alert_fired(demo, client):
    """A dismissal reads "Dismiss" only where an alert fired; otherwise the form's "Don’t escalate"."""
    from app.services.attempts import view_of

    publish(demo, MIXED)
    nurse = login(client, "nurse")
    drill = make_drill(demo, title="Quiet alerts", spec={"scenario_ids": MIXED}, n_cases=6, no_alert_share=0.5)
    fired: dict[int, bool] = {}
    for _ in range(6):
        aid = next_case(nurse, f"/drills/{drill.id}/next")
        decide(nurse, aid, action="dismiss")
        fired[aid] = view_of(attempt(demo, aid)).alert.fired
    assert False in fired.values()
    html = nurse.get("/history").text
    for aid, alert in fired.items():
        row = re.search(rf'<tr>\s*<td>[^<]*</td>\s*<th scope="row"><a href="/attempts/{aid}">.*?</tr>', html, re.S)
        assert row, aid
        assert ("<td>Dismiss</td>" if alert else "<td>Don’t escalate</td>") in row.group(0)
