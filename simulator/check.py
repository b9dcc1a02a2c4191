"""Library-wide sanity check: does each scenario behave as its author declared, over many seeds?

Agreement is the share of seeds whose simulated outcome matches the expected action
(deteriorated <=> escalate). Below 95% the scenario is flagged. Warnings point at cases that are
valid but probably not what the author meant (a false-positive scenario whose alert rarely fires,
a masked-deterioration scenario whose alert usually fires).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import simulate_batch
from .outcome import CRITERIA
from .schema import Scenario
from .vocab import CATEGORY_ACTIONS

__all__ = ["CheckReport", "check_scenario"]

CHUNK = 25  # seeds simulated together: big enough to vectorise, small enough to stay in cache


@dataclass(frozen=True, slots=True)
class CheckReport:
    scenario_id: str
    version: int
    category: str
    expected_action: str
    seeds: int
    agreement: float
    alert_rate: float
    deteriorated_rate: float
    median_score: float
    criteria_rates: dict[str, float]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def flagged(self, min_agreement: float) -> bool:
        return self.agreement < min_agreement

    def summary_line(self, min_agreement: float) -> str:
        mark = "FLAG" if self.flagged(min_agreement) else "ok  "
        line = (
            f"{mark} {self.scenario_id} v{self.version} ({self.expected_action}): agreement {self.agreement:.1%}, "
            f"alert fires {self.alert_rate:.1%}, deteriorated {self.deteriorated_rate:.1%}, "
            f"median score {self.median_score:.0f}"
        )
        return "\n".join([line, *(f"     warning: {w}" for w in self.warnings)])

    def as_dict(self, min_agreement: float) -> dict[str, Any]:
        return {
            "scenario_id": self.scenario_id,
            "version": self.version,
            "category": self.category,
            "expected_action": self.expected_action,
            "seeds": self.seeds,
            "agreement": round(self.agreement, 4),
            "alert_rate": round(self.alert_rate, 4),
            "deteriorated_rate": round(self.deteriorated_rate, 4),
            "median_score": self.median_score,
            "criteria_rates": {k: round(v, 4) for k, v in self.criteria_rates.items()},
            "flagged": self.flagged(min_agreement),
            "warnings": list(self.warnings),
        }


def check_scenario(scenario: Scenario, seeds: int = 200, first_seed: int = 0) -> CheckReport:
    """Simulate `seeds` consecutive seeds and summarise outcome agreement and alert behaviour."""
    all_seeds = list(range(first_seed, first_seed + seeds))
    fired, det, scores, met = [], [], [], []
    for i in range(0, seeds, CHUNK):
        batch = simulate_batch(scenario, all_seeds[i : i + CHUNK])
        fired.append(batch.fired)
        det.append(batch.deteriorated)
        scores.append(batch.scores)
        met.append(batch.criteria_met)
    fired_a, det_a = np.concatenate(fired), np.concatenate(det)
    met_a = np.concatenate(met)
    escalate = scenario.expected_action == "escalate"
    agreement = float(np.mean(det_a == escalate))
    alert_rate = float(fired_a.mean())
    warnings: list[str] = []
    if CATEGORY_ACTIONS[scenario.category] == "dismiss" and scenario.category != "stable-no-alert" and alert_rate < 0.5:
        warnings.append(f"a false-positive scenario whose alert fires in only {alert_rate:.0%} of seeds")
    if scenario.category == "masked-deterioration" and alert_rate > 0.3:
        warnings.append(f"a masked-deterioration scenario whose alert fires in {alert_rate:.0%} of seeds")
    if scenario.category == "stable-no-alert" and alert_rate > 0.1:
        warnings.append(f"a no-alert control whose alert fires in {alert_rate:.0%} of seeds")
    return CheckReport(
        scenario_id=scenario.id,
        version=scenario.version,
        category=scenario.category,
        expected_action=scenario.expected_action,
        seeds=seeds,
        agreement=agreement,
        alert_rate=alert_rate,
        deteriorated_rate=float(det_a.mean()),
        median_score=float(np.median(np.concatenate(scores))),
        criteria_rates={k: float(met_a[:, j].mean()) for j, k in enumerate(CRITERIA)},
        warnings=tuple(warnings),
    )
