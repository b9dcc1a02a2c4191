"""Read scenario documents safely and turn every problem into located ScenarioIssues.

The YAML is composed with a SafeLoader subclass that counts aliases and nesting depth while it
composes, so alias bombs and deeply nested documents are refused before anything is expanded.
The node tree is then converted by hand: that gives each field its line and column, catches
duplicate keys, merge keys and non-standard tags, and bounds the number of nodes visited (an
alias can still be walked many times). Schema and physiology errors from pydantic are mapped back
onto those positions.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ScenarioIssue, ScenarioValidationError
from .schema import Scenario

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ISSUES",
    "canonical_text",
    "file_name_issue",
    "load_scenario",
    "parse_scenario",
    "parse_scenario_bytes",
]

MAX_BYTES = 256 * 1024
MAX_DEPTH = 20
MAX_ALIASES = 64
MAX_NODES = 20_000
#: Problems reported per document; the rest are counted. A file with thousands of mistakes needs
#: its first screenful fixed, and suggesting spellings for every one of them costs seconds.
MAX_ISSUES = 50

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null")}
_TEXTUAL_TAGS = {_STD + "timestamp", _STD + "binary"}

Path_ = tuple[str | int, ...]


class _Refused(Exception):
    """A document that is refused for safety or structure reasons, with its position."""

    def __init__(self, message: str, line: int, col: int, path: Path_ = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.path = path


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias floods and deep nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line, col = _mark(event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} aliases: refused (possible alias bomb)", line, col)
            return super().compose_node(parent, index)
        nests = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if nests:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", line, col)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1


def canonical_text(text: str) -> str:
    """The text the content hash is taken over: no BOM, LF line endings."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return _mark(node.start_mark)


class _Converter:
    """Node tree -> plain Python data, remembering where each path starts."""

    def __init__(self, loader: _GuardedLoader) -> None:
        self.loader = loader
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.issues: list[tuple[Path_, int, int, str]] = []
        self.visited = 0

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _Refused(f"document expands to more than {MAX_NODES} nodes: refused", *_pos(node), path)
        if depth > MAX_DEPTH:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", *_pos(node))
        self.positions.setdefault(path, _pos(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        raise _Refused("unsupported YAML node", *_pos(node), path)  # pragma: no cover - PyYAML has three kinds

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag in _TEXTUAL_TAGS:
            return str(node.value)
        if node.tag not in _SCALAR_TAGS:
            self.issues.append((path, *_pos(node), f"unsupported YAML tag {node.tag!r}"))
            return None
        try:
            return self.loader.construct_object(node)
        except ValueError:
            # e.g. an integer of thousands of digits (Python's int-string limit):
            # no field here needs one, so it is an input error, not a crash.
            self.issues.append((path, *_pos(node), "number is too large"))
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STD + "merge":
                self.issues.append((path, *_pos(key_node), "merge keys (<<) are not supported"))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STD + "str":
                self.issues.append((path, *_pos(key_node), "field names must be plain text"))
                continue
            key = str(key_node.value)
            if key in out:
                self.issues.append(((*path, key), *_pos(key_node), "duplicate field"))
                continue
            self.positions[(*path, key)] = _pos(key_node)
            out[key] = self.convert(value_node, (*path, key), depth + 1)
        return out


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for f in model.model_fields.values():
        for arg in _model_args(f.annotation):
            names |= _field_names(arg, seen)
    return names


def _model_args(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    found: list[type[BaseModel]] = []
    for arg in getattr(tp, "__args__", ()) or ():
        found += _model_args(arg)
    for meta in getattr(tp, "__metadata__", ()) or ():
        found += _model_args(meta) if isinstance(meta, type) else []
    origin = getattr(tp, "__origin__", None)
    if origin is not None and origin is not tp:
        found += _model_args(origin) if isinstance(origin, type) and issubclass(origin, BaseModel) else []
    return found


_KNOWN_FIELDS = sorted(_field_names(Scenario))


def _fmt_path(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


def _locate(path: Path_, positions: Mapping[Path_, tuple[int, int]], data: Any) -> tuple[Path_, tuple[int, int]]:
    """Map a pydantic loc onto the document: (path as the author wrote it, position of its deepest known part).

    Discriminated-union tags that pydantic inserts into locs are dropped; steps that do not exist in
    the document (e.g. a missing field) are kept in the path but located at their parent.
    """
    shown: list[str | int] = []
    best = positions.get((), (1, 1))
    cur: Any = data
    resolving = True
    for step in path:
        if resolving and isinstance(cur, dict) and isinstance(step, str) and step in cur:
            cur = cur[step]
        elif resolving and isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            cur = cur[step]
        elif resolving and isinstance(cur, dict) and cur.get("type") == step:
            continue
        else:
            resolving = False
            shown.append(step)
            continue
        shown.append(step)
        best = positions.get(tuple(shown), best)
    return tuple(shown), best


def _split(sub: str) -> Path_:
    return tuple(int(p) if p.isdigit() else p for p in sub.split(".") if p)


def _issues_from_validation(
    err: ValidationError, source: str, positions: Mapping[Path_, tuple[int, int]], data: Any
) -> list[ScenarioIssue]:
    issues: list[ScenarioIssue] = []
    for e in err.errors(include_url=False):
        loc: Path_ = tuple(e["loc"])
        ctx = e.get("ctx") or {}
        kind = e["type"]
        msg = str(e["msg"])
        sub_issues: list[tuple[str, str]] = list(ctx.get("issues", ())) if isinstance(ctx, dict) else []
        if sub_issues:
            for sub, m in sub_issues:
                full = (*loc, *_split(sub))
                shown, (line, col) = _locate(full, positions, data)
                issues.append(ScenarioIssue(source, line, col, _fmt_path(shown), m))
            continue
        if isinstance(ctx, dict) and ctx.get("subpath"):
            loc = (*loc, *_split(str(ctx["subpath"])))
        loc, (line, col) = _locate(loc, positions, data)
        field = _fmt_path(loc)
        if kind == "extra_forbidden":
            msg = f"{_UNKNOWN}{str(loc[-1]) if loc else ''!r}"  # spelling suggested in _suggest, once capped
        elif kind == "missing":
            msg = f"required field {loc[-1]!s} is missing" if loc else "required field is missing"
        elif kind in ("literal_error", "union_tag_invalid", "enum"):
            msg = f"{msg} (got {e.get('input')!r})"
        elif kind == "string_pattern_mismatch" and loc == ("id",):
            msg = "must be lowercase letters and digits in hyphen-separated words, e.g. copd-hypercapnic-baseline"
        elif kind in ("model_type", "dict_type"):
            msg = "expected a mapping of fields (key: value)"
        elif kind == "list_type":
            msg = "expected a list"
        issues.append(ScenarioIssue(source, line, col, field, msg))
    return issues


_UNKNOWN = "unknown field "


def _suggest(issue: ScenarioIssue) -> ScenarioIssue:
    """Add "did you mean" to an unknown-field message."""
    if not issue.message.startswith(_UNKNOWN):
        return issue
    name = issue.field.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, _KNOWN_FIELDS, n=1, cutoff=0.75)
    if not close:
        return issue
    return dataclasses.replace(issue, message=f"{issue.message} (did you mean {close[0]!r}?)")


def _capped(issues: list[ScenarioIssue], source: str) -> list[ScenarioIssue]:
    """Document order, at most MAX_ISSUES of them, then one line counting the rest."""
    issues.sort(key=lambda i: (i.line, i.col, i.field))
    shown = [_suggest(i) for i in issues[:MAX_ISSUES]]
    if len(issues) > MAX_ISSUES:
        rest = issues[MAX_ISSUES]
        shown.append(
            ScenarioIssue(
                source, rest.line, rest.col, "(document)",
                f"{len(issues) - MAX_ISSUES} more problems from here on not listed: fix the ones above first",
            )
        )
    return shown


def parse_scenario(text: str, source: str) -> Scenario:
    """Parse and validate one YAML scenario document; raises ScenarioValidationError."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ScenarioValidationError(
            [ScenarioIssue(source, 1, 1, "(document)", f"document is larger than {MAX_BYTES // 1024} KiB: refused")]
        )
    canon = canonical_text(text)
    try:
        data, positions, structural = _compose(canon)
    except _Refused as r:
        raise ScenarioValidationError([ScenarioIssue(source, r.line, r.col, _fmt_path(r.path), r.message)])
    issues = [ScenarioIssue(source, line, col, _fmt_path(p), m) for p, line, col, m in structural]
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        issues.append(ScenarioIssue(source, 1, 1, "(document)", f"a scenario must be a mapping of fields, not {what}"))
        raise ScenarioValidationError(issues)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        issues += _issues_from_validation(err, source, positions, data)
    except (ValueError, TypeError, OverflowError) as err:  # defensive: pydantic should wrap these
        issues.append(ScenarioIssue(source, 1, 1, "(document)", f"invalid value: {err}"))
    if issues:
        raise ScenarioValidationError(_capped(issues, source))
    scenario._content_hash = hashlib.sha256(canon.encode("utf-8")).hexdigest()
    return scenario


def _compose(text: str) -> tuple[Any, dict[Path_, tuple[int, int]], list[tuple[Path_, int, int, str]]]:
    try:
        loader = _GuardedLoader(text)
    except yaml.reader.ReaderError as e:
        line, col = _line_col(text, e.position)
        raise _Refused(f"unreadable character {e.character!r}: {e.reason}", line, col)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            problem = " ".join(p for p in (e.context, e.problem) if p) or "syntax error"
            raise _Refused(f"YAML syntax error: {problem}", line, col)
        except yaml.reader.ReaderError as e:
            line, col = _line_col(text, e.position)
            raise _Refused(f"unreadable character {e.character!r}: {e.reason}", line, col)
        except yaml.YAMLError as e:
            raise _Refused(f"YAML error: {e}", 1, 1)
        except RecursionError:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", 1, 1)
        if node is None:
            return None, {}, []
        conv = _Converter(loader)
        try:
            data = conv.convert(node, (), 0)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            raise _Refused(f"invalid value: {getattr(e, 'problem', None) or e}", line, col)
        except RecursionError:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", 1, 1)
        return data, conv.positions, conv.issues
    finally:
        loader.dispose()


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def parse_scenario_bytes(data: bytes, source: str) -> Scenario:
    """Parse uploaded bytes: size-checked before decoding, strict UTF-8."""
    if len(data) > MAX_BYTES:
        raise ScenarioValidationError(
            [ScenarioIssue(source, 1, 1, "(document)", f"document is larger than {MAX_BYTES // 1024} KiB: refused")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[: e.start]
        line = head.count(b"\n") + 1
        col = len(head) - (head.rfind(b"\n") + 1) + 1
        raise ScenarioValidationError(
            [ScenarioIssue(source, line, col, "(document)", f"not valid UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8")]
        )
    return parse_scenario(text, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as e:
        raise ScenarioValidationError([ScenarioIssue(str(p), 1, 1, "(document)", f"cannot read file: {e.strerror or e}")])
    return parse_scenario_bytes(data, str(p))


SCENARIO_SUFFIXES = (".yaml", ".yml")


def file_name_issue(path: str | Path, scenario: Scenario) -> ScenarioIssue | None:
    """An issue when a file on disk is not named after its scenario id (``<id>.yaml``), else None.

    Only for files read from disk: an uploaded document has no file name to compare with.
    """
    p = Path(path)
    if p.stem == scenario.id and p.suffix in SCENARIO_SUFFIXES:
        return None
    return ScenarioIssue(
        str(p), 1, 1, "id",
        f"id {scenario.id!r} does not match the file name {p.name!r}: name the file {scenario.id}.yaml",
    )
