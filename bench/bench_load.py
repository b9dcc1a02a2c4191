"""Many trainees at once over real HTTP: nothing lost, nothing doubled, no 5xx; and faults.

    .venv/bin/python bench/bench_load.py --db sqlite   --trainees 200 --decisions 25
    .venv/bin/python bench/bench_load.py --db postgres --trainees 200 --decisions 25
    .venv/bin/python bench/bench_load.py --db postgres --trainees 100 --decisions 20 --faults all
    .venv/bin/python bench/bench_load.py --db sqlite   --trainees 100 --decisions 20 --faults all

A real server (gunicorn + uvicorn workers on 127.0.0.1, a fresh database) and one asyncio
client process per run. Each trainee logs in, takes practice cases and decides them with an
Idempotency-Key; retries after timeouts, connection errors and 5xx reuse the key. Afterwards
the database must hold every acknowledged decision exactly once and nothing else.

Faults (`--faults`, comma-separated, or `all`), fired as the run passes set fractions of its
decisions:
  pg-terminate   pg_terminate_backend on every connection of the bench database
  pg-outage      the database refuses connections for --outage-s seconds (ALLOW_CONNECTIONS
                 false + terminate): requests get a clear 503 meanwhile, then it comes back
  kill-worker    SIGKILL one worker mid-request; gunicorn starts a new one
  reload         SIGHUP: gunicorn replaces every worker gracefully
  restart        the whole server stopped and started again (connections refused meanwhile)

Exit status 1 if the exactly-once check fails, on any 5xx in a run without faults, or on any
5xx other than 503 in a run with faults. Everything is bounded by --deadline-s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import TRAINEE_PASSWORD, BenchServer
from _trainees import DECISIONS_SQL, Stats, percentile, run_trainees, verify

PG_FAULTS = ("pg-terminate", "pg-outage")
ALL_FAULTS = {
    "postgres": ("pg-terminate", "kill-worker", "pg-outage", "reload"),
    "sqlite": ("kill-worker", "reload", "restart"),
}


class FaultPlan:
    """Fires each fault once, when the acknowledged decisions pass its fraction of the total."""

    def __init__(self, srv: BenchServer, faults: list[str], total: int, outage_s: float) -> None:
        self.srv = srv
        self.total = total
        self.outage_s = outage_s
        n = len(faults)
        self.pending = [((i + 1) / (n + 1), f) for i, f in enumerate(faults)]
        self.log: list[str] = []
        self.t0 = time.monotonic()
        self._busy = threading.Lock()
        self.threads: list[threading.Thread] = []

    def on_progress(self, stats: Stats) -> None:
        if not self.pending or self._busy.locked():
            return
        frac, fault = self.pending[0]
        if len(stats.acks) < frac * self.total:
            return
        self.pending.pop(0)
        # Faults run in a thread: the clients (this event loop) keep going meanwhile.
        th = threading.Thread(target=self._fire, args=(fault, len(stats.acks), stats), daemon=True)
        self.threads.append(th)
        th.start()

    def _fire(self, fault: str, at_acks: int, stats: Stats) -> None:
        with self._busy:
            t = time.monotonic() - self.t0
            before = len(stats.acks)
            detail = ""
            if fault == "pg-terminate":
                detail = f"{self.srv.terminate_pg_backends()} backends terminated"
            elif fault == "pg-outage":
                self.srv.pg_allow_connections(False)
                n = self.srv.terminate_pg_backends()
                time.sleep(self.outage_s)
                self.srv.pg_allow_connections(True)
                detail = f"database away {self.outage_s:.0f}s ({n} backends terminated)"
            elif fault == "kill-worker":
                detail = f"worker {self.srv.kill_worker()} SIGKILLed"
            elif fault == "reload":
                self.srv.reload_workers()
                detail = "SIGHUP: all workers replaced"
            elif fault == "restart":
                t_down = time.monotonic()
                self.srv.stop()
                self.srv.start(timeout=120)
                detail = f"server stopped and started again ({time.monotonic() - t_down:.1f}s down)"
            # Recovery: how long until the next decision is acknowledged.
            deadline = time.monotonic() + 120
            while len(stats.acks) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            rec = time.monotonic() - self.t0 - t
            self.log.append(f"t={t:6.1f}s after {at_acks} decisions: {fault}: {detail}; next decision acknowledged "
                            f"{rec:.1f}s after the fault began")

    def join(self) -> None:
        for th in self.threads:
            th.join(180)


def run(args: argparse.Namespace) -> int:
    faults = list(ALL_FAULTS[args.db]) if args.faults == "all" else [f for f in args.faults.split(",") if f]
    for f in faults:
        if f in PG_FAULTS and args.db != "postgres":
            sys.exit(f"{f} needs --db postgres")
    total = args.trainees * args.decisions
    print(f"alertdrill load: {args.trainees} trainees x {args.decisions} decisions on {args.db}, "
          f"{args.workers} gunicorn+uvicorn workers, faults: {', '.join(faults) or 'none'}", flush=True)
    with BenchServer(db=args.db, workers=args.workers, pool_size=args.pool_size, bench_routes=False,
                     log_level=args.log_level,
                     log_path=Path(args.server_log) if args.server_log else None) as srv:
        t = time.monotonic()
        srv.setup(trainees=args.trainees)
        srv.start(timeout=120)
        print(f"server up at {srv.base_url} (setup+start {time.monotonic() - t:.1f}s)", flush=True)
        plan = FaultPlan(srv, faults, total, args.outage_s)
        users = [f"bench{i:04d}" for i in range(args.trainees)]
        t0 = time.monotonic()
        seen: list[Stats] = []

        def progress(stats: Stats) -> None:
            if not seen:
                seen.append(stats)
            if faults:
                plan.on_progress(stats)

        stop = threading.Event()

        def ticker() -> None:
            while not stop.wait(30):
                if seen:
                    print(f"  t={time.monotonic() - t0:5.0f}s: {len(seen[0].acks)} of {total} decisions acknowledged",
                          flush=True)

        threading.Thread(target=ticker, daemon=True).start()
        stats = asyncio.run(run_trainees(
            srv.base_url, users, TRAINEE_PASSWORD, args.decisions, seed=args.seed, timeout_s=args.timeout_s,
            retry_budget_s=args.retry_budget_s, deadline_s=args.deadline_s, think_s=args.think_s,
            on_progress=progress,
        ))
        stop.set()
        wall = time.monotonic() - t0
        plan.join()
        rows = srv.query(DECISIONS_SQL)
        verdict = verify(rows, stats)
        server_errors = srv.log_tail(2000)
    print_report(args, stats, verdict, wall, plan.log, faults)
    tracebacks = server_errors.count("Traceback")
    print(f"server log: {tracebacks} traceback(s)")
    failed = not verdict.ok or bool(stats.errors) or len(stats.acks) != total
    failed |= (stats.n_5xx > 0) if not faults else (stats.n_500 > 0)
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


def print_report(args, stats: Stats, verdict, wall: float, fault_log: list[str], faults: list[str]) -> None:
    print(f"\nwall time {wall:.1f}s")
    span = (stats.last_decision_at or 0) - (stats.first_decision_at or 0)
    print(f"decisions acknowledged: {len(stats.acks)} of {args.trainees * args.decisions}; "
          f"{len(stats.acks) / wall:.1f} decisions/s over the whole run (log-ins included), "
          f"{len(stats.acks) / span if span else float('nan'):.1f}/s first to last decision")
    print(f"{'request':<12}{'n':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind in ("login", "next", "case_page", "decision"):
        lat = stats.latencies.get(kind, [])
        if lat:
            print(f"{kind:<12}{len(lat):>7}{percentile(lat, 50) * 1000:>9.0f}{percentile(lat, 90) * 1000:>9.0f}"
                  f"{percentile(lat, 99) * 1000:>9.0f}{max(lat) * 1000:>9.0f}")
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(stats.statuses.items()))
    print(f"HTTP statuses: {by_status}")
    bad = {f"{k} {s}": n for (k, s), n in sorted(stats.status_by_kind.items()) if s >= 500}
    print(f"5xx answers: {stats.n_5xx} (other than 503: {stats.n_500}) {bad or ''}")
    print(f"transport errors (then retried): {dict(stats.transport_errors) or 0}; retries: {stats.retries}")
    if faults:
        print("faults:")
        for line in fault_log:
            print("  " + line)
    print(f"exactly-once: {verdict.summary()} -> {'OK' if verdict.ok else 'FAILED'}")
    for e in stats.errors[:10]:
        print("  client error:", e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--trainees", type=int, default=200)
    ap.add_argument("--decisions", type=int, default=25)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pool-size", type=int, default=10, help="DB_POOL_SIZE per worker (the pool keeps up to twice this many connections)")
    ap.add_argument("--faults", default="", help="comma-separated: " + ", ".join(sorted(
        set(ALL_FAULTS["postgres"]) | set(ALL_FAULTS["sqlite"]))) + "; or all")
    ap.add_argument("--outage-s", type=float, default=3.0)
    ap.add_argument("--think-s", type=float, default=0.0, help="random pause up to this before each decision")
    ap.add_argument("--timeout-s", type=float, default=30.0, help="client timeout per request")
    ap.add_argument("--retry-budget-s", type=float, default=180.0)
    ap.add_argument("--deadline-s", type=float, default=1500.0, help="hard bound on the whole client run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--server-log", default="", help="keep the server's log at this path")
    ap.add_argument("--log-level", default="WARNING", help="the app's LOG_LEVEL (INFO logs every request)")
    sys.exit(run(ap.parse_args()))


if __name__ == "__main__":
    main()
