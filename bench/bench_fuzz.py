"""Fuzz the scenario loader at scale and print what happened.

    .venv/bin/python bench/bench_fuzz.py                    # 10,000 documents, 2,000 uploads, 500 publishes
    .venv/bin/python bench/bench_fuzz.py --examples 1000 --db postgres

Uses the strategies of tests/fuzz (hypothesis-generated YAML, structurally and textually mutated
copies of the shipped scenarios, random bytes) plus a few tokens the CI run leaves out, and counts
every outcome instead of stopping at the first: 'valid', 'refused' (ScenarioValidationError with
located, non-empty messages) or 'crash' (anything else, printed with an example). Publishing
checks all-or-nothing on a fresh database. Then the hostile corpus of tests/fuzz/test_uploads.py
with time and traced peak memory, and how refusal time grows with the number of unknown fields.
Exit status 1 on any crash, half-stored scenario or bound exceeded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ARGON2_PROFILE", "test")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from simulator import ScenarioValidationError, parse_scenario, parse_scenario_bytes  # noqa: E402
from simulator.loader import MAX_ISSUES  # noqa: E402
from tests.fuzz import strategies as S  # noqa: E402

# Room for tokens to try at scale before they join tests/fuzz/strategies.py.
EXTRA_TOKENS: list[str] = []


class Tally:
    def __init__(self, name: str) -> None:
        self.name = name
        self.outcomes: Counter[str] = Counter()
        self.times: list[float] = []
        self.crashes: dict[str, str] = {}
        self.bad_issues = 0

    def run(self, call, data) -> str:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            call(data, "fuzz.yaml")
            out = "valid"
        except ScenarioValidationError as exc:
            out = "refused"
            if not exc.issues or any(not i.message.strip() or i.line < 1 or i.col < 1 for i in exc.issues):
                self.bad_issues += 1
        except Exception as exc:
            out = "crash"
            key = f"{type(exc).__name__}: {str(exc)[:100]}"
            self.crashes.setdefault(key, repr(data[:200]))
        self.times.append(time.perf_counter() - t)
        self.outcomes[out] += 1
        return out

    def report(self) -> bool:
        ts = sorted(self.times)
        n = len(ts)

        def pct(q: float) -> float:
            return ts[min(n - 1, int(q * n))] * 1000 if n else float("nan")

        print(f"{self.name:<24}{n:>7} examples: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
              + f"; per document p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {(ts[-1] if ts else 0) * 1000:.0f} ms")
        for k, v in self.crashes.items():
            print(f"    CRASH {k}\n          e.g. {v}")
        if self.bad_issues:
            print(f"    {self.bad_issues} refusal(s) without a located message")
        return not self.crashes and not self.bad_issues


def fuzz_settings(n: int):  # type: ignore[no-untyped-def]
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def run_loader(n: int) -> bool:
    S.YAML_TOKENS.extend(EXTRA_TOKENS)  # before the strategies draw from it
    docs, uploads = Tally("parse_scenario"), Tally("parse_scenario_bytes")

    @fuzz_settings(n)
    @given(S.scenario_documents)
    def text_docs(text: str) -> None:
        docs.run(parse_scenario, text)

    @fuzz_settings(max(1, n // 5))
    @given(S.upload_bytes)
    def byte_docs(data: bytes) -> None:
        uploads.run(parse_scenario_bytes, data)

    t = time.monotonic()
    text_docs()
    byte_docs()
    print(f"loader fuzz ({time.monotonic() - t:.0f}s):")
    return docs.report() & uploads.report()


def run_publish(n: int, db: str) -> bool:
    """publish() and publish_files() on a fresh database: all of a scenario or nothing."""
    import tempfile

    from sqlalchemy import func
    from sqlmodel import Session, select

    from app.core.db import make_engine
    from app.core.migrate import upgrade
    from app.models import AuditEvent, ScenarioVersion
    from app.services.scenarios import publish

    sys.path.insert(0, str(ROOT / "bench"))
    from _server import BenchServer

    srv = BenchServer(db=db)
    srv.create_database()
    engine = make_engine(srv.url)
    results: Counter[str] = Counter()
    problems: list[str] = []
    try:
        upgrade(srv.url)

        def counts(s: Session) -> tuple[int, int]:
            return (int(s.exec(select(func.count()).select_from(ScenarioVersion)).one()),
                    int(s.exec(select(func.count()).select_from(AuditEvent)).one()))

        @fuzz_settings(n)
        @given(st.one_of(S.text_mutants(), S.structural_mutants()))
        def prop(text: str) -> None:
            conn = engine.connect()
            outer = conn.begin()
            s = Session(bind=conn, join_transaction_mode="create_savepoint")
            try:
                before = counts(s)
                try:
                    publish(s, text=text, source="fuzz.yaml")
                    results["stored"] += 1
                    if counts(s) != (before[0] + 1, before[1] + 1):
                        problems.append(f"stored but counts {before} -> {counts(s)}")
                except ScenarioValidationError:
                    results["refused"] += 1
                    if counts(s) != before:
                        problems.append(f"refused but counts {before} -> {counts(s)}")
                except Exception as exc:
                    results["crash"] += 1
                    problems.append(f"crash {type(exc).__name__}: {str(exc)[:100]}")
            finally:
                s.close()
                outer.rollback()
                conn.close()

        with tempfile.TemporaryDirectory():
            t = time.monotonic()
            prop()
        print(f"publish fuzz on {db} ({time.monotonic() - t:.0f}s): " + ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
              + f"; half-stored or crashed: {len(problems)}")
        for p in problems[:5]:
            print("    " + p)
    finally:
        engine.dispose()
        srv.close()
    return not problems


def run_hostile() -> bool:
    from tests.fuzz.test_uploads import HOSTILE, MEMORY_BOUND_MB, TIME_BOUND_S

    ok = True
    print(f"hostile uploads (bounds {TIME_BOUND_S:.0f} s, {MEMORY_BOUND_MB:.0f} MB traced):")
    for name, (data, phrase) in sorted(HOSTILE.items()):
        tracemalloc.start()
        t = time.perf_counter()
        try:
            parse_scenario_bytes(data, "upload.yaml")
            msg, good = "ACCEPTED", False
        except ScenarioValidationError as exc:
            msg = exc.issues[0].message
            good = phrase.lower() in " ".join(i.message for i in exc.issues).lower()
        except Exception as exc:
            msg, good = f"CRASH {type(exc).__name__}", False
        dt = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        good &= dt < TIME_BOUND_S and peak < MEMORY_BOUND_MB
        ok &= good
        print(f"  {name:<26}{len(data):>10,} B {dt * 1000:>8.1f} ms {peak:>6.1f} MB  {'ok ' if good else 'BAD'} {msg[:70]}")
    print(f"refusal time against unknown fields (the first {MAX_ISSUES} listed, with suggestions):")
    for n in (100, 1000, 5000, 10000):
        text = "".join(f"field{i}: {i}\n" for i in range(n))
        t = time.perf_counter()
        try:
            parse_scenario(text, "x")
        except ScenarioValidationError as exc:
            k = len(exc.issues)
        print(f"  {n:>6} unknown fields ({len(text):,} B): {time.perf_counter() - t:6.2f} s, {k} issues")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=10_000, help="text documents (uploads: a fifth; publish: a twentieth)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    t = time.monotonic()
    ok = run_loader(args.examples)
    ok &= run_publish(max(10, args.examples // 20), args.db)
    ok &= run_hostile()
    print(f"total {time.monotonic() - t:.0f}s")
    print("RESULT:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
