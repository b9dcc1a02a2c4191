"""Published scenario versions: the bridge between scenario files and the database.

A version is immutable once published: the same (id, version) with different text
is refused with a message telling the educator which version number to use, so
every decision keeps pointing at exactly the case it was made on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from app.models import AuditEvent, ScenarioVersion
from simulator import Scenario, ScenarioIssue, ScenarioValidationError, parse_scenario


@dataclass(frozen=True)
class PublishResult:
    version: ScenarioVersion
    created: bool


def _conflict(source: str, message: str) -> ScenarioValidationError:
    return ScenarioValidationError([ScenarioIssue(source=source, line=1, col=1, field="version", message=message)])


def check_publishable(session: Session, scenario: Scenario, source: str) -> ScenarioVersion | None:
    """The already-published identical version, or None if this one is new.

    Raises ScenarioValidationError when the version number is taken by other text.
    """
    existing = session.exec(
        select(ScenarioVersion).where(
            ScenarioVersion.scenario_id == scenario.id, ScenarioVersion.version == scenario.version
        )
    ).first()
    if existing is None:
        return None
    if existing.content_hash == scenario.content_hash:
        return existing
    latest = next_version(session, scenario.id) - 1
    raise _conflict(
        source,
        f"version {scenario.version} of '{scenario.id}' is already published with different content; "
        f"published versions are never changed, so set `version: {latest + 1}`",
    )


def next_version(session: Session, scenario_id: str) -> int:
    latest = session.exec(
        select(func.max(ScenarioVersion.version)).where(ScenarioVersion.scenario_id == scenario_id)
    ).one()
    return int(latest or 0) + 1


def _row(scenario: Scenario, text: str, user_id: int | None) -> ScenarioVersion:
    return ScenarioVersion(
        scenario_id=scenario.id,
        version=scenario.version,
        title=scenario.title,
        category=scenario.category,
        expected_action=scenario.expected_action,
        content_hash=scenario.content_hash,
        source_text=text,
        published_by=user_id,
    )


def publish(session: Session, *, text: str, source: str, user_id: int | None = None) -> PublishResult:
    """Validate and store one scenario text (idempotent for identical text)."""
    scenario = parse_scenario(text, source)
    same = check_publishable(session, scenario, source)
    if same is not None:
        return PublishResult(same, created=False)
    row = _row(scenario, text, user_id)
    session.add(row)
    session.flush()
    session.add(
        AuditEvent(
            actor_id=user_id,
            action="scenario.publish",
            target=f"scenario:{scenario.id}:v{scenario.version}",
            detail={"hash": scenario.content_hash},
        )
    )
    session.commit()
    return PublishResult(row, created=True)


def publish_files(session: Session, paths: list[Path], *, user_id: int | None = None) -> list[PublishResult]:
    """All files or none: every file is validated (and checked for version clashes)
    before anything is stored, and every error in every file is reported together."""
    parsed: list[tuple[Scenario, str, str]] = []
    issues: list[ScenarioIssue] = []
    for path in paths:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            scenario = parse_scenario(text, source)
            check_publishable(session, scenario, source)
            parsed.append((scenario, text, source))
        except UnicodeDecodeError:
            issues.append(ScenarioIssue(source=source, line=1, col=1, field="(file)", message="not UTF-8 text"))
        except ScenarioValidationError as exc:
            issues.extend(exc.issues)
    seen: dict[tuple[str, int], str] = {}
    for scenario, _text, source in parsed:
        key = (scenario.id, scenario.version)
        if key in seen:
            issues.append(
                ScenarioIssue(source=source, line=1, col=1, field="id",
                              message=f"'{scenario.id}' version {scenario.version} is also in {seen[key]}")
            )
        seen[key] = source
    if issues:
        raise ScenarioValidationError(issues)
    results = []
    for scenario, text, source in parsed:
        same = check_publishable(session, scenario, source)
        if same is not None:
            results.append(PublishResult(same, created=False))
            continue
        row = _row(scenario, text, user_id)
        session.add(row)
        results.append(PublishResult(row, created=True))
    session.flush()
    session.add(AuditEvent(actor_id=user_id, action="scenario.publish-files",
                           detail={"created": sum(r.created for r in results), "files": len(paths)}))
    session.commit()
    return results


def scenario_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.yaml") if q.is_file()))
        else:
            out.append(p)
    return out


@lru_cache(maxsize=512)
def _parse_cached(text: str, source: str) -> Scenario:
    return parse_scenario(text, source)


def scenario_of(version: ScenarioVersion) -> Scenario:
    """The parsed scenario for a stored version (parsed once per process)."""
    return _parse_cached(version.source_text, f"{version.scenario_id}@v{version.version}")


def latest_versions(session: Session, *, category: str | None = None) -> list[ScenarioVersion]:
    """The newest active version of each scenario, ordered by category then id."""
    newest = (
        select(ScenarioVersion.scenario_id, func.max(ScenarioVersion.version).label("v"))
        .where(ScenarioVersion.is_active == True)  # noqa: E712
        .group_by(ScenarioVersion.scenario_id)
        .subquery()
    )
    query = select(ScenarioVersion).join(
        newest,
        and_(col(ScenarioVersion.scenario_id) == newest.c.scenario_id, col(ScenarioVersion.version) == newest.c.v),
    )
    if category:
        query = query.where(ScenarioVersion.category == category)
    return list(session.exec(query.order_by(ScenarioVersion.category, ScenarioVersion.scenario_id)))
