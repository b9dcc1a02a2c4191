"""Dealing passes over a seed that does not deteriorate yet shows NEWS2 >= 7 (clinical-reference §1.2)."""

from __future__ import annotations

import json
from typing import Any

from app.services.dealing import GeneratedCase, Slot, _pick_seed, seed_for


def _case(news2: int | None, *, fired: bool = True, deteriorated: bool = False) -> GeneratedCase:
    view = {"news2_latest": None if news2 is None else {"total": news2}}
    return GeneratedCase(view_json=json.dumps(view), answer_json="{}", alert_fired=fired, deteriorated=deteriorated,
                         news2_at_decision=news2)


def _picker(cases: dict[int, GeneratedCase]) -> Any:
    def generate(version: Any, seed: int) -> GeneratedCase:
        return cases[seed]

    return generate


def test_red_flag_seed_is_passed_over() -> None:
    seeds = [seed_for("ns", 0, k) for k in range(3)]
    cases = {seeds[0]: _case(7), seeds[1]: _case(8), seeds[2]: _case(6)}
    seed, case = _pick_seed(None, "ns", Slot(0, "x", want_alert=True), _picker(cases))  # type: ignore[arg-type]
    assert seed == seeds[2] and case is cases[seeds[2]]


def test_deteriorating_seed_with_high_news2_is_kept() -> None:
    first = seed_for("ns", 0, 0)
    seed, _ = _pick_seed(None, "ns", Slot(0, "x", want_alert=True), _picker({first: _case(9, deteriorated=True)}))  # type: ignore[arg-type]
    assert seed == first


def test_no_news2_on_the_chart_is_usable() -> None:
    first = seed_for("ns", 0, 0)
    seed, _ = _pick_seed(None, "ns", Slot(0, "x", want_alert=False), _picker({first: _case(None, fired=False)}))  # type: ignore[arg-type]
    assert seed == first
