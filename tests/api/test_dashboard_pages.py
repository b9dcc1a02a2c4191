"""Manager pages: what each role may open, sorting, highlighting, htmx fragments, drill-down."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.models import Unit, User
from app.services.accounts import DEMO_UNIT
from tests.api import dashboard_fixtures as fx
from tests.api.dashboard_fixtures import WORKED, D
from tests.utils.auth import login


@pytest.fixture
def wards(demo):
    """Demo unit with two trainees (the worked example, and a strong one); a second unit with its
    own manager and trainee."""
    db = demo
    home = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    ann = fx.user(db, "ann", "trainee", home, "Ann Able")
    bob = fx.user(db, "bob", "trainee", home, "Bob Brisk")
    fx.add(db, ann, WORKED)
    fx.add(db, bob, [
        D(det=True, alert=True, action="escalate", conf=90),
        D(det=False, alert=True, action="dismiss", conf=90, category="chronic-baseline-fp"),
    ])
    away = fx.unit(db, "Ward Z")
    zed_manager = fx.user(db, "zmanager", "manager", away)
    zoe = fx.user(db, "zoe", "trainee", away, "Zoe Zed")
    fx.add(db, zoe, [D(det=True, alert=True, action="dismiss", reason_text="=HYPERLINK(1)")])
    db.commit()
    return {"db": db, "home": home, "away": away, "ann": ann, "bob": bob, "zoe": zoe, "zmanager": zed_manager}


def _names_in_order(html: str) -> list[str]:
    return re.findall(r'<a href="/dashboard/trainees/\d+\?[^"]*">([^<]+)</a>', html)


def test_manager_sees_own_unit_table(wards, client):
    login(client, "manager")
    r = client.get("/dashboard")
    assert r.status_code == 200
    html = r.text
    assert DEMO_UNIT in html
    names = _names_in_order(html)
    assert "Ann Able" in names and "Bob Brisk" in names
    assert "Zoe Zed" not in html and "Ward Z" not in html
    # Ann's worked figures: accuracy 75 %, d′ 1.05, Brier 0.128, automation bias 2/6, median 7.0 s.
    ann_row = re.search(r"Ann Able.*?</tr>", html, re.S)
    assert ann_row
    row = ann_row.group(0)
    assert "75%" in row and "1.05" in row and "0.128" in row and "2/6" in row and "7.0 s" in row


def test_sorting_by_a_metric(wards, client):
    login(client, "manager")
    asc = _names_in_order(client.get("/dashboard?sort=accuracy&order=asc").text)
    desc = _names_in_order(client.get("/dashboard?sort=accuracy&order=desc").text)
    # The demo nurse has no cases, so sorts last both ways.
    assert asc[:2] == ["Ann Able", "Bob Brisk"] and desc[:2] == ["Bob Brisk", "Ann Able"]
    assert asc[-1] == desc[-1] == "Nurse Demo"
    html = client.get("/dashboard?sort=accuracy&order=desc").text
    assert 'aria-sort="descending"' in html


def test_threshold_highlights_trainees_below_it(wards, client):
    login(client, "manager")
    html = client.get("/dashboard?metric=accuracy&threshold=80").text
    assert html.count('class="flagged"') == 1
    flagged = re.search(r'<tr class="flagged">.*?</tr>', html, re.S)
    assert flagged and "Ann Able" in flagged.group(0) and "below threshold" in flagged.group(0)
    none = client.get("/dashboard?metric=accuracy&threshold=").text
    assert 'class="flagged"' not in none
    # Lower is better for automation bias: Ann's 33 % is above 20 %.
    ab = client.get("/dashboard?metric=automation_bias&threshold=20").text
    assert re.search(r'<tr class="flagged">.*?Ann Able', ab, re.S)


def test_htmx_request_gets_only_the_results_block(wards, client):
    login(client, "manager")
    r = client.get("/dashboard?sort=cases", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="results"')
    assert "<html" not in r.text and "<form" not in r.text.split("Export")[0]
    assert r.headers["vary"] == "HX-Request"
    full = client.get("/dashboard?sort=cases")
    assert "<html" in full.text and 'hx-get="/dashboard"' in full.text


def test_bad_filter_values_fall_back_to_defaults(wards, client):
    login(client, "manager")
    r = client.get("/dashboard?sort=drop+table&order=sideways&days=forever&metric=nope&threshold=abc")
    assert r.status_code == 200
    assert 'class="flagged"' not in r.text


def test_categories_page_marks_low_cells(wards, client):
    login(client, "manager")
    r = client.get("/dashboard/categories?threshold=80")
    assert r.status_code == 200
    assert "True deterioration" in r.text and "(escalate)" in r.text
    # Ann: 3/4 on true deterioration (75 % < 80 %), 1/2 on chronic baselines.
    assert r.text.count('<td class="flagged">') == 2
    assert "Zoe Zed" not in r.text


def test_trainee_drill_down_links_each_replay(wards, client):
    login(client, "manager")
    ann = wards["ann"]
    r = client.get(f"/dashboard/trainees/{ann.id}")
    assert r.status_code == 200
    replays = re.findall(r'href="/attempts/(\d+)"', r.text)
    assert len(replays) == 8
    assert "<svg" in r.text and 'role="img"' in r.text
    assert "Decisions by scenario category" in r.text


def test_drill_down_pages_older_decisions(wards, client):
    db = wards["db"]
    ann = wards["ann"]
    fx.add(db, ann, [D(det=True, alert=True, action="escalate")] * 50)
    db.commit()
    login(client, "manager")
    first = client.get(f"/dashboard/trainees/{ann.id}")
    assert len(re.findall(r'href="/attempts/\d+"', first.text)) == 50
    older = re.search(r'href="(/dashboard/trainees/\d+\?[^"]*before=\d+[^"]*)"', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert len(re.findall(r'href="/attempts/\d+"', second.text)) == 8


@pytest.mark.parametrize(
    "path",
    ["/dashboard", "/dashboard/categories", "/dashboard/tokens", "/dashboard/export/summary.csv",
     "/dashboard/export/decisions.csv"],
)
@pytest.mark.parametrize("who", ["nurse", "educator"])
def test_other_roles_are_refused(wards, client, path, who):
    login(client, who)
    assert client.get(path).status_code == 403


def test_trainee_and_educator_cannot_open_a_drill_down(wards, client, make_client):
    for who in ("nurse", "educator"):
        c = make_client()
        login(c, who)
        assert c.get(f"/dashboard/trainees/{wards['ann'].id}").status_code == 403


def test_anonymous_is_sent_to_log_in(wards, client):
    r = client.get("/dashboard")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_manager_of_another_unit_is_refused(wards, make_client):
    c = login(make_client(), "zmanager")
    own = c.get("/dashboard")
    assert own.status_code == 200 and "Zoe Zed" in own.text and "Ann Able" not in own.text
    assert c.get(f"/dashboard/trainees/{wards['ann'].id}").status_code == 403
    assert c.get(f"/dashboard?unit={wards['home'].id}").status_code == 403
    assert c.get(f"/dashboard/categories?unit={wards['home'].id}").status_code == 403
    assert c.get(f"/dashboard/export/decisions.csv?unit={wards['home'].id}").status_code == 403
    assert c.get(f"/dashboard/export/decisions.csv?trainee={wards['ann'].id}").status_code == 403


def test_unknown_trainee_is_404(wards, client):
    login(client, "manager")
    assert client.get("/dashboard/trainees/999999").status_code == 404
    manager = wards["db"].exec(select(User).where(User.username == "manager")).one()
    assert client.get(f"/dashboard/trainees/{manager.id}").status_code == 404


def test_admin_can_pick_any_unit(wards, client):
    login(client, "admin")
    r = client.get(f"/dashboard?unit={wards['away'].id}")
    assert r.status_code == 200 and "Zoe Zed" in r.text and "Ann Able" not in r.text
    assert 'name="unit"' in r.text  # admins get the unit picker
    assert client.get(f"/dashboard/trainees/{wards['zoe'].id}?unit={wards['away'].id}").status_code == 200
    assert client.get("/dashboard?unit=999999").status_code == 404


def test_manager_without_a_unit_is_told_so(wards, make_client):
    fx.user(wards["db"], "floating", "manager", None)
    wards["db"].commit()
    c = login(make_client(), "floating")
    r = c.get("/dashboard")
    assert r.status_code == 403 and "not assigned to a unit" in r.text
    assert c.get("/api/v1/unit/summary").status_code == 403


def test_trend_chart_has_a_text_alternative(wards, client):
    login(client, "manager")
    html = client.get("/dashboard").text
    svg = re.search(r"<svg viewBox=.*?</svg>", html, re.S)
    assert svg and 'role="img"' in svg.group(0) and "<title id=\"unit-trend-title\">" in svg.group(0)
    assert "week(s) with decisions" in svg.group(0)
    # The same numbers as a table for screen readers and for copying.
    assert "Show weekly values" in html and "<th scope=\"row\">2026-11-16</th>" in html


def _flagged_names(html: str) -> list[str]:
    return re.findall(r'<tr class="flagged">\s*<th scope="row">\s*<a href="[^"]*">([^<]+)</a>', html)


def test_badge_names_the_worse_side_of_the_threshold(wards, client):
    login(client, "manager")
    acc = client.get("/dashboard?metric=accuracy&threshold=80").text
    row = re.search(r'<tr class="flagged">.*?</tr>', acc, re.S)
    assert row and "below threshold" in row.group(0)
    # Lower is better: a flagged trainee is above the threshold, and the badge says so.
    for metric, threshold in (("automation_bias", "20"), ("brier", "0.1"), ("median_time", "1")):
        html = client.get(f"/dashboard?metric={metric}&threshold={threshold}").text
        rows = re.findall(r'<tr class="flagged">.*?</tr>', html, re.S)
        assert rows, metric
        assert all("above threshold" in r and "below threshold" not in r for r in rows), metric


def test_each_metric_starts_from_its_own_default_threshold(wards, client):
    login(client, "manager")
    # No threshold given: the metric's default (d′ 1.0: Ann 1.05 and Bob 1.35 are fair or better).
    html = client.get("/dashboard?metric=d_prime").text
    assert 'name="threshold" value="1.0"' in html and _flagged_names(html) == []
    # Switching the metric submits the old metric's 70 with it: it is dropped for d′'s default.
    switched = client.get("/dashboard?metric=d_prime&threshold=70&threshold_metric=accuracy").text
    assert 'name="threshold" value="1.0"' in switched and _flagged_names(switched) == []
    # A threshold typed for d′ itself is kept.
    typed = client.get("/dashboard?metric=d_prime&threshold=1.2&threshold_metric=d_prime").text
    assert _flagged_names(typed) == ["Ann Able"]
    brier = client.get("/dashboard?metric=brier&threshold=70&threshold_metric=accuracy").text
    assert 'name="threshold" value="0.25"' in brier
    # Typed empty means no highlight, and the links keep it empty rather than reviving the default.
    empty = client.get("/dashboard?metric=accuracy&threshold=&threshold_metric=accuracy").text
    assert _flagged_names(empty) == []
    assert 'metric=accuracy&amp;threshold="' in empty


def test_threshold_field_shows_its_unit_and_follows_htmx_swaps(wards, client):
    login(client, "manager")
    html = client.get("/dashboard?metric=accuracy").text
    assert re.search(r'id="f-threshold-unit">%<', html)
    assert 'name="threshold_metric" value="accuracy"' in html
    r = client.get("/dashboard?metric=median_time&threshold=70&threshold_metric=accuracy",
                   headers={"HX-Request": "true"})
    oob = re.search(r'<div class="field" id="f-threshold-field" hx-swap-oob="true">.*?</div>', r.text, re.S)
    assert oob, r.text[:500]
    assert 'value="120"' in oob.group(0) and 'id="f-threshold-unit">s<' in oob.group(0)
    assert 'name="threshold_metric" value="median_time"' in oob.group(0)
    # The full page carries the field once, in the form, not out of band.
    full = client.get("/dashboard?metric=median_time").text
    assert full.count('id="f-threshold-field"') == 1 and "hx-swap-oob" not in full


def test_category_pages_keep_an_accuracy_threshold_whatever_the_metric(wards, client):
    login(client, "manager")
    r = client.get("/dashboard/categories?metric=d_prime&threshold=1.0")
    # d′'s 1.0 is not an accuracy of 1 %: the accuracy default (70 %) applies here.
    assert 'name="threshold" value="70"' in r.text and "below 70%" in r.text
