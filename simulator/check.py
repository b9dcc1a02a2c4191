"""Library-wide sanity check: does each scenario behave as its author declared, over many seeds?

Agreement is the share of seeds whose simulated outcome matches the expected action
(deteriorated <=> escalate). Below 95% the scenario is flagged. Warnings point at cases that are
valid but probably not what the author meant (a false-positive scenario whose alert rarely fires,
a masked-deterioration scenario whose alert usually fires).

A seed whose patient does not deteriorate but whose chart shows NEWS2 >= 7 at the decision
(clinical-reference §1.2: emergency response) is a red-flag seed: a nurse who escalates it would be
graded wrong for following the chart. Any red-flag seed flags the scenario, like low agreement.

A seed that does not deteriorate but whose decision-time set has a single parameter scoring 3
(clinical-reference §1.1; §1.2: a "red score" calls for an urgent ward-based response) is a
red-score seed. It is reported, never flagged: in an artefact case (a probe-off SpO2, a too-large
cuff) the red score is the point of the case. Outside `artifact-fp`, more than 5% of seeds with a
red score adds a warning naming the file, the parameter(s) and some seeds, because a nurse who
escalates on it would be following the chart.
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
RED_FLAG_NEWS2 = 7  # clinical-reference §1.2: NEWS2 >= 7 calls for an emergency response
SHOWN_SEEDS = 10  # red-flag seeds listed in the report line
RED_SCORE_WARN_SHARE = 0.05  # red-score seeds above this share of all seeds warn (outside artifact-fp)
RED_SCORE_EXEMPT = frozenset({"artifact-fp"})  # categories whose red scores are the point of the case
SHOWN_RED_SCORE_SEEDS = 5  # red-score seeds listed in the warning


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
    red_flag_seeds: tuple[int, ...] = ()  # not deteriorated, yet NEWS2 >= 7 on the chart at the decision
    source: str = ""  # the file the scenario came from, when known
    #: Seeds that do not deteriorate, yet a single parameter scores 3 (§1.1) in the set the nurse sees at
    #: the decision, with those parameters; reported, never flagged.
    red_score_seeds: tuple[int, ...] = ()
    red_score_parameters: tuple[tuple[str, ...], ...] = ()  # per red-score seed, same order

    @property
    def red_score_rate(self) -> float:
        """Share of all simulated seeds that do not deteriorate and show a single-parameter red score."""
        return len(self.red_score_seeds) / self.seeds if self.seeds else 0.0

    def red_score_counts(self) -> dict[str, int]:
        """Red-score seeds per parameter (a seed with two red parameters counts for both)."""
        counts: dict[str, int] = {}
        for params in self.red_score_parameters:
            for p in params:
                counts[p] = counts.get(p, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def red_score_warned(self) -> bool:
        return self.category not in RED_SCORE_EXEMPT and self.red_score_rate > RED_SCORE_WARN_SHARE

    def red_score_message(self) -> str | None:
        """The warning for a red-score share above 5% outside artifact-fp, naming file, parameters, seeds."""
        if not self.red_score_warned():
            return None
        params = ", ".join(f"{p} in {n}" for p, n in self.red_score_counts().items())
        shown = ", ".join(str(s) for s in self.red_score_seeds[:SHOWN_RED_SCORE_SEEDS])
        more = ", ..." if len(self.red_score_seeds) > SHOWN_RED_SCORE_SEEDS else ""
        return (
            f"{self.source or self.scenario_id}: {len(self.red_score_seeds)} of {self.seeds} seeds "
            f"({self.red_score_rate:.1%}) do not deteriorate but show a single-parameter NEWS2 red score (3 points, "
            f"clinical-reference §1.1) at the decision ({params}; seed(s) {shown}{more}). A red score calls for an "
            f"urgent ward-based response (§1.2), so a nurse who escalates follows the chart; keep the baselines "
            f"away from the 3-point bands unless the red score is the point of the case."
        )

    def flagged(self, min_agreement: float) -> bool:
        return self.agreement < min_agreement or bool(self.red_flag_seeds)

    def red_flag_message(self) -> str | None:
        """Why the red-flag seeds fail the check, naming the file and the seeds; None if there are none."""
        if not self.red_flag_seeds:
            return None
        shown = ", ".join(str(s) for s in self.red_flag_seeds[:SHOWN_SEEDS])
        more = f" and {len(self.red_flag_seeds) - SHOWN_SEEDS} more" if len(self.red_flag_seeds) > SHOWN_SEEDS else ""
        return (
            f"{self.source or self.scenario_id}: {len(self.red_flag_seeds)} of {self.seeds} seeds do not deteriorate "
            f"but show NEWS2 >= {RED_FLAG_NEWS2} at the decision (clinical-reference §1.2), so escalating would be "
            f"graded wrong: seed(s) {shown}{more}. Move the baselines away from the red-flag thresholds."
        )

    def summary_line(self, min_agreement: float) -> str:
        mark = "FLAG" if self.flagged(min_agreement) else "ok  "
        line = (
            f"{mark} {self.scenario_id} v{self.version} ({self.expected_action}): agreement {self.agreement:.1%}, "
            f"alert fires {self.alert_rate:.1%}, deteriorated {self.deteriorated_rate:.1%}, "
            f"median score {self.median_score:.0f}"
        )
        red = self.red_flag_message()
        red_score = self.red_score_message()
        return "\n".join([
            line,
            *([f"     red flag: {red}"] if red else []),
            *(f"     warning: {w}" for w in self.warnings),
            *([f"     warning: red score: {red_score}"] if red_score else []),
        ])

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
            "red_flag_seeds": list(self.red_flag_seeds),
            "red_score_rate": round(self.red_score_rate, 4),
            "red_score_parameters": self.red_score_counts(),
            "red_score_seeds": list(self.red_score_seeds),
            "red_score_warning": self.red_score_message(),
        }


def check_scenario(scenario: Scenario, seeds: int = 200, first_seed: int = 0, source: str = "") -> CheckReport:
    """Simulate `seeds` consecutive seeds and summarise outcome agreement, alert behaviour and red-flag seeds."""
    all_seeds = list(range(first_seed, first_seed + seeds))
    fired, det, scores, met, news2 = [], [], [], [], []
    red_params: list[tuple[str, ...]] = []
    for i in range(0, seeds, CHUNK):
        batch = simulate_batch(scenario, all_seeds[i : i + CHUNK])
        fired.append(batch.fired)
        det.append(batch.deteriorated)
        scores.append(batch.scores)
        met.append(batch.criteria_met)
        news2.append(batch.news2_at_decision)
        red_params += batch.red_scores_at_decision
    fired_a, det_a = np.concatenate(fired), np.concatenate(det)
    red = ~det_a & (np.concatenate(news2) >= RED_FLAG_NEWS2)
    red_flag_seeds = tuple(s for s, r in zip(all_seeds, red.tolist(), strict=True) if r)
    red_scores = [(s, p) for s, d, p in zip(all_seeds, det_a.tolist(), red_params, strict=True) if p and not d]
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
        red_flag_seeds=red_flag_seeds,
        source=source,
        red_score_seeds=tuple(s for s, _ in red_scores),
        red_score_parameters=tuple(p for _, p in red_scores),
    )
