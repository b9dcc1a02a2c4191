"""alertdrill simulator: scenario files -> seeded synthetic ward patients, alerts and outcomes.

Pure library: imports only the standard library, numpy, pydantic and PyYAML.
"""

from __future__ import annotations

from .case import Case, CaseAnswer, TraineeView
from .engine import simulate
from .errors import ScenarioIssue, ScenarioValidationError
from .loader import load_scenario, parse_scenario, parse_scenario_bytes
from .schema import FORMAT_VERSION, Scenario
from .vocab import CATEGORIES, DISMISSAL_REASONS, TRAJECTORY_TYPES

__all__ = [
    "CATEGORIES",
    "DISMISSAL_REASONS",
    "FORMAT_VERSION",
    "TRAJECTORY_TYPES",
    "Case",
    "CaseAnswer",
    "Scenario",
    "ScenarioIssue",
    "ScenarioValidationError",
    "TraineeView",
    "load_scenario",
    "parse_scenario",
    "parse_scenario_bytes",
    "simulate",
]
