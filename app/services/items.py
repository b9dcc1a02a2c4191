"""Item analysis: how each scenario performs as a test item, from database aggregates.

A scenario is one item; each decision on any of its versions is one response. The
database does the counting (GROUP BY trainee, by scenario and trainee, by version,
by wrong reason); only those small tables come back to Python, where `app.metrics`
turns them into difficulty and a point-biserial discrimination.

Discrimination correlates right/wrong on this scenario with the trainee's share
correct on *every other* scenario (the rest score). With short drills the plain
overall share would include the item itself and inflate the correlation, hiding the
negative values the flag exists to catch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from app.metrics import NEGATIVE_DISCRIMINATION_BELOW, TOO_EASY_AT, ItemAnalysis, analyse_item
from app.models import Decision, ScenarioVersion
from app.services.attempts import DISMISS_REASONS
from app.services.scenarios import latest_versions
from simulator import CATEGORIES

__all__ = [
    "FEW_RESPONSES",
    "REASON_LABELS",
    "ItemRow",
    "ReasonCount",
    "VersionStat",
    "item_rows",
]

FEW_RESPONSES = 10
"""Below this many responses a flag is shown as tentative: one nurse can swing it."""

# The wording nurses chose from on the decision form, so educators read the same words.
REASON_LABELS: dict[str, str] = {k: v.removesuffix(" (say why)") for k, v in DISMISS_REASONS.items()}

_CORRECT = func.sum(case((col(Decision.correct), 1), else_=0))


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    count: int

    @property
    def label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)


@dataclass(frozen=True)
class VersionStat:
    version: int
    n: int
    correct: int

    @property
    def difficulty(self) -> float | None:
        return self.correct / self.n if self.n else None


@dataclass(frozen=True)
class ItemRow:
    scenario_id: str
    title: str
    category: str
    latest_version: int
    expected_action: str
    n_trainees: int
    analysis: ItemAnalysis
    wrong_reasons: list[ReasonCount]
    versions: list[VersionStat]

    @property
    def n(self) -> int:
        return self.analysis.n

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.category, self.category)

    @property
    def flagged(self) -> bool:
        return self.analysis.too_easy or self.analysis.negative_discrimination

    @property
    def tentative(self) -> bool:
        return self.n < FEW_RESPONSES


def _totals_by_trainee(session: Session) -> dict[int, tuple[int, int]]:
    rows = session.exec(
        select(Decision.trainee_id, func.count(col(Decision.id)), _CORRECT).group_by(col(Decision.trainee_id))
    ).all()
    return {int(t): (int(n), int(k or 0)) for t, n, k in rows}


def _by_scenario_and_trainee(session: Session) -> dict[str, list[tuple[int, int, int]]]:
    rows = session.exec(
        select(ScenarioVersion.scenario_id, Decision.trainee_id, func.count(col(Decision.id)), _CORRECT)
        .join(ScenarioVersion, col(ScenarioVersion.id) == col(Decision.scenario_version_id))
        .group_by(col(ScenarioVersion.scenario_id), col(Decision.trainee_id))
    ).all()
    out: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for sid, trainee, n, k in rows:
        out[str(sid)].append((int(trainee), int(n), int(k or 0)))
    return out


def _by_version(session: Session) -> dict[str, list[VersionStat]]:
    rows = session.exec(
        select(ScenarioVersion.scenario_id, ScenarioVersion.version, func.count(col(Decision.id)), _CORRECT)
        .join(ScenarioVersion, col(ScenarioVersion.id) == col(Decision.scenario_version_id))
        .group_by(col(ScenarioVersion.scenario_id), col(ScenarioVersion.version))
    ).all()
    out: dict[str, list[VersionStat]] = defaultdict(list)
    for sid, version, n, k in rows:
        out[str(sid)].append(VersionStat(int(version), int(n), int(k or 0)))
    for stats in out.values():
        stats.sort(key=lambda s: s.version, reverse=True)
    return out


def _wrong_reasons(session: Session, top: int) -> dict[str, list[ReasonCount]]:
    """The reasons given for wrong dismissals: what talked nurses out of escalating."""
    rows = session.exec(
        select(ScenarioVersion.scenario_id, Decision.reason, func.count(col(Decision.id)))
        .join(ScenarioVersion, col(ScenarioVersion.id) == col(Decision.scenario_version_id))
        .where(
            Decision.correct == False,  # noqa: E712
            Decision.action == "dismiss",
            col(Decision.reason).is_not(None),
        )
        .group_by(col(ScenarioVersion.scenario_id), col(Decision.reason))
    ).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for sid, reason, n in rows:
        counts[str(sid)][str(reason)] += int(n)
    return {
        sid: [ReasonCount(r, n) for r, n in sorted(c.items(), key=lambda rn: (-rn[1], rn[0]))[:top]]
        for sid, c in counts.items()
    }


def _responses(
    groups: list[tuple[int, int, int]], totals: dict[int, tuple[int, int]]
) -> tuple[list[bool], list[float]]:
    """Expand per-trainee counts into one (right/wrong, rest score) pair per response.

    Trainees who answered only this scenario have no rest score and are left out of the
    correlation (they still count towards difficulty, which is computed separately).
    """
    item: list[bool] = []
    rest: list[float] = []
    for trainee, n, k in groups:
        all_n, all_k = totals.get(trainee, (n, k))
        other_n = all_n - n
        if other_n <= 0:
            continue
        score = (all_k - k) / other_n
        item += [True] * k + [False] * (n - k)
        rest += [score] * n
    return item, rest


def item_rows(session: Session, *, category: str | None = None, flagged_only: bool = False) -> list[ItemRow]:
    """One row per scenario id (all versions pooled), described by its newest version."""
    latest = {v.scenario_id: v for v in latest_versions(session)}
    groups = _by_scenario_and_trainee(session)
    # Scenarios whose versions were all withdrawn still have decisions worth reviewing.
    for sid in set(groups) - set(latest):
        newest = session.exec(
            select(ScenarioVersion)
            .where(ScenarioVersion.scenario_id == sid)
            .order_by(col(ScenarioVersion.version).desc())
        ).first()
        if newest is not None:
            latest[sid] = newest
    totals = _totals_by_trainee(session)
    versions = _by_version(session)
    reasons = _wrong_reasons(session, top=3)
    rows: list[ItemRow] = []
    for sid, v in latest.items():
        if category and v.category != category:
            continue
        per_trainee = groups.get(sid, [])
        n = sum(g[1] for g in per_trainee)
        k = sum(g[2] for g in per_trainee)
        item, rest = _responses(per_trainee, totals)
        corr = analyse_item(item, rest, corrected=False)
        analysis = ItemAnalysis(
            n=n,
            difficulty=k / n if n else None,
            discrimination=corr.discrimination,
            too_easy=n > 0 and k / n >= TOO_EASY_AT,
            negative_discrimination=corr.discrimination is not None
            and corr.discrimination < NEGATIVE_DISCRIMINATION_BELOW,
        )
        row = ItemRow(
            scenario_id=sid,
            title=v.title,
            category=v.category,
            latest_version=v.version,
            expected_action=v.expected_action,
            n_trainees=len(per_trainee),
            analysis=analysis,
            wrong_reasons=reasons.get(sid, []),
            versions=versions.get(sid, []),
        )
        if flagged_only and not row.flagged:
            continue
        rows.append(row)
    order = list(CATEGORIES)
    rows.sort(key=lambda r: (r.n == 0, order.index(r.category) if r.category in order else 99, r.scenario_id))
    return rows
