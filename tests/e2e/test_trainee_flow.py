"""A nurse finishes a five-case drill with the keyboard in Chromium, sees feedback and the summary.

Keyboard flow: E or D only selects (focus moves to that button, or to the reasons a dismiss still
needs); Enter confirms. A key alone never submits, and single-key shortcuts can be turned off.

Also: axe-core finds no serious or critical violations on the case page or the feedback (after
the htmx swap), the same decision works with JavaScript off, and the README screenshots are
taken here (docs/img/case-page.png, docs/img/feedback.png).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.models import CaseAttempt, Decision, Drill, User
from tests.e2e.conftest import axe_violations, login

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# README screenshots are refreshed with ALERTDRILL_SCREENSHOTS=1 (e.g. `make screenshots`);
# ordinary runs still take them, into a temporary folder, so the tooling stays exercised.
IMG = ROOT / "docs" / "img" if os.environ.get("ALERTDRILL_SCREENSHOTS") == "1" else Path(tempfile.gettempdir())
CASE_URL = re.compile(r"/attempts/(\d+)$")


def _nurse(session: Session, username: str = "nurse") -> User:
    return session.exec(select(User).where(User.username == username)).one()


@pytest.fixture
def five_case_drill(e2e_engine) -> int:
    with Session(e2e_engine) as session:
        nurse = _nurse(session)
        drill = Drill(title="Five alerts before hand-over", cohort_id=nurse.cohort_id or 0, spec={},
                      n_cases=5, no_alert_share=0.2)
        session.add(drill)
        session.commit()
        return drill.id or 0


def _shot(page, path: Path, height: int) -> None:
    """The top `height` px of the page as a window that tall shows it (the side column is sticky)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": height})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})


def _assert_accessible(page, where: str) -> None:
    found = axe_violations(page)
    assert not found, f"axe found serious/critical violations on {where}: {found}"


def _focused_action(page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.name === 'action'"
                         " ? document.activeElement.value : null")


def _stored_decisions(engine, attempt_id: int) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Decision).where(Decision.attempt_id == attempt_id)).all())


def _assert_not_submitted(page, engine, attempt_id: int) -> None:
    """Nothing was sent: no feedback, no page load, no stored decision, the form still there."""
    page.wait_for_timeout(400)  # room for a request that should not happen
    assert page.locator("#feedback").count() == 0
    assert page.locator("#decision-form, #pre-alert-form").count() == 1
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"
    assert _stored_decisions(engine, attempt_id) == 0


def test_nurse_completes_a_five_case_drill_with_the_keyboard(page, e2e_engine, five_case_drill):
    drill_id = five_case_drill
    login(page, "nurse")
    assert page.url.endswith("/drills")
    assert page.get_by_role("link", name="Five alerts before hand-over").is_visible()

    page.goto(f"/drills/{drill_id}")
    with page.expect_navigation():
        page.keyboard.press("n")  # Start
    shots_done = {"case": False, "feedback": False}
    seen: list[int] = []
    for i in range(5):
        match = CASE_URL.search(page.url)
        assert match, page.url
        seen.append(int(match.group(1)))
        page.wait_for_selector("#decision-form")
        fired = page.locator("#alert-heading").inner_text() == "AI deterioration alert"
        if i == 0:
            _assert_accessible(page, "the case page")
        if not shots_done["case"] and (fired or i == 4):
            _shot(page, IMG / "case-page.png", height=1300)
            shots_done["case"] = True

        # A marker that survives only if the decision is swapped in without a page load.
        page.evaluate("window.__noReload = true")
        if i % 2 == 0:
            page.keyboard.press("c")
            page.keyboard.press("ArrowRight")  # confidence 70 -> 80
            page.keyboard.press("e")  # selects escalate, focus on its button
            assert _focused_action(page) == "escalate"
            if i == 0:
                _assert_not_submitted(page, e2e_engine, seen[-1])
        elif i == 1:
            page.keyboard.press("1")  # within the documented baseline
            page.keyboard.press("d")  # a reason is chosen: focus on the dismiss button
            assert _focused_action(page) == "dismiss"
        else:
            page.keyboard.press("d")  # no reason yet: focus goes to the reasons first
            assert page.evaluate("document.activeElement.name") == "reason"
            page.keyboard.press("1")  # within the documented baseline; focus on the dismiss button
            assert _focused_action(page) == "dismiss"
        page.keyboard.press("Enter")  # the one deliberate confirmation
        page.wait_for_selector("#feedback")
        assert page.evaluate("window.__noReload === true"), "the decision reloaded the page"
        assert page.evaluate("document.activeElement && document.activeElement.id") == "feedback"
        assert page.locator("#feedback-heading").inner_text() in ("Correct", "Not the best call")
        assert page.locator("svg .chart-future").count() >= 5  # what happened next, on the same charts
        if i == 0:
            _assert_accessible(page, "the feedback")
        if not shots_done["feedback"] and (fired or i == 4):
            _shot(page, IMG / "feedback.png", height=1900)
            shots_done["feedback"] = True
        with page.expect_navigation():
            page.keyboard.press("n")  # next case, or the summary after the last one

    assert page.url.endswith(f"/drills/{drill_id}")
    assert page.get_by_role("heading", name="Summary").is_visible()
    with Session(e2e_engine) as session:
        nurse = _nurse(session)
        rows = session.exec(
            select(Decision).join(CaseAttempt, CaseAttempt.id == Decision.attempt_id)
            .where(CaseAttempt.drill_id == drill_id, Decision.trainee_id == nurse.id)
        ).all()
    assert len(rows) == 5 and sorted(d.attempt_id for d in rows) == sorted(seen)
    assert [d.action for d in sorted(rows, key=lambda d: d.attempt_id)] == ["escalate", "dismiss"] * 2 + ["escalate"]
    assert {d.confidence for d in rows if d.action == "escalate"} == {80}
    assert all(d.reason == "baseline" for d in rows if d.action == "dismiss")
    assert page.locator("#summary-correct").inner_text() == str(sum(d.correct for d in rows))
    missed = sum(d.deteriorated and d.action == "dismiss" for d in rows)
    assert page.locator("#summary-missed").inner_text() == str(missed)
    for attempt_id in seen:
        assert page.locator(f'a[href="/attempts/{attempt_id}"]').count() == 1
    assert shots_done == {"case": True, "feedback": True}


def test_decision_works_without_javascript(browser, server_url):
    context = browser.new_context(base_url=server_url, java_script_enabled=False,
                                  viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        login(page, "nurse")
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("practice", re.I)).click()
        assert CASE_URL.search(page.url)
        page.get_by_label("Other reason").fill("typed, then Enter")
        page.keyboard.press("Enter")  # no implicit submit (it would send the first button, escalate)
        page.wait_for_timeout(400)
        assert page.locator("#feedback").count() == 0 and page.locator("#decision-form").count() == 1
        assert page.locator("[data-shortcut-settings]").is_hidden()  # no shortcuts without JavaScript
        page.get_by_label("Other reason").fill("")
        page.get_by_label("Measurement artefact").check()
        with page.expect_navigation():
            page.locator('button[value="dismiss"]').click()
        assert CASE_URL.search(page.url)  # PRG: back on the same case, now with feedback
        assert page.locator("#feedback-heading").inner_text() in ("Correct", "Not the best call")
        assert "Measurement artefact" in page.locator("#feedback").inner_text()
    finally:
        context.close()


def test_independent_assessment_first_with_the_keyboard(page, e2e_engine):
    with Session(e2e_engine) as session:
        nurse = _nurse(session)
        drill = Drill(title="Your call first", cohort_id=nurse.cohort_id or 0, spec={}, n_cases=1,
                      mode="independent-first")
        session.add(drill)
        session.commit()
        drill_id = drill.id
    login(page, "nurse")
    page.goto(f"/drills/{drill_id}")
    with page.expect_navigation():
        page.keyboard.press("n")
    page.wait_for_selector("#pre-alert-form")
    assert page.locator(".alert-panel").count() == 0  # no alert before the nurse's own call
    _assert_accessible(page, "the independent-assessment step")
    page.evaluate("window.__noReload = true")
    page.keyboard.press("d")  # selects "I would not escalate"; nothing sent yet
    assert _focused_action(page) == "dismiss"
    attempt_id = int(CASE_URL.search(page.url).group(1))
    _assert_not_submitted(page, e2e_engine, attempt_id)
    assert page.locator("#pre-alert-form").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_selector("#decision-form")
    assert page.evaluate("window.__noReload === true")
    assert page.evaluate("document.activeElement && document.activeElement.id") == ""  # the alert panel
    assert page.evaluate("document.activeElement.classList.contains('alert-panel')")
    assert "Before the alert you chose" in page.locator("#decision-form").inner_text()
    page.keyboard.press("e")
    assert _focused_action(page) == "escalate"
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback")
    assert "Before seeing the alert you would have chosen to dismiss" in page.locator("#feedback").inner_text()
    with Session(e2e_engine) as session:
        d = session.exec(
            select(Decision).join(CaseAttempt, CaseAttempt.id == Decision.attempt_id)
            .where(CaseAttempt.drill_id == drill_id)
        ).one()
    assert (d.independent_action, d.action) == ("dismiss", "escalate")


def test_a_shortcut_key_alone_never_submits_and_shortcuts_can_be_turned_off(page, e2e_engine):
    login(page, "nurse")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("practice", re.I)).click()
    attempt_id = int(CASE_URL.search(page.url).group(1))
    page.wait_for_selector("#decision-form")
    escalate = page.locator('#decision-form button[value="escalate"]')
    toggle = page.get_by_label("Single-key shortcuts")
    assert toggle.is_visible() and toggle.is_checked()
    assert escalate.get_attribute("aria-keyshortcuts") == "E"
    assert "Enter" in page.locator("[data-shortcut-help]").inner_text()
    page.evaluate("window.__noReload = true")

    page.keyboard.press("e")  # selects escalate and nothing more
    assert _focused_action(page) == "escalate"
    assert "press Enter" in page.locator("[data-shortcut-status]").inner_text()
    _assert_not_submitted(page, e2e_engine, attempt_id)

    page.keyboard.press("1")  # a reason radio: Enter there must not submit the first button
    page.keyboard.press("Enter")
    _assert_not_submitted(page, e2e_engine, attempt_id)

    toggle.focus()  # the switch is keyboard-reachable
    page.keyboard.press("Space")
    assert not toggle.is_checked()
    assert escalate.get_attribute("aria-keyshortcuts") is None
    assert page.locator("[data-shortcut-help]").is_hidden()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("e")
    page.keyboard.press("d")
    assert _focused_action(page) is None  # the keys did nothing
    assert page.locator("[data-shortcut-status]").inner_text() == ""
    _assert_not_submitted(page, e2e_engine, attempt_id)

    page.reload()  # the choice is remembered
    page.wait_for_selector("#decision-form")
    assert not toggle.is_checked()
    page.evaluate("window.__noReload = true")
    page.keyboard.press("e")
    assert _focused_action(page) is None
    _assert_not_submitted(page, e2e_engine, attempt_id)

    toggle.check()  # on again: E then Enter decides
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("e")
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback")
    with Session(e2e_engine) as session:
        d = session.exec(select(Decision).where(Decision.attempt_id == attempt_id)).one()
    assert d.action == "escalate"
