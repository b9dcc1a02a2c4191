"""The published JSON Schema of the scenario format (kept in scenarios/scenario.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from .schema import FORMAT_VERSION, Scenario

__all__ = ["schema_dict", "schema_json"]


def schema_dict() -> dict[str, Any]:
    """Scenario.model_json_schema() plus the draft and a title for editors."""
    body = Scenario.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"alertdrill scenario (format_version {FORMAT_VERSION})",
        **{k: v for k, v in body.items() if k != "title"},
    }


def schema_json() -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
