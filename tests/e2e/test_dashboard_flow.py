"""Browser test of the manager dashboard: accessible pages, htmx sorting and highlighting that also
work without JavaScript, drill-down to a trainee, categories, tokens."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.e2e.conftest import axe_violations, login

pytestmark = pytest.mark.e2e

ALL_IMPACTS = ("minor", "moderate", "serious", "critical")


@pytest.fixture(scope="module")
def ward(e2e_engine: Engine) -> dict[str, Any]:
    """A unit of its own with synthetic history and its own manager (other tests keep the demo unit)."""
    from app.services.accounts import create_user, get_or_create_unit
    from app.services.demo import seed_scale

    name = f"E2E Ward {secrets.token_hex(3)}"
    manager = f"e2e-mgr-{secrets.token_hex(3)}"
    with Session(e2e_engine) as session:
        report = seed_scale(session, trainees=6, days=21, unit_name=name)
        unit = get_or_create_unit(session, name)
        create_user(session, username=manager, password="demo", role="manager", unit=unit)
        session.commit()
    return {"unit": name, "manager": manager, "decisions": report.decisions}


def _context(browser: Browser, base_url: str, *, javascript: bool) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, java_script_enabled=javascript,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def manager_page(browser: Browser, live_server: str, ward: dict[str, Any]) -> Iterator[Page]:
    gen = _context(browser, live_server, javascript=True)
    page = next(gen)
    login(page, ward["manager"])
    yield page
    next(gen, None)


@pytest.fixture
def manager_page_nojs(browser: Browser, live_server: str, ward: dict[str, Any]) -> Iterator[Page]:
    gen = _context(browser, live_server, javascript=False)
    page = next(gen)
    login(page, ward["manager"])
    yield page
    next(gen, None)


def _assert_accessible(page: Page, where: str) -> None:
    found = axe_violations(page, impacts=ALL_IMPACTS)
    assert not found, f"axe violations on {where}: {found}"


def _names(page: Page) -> list[str]:
    return page.locator(".dashboard-table tbody th a").all_inner_texts()


def _with_cases(page: Page) -> list[str]:
    """Names of trainees who have decided at least one case, in table order."""
    rows = page.locator(".dashboard-table tbody tr")
    names = []
    for i in range(rows.count()):
        row = rows.nth(i)
        if int(row.locator("td").first.inner_text()) > 0:
            names.append(row.locator("th a").inner_text())
    return names


def test_dashboard_sort_highlight_and_drill_down(manager_page: Page, ward: dict[str, Any]) -> None:
    page = manager_page
    assert page.url.endswith("/dashboard")
    expect(page.locator(".summary-line")).to_contain_text(ward["unit"])
    expect(page.locator(".summary-line")).to_contain_text(f"{ward['decisions']} decisions")
    expect(page.locator(".trend-chart > svg")).to_be_visible()
    _assert_accessible(page, "the unit dashboard")

    # Sort by accuracy through htmx: the table is swapped in place and the URL is pushed.
    page.get_by_role("link", name="Accuracy").click()
    expect(page).to_have_url(re.compile(r"sort=accuracy"))
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Accuracy")
    ascending = _with_cases(page)
    page.get_by_role("link", name="Accuracy").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Accuracy")
    # Trainees without cases stay last either way; the others swap order.
    assert _with_cases(page) == list(reversed(ascending))
    _assert_accessible(page, "the dashboard after an htmx swap")

    # Above 100 % highlights everyone with cases; no threshold highlights nobody.
    page.fill("#f-threshold", "101")
    page.locator("#f-threshold").press("Enter")
    expect(page).to_have_url(re.compile(r"threshold=101"))
    expect(page.locator("tr.flagged")).to_have_count(len(ascending))
    page.fill("#f-threshold", "")
    page.locator("#f-threshold").press("Enter")
    expect(page).not_to_have_url(re.compile(r"threshold=101"))
    expect(page.locator("#f-threshold")).to_have_value("")
    expect(page.locator("tr.flagged")).to_have_count(0)

    # Drill down into one trainee: their decisions link to the exact case replays.
    page.locator(".dashboard-table tbody th a").first.click()
    expect(page.get_by_role("heading", level=2, name="Decisions")).to_be_visible()
    assert page.locator('a[href^="/attempts/"]').count() > 0
    _assert_accessible(page, "a trainee's drill-down")


def test_categories_and_tokens_pages_are_accessible(manager_page: Page) -> None:
    page = manager_page
    page.get_by_role("link", name="By category").click()
    expect(page.locator(".category-matrix")).to_be_visible()
    _assert_accessible(page, "the category breakdown")
    page.get_by_role("link", name="API tokens").click()
    page.fill("#token-name", "E2E reporting")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    assert token.startswith("adk_")
    _assert_accessible(page, "the API tokens page")
    response = page.request.get("/api/v1/unit/summary", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200 and len(response.json()["trainees"]) == 6


def test_filters_and_sorting_work_without_javascript(manager_page_nojs: Page) -> None:
    page = manager_page_nojs
    page.goto("/dashboard")
    page.get_by_role("link", name="Cases").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Cases")
    page.select_option("#f-metric", "accuracy")
    page.fill("#f-threshold", "101")
    page.get_by_role("button", name="Apply").click()
    assert "threshold=101" in page.url and "sort=cases" in page.url
    assert page.locator("tr.flagged").count() == len(_with_cases(page)) > 0
