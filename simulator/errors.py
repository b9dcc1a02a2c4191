"""Errors raised while reading scenario files.

    ScenarioValidationError(ValueError)   one or more problems in one document
      .issues: list[ScenarioIssue]        each printable as "source:line:col: field: message"

Every problem a user can cause (bad bytes, YAML syntax, unsafe YAML, schema and physiology
errors) ends up as a ScenarioIssue, so callers never need to catch anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScenarioIssue", "ScenarioValidationError"]


@dataclass(frozen=True, slots=True)
class ScenarioIssue:
    """One problem, located by 1-based line and column in the source document."""

    source: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}: {self.field}: {self.message}"


class ScenarioValidationError(ValueError):
    """A scenario document could not be turned into a valid Scenario."""

    def __init__(self, issues: list[ScenarioIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid scenario")
