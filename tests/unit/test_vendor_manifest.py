"""The vendored JS files are exactly the pinned npm releases recorded in MANIFEST.json."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "app" / "static" / "vendor" / "MANIFEST.json"
HTMX_VERSION = "2.0.11"


def _entries() -> list[dict[str, Any]]:
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    files: list[dict[str, Any]] = doc["files"]
    return files


def test_manifest_lists_htmx_and_axe() -> None:
    packages = {e["package"]: e for e in _entries()}
    assert set(packages) == {"htmx.org", "axe-core"}
    assert packages["htmx.org"]["version"] == HTMX_VERSION
    assert packages["htmx.org"]["path"] == f"app/static/vendor/htmx-{HTMX_VERSION}.min.js"
    axe = packages["axe-core"]
    assert re.fullmatch(r"4\.\d+\.\d+", axe["version"])
    assert axe["path"] == f"tests/e2e/vendor/axe-{axe['version']}.min.js"


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["package"])
def test_vendored_file_matches_sha256(entry: dict[str, Any]) -> None:
    path = ROOT / entry["path"]
    assert path.is_file(), f"{entry['path']} listed in MANIFEST.json but missing"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    for key in ("package", "version", "source", "license"):
        assert entry[key], f"{entry['path']}: empty {key}"


def test_package_json_pins_the_manifest_versions() -> None:
    pkg = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    pins = {**pkg["dependencies"], **pkg["devDependencies"]}
    for entry in _entries():
        assert pins[entry["package"]] == entry["version"], "package.json and MANIFEST.json disagree"


def test_htmx_file_reports_pinned_version() -> None:
    text = (ROOT / "app" / "static" / "vendor" / f"htmx-{HTMX_VERSION}.min.js").read_text(encoding="utf-8")
    versions = set(re.findall(r"""version:\s*["']([0-9][^"']*)["']""", text))
    assert versions == {HTMX_VERSION}


def test_axe_file_reports_manifest_version() -> None:
    axe = next(e for e in _entries() if e["package"] == "axe-core")
    head = (ROOT / axe["path"]).read_text(encoding="utf-8")[:200]
    assert f"axe v{axe['version']}" in head


def test_no_unlisted_vendor_files() -> None:
    listed = {e["path"] for e in _entries()}
    shipped = {
        p.relative_to(ROOT).as_posix()
        for d in ("app/static/vendor", "tests/e2e/vendor")
        for p in (ROOT / d).iterdir()
        if p.name != "MANIFEST.json"
    }
    assert shipped == listed
