"""The browser scenario editor: read a submission, validate it, publish it, show it by line.

The simulator's loader finds the problems; this module turns a pasted text or an
uploaded file into something the loader can read (size first, strict UTF-8), points
each problem at a line of the text the educator sees, and publishes through
`app.services.scenarios.publish`, which stores the version and its audit entry in one
commit or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import ScenarioVersion
from app.services.scenarios import check_publishable, next_version, publish
from simulator import Scenario, ScenarioIssue, ScenarioValidationError, parse_scenario
from simulator.loader import MAX_BYTES

__all__ = [
    "MAX_BYTES",
    "RESERVED_IDS",
    "IssueRef",
    "Outcome",
    "SourceLine",
    "Submission",
    "annotate",
    "publish_submission",
    "submission_from_text",
    "submission_from_upload",
    "too_large",
    "validate_submission",
    "with_version",
]

RESERVED_IDS = frozenset({"new"})  # /scenarios/new is the editor, not a scenario
_VERSION_LINE = re.compile(r"^(version[ \t]*:[ \t]*)(\S+)", re.MULTILINE)
_ID_LINE = re.compile(r"^id[ \t]*:[ \t]*['\"]?([a-z0-9-]+)", re.MULTILINE)


@dataclass(frozen=True)
class IssueRef:
    """An issue with the anchor its source line points to (`aria-describedby`)."""

    anchor: str
    issue: ScenarioIssue


@dataclass(frozen=True)
class SourceLine:
    number: int
    text: str
    issues: tuple[IssueRef, ...] = ()

    @property
    def described_by(self) -> str:
        return " ".join(ref.anchor for ref in self.issues)


@dataclass
class Submission:
    """What the educator sent: the text to edit and problems found before parsing."""

    text: str
    source: str
    issues: list[ScenarioIssue] = field(default_factory=list)


@dataclass
class Outcome:
    """The result of validating (or trying to publish) one submission."""

    submission: Submission
    issues: list[IssueRef] = field(default_factory=list)
    scenario: Scenario | None = None
    already_published: ScenarioVersion | None = None
    published_versions: list[int] = field(default_factory=list)
    next_free: int | None = None

    @property
    def ok(self) -> bool:
        return not self.issues and self.scenario is not None

    @property
    def lines(self) -> list[SourceLine]:
        return annotate(self.submission.text, self.issues)


def _issue(source: str, message: str, line: int = 1, col_: int = 1, field_: str = "(document)") -> ScenarioIssue:
    return ScenarioIssue(source=source, line=line, col=col_, field=field_, message=message)


def too_large(source: str = "scenario") -> ScenarioIssue:
    return _issue(source, f"the scenario is larger than {MAX_BYTES // 1024} KiB: refused (split it or trim the text)")


def submission_from_text(text: str, source: str = "scenario") -> Submission:
    """Text typed or pasted in the editor; browsers send CRLF line ends, stored as LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        # Do not echo a huge text back into the page.
        return Submission("", source, [too_large(source)])
    return Submission(text, source)


def submission_from_upload(data: bytes, filename: str) -> Submission:
    """An uploaded file: `data` holds at most MAX_BYTES + 1 bytes (the caller reads no more)."""
    source = _safe_name(filename)
    if len(data) > MAX_BYTES:
        return Submission("", source, [too_large(source)])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[: e.start]
        line = head.count(b"\n") + 1
        column = len(head) - (head.rfind(b"\n") + 1) + 1
        shown = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        return Submission(
            shown,
            source,
            [_issue(source, f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8 and upload it again",
                    line, column)],
        )
    return submission_from_text(text.removeprefix("\ufeff"), source)


def _safe_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(ch for ch in name if ch.isprintable())[:120] or "upload.yaml"


def annotate(text: str, issues: list[IssueRef]) -> list[SourceLine]:
    """The text split into numbered lines, each carrying the issues located on it."""
    raw = text.split("\n")
    if raw and raw[-1] == "" and len(raw) > 1:
        raw.pop()
    by_line: dict[int, list[IssueRef]] = {}
    for ref in issues:
        number = min(max(ref.issue.line, 1), max(len(raw), 1))
        by_line.setdefault(number, []).append(ref)
    return [SourceLine(i, line, tuple(by_line.get(i, ()))) for i, line in enumerate(raw, start=1)]


def _line_of(pattern: re.Pattern[str], text: str) -> int | None:
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _point_version_issues(issues: list[ScenarioIssue], text: str) -> list[ScenarioIssue]:
    """Version clashes are reported at line 1; point them at the `version:` line instead."""
    line = _line_of(_VERSION_LINE, text)
    if line is None:
        return issues
    return [
        ScenarioIssue(i.source, line, 1, i.field, i.message) if i.field == "version" and i.line == 1 else i
        for i in issues
    ]


def _refs(issues: list[ScenarioIssue]) -> list[IssueRef]:
    ordered = sorted(issues, key=lambda i: (i.line, i.col, i.field))
    return [IssueRef(f"issue-{n}", issue) for n, issue in enumerate(ordered, start=1)]


def scenario_id_of(text: str) -> str | None:
    """The id written in the text, even when the rest does not validate (to show its versions)."""
    m = _ID_LINE.search(text)
    return m.group(1) if m else None


def published_versions(session: Session, scenario_id: str) -> list[int]:
    rows = session.exec(
        select(ScenarioVersion.version)
        .where(ScenarioVersion.scenario_id == scenario_id)
        .order_by(col(ScenarioVersion.version))
    ).all()
    return [int(v) for v in rows]


def validate_submission(session: Session, sub: Submission) -> Outcome:
    """Every problem at once, including a version number already used for other text."""
    outcome = Outcome(sub)
    sid = scenario_id_of(sub.text)
    if sid:
        outcome.published_versions = published_versions(session, sid)
        outcome.next_free = next_version(session, sid)
    if sub.issues:
        outcome.issues = _refs(sub.issues)
        return outcome
    if not sub.text.strip():
        outcome.issues = _refs([_issue(sub.source, "the scenario is empty: paste its text or choose a file")])
        return outcome
    try:
        scenario = parse_scenario(sub.text, sub.source)
        if scenario.id in RESERVED_IDS:
            line = _line_of(_ID_LINE, sub.text) or 1
            raise ScenarioValidationError([_issue(sub.source, f"the id {scenario.id!r} is reserved; choose another",
                                                  line, 1, "id")])
        outcome.already_published = check_publishable(session, scenario, sub.source)
    except ScenarioValidationError as err:
        outcome.issues = _refs(_point_version_issues(err.issues, sub.text))
        return outcome
    outcome.scenario = scenario
    return outcome


def publish_submission(session: Session, sub: Submission, *, user_id: int | None) -> tuple[ScenarioVersion | None, Outcome]:
    """Publish if valid: (the stored version, outcome), or (None, outcome with the problems).

    Nothing is stored unless every check passes; a concurrent publish of the same
    version number loses at the unique constraint and is reported like a clash.
    """
    outcome = validate_submission(session, sub)
    if not outcome.ok:
        return None, outcome
    if outcome.already_published is not None:
        return outcome.already_published, outcome
    try:
        result = publish(session, text=sub.text, source=sub.source, user_id=user_id)
    except ScenarioValidationError as err:
        session.rollback()
        outcome.issues = _refs(_point_version_issues(err.issues, sub.text))
        outcome.scenario = None
        return None, outcome
    except IntegrityError:
        session.rollback()
        scenario = outcome.scenario
        sid, number = (scenario.id, scenario.version) if scenario else ("?", 0)
        clash = _issue(
            sub.source,
            f"version {number} of '{sid}' was published a moment ago by someone else; "
            f"set `version: {next_version(session, sid)}`",
            field_="version",
        )
        outcome.issues = _refs(_point_version_issues([clash], sub.text))
        outcome.scenario = None
        return None, outcome
    return result.version, outcome


def with_version(text: str, version: int) -> str:
    """The text with its top-level `version:` set, to start the next version of a scenario."""
    return _VERSION_LINE.sub(lambda m: f"{m.group(1)}{version}", text, count=1)
