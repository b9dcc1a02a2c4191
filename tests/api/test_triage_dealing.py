"""Dealing: which scenario and seed each position gets, deterministically and race-safely."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import select

from app.models import CaseAttempt
from app.services import dealing
from app.services.dealing import (
    NO_ALERT_CATEGORIES,
    GeneratedCase,
    candidate_versions,
    deal_attempt,
    plan_slots,
    seed_for,
)
from tests.utils.triage import make_drill, publish, user


@dataclass
class FakeVersion:
    scenario_id: str
    category: str
    id: int = 0


POOL = [
    FakeVersion("copd", "chronic-baseline-fp"),
    FakeVersion("af", "chronic-baseline-fp"),
    FakeVersion("sepsis", "true-deterioration"),
    FakeVersion("bleed", "true-deterioration"),
    FakeVersion("beta", "masked-deterioration"),
    FakeVersion("calm", "stable-no-alert"),
]


def test_seeds_are_stable_across_processes():
    # sha256-derived, never Python's salted hash(): the same in every worker and every run.
    assert seed_for("drill:1:trainee:2", 0, 0) == seed_for("drill:1:trainee:2", 0, 0)
    assert seed_for("drill:1:trainee:2", 0, 0) != seed_for("drill:1:trainee:3", 0, 0)
    assert 0 <= seed_for("x", 5, 3) < 2**31
    assert seed_for("drill:1:trainee:2", 0, 0) == 796273155


def test_plan_is_deterministic_and_differs_between_trainees():
    weights = {v.scenario_id: 1.0 for v in POOL}
    a = plan_slots(POOL, weights, namespace="drill:1:trainee:1", n_cases=6, no_alert_share=0.0)
    b = plan_slots(POOL, weights, namespace="drill:1:trainee:1", n_cases=6, no_alert_share=0.0)
    c = plan_slots(POOL, weights, namespace="drill:1:trainee:2", n_cases=6, no_alert_share=0.0)
    assert a == b
    assert [s.scenario_id for s in a] != [s.scenario_id for s in c]


def test_no_alert_share_takes_quiet_categories_at_random_positions():
    weights = {v.scenario_id: 1.0 for v in POOL}
    slots = plan_slots(POOL, weights, namespace="n", n_cases=10, no_alert_share=0.3)
    quiet = [s for s in slots if not s.want_alert]
    assert len(quiet) == 3
    by_id = {v.scenario_id: v for v in POOL}
    assert all(by_id[s.scenario_id].category in NO_ALERT_CATEGORIES for s in quiet)
    assert all(by_id[s.scenario_id].category not in NO_ALERT_CATEGORIES for s in slots if s.want_alert)
    assert [s.position for s in slots] == list(range(10))


def test_no_repeats_until_the_pool_is_used_up():
    weights = {v.scenario_id: 1.0 for v in POOL}
    slots = plan_slots(POOL, weights, namespace="n", n_cases=8, no_alert_share=0.0)
    first_four = [s.scenario_id for s in slots[:4]]  # four alerting scenarios in the pool
    assert len(set(first_four)) == 4


def test_spec_by_scenario_ids_and_by_category_weights(demo):
    publish(demo, ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure", "gi-bleed-upper"])
    chosen, weights = candidate_versions(demo, {"scenario_ids": ["gi-bleed-upper"]})
    assert [v.scenario_id for v in chosen] == ["gi-bleed-upper"]
    chosen, weights = candidate_versions(demo, {"categories": {"true-deterioration": 3, "chronic-baseline-fp": 0}})
    assert {v.scenario_id for v in chosen} == {"pneumonia-respiratory-failure", "gi-bleed-upper"}
    assert weights == {"pneumonia-respiratory-failure": 1.5, "gi-bleed-upper": 1.5}
    chosen, _ = candidate_versions(demo, {})
    assert len(chosen) == 3


def _fake(fired_seed_parity: int):
    calls: list[int] = []

    def generate(version, seed):
        calls.append(seed)
        fired = seed % 2 == fired_seed_parity
        return GeneratedCase(view_json=f'{{"seed": {seed}}}', answer_json="{}", alert_fired=fired, deteriorated=False,
                             news2_at_decision=None)

    return generate, calls


def test_seed_is_retried_until_the_alert_matches_the_slot(demo):
    publish(demo, ["gi-bleed-upper"])
    nurse = user(demo, "nurse")
    drill = make_drill(demo, spec={"scenario_ids": ["gi-bleed-upper"]}, n_cases=4, no_alert_share=0.5)
    slots = plan_slots(*candidate_versions(demo, drill.spec), namespace=f"drill:{drill.id}:trainee:{nurse.id}",
                       n_cases=4, no_alert_share=0.5)
    for slot in slots:
        generate, calls = _fake(fired_seed_parity=0)
        a = deal_attempt(demo, drill=drill, trainee=nurse, position=slot.position, generate=generate)
        fired = a.seed % 2 == 0
        assert fired == slot.want_alert
        assert calls[-1] == a.seed
    assert sum(not s.want_alert for s in slots) == 2


def test_dealing_again_returns_the_stored_attempt(demo):
    publish(demo, ["gi-bleed-upper"])
    nurse = user(demo, "nurse")
    drill = make_drill(demo, spec={"scenario_ids": ["gi-bleed-upper"]}, n_cases=2)
    generate, calls = _fake(0)
    first = deal_attempt(demo, drill=drill, trainee=nurse, position=0, generate=generate)
    n = len(calls)
    again = deal_attempt(demo, drill=drill, trainee=nurse, position=0, generate=generate)
    assert again.id == first.id and len(calls) == n  # not simulated again


def test_racing_deal_reads_the_winner(demo, monkeypatch):
    """Both requests saw no attempt; the unique (drill, trainee, position) lets one insert win."""
    publish(demo, ["gi-bleed-upper"])
    nurse = user(demo, "nurse")
    drill = make_drill(demo, spec={"scenario_ids": ["gi-bleed-upper"]}, n_cases=2)
    generate, _ = _fake(0)
    winner = deal_attempt(demo, drill=drill, trainee=nurse, position=1, generate=generate)
    real = dealing.find_attempt
    calls = {"n": 0}

    def blind(session, **kw):
        calls["n"] += 1
        return None if calls["n"] <= 2 else real(session, **kw)

    monkeypatch.setattr(dealing, "find_attempt", blind)
    loser = deal_attempt(demo, drill=drill, trainee=nurse, position=1, generate=generate)
    assert loser.id == winner.id
    rows = demo.exec(select(CaseAttempt).where(CaseAttempt.drill_id == drill.id)).all()
    assert len(rows) == 1


def test_position_outside_the_drill_is_refused(demo):
    publish(demo, ["gi-bleed-upper"])
    drill = make_drill(demo, spec={"scenario_ids": ["gi-bleed-upper"]}, n_cases=2)
    with pytest.raises(dealing.DealError):
        deal_attempt(demo, drill=drill, trainee=user(demo, "nurse"), position=2, generate=_fake(0)[0])


def test_no_published_scenario_gives_a_clear_409(demo, client):
    from tests.utils.auth import login

    drill = make_drill(demo, spec={"scenario_ids": ["does-not-exist"]})
    nurse = login(client, "nurse")
    r = nurse.post(f"/drills/{drill.id}/next")
    assert r.status_code == 409 and "No published scenario matches this drill" in r.text


def test_independent_first_drill_marks_its_attempts(demo):
    publish(demo, ["gi-bleed-upper"])
    drill = make_drill(demo, spec={"scenario_ids": ["gi-bleed-upper"]}, mode="independent-first")
    a = deal_attempt(demo, drill=drill, trainee=user(demo, "nurse"), position=0, generate=_fake(0)[0])
    assert a.independent_first is True
