"""Copy pinned npm assets into the repo so runtime and CI never need npm or a CDN.

Hospital networks block CDNs, so the browser gets htmx from our own ``/static``. The file name carries
the version, which lets the static mount cache it for a long time. axe-core is only for the browser
tests, so it goes under ``tests/e2e/vendor`` and is never served.

Usage (after ``npm install``)::

    python scripts/vendor_assets.py          # copy files, write app/static/vendor/MANIFEST.json
    python scripts/vendor_assets.py --check  # exit 1 if the committed files differ from node_modules
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
MANIFEST = ROOT / "app" / "static" / "vendor" / "MANIFEST.json"


@dataclass(frozen=True)
class Asset:
    """One file taken from an npm package; ``dest_template`` gets ``{version}`` filled in."""

    package: str
    source: str
    dest_dir: str
    dest_template: str


ASSETS: tuple[Asset, ...] = (
    Asset("htmx.org", "dist/htmx.min.js", "app/static/vendor", "htmx-{version}.min.js"),
    Asset("axe-core", "axe.min.js", "tests/e2e/vendor", "axe-{version}.min.js"),
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pinned_versions() -> dict[str, str]:
    """Exact versions from package.json; a range there would make the vendored file name a lie."""
    pkg = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    pins: dict[str, str] = {**pkg.get("dependencies", {}), **pkg.get("devDependencies", {})}
    return pins


def installed_meta(package: str) -> dict[str, str]:
    meta_path = NODE_MODULES / package / "package.json"
    if not meta_path.is_file():
        raise SystemExit(f"{meta_path.relative_to(ROOT)} missing: run `npm install` first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return {"version": str(meta["version"]), "license": str(meta.get("license", "UNKNOWN"))}


def build_entries() -> list[tuple[Path, Path, dict[str, str]]]:
    """(source, destination, manifest entry) for each asset, after checking the pins match."""
    pins = pinned_versions()
    entries: list[tuple[Path, Path, dict[str, str]]] = []
    for asset in ASSETS:
        meta = installed_meta(asset.package)
        version = meta["version"]
        if pins.get(asset.package) != version:
            raise SystemExit(
                f"{asset.package}: package.json pins {pins.get(asset.package)!r} "
                f"but node_modules has {version!r}; run `npm ci`"
            )
        src = NODE_MODULES / asset.package / asset.source
        dest = ROOT / asset.dest_dir / asset.dest_template.format(version=version)
        entry = {
            "path": dest.relative_to(ROOT).as_posix(),
            "package": asset.package,
            "version": version,
            "source": asset.source,
            "sha256": sha256_file(src),
            "license": meta["license"],
        }
        entries.append((src, dest, entry))
    return entries


def render_manifest(entries: list[dict[str, str]]) -> str:
    doc = {
        "comment": "Written by scripts/vendor_assets.py from node_modules; do not edit by hand.",
        "files": entries,
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def remove_stale(asset: Asset, keep: Path) -> None:
    """Delete older versions of the same asset so only the pinned one is shipped."""
    pattern = asset.dest_template.format(version="*")
    for old in (ROOT / asset.dest_dir).glob(pattern):
        if old != keep:
            old.unlink()


def vendor() -> None:
    entries = build_entries()
    for asset, (src, dest, _entry) in zip(ASSETS, entries, strict=True):
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        remove_stale(asset, dest)
        sys.stdout.write(f"vendored {dest.relative_to(ROOT)}\n")
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(render_manifest([e for _s, _d, e in entries]), encoding="utf-8")
    sys.stdout.write(f"wrote {MANIFEST.relative_to(ROOT)}\n")


def check() -> int:
    """Compare committed files and manifest with node_modules without writing anything."""
    entries = build_entries()
    problems: list[str] = []
    for _src, dest, entry in entries:
        if not dest.is_file():
            problems.append(f"missing {entry['path']}")
        elif sha256_file(dest) != entry["sha256"]:
            problems.append(f"{entry['path']} differs from node_modules/{entry['package']}/{entry['source']}")
    expected = render_manifest([e for _s, _d, e in entries])
    if not MANIFEST.is_file() or MANIFEST.read_text(encoding="utf-8") != expected:
        problems.append(f"{MANIFEST.relative_to(ROOT)} is out of date")
    for problem in problems:
        sys.stderr.write(problem + "\n")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="verify only; exit 1 on any difference")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    vendor()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
