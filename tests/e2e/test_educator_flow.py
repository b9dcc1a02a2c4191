"""Browser test of the educator half of issue #5, end to end in Chromium.

The educator uploads a scenario with a mistake, sees it at its line, fixes it in the
editor, publishes it and assigns a drill; the nurse completes the drill through the
ordinary case pages; the educator sees completion and the manager sees the results.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.e2e.conftest import axe_violations, login

pytestmark = pytest.mark.e2e

COPD = Path(__file__).resolve().parents[2] / "scenarios" / "copd-hypercapnic-baseline.yaml"
ALL_IMPACTS = ("minor", "moderate", "serious", "critical")


def _log_in(browser: Browser, base_url: str, username: str, *, javascript: bool = True) -> Page:
    """A fresh browser context (own cookies) for one role, logged in through the real form."""
    context = browser.new_context(base_url=base_url, java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, username)
    return page


def _fresh_copy(scenario_id: str) -> str:
    """The COPD example as a new scenario: its own id, and version 1 whatever the example's version is."""
    text = COPD.read_text(encoding="utf-8").replace("id: copd-hypercapnic-baseline", f"id: {scenario_id}", 1)
    return re.sub(r"^version: \d+$", "version: 1", text, count=1, flags=re.MULTILINE)


def _upload(name: str, text: str) -> FilePayload:
    return {"name": name, "mimeType": "text/yaml", "buffer": text.encode("utf-8")}


def _assert_accessible(page: Page, where: str) -> None:
    found = axe_violations(page, impacts=ALL_IMPACTS)
    assert not found, f"axe violations on {where}: {found}"


def _summary_decisions(page: Page) -> int:
    text = page.locator(".summary-line").inner_text()
    match = re.search(r"(\d+) decisions?", text)
    assert match, text
    return int(match.group(1))


def test_upload_fix_publish_assign_complete_and_report(browser: Browser, live_server: str) -> None:
    scenario_id = f"e2e-copd-{secrets.token_hex(3)}"
    good = _fresh_copy(scenario_id)
    bad = good.replace("expected_action: dismiss", "expected_action: dismis", 1)
    error_line = next(i for i, line in enumerate(bad.split("\n"), 1) if line.startswith("expected_action:"))

    # The manager's view before: remembered to show that new results arrive.
    manager = _log_in(browser, live_server, "manager")
    manager.goto("/dashboard")
    decisions_before = _summary_decisions(manager) if manager.locator(".summary-line").count() else 0

    # --- educator: upload with an error, see it at its line -------------------------------
    educator = _log_in(browser, live_server, "educator")
    educator.goto("/scenarios/new")
    educator.set_input_files("#scenario-file", files=[_upload(f"{scenario_id}.yaml", bad)])
    educator.get_by_role("button", name="Check for problems").click()
    summary = educator.locator("#issue-summary")
    expect(summary).to_be_visible()
    link = summary.get_by_role("link", name=f"Line {error_line}, column 1")
    expect(link).to_be_visible()
    marked = educator.locator(f"#line-{error_line}")
    expect(marked).to_have_class(re.compile(r"\bhas-issue\b"))
    described_by = marked.get_attribute("aria-describedby") or ""
    assert described_by
    expect(educator.locator(f"#{described_by.split()[0]}")).to_contain_text("dismis")
    _assert_accessible(educator, "the editor after the htmx check")
    link.click()
    expect(educator).to_have_url(re.compile(rf"#line-{error_line}$"))

    # --- fix it in the editor, check again, publish ------------------------------------------
    editor = educator.locator("#scenario-text")
    expect(editor).to_have_value(re.compile("expected_action: dismis\n"))
    editor.fill(editor.input_value().replace("expected_action: dismis\n", "expected_action: dismiss\n", 1))
    educator.get_by_role("button", name="Check for problems").click()
    expect(educator.locator("#valid-summary")).to_contain_text("No problems found")
    educator.get_by_role("button", name="Publish").click()
    educator.wait_for_url(re.compile(rf"/scenarios/{scenario_id}\?version=1&published=1$"))
    expect(educator.get_by_role("status")).to_contain_text("Published version 1")

    # --- assign a drill with that scenario ------------------------------------------------------
    title = f"E2E drill {scenario_id}"
    educator.goto("/manage/drills/new")
    educator.fill("#n_cases", "0")
    educator.get_by_role("button", name="Create and assign").click()
    expect(educator.locator("#form-errors")).to_contain_text("Give the drill a title")
    _assert_accessible(educator, "the drill form with errors")
    educator.fill("#title", title)
    cohorts = educator.get_by_role("group", name="Cohorts")
    cohorts.get_by_role("checkbox", name="7B nurses", exact=True).check()
    educator.locator(f'input[name="scenario_ids"][value="{scenario_id}"]').check()
    educator.fill("#n_cases", "2")
    educator.fill("#no_alert_pct", "0")
    educator.get_by_role("button", name="Create and assign").click()
    educator.wait_for_url(re.compile(r"/manage/drills\?created=\d+$"))
    row = educator.locator("tr", has_text=title)
    expect(row).to_contain_text("0 / 2")
    educator.goto(f"/scenarios/{scenario_id}/preview?seed=2")
    expect(educator.locator("#answer")).to_contain_text("Expected action: Dismiss")
    _assert_accessible(educator, "the preview")

    # --- nurse: complete the drill through the case pages ---------------------------------------
    nurse = _log_in(browser, live_server, "nurse")
    nurse.goto("/drills")
    nurse.get_by_role("link", name=title).click()
    nurse.get_by_role("button", name=re.compile(r"^Start")).click()
    for case_no in (1, 2):
        form = nurse.locator("#decision-form")
        expect(form).to_be_visible()
        form.get_by_label("Within the documented baseline").check()
        form.locator('button[name="action"][value="dismiss"]').click()
        expect(nurse.locator("#feedback")).to_be_visible()
        if case_no == 1:
            nurse.get_by_role("button", name=re.compile(r"^Next case")).click()
    nurse.goto("/drills")
    expect(nurse.locator("li", has_text=title)).to_contain_text("2 of 2 cases done")

    # --- educator sees completion; manager sees the new results ---------------------------------
    educator.goto("/manage/drills")
    row = educator.locator("tr", has_text=title)
    # The demo cohort may hold other tests' trainees: the nurse's 2 cases and 1 finisher are ours.
    expect(row).to_contain_text(re.compile(r"\b2 / \d+"))
    expect(row).to_contain_text(re.compile(r"\b1 of \d+"))

    manager.goto("/dashboard")
    assert _summary_decisions(manager) == decisions_before + 2
    expect(manager.locator(".dashboard-table")).to_contain_text("Nurse Demo")


def test_editor_works_without_javascript(browser: Browser, live_server: str) -> None:
    """The same upload, fix and publish with scripts off: full pages instead of swaps."""
    scenario_id = f"e2e-nojs-{secrets.token_hex(3)}"
    good = _fresh_copy(scenario_id)
    bad = good.replace("  age: [66, 82]", "  age: [82, 66]", 1)
    error_line = next(i for i, line in enumerate(bad.split("\n"), 1) if line.startswith("  age:"))

    page = _log_in(browser, live_server, "educator", javascript=False)
    page.goto("/scenarios/new")
    page.set_input_files("#scenario-file", files=[_upload("upload.yaml", bad)])
    page.get_by_role("button", name="Check for problems").click()
    page.wait_for_url("**/scenarios/validate")
    expect(page.locator("#issue-summary")).to_contain_text(f"Line {error_line}")
    expect(page.locator(f"#line-{error_line}")).to_have_class(re.compile(r"\bhas-issue\b"))
    expect(page.locator("h1")).to_have_text("Write a scenario")  # a whole page, not a fragment

    editor = page.locator("#scenario-text")
    editor.fill(editor.input_value().replace("  age: [82, 66]", "  age: [66, 82]", 1))
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(rf"/scenarios/{scenario_id}\?version=1&published=1$"))
    expect(page.locator(f"#line-{error_line}")).to_contain_text("age: [66, 82]")
