"""Requests per second of the real pages against baselines on the same server, in one run.

    .venv/bin/python bench/bench_ratios.py --db postgres
    .venv/bin/python bench/bench_ratios.py --db sqlite
    .venv/bin/python bench/bench_ratios.py --db postgres --duration 10 --rounds 3 --workers 2 --scaling

One server (gunicorn + uvicorn workers on 127.0.0.1, BENCH_ROUTES=true, a fresh database with
trainees, logged-in sessions and pre-dealt cases) and `wrk -t2 -c64 --latency` on the same
machine, round-robin over the endpoints for --rounds rounds (medians reported), after 2 s of each
endpoint unmeasured to warm every worker up. Before each measured run the database is let settle
(a CHECKPOINT and any autovacuum finished on PostgreSQL, a WAL checkpoint on SQLite): otherwise the
run after a write-heavy one pays for its WAL and vacuum.

  hello       GET /bench/hello            JSON hello-world: the framework's ceiling here
  insert      POST /bench/insert          one raw single-row INSERT through the same driver
  case_page   GET /attempts/{id}          a trainee's (undecided) case page, as its owner
  decision    POST /attempts/{id}/decision  a new decision per request (plain form post, 303)

Goals (issue #7, #6): decision >= 50% of insert; decision >= 15% of hello (PostgreSQL);
case page >= 15% of hello; p99 <= 5 x p50 for each at 64 connections; with --scaling, the
same endpoints on one worker, and two workers >= 1.3x one worker.

wrk comes from Debian's `wrk` package (installed here with apt-get when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BenchServer

HERE = Path(__file__).resolve().parent
ENDPOINTS = ("hello", "insert", "case_page", "decision")
GOALS = (
    "decision/insert >= 0.50; decision/hello >= 0.15 (PostgreSQL); case_page/hello >= 0.15; p99 <= 5 x p50"
)


@dataclass
class WrkResult:
    endpoint: str
    workers: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx plus socket errors

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")

    @property
    def failed(self) -> bool:
        return self.requests == 0 or self.errors > 0


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk not found: installing Debian's wrk package", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        env=env,
        check=False,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    path = shutil.which("wrk")
    if not path:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            env=env,
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )
        path = shutil.which("wrk")
    if not path:
        sys.exit("wrk is needed: apt-get install wrk")
    return path


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        raise ValueError(f"unparsed wrk duration {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str, endpoint: str, workers: int) -> WrkResult:
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return WrkResult(endpoint, workers, rps, _ms(pct["50"]), _ms(pct["99"]), n, errors)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.wrk = ensure_wrk()
        self.results: list[WrkResult] = []
        self.next_item = 0  # decisions consume pre-dealt cases; page views reuse them
        self.srv = BenchServer(db=args.db, workers=args.workers, pool_size=args.pool_size)

    def prepare(self) -> None:
        a = self.args
        per_trainee = max(1, a.cases // a.trainees)
        t = time.monotonic()
        info = self.srv.setup(
            trainees=a.trainees, attempts_per_trainee=per_trainee, sessions=True, timeout=900
        )
        # Interleave trainees so consecutive requests belong to different nurses.
        rows = []
        for k in range(per_trainee):
            for tr in info["trainees"]:
                rows.append(f"{tr['attempts'][k]} {tr['cookie']} {tr['csrf']}")
        self.items = self.srv.tmp / "items.txt"
        self.items.write_text("\n".join(rows) + "\n")
        self.n_items = len(rows)
        # The page views use a separate, small set of cases that are never decided.
        self.page_items = self.srv.tmp / "page_items.txt"
        self.page_items.write_text("\n".join(rows[-a.trainees :]) + "\n")
        self.n_items -= a.trainees
        print(
            f"database ready: {info['scenarios']} scenarios, {a.trainees} trainees, "
            f"{self.n_items} cases to decide ({time.monotonic() - t:.0f}s)",
            flush=True,
        )

    def start(self, workers: int) -> None:
        self.srv.workers = workers
        self.srv.start(timeout=180)
        page = httpx.get(self.srv.base_url + "/login", timeout=30)
        self.pre_cookie = page.cookies["alertdrill_pre"]
        self.pre_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        # Warm every worker (templates, imports, pools, each connection's prepared statements) on
        # every endpoint before measuring: otherwise the first round of the first write measured
        # also pays for them.
        for endpoint in self.args.endpoints:
            self.run_wrk(endpoint, workers, seconds=2, record=False)

    def run_wrk(
        self, endpoint: str, workers: int, *, seconds: float | None = None, record: bool = True
    ) -> WrkResult:
        a = self.args
        seconds = seconds or a.duration
        env = {**os.environ, "BENCH_THREADS": str(a.threads)}
        url = self.srv.base_url
        cmd = [
            self.wrk,
            f"-t{a.threads}",
            f"-c{a.connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "--latency",
        ]
        if record:
            self.srv.settle()  # each endpoint from a quiet database (not the last run's WAL and vacuum)
        before = self.decisions_stored() if endpoint == "decision" and record else 0
        if endpoint == "hello":
            cmd.append(url + "/bench/hello")
        elif endpoint == "insert":
            env |= {"BENCH_PRE_COOKIE": self.pre_cookie, "BENCH_PRE_TOKEN": self.pre_token}
            cmd += ["-s", str(HERE / "wrk" / "insert.lua"), url]
        elif endpoint == "case_page":
            env |= {"BENCH_ITEMS": str(self.page_items), "BENCH_KIND": "page"}
            cmd += ["-s", str(HERE / "wrk" / "pairs.lua"), url]
        elif endpoint == "decision":
            env |= {
                "BENCH_ITEMS": str(self.items),
                "BENCH_KIND": "decision",
                "BENCH_START": str(self.next_item),
            }
            cmd += ["-s", str(HERE / "wrk" / "pairs.lua"), url]
        out = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
        res = parse_wrk(out, endpoint, workers)
        if endpoint == "decision":
            # Every request must have made a new decision, not replayed a decided case: the next
            # run starts past the highest case any wrk thread reached.
            m = re.search(r"BENCH_NEXT_ITEM=(\d+)", out)
            self.next_item = (
                int(m.group(1)) + a.threads if m else self.next_item + 2 * res.requests + a.connections
            )
            if record:
                made = self.decisions_stored() - before
                if self.next_item > self.n_items:
                    print(
                        f"  ! decision pool exhausted ({self.next_item} > {self.n_items}): raise --cases",
                        flush=True,
                    )
                if made < res.requests:
                    print(f"  ! only {made} new decisions for {res.requests} requests", flush=True)
        if record:
            self.results.append(res)
            print(
                f"  {workers}w {endpoint:<10} {res.rps:9.1f} req/s  p50 {res.p50_ms:7.1f} ms  p99 {res.p99_ms:7.1f} ms"
                f"  ({res.requests} requests, {res.errors} errors)",
                flush=True,
            )
        return res

    def decisions_stored(self) -> int:
        return int(self.srv.query("SELECT count(*) FROM decision")[0][0])

    def measure(self, workers: int) -> None:
        print(
            f"-- {workers} worker(s), {self.args.connections} connections, {self.args.rounds} round(s) "
            f"of {self.args.duration:g}s per endpoint",
            flush=True,
        )
        self.start(workers)
        try:
            for _ in range(self.args.rounds):
                for ep in self.args.endpoints:
                    self.run_wrk(ep, workers)
        finally:
            self.srv.stop()

    def median(self, endpoint: str, workers: int) -> WrkResult | None:
        rs = [r for r in self.results if r.endpoint == endpoint and r.workers == workers]
        if not rs:
            return None
        return WrkResult(
            endpoint,
            workers,
            statistics.median(r.rps for r in rs),
            statistics.median(r.p50_ms for r in rs),
            statistics.median(r.p99_ms for r in rs),
            sum(r.requests for r in rs),
            sum(r.errors for r in rs),
        )


def report(b: Bench, args: argparse.Namespace) -> bool:
    w = args.workers
    print(
        f"\n== {args.db}, {w} worker(s), wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
        f"median of {args.rounds} round(s)"
    )
    print(f"{'endpoint':<11}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'p99/p50':>9}{'errors':>8}")
    med = {ep: b.median(ep, w) for ep in args.endpoints}
    ok = True
    for ep, r in med.items():
        if r:
            tail_ok = r.tail <= 5
            ok &= tail_ok and not r.failed
            print(
                f"{ep:<11}{r.rps:>10.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}{r.tail:>8.1f}{'' if tail_ok else '!'}"
                f"{r.errors:>8}"
            )

    def ratio(num: str, den: str, goal: float | None) -> None:
        nonlocal ok
        a, c = med.get(num), med.get(den)
        if not (a and c and c.rps):
            return
        x = a.rps / c.rps
        verdict = "" if goal is None else f"  goal >= {goal * 100:.0f}%: {'met' if x >= goal else 'MISSED'}"
        if goal is not None:
            ok &= x >= goal
        print(f"{num} / {den}: {x * 100:.1f}%{verdict}")

    ratio("decision", "insert", 0.50)
    ratio("decision", "hello", 0.15 if args.db == "postgres" else None)
    ratio("case_page", "hello", 0.15)
    ratio("insert", "hello", None)
    if args.scaling:
        print("two workers / one worker:")
        for ep in args.endpoints:
            one, two = b.median(ep, 1), b.median(ep, w)
            if one and two and one.rps:
                x = two.rps / one.rps
                ok &= x >= 1.3
                print(
                    f"  {ep:<11}{one.rps:>9.1f} -> {two.rps:>9.1f} req/s: {x:.2f}x  goal >= 1.3x: "
                    f"{'met' if x >= 1.3 else 'MISSED'}"
                )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scaling", action="store_true", help="also measure one worker (same database)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trainees", type=int, default=64)
    ap.add_argument("--cases", type=int, default=80_000, help="pre-dealt cases (each decision uses one)")
    ap.add_argument("--pool-size", type=int, default=10, help="DB_POOL_SIZE per worker")
    ap.add_argument("--endpoints", default=",".join(ENDPOINTS))
    ap.add_argument("--json", default="", help="also write the raw results here")
    args = ap.parse_args()
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    b = Bench(args)
    try:
        b.prepare()
        b.measure(args.workers)
        if args.scaling and args.workers != 1:
            b.measure(1)
        ok = report(b, args)
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(r) for r in b.results], indent=1))
    finally:
        b.srv.close()
    print("RESULT:", "all goals met" if ok else "some goals missed (see above)")


if __name__ == "__main__":
    main()
