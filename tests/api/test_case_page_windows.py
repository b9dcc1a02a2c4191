"""The case page over HTTP: headings state the fixed chart window, feedback draws a 24 h future."""

from __future__ import annotations

import re

import pytest

from app.services.attempts import answer_of, view_of
from app.services.case_screen import alert_crossing
from tests.utils.auth import login
from tests.utils.triage import attempt, decide, next_case, publish


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("scenario_id", ["post-dialysis-expected-course", "sepsis-afebrile-elderly"])
def test_headings_say_what_the_charts_draw(demo, client, scenario_id):
    publish(demo, [scenario_id])
    nurse = login(client, "nurse")
    aid = next_case(nurse, "/practice/next")
    stored = attempt(demo, aid)
    view = view_of(stored)
    text = _text(nurse.get(f"/attempts/{aid}").text)
    assert "the charts show the last 48 hours" in text and "Vital signs: last 48 hours" in text
    if view.history_hours > 48:
        assert "the labs and notes go back 72 hours" in text
        assert "last 72 hours" not in text
    crossing = alert_crossing(view)
    if crossing is not None and crossing.kind in ("since", "window"):  # crossed before now: never "crossed at now"
        assert f"since {crossing.since_label}" in text and f"It is now {view.decision_time_of_day}." in text
        assert "crossed the alert threshold" not in text

    action = "escalate" if answer_of(stored).deteriorated else "dismiss"
    assert decide(nurse, aid, action=action).status_code == 303
    html = nurse.get(f"/attempts/{aid}").text
    hours = answer_of(attempt(demo, aid)).future_hours
    assert ">+24h<" in html  # one axis for every case: 48 h back, 24 h ahead
    assert f"The charts below now show those {hours} hours as dashed lines." in _text(html)
    assert f"{hours} hours after" in _text(html)
