"""Shared fixtures for the simulator tests: the example scenarios and a scenario factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="session")
def copd() -> Scenario:
    return load_scenario(SCENARIOS / "copd-hypercapnic-baseline.yaml")


@pytest.fixture(scope="session")
def sepsis_bb() -> Scenario:
    return load_scenario(SCENARIOS / "sepsis-beta-blocked.yaml")


@pytest.fixture(scope="session")
def sepsis_classic() -> Scenario:
    return load_scenario(SCENARIOS / "sepsis-classic.yaml")


def minimal(**overrides: Any) -> dict[str, Any]:
    """A valid stable-patient scenario as data; keyword overrides replace top-level sections."""
    doc: dict[str, Any] = {
        "format_version": 1,
        "id": "test-scenario",
        "version": 1,
        "title": "Test",
        "category": "true-deterioration",
        "learning_objectives": ["Test"],
        "patient": {"age": [50, 70], "diagnoses": ["Test"], "narrative": "Test patient."},
        "expected_action": "escalate",
        "teaching_points": ["Test"],
        "clue": "Test",
        "sources": ["Test"],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def make_scenario() -> Callable[..., Scenario]:
    def make(**overrides: Any) -> Scenario:
        return parse_scenario(yaml.safe_dump(minimal(**overrides), sort_keys=False), "test.yaml")

    return make
