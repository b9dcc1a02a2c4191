"""Hostile scenario uploads: refused with a clear message, in bounded time and memory.

Oversized files, non-UTF-8 bytes, YAML alias bombs, deep nesting and other unsafe YAML, first
through the loader (time and traced memory measured) and then through the educator's upload
form over HTTP (POST /scenarios/validate and /scenarios/publish with a file): a 4xx page that
names the problem, never a 5xx, and nothing stored.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.models import ScenarioVersion
from simulator import ScenarioValidationError, parse_scenario_bytes
from simulator.loader import MAX_BYTES
from tests.fuzz.strategies import SEEDS
from tests.utils.auth import login

TIME_BOUND_S = 10.0  # generous on a shared, loaded 2-core machine; typical figures are in docs/reliability.md
MEMORY_BOUND_MB = 64.0


def _laughs(levels: int, width: int) -> bytes:
    """The billion laughs: each level an anchored list of `width` aliases to the level below."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


SEED = SEEDS[0]

HOSTILE: dict[str, tuple[bytes, str]] = {
    "oversize": (b"title: " + b"x" * (MAX_BYTES + 10), "larger than"),
    "oversize-10MB": (b"a" * (10 * 1024 * 1024), "larger than"),
    "latin-1": ("title: café au lait\n".encode("latin-1"), "UTF-8"),
    "cp1252-quotes": (b"title: \x93quoted\x94\n", "UTF-8"),
    "utf-16": (SEED.encode("utf-16"), "UTF-8"),
    "truncated-utf8": (SEED.encode()[:200] + "é".encode()[:1], "UTF-8"),
    "billion-laughs": (_laughs(9, 9), "alias"),
    "wide-alias-bomb": (b"a: &a [" + b", ".join([b"x"] * 2000) + b"]\nb: [" + b", ".join([b"*a"] * 60) + b"]\n",
                        "nodes"),
    "deep-flow": (b"[" * 50_000 + b"]" * 50_000, "nesting"),
    "deep-mapping": (b"a: " + b"{a: " * 5_000 + b"1" + b"}" * 5_000, "nesting"),
    "deep-block": ("".join("  " * i + "a:\n" for i in range(200)).encode() + b"  " * 200 + b"1\n", "nesting"),
    "deep-inside-scenario": (SEED.replace("trajectory: []", "trajectory: " + "[" * 500 + "]" * 500).encode(),
                             "nesting"),
    # Refused, never constructed: a tag on a scalar is named; one on a list is read as a plain list.
    "python-tag": (b"!!python/object/apply:os.system ['echo pwned']\n", "mapping"),
    "python-tag-on-list-field": (SEED.replace("title:", "title: !!python/object/apply:os.system ['x'] #").encode(),
                                 "valid string"),
    "python-tag-in-field": (SEED.replace("title:", "title: !!python/name:os.system #").encode(), "tag"),
    "merge-key": (SEED.encode() + b"extra: &x {a: 1}\nmore:\n  <<: *x\n", "merge"),
    "nul-byte": (b"title: a\x00b\n", "character"),
    "empty": (b"", ""),
    "only-bom": (b"\xef\xbb\xbf", ""),
    "not-a-mapping": (b"- just\n- a list\n", "mapping"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_loader_refuses_hostile_upload_quickly(name: str) -> None:
    data, phrase = HOSTILE[name]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ScenarioValidationError) as info:
            parse_scenario_bytes(data, "upload.yaml")
        elapsed = time.perf_counter() - start
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    messages = " | ".join(i.message for i in info.value.issues)
    assert info.value.issues and all(i.message.strip() for i in info.value.issues)
    assert phrase.lower() in messages.lower(), messages
    assert elapsed < TIME_BOUND_S, f"{name}: {elapsed:.1f}s"
    assert peak_mb < MEMORY_BOUND_MB, f"{name}: {peak_mb:.0f} MB"


def test_loader_refuses_a_huge_integer() -> None:
    # An integer past Python's int-string limit once escaped as ValueError (a 500 on upload).
    data = SEED.replace("version: 1", "version: " + "9" * 5000).encode()
    with pytest.raises(ScenarioValidationError) as err:
        parse_scenario_bytes(data, "upload.yaml")
    assert any("too large" in i.message for i in err.value.issues), err.value.issues


# ---- the same through the educator's upload form ---------------------------------------------

HTTP_CASES = ["oversize", "oversize-10MB", "latin-1", "utf-16", "billion-laughs", "wide-alias-bomb", "deep-flow",
              "deep-mapping", "python-tag", "merge-key", "nul-byte", "not-a-mapping"]


def _versions(db: Session) -> int:
    return int(db.exec(select(func.count()).select_from(ScenarioVersion)).one())


@pytest.fixture
def educator(client, demo):  # type: ignore[no-untyped-def]
    return login(client, "educator")


@pytest.mark.parametrize("route", ["/scenarios/validate", "/scenarios/publish"])
@pytest.mark.parametrize("name", HTTP_CASES)
def test_upload_form_refuses_hostile_file(educator, db: Session, name: str, route: str) -> None:  # type: ignore[no-untyped-def]
    data, phrase = HOSTILE[name]
    before = _versions(db)
    start = time.perf_counter()
    r = educator.post(route, files={"file": ("upload.yaml", data, "application/x-yaml")})
    elapsed = time.perf_counter() - start
    assert 400 <= r.status_code < 500, (r.status_code, r.text[-500:])
    assert phrase.lower() in r.text.lower(), r.text[-2000:]
    assert elapsed < TIME_BOUND_S, f"{name}: {elapsed:.1f}s"
    assert _versions(db) == before, "a refused upload stored a version"


@pytest.mark.parametrize("route", ["/scenarios/validate", "/scenarios/publish"])
def test_upload_form_refuses_oversized_text_box(educator, route: str) -> None:  # type: ignore[no-untyped-def]
    r = educator.post(route, data={"text": "title: " + "x" * (MAX_BYTES + 10)})
    assert r.status_code == 422
    assert "larger than" in r.text


def test_upload_form_refuses_a_huge_integer(educator) -> None:  # type: ignore[no-untyped-def]
    data = SEED.replace("version: 1", "version: " + "9" * 5000).encode()
    r = educator.post("/scenarios/validate", files={"file": ("upload.yaml", data, "application/x-yaml")})
    assert r.status_code == 422
    assert "too large" in r.text
