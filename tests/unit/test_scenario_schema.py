"""The published JSON Schema and the example scenarios stay in step with the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simulator
from simulator.schema_export import schema_dict, schema_json

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "scenarios" / "scenario.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json(), (
        "regenerate with: alertdrill scenarios schema -o scenarios/scenario.schema.json"
    )


def test_schema_forbids_unknown_fields_everywhere() -> None:
    schema = schema_dict()
    assert schema["additionalProperties"] is False
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object":
            assert definition.get("additionalProperties") is False, name


def test_schema_lists_every_category_in_vocabulary_order() -> None:
    props = schema_dict()["properties"]
    assert props["category"]["enum"] == list(simulator.CATEGORIES)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_example_scenarios_load(path: Path) -> None:
    scenario = simulator.load_scenario(path)
    assert scenario.id == path.stem
    assert len(scenario.content_hash) == 64


def test_schema_is_valid_json_with_required_fields() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert {"format_version", "id", "version", "category", "expected_action"} <= set(schema["required"])
