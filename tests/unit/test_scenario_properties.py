"""Property tests: whatever bytes or YAML arrive, the loader only ever raises ScenarioValidationError."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Scenario, ScenarioValidationError, parse_scenario, parse_scenario_bytes

GOOD_TEXT = (Path(__file__).resolve().parents[2] / "scenarios" / "sepsis-beta-blocked.yaml").read_text(encoding="utf-8")
GOOD = yaml.safe_load(GOOD_TEXT)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["sepsis", "escalate", "A", "air", "[1, 2]", "1e999", "-.inf"]),
)
values = st.recursive(
    scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)),
    max_leaves=12,
)


def _parse_or_refuse(text: str) -> Scenario | None:
    try:
        return parse_scenario(text, "prop.yaml")
    except ScenarioValidationError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.line >= 1 and issue.col >= 1 and issue.message
            assert str(issue).startswith("prop.yaml:")
        return None


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(GOOD) if p]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), replacement=values, delete=st.booleans())
def test_mutated_scenarios_only_produce_validation_errors(path: tuple[Any, ...], replacement: Any, delete: bool) -> None:
    doc = copy.deepcopy(GOOD)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    _parse_or_refuse(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=200, deadline=None)
@given(doc=values)
def test_random_documents_only_produce_validation_errors(doc: Any) -> None:
    assert _parse_or_refuse(yaml.safe_dump(doc, allow_unicode=True)) is None


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_random_text_only_produces_validation_errors(text: str) -> None:
    _parse_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, len(GOOD_TEXT)), junk=st.text(max_size=8))
def test_truncated_or_corrupted_files_only_produce_validation_errors(cut: int, junk: str) -> None:
    _parse_or_refuse(GOOD_TEXT[:cut] + junk + GOOD_TEXT[cut + len(junk):])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_only_produce_validation_errors(data: bytes) -> None:
    try:
        parse_scenario_bytes(data, "b.yaml")
    except ScenarioValidationError as err:
        assert err.issues
