"""Item analysis: difficulty, rest-score discrimination, wrong reasons, flags, and the page."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session

from app.models import ScenarioVersion
from app.services.items import item_rows
from tests.utils.auth import login
from tests.utils.educator_data import decide, trainee

HX = {"HX-Request": "true"}


def _version(db: Session, sid: str, category: str, expected: str, version: int = 1) -> ScenarioVersion:
    """A bare version row: item analysis reads only ids, categories and decisions."""
    row = ScenarioVersion(
        scenario_id=sid, version=version, title=f"Scenario {sid.upper()} v{version}", category=category,
        expected_action=expected, content_hash=hashlib.sha256(f"{sid}{version}".encode()).hexdigest(),
        source_text=f"id: {sid}\n",
    )
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def responses(demo):
    """Two strong and two weak nurses; A is easy, B discriminates, C is inverted, D separates them."""
    db = demo
    a = _version(db, "item-a", "chronic-baseline-fp", "dismiss")
    b1 = _version(db, "item-b", "true-deterioration", "escalate", 1)
    b2 = _version(db, "item-b", "true-deterioration", "escalate", 2)
    c = _version(db, "item-c", "masked-deterioration", "escalate")
    d = _version(db, "item-d", "true-deterioration", "escalate")
    _version(db, "item-e", "stable-no-alert", "dismiss")  # never answered
    s1, s2, w1, w2 = (trainee(db, name, None) for name in ("s1", "s2", "w1", "w2"))
    for who in (s1, s2, w1, w2):
        decide(db, who, a, correct=True, reason="baseline")
    for who in (s1, s2):
        decide(db, who, b2, correct=True)
        decide(db, who, c, correct=False, reason="baseline")
        for _ in range(3):
            decide(db, who, d, correct=True)
    decide(db, w1, b1, correct=False, reason="artifact")
    decide(db, w2, b1, correct=False, reason="baseline")
    for who in (w1, w2):
        decide(db, who, c, correct=True)
        for _ in range(3):
            decide(db, who, d, correct=False, reason="expected-course")
    return db


def _by_id(db: Session) -> dict[str, object]:
    return {r.scenario_id: r for r in item_rows(db)}


def test_difficulty_discrimination_and_flags(responses):
    rows = _by_id(responses)
    a, b, c, d, e = (rows[f"item-{k}"] for k in "abcde")

    assert a.analysis.difficulty == 1.0 and a.analysis.too_easy
    assert a.analysis.discrimination is None  # everyone right: no variance
    assert a.flagged

    # B pools both versions: strong nurses right on v2, weak wrong on v1.
    assert b.n == 4 and b.n_trainees == 4 and b.analysis.difficulty == 0.5
    assert b.analysis.discrimination == pytest.approx(1.0)
    assert not b.flagged
    assert [(v.version, v.n, v.correct) for v in b.versions] == [(2, 2, 2), (1, 2, 0)]
    assert b.latest_version == 2

    # C: strong nurses (rest score 1.0) wrong, weak (0.2) right.
    assert c.analysis.difficulty == 0.5
    assert c.analysis.discrimination == pytest.approx(-1.0)
    assert c.analysis.negative_discrimination and c.flagged

    # D: both groups score 2 of 3 on the other scenarios, so the rest scores do not vary.
    assert d.n == 12 and d.analysis.difficulty == 0.5 and d.analysis.discrimination is None
    assert e.n == 0 and e.analysis.difficulty is None and not e.flagged


def test_wrong_reasons_count_only_wrong_dismissals(responses):
    rows = _by_id(responses)
    assert [(r.reason, r.count) for r in rows["item-c"].wrong_reasons] == [("baseline", 2)]
    assert [(r.reason, r.count) for r in rows["item-b"].wrong_reasons] == [("artifact", 1), ("baseline", 1)]
    assert rows["item-b"].wrong_reasons[0].label == "Measurement artefact"
    assert rows["item-a"].wrong_reasons == []  # right dismissals are not "wrong reasons"
    assert [(r.reason, r.count) for r in rows["item-d"].wrong_reasons] == [("expected-course", 6)]


def test_rest_score_excludes_the_item_itself(demo):
    """A nurse who answered only this scenario has no rest score: counted in difficulty only."""
    x = _version(demo, "only-x", "true-deterioration", "escalate")
    y = _version(demo, "other-y", "true-deterioration", "escalate")
    p, q, solo = (trainee(demo, n, None) for n in ("p", "q", "solo"))
    decide(demo, p, x, correct=True)
    decide(demo, p, y, correct=True)
    decide(demo, q, x, correct=False)
    decide(demo, q, y, correct=False)
    decide(demo, solo, x, correct=False)
    row = _by_id(demo)["only-x"]
    assert row.n == 3 and row.analysis.difficulty == pytest.approx(1 / 3)
    # Only p (right, rest 1.0) and q (wrong, rest 0.0) enter the correlation.
    assert row.analysis.discrimination == pytest.approx(1.0)


def test_filters(responses):
    assert {r.scenario_id for r in item_rows(responses, category="true-deterioration")} == {"item-b", "item-d"}
    assert {r.scenario_id for r in item_rows(responses, flagged_only=True)} == {"item-a", "item-c"}


def test_items_page_full_and_fragment(responses, client):
    login(client, "educator")
    r = client.get("/items")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert "Too easy" in r.text and "Check the key" in r.text
    assert "+1.00" in r.text and "-1.00" in r.text
    assert 'id="item-item-c" class="flagged"' in r.text
    fragment = client.get("/items?flagged=true", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="item-results"')
    assert "item-a" in fragment.text and "item-b" not in fragment.text


def test_items_page_without_decisions(demo, client):
    login(client, "admin")
    r = client.get("/items")
    assert r.status_code == 200 and "No scenarios" in r.text
