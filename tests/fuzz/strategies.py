"""Hypothesis strategies for scenario documents: random YAML, mutated real files, hostile input.

Shared by the CI fuzz tests (a few hundred examples) and `bench/bench_fuzz.py` (10,000).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
SEEDS: list[str] = [p.read_text(encoding="utf-8") for p in SCENARIO_FILES]
SEED_DATA: list[dict[str, Any]] = [yaml.safe_load(t) for t in SEEDS]

# Fragments that exercise YAML's corners: anchors, aliases, tags (unsafe ones included),
# merge keys, flow collections, document markers, tabs, odd scalars and control characters.
YAML_TOKENS = [
    "&a ", "*a", "*undefined", "!!python/object/apply:os.system ['true']", "!!python/name:os.system",
    "!!binary aGVsbG8=", "!!timestamp 2001-12-14", "!!set {a, b}", "!!omap [a: 1]", "!custom x", "<<: *a",
    "<<: {a: 1}", "{", "}", "[", "]", "{a: [b, {c: d}]}", "---", "...", "%YAML 1.1", "%TAG ! tag:x,2000:",
    "\t", "  ", "- ", ": ", "? ", "|", ">-", "#", "'", '"', "\\", "~", "null", ".nan", "-.inf", "0x1F", "0o17",
    "1e400", "-0", "99999999999999999999999999", "9" * 4400, "0x" + "f" * 4000, "yes", "no", "on", "2026-13-45", "\x00", "\x1b", "\ufeff",
    "\u2028", "\ud7ff", "é", "😀", "\r\n", "\r", "=", "@", "`", "%",
]

# Values a field may be given in place of the right one.
json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def structural_mutants(draw: st.DrawFn) -> str:
    """A real scenario with one to three fields replaced, deleted or added, dumped back to YAML."""
    data = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        op = draw(st.sampled_from(["replace", "delete", "add", "wrap", "numeric-edge"]))
        if op == "replace":
            parent[last] = draw(json_values)
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=20))] = draw(json_values)
        elif op == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
        else:
            parent[last] = draw(st.sampled_from([0, -1, 1e308, -1e308, float("nan"), float("inf"), 10**20, 2**63]))
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=draw(st.booleans()))


@st.composite
def text_mutants(draw: st.DrawFn) -> str:
    """A real scenario file with lines deleted, duplicated, swapped, re-indented, truncated, or
    YAML tokens and random characters spliced in."""
    lines = draw(st.sampled_from(SEEDS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "splice", "token", "truncate",
                                   "replace-value"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 5)) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "splice":
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + draw(st.text(max_size=8)) + lines[i][pos:]
        elif op == "token":
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + draw(st.sampled_from(YAML_TOKENS)) + lines[i][pos:]
        elif op == "truncate":
            lines = lines[:i]
        else:
            head, sep, _ = lines[i].partition(": ")
            if sep:
                lines[i] = head + sep + draw(st.sampled_from(YAML_TOKENS) | st.text(max_size=12)) + "\n"
    return "".join(lines)


def _yamlish(tokens: list[str]) -> str:
    return "".join(tokens)


random_yaml = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from(YAML_TOKENS) | st.text(max_size=6), max_size=60).map(_yamlish),
    json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.dictionaries(st.sampled_from(sorted(SEED_DATA[0])) | st.text(max_size=10), json_values, max_size=8).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True)
    ),
)

scenario_documents = st.one_of(structural_mutants(), text_mutants(), random_yaml)

# Raw bytes as an upload would bring them: mostly mutated files, some not UTF-8 at all.
upload_bytes = st.one_of(
    scenario_documents.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=600),
    st.tuples(text_mutants(), st.binary(min_size=1, max_size=4), st.integers(0, 2000)).map(
        lambda t: (t[0].encode("utf-8", "surrogatepass")[: t[2]] + t[1] + t[0].encode("utf-8", "surrogatepass")[t[2]:])
    ),
)
