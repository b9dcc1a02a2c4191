"""Start a real alertdrill server for the benchmarks and load tests, and stop it by PID.

    with BenchServer(db="sqlite", workers=2) as srv:       # or db="postgres"
        srv.setup(trainees=200)                            # migrate, publish scenarios/, accounts
        srv.start()
        ... talk to srv.base_url (127.0.0.1 only) ...
        srv.kill_worker()          # SIGKILL one worker: the master starts a new one
        srv.reload_workers()       # SIGHUP: every worker replaced gracefully
        srv.restart()              # whole server down and up again on the same port

Workers are served by gunicorn's arbiter with uvicorn workers (`uvicorn-worker` if it is
installed, else `uvicorn.workers.UvicornWorker`), which avoids uvicorn issue #3149 (with
`uvicorn --workers N` every kept-alive request after the first can wait ~40 ms). `mode="fd"`
instead binds one socket here and starts N plain `uvicorn --fd` processes on it.

The database is a temporary SQLite file (WAL, busy timeout, as the app configures it) or a
fresh PostgreSQL database created here and dropped on exit. Setting it up runs in a child
process with the server's own environment, so settings and password hashes match.

`python bench/_server.py serve --db sqlite --workers 2 --seconds 600` runs one by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
TRAINEE_PASSWORD = "bench-password"
SECRET = "bench-secret-" + secrets.token_hex(8)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _worker_class() -> str:
    try:
        import uvicorn_worker  # noqa: F401

        return "uvicorn_worker.UvicornWorker"
    except ImportError:
        return "uvicorn.workers.UvicornWorker"


def children_of(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (read from /proc; no matching by name)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def pg_admin_url_sync() -> str:
    return PG_ADMIN_URL


def pg_dsn(url: str) -> str:
    """SQLAlchemy URL -> libpq DSN for psycopg.connect."""
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", url)


class BenchServer:
    """One server process tree plus its database; a context manager that cleans both up."""

    def __init__(
        self,
        *,
        db: str = "sqlite",
        workers: int = 2,
        mode: str = "gunicorn",
        port: int | None = None,
        pool_size: int = 10,
        log_level: str = "WARNING",
        bench_routes: bool = True,
        extra_env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        if db not in ("sqlite", "postgres"):
            raise ValueError("db must be sqlite or postgres")
        if mode not in ("gunicorn", "fd"):
            raise ValueError("mode must be gunicorn or fd")
        self.db = db
        self.workers = workers
        self.mode = mode
        self.port = port or free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="alertdrill-bench-"))
        self.log_path = log_path or (self.tmp / "server.log")
        self.pg_name = f"alertdrill_bench_{os.getpid()}_{secrets.token_hex(3)}"
        if db == "postgres":
            self.url = re.sub(r"/[^/]*$", f"/{self.pg_name}", PG_ADMIN_URL)
        else:
            self.url = f"sqlite:///{self.tmp / 'bench.db'}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))},
            "DATABASE_URL": self.url,
            "SECRET_KEY": SECRET,
            "ALERTDRILL_ENV": "development",
            "ARGON2_PROFILE": "test",
            "LOG_LEVEL": log_level,
            "DB_POOL_SIZE": str(pool_size),
            "BENCH_ROUTES": "true" if bench_routes else "false",
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd_procs: list[subprocess.Popen[bytes]] = []
        self._sock: socket.socket | None = None
        self._log = None
        self._db_created = False
        self.setup_info: dict[str, Any] = {}

    # ---- database ---------------------------------------------------------------------

    def create_database(self) -> None:
        if self.db == "postgres" and not self._db_created:
            import psycopg

            with psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            self._db_created = True

    def drop_database(self) -> None:
        if self.db == "postgres" and self._db_created:
            import psycopg

            with psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self._db_created = False

    def setup(self, *, trainees: int = 0, attempts_per_trainee: int = 0, sessions: bool = False,
              scenario_limit: int = 0, timeout: float = 300) -> dict[str, Any]:
        """Migrate, publish scenarios/, create `trainees` accounts (and, for wrk, pre-dealt
        attempts and logged-in sessions). Returns (and keeps) what the child printed."""
        self.create_database()
        out = self.tmp / "setup.json"
        cmd = [sys.executable, str(Path(__file__)), "setup", "--trainees", str(trainees),
               "--attempts", str(attempts_per_trainee), "--scenario-limit", str(scenario_limit), "--out", str(out)]
        if sessions:
            cmd.append("--sessions")
        subprocess.run(cmd, env=self.env, cwd=ROOT, check=True, timeout=timeout)
        self.setup_info = json.loads(out.read_text())
        return self.setup_info

    # ---- processes --------------------------------------------------------------------

    def _spawn(self) -> None:
        self._log = open(self.log_path, "ab")  # closed in stop()
        if self.mode == "gunicorn":
            cmd = [
                str(VENV_BIN / "gunicorn"), "app.asgi:app",
                "-k", _worker_class(), "-w", str(self.workers),
                "-b", f"{HOST}:{self.port}", "--backlog", "2048",
                "--graceful-timeout", "10", "--timeout", "60", "--keep-alive", "5",
                "--log-level", "warning",
            ]
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log,
                                         start_new_session=True)
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((HOST, self.port))
            self._sock.listen(2048)
            self._sock.set_inheritable(True)
        fd = self._sock.fileno()
        self.fd_procs = [
            subprocess.Popen(
                [str(VENV_BIN / "uvicorn"), "app.asgi:app", "--fd", str(fd), "--log-level", "warning",
                 "--no-access-log", "--timeout-graceful-shutdown", "10"],
                env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log, pass_fds=(fd,),
                start_new_session=True,
            )
            for _ in range(self.workers)
        ]

    def start(self, timeout: float = 60) -> None:
        self._spawn()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60, expect_workers: bool = True) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for p in self._procs():
                if p.poll() is not None:
                    raise RuntimeError(f"server exited ({p.returncode}); log:\n{self.log_tail()}")
            try:
                r = httpx.get(self.base_url + "/healthz", timeout=2)
                if r.status_code == 200 and (not expect_workers or self.mode == "fd"
                                             or len(self.worker_pids()) >= self.workers):
                    return
                last = r.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s ({last!r}); log:\n{self.log_tail()}")

    def _procs(self) -> list[subprocess.Popen[bytes]]:
        return [self.proc] if self.proc is not None else list(self.fd_procs)

    def worker_pids(self) -> list[int]:
        if self.mode == "gunicorn":
            return children_of(self.proc.pid) if self.proc else []
        return [p.pid for p in self.fd_procs if p.poll() is None]

    def server_pids(self) -> list[int]:
        return [p.pid for p in self._procs()] + (self.worker_pids() if self.mode == "gunicorn" else [])

    def kill_worker(self, index: int = 0) -> int:
        """SIGKILL one worker mid-request (a crash). gunicorn starts a replacement;
        in fd mode this launcher starts one on the same socket."""
        pids = self.worker_pids()
        pid = pids[index % len(pids)]
        os.kill(pid, signal.SIGKILL)
        if self.mode == "fd":
            for i, p in enumerate(self.fd_procs):
                if p.pid == pid:
                    p.wait(10)
                    fd = self._sock.fileno() if self._sock else -1
                    self.fd_procs[i] = subprocess.Popen(
                        [str(VENV_BIN / "uvicorn"), "app.asgi:app", "--fd", str(fd), "--log-level", "warning",
                         "--no-access-log"],
                        env=self.env, cwd=ROOT, stdout=self._log, stderr=self._log, pass_fds=(fd,),
                        start_new_session=True,
                    )
        return pid

    def reload_workers(self) -> None:
        """gunicorn: SIGHUP, every worker replaced (graceful: in-flight requests finish)."""
        if self.mode != "gunicorn" or self.proc is None:
            raise RuntimeError("reload needs gunicorn mode")
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self, timeout: float = 20) -> None:
        for p in self._procs():
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self._procs():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # The process group this launcher created (start_new_session): its own
                # tree only, addressed by the PID it started.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        self.proc = None
        self.fd_procs = []
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """All workers down (connections refused meanwhile), then up on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        try:
            self.drop_database()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- looking into the database from outside ----------------------------------------

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Read-only look at the bench database (its own engine, disposed after)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params or {})]
        finally:
            engine.dispose()

    def settle(self, timeout: float = 15) -> float:
        """Let the database finish what the last run left it (a checkpoint of its WAL, autovacuum
        of the tables it grew), so each measured run starts from a quiet database instead of paying
        for the one before. Returns the seconds it took."""
        start = time.monotonic()
        if self.db == "sqlite":
            import sqlite3

            with sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=timeout) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return time.monotonic() - start
        import psycopg

        with psycopg.connect(pg_dsn(self.url), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            while time.monotonic() - start < timeout:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                ).fetchone()
                if not row or not row[0]:
                    break
                time.sleep(0.2)
        return time.monotonic() - start

    def terminate_pg_backends(self) -> int:
        """pg_terminate_backend on every connection to this bench database (its own only)."""
        import psycopg

        with psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.pg_name,),
            ).fetchall()
        return len(rows)

    def pg_allow_connections(self, allow: bool) -> None:
        """Take this bench database away (refuse new connections) or bring it back."""
        import psycopg

        with psycopg.connect(pg_dsn(PG_ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.pg_name}" WITH ALLOW_CONNECTIONS {"true" if allow else "false"}')


# ---- the setup child process ------------------------------------------------------------


def _setup_main(args: argparse.Namespace) -> None:
    """Runs with the server's environment: migrate, publish, accounts, optional attempts."""
    from sqlmodel import Session, select

    from app.core.config import get_settings
    from app.core.db import get_engine
    from app.core.migrate import upgrade
    from app.core.security import hash_password
    from app.models import CaseAttempt, ScenarioVersion, User
    from app.services.accounts import get_or_create_cohort, get_or_create_unit
    from app.services.auth import start_session
    from app.services.dealing import generate_case
    from app.services.scenarios import latest_versions, publish_files, scenario_files

    url = get_settings().database_url
    upgrade(url)
    info: dict[str, Any] = {"trainees": [], "password": TRAINEE_PASSWORD}
    with Session(get_engine()) as session:
        files = scenario_files([ROOT / "scenarios"])
        publish_files(session, files[: args.scenario_limit] if args.scenario_limit else files)
        unit = get_or_create_unit(session, "Bench Ward")
        cohort = get_or_create_cohort(session, unit, "Bench cohort")
        session.commit()
        pw_hash = hash_password(TRAINEE_PASSWORD)  # one hash for all: creating is not what is measured
        users = []
        for i in range(args.trainees):
            u = User(username=f"bench{i:04d}", display_name=f"Bench Nurse {i}", password_hash=pw_hash,
                     role="trainee", unit_id=unit.id, cohort_id=cohort.id)
            session.add(u)
            users.append(u)
        session.commit()
        versions = latest_versions(session)
        info["scenarios"] = len(versions)
        cases = []
        if args.attempts and versions:
            # One simulated case per scenario, reused across pre-dealt attempts: same sizes
            # and the same work per view/decision as a freshly dealt case.
            cases = [(v.id, generate_case(v, 1000 + k)) for k, v in enumerate(versions)]
        for i, u in enumerate(users):
            row: dict[str, Any] = {"username": u.username, "id": u.id}
            if args.sessions:
                token, us = start_session(session, u)
                row["cookie"] = token
                row["csrf"] = us.csrf_token
            attempt_ids = []
            if cases:
                batch = []
                for pos in range(args.attempts):
                    vid, case = cases[(i + pos) % len(cases)]
                    batch.append(CaseAttempt(trainee_id=u.id or 0, drill_id=None, position=pos,
                                             scenario_version_id=vid or 0, seed=1000 + pos,
                                             **case.attempt_columns()))
                session.add_all(batch)
                session.flush()
                attempt_ids = [a.id for a in batch]
                session.commit()
            row["attempts"] = attempt_ids
            info["trainees"].append(row)
        session.commit()
        info["versions"] = len(session.exec(select(ScenarioVersion)).all())
    Path(args.out).write_text(json.dumps(info))


def _serve_main(args: argparse.Namespace) -> None:
    with BenchServer(db=args.db, workers=args.workers, mode=args.mode, port=args.port,
                     log_level="INFO") as srv:
        info = srv.setup(trainees=args.trainees)
        srv.start()
        print(f"serving {srv.base_url} on {args.db} ({srv.url}), {args.workers} worker(s), "
              f"{len(info['trainees'])} trainees bench0000.. password {TRAINEE_PASSWORD!r}; "
              f"stops after {args.seconds}s or Ctrl-C", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(args.seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup", help="(internal) prepare the database named by DATABASE_URL")
    s.add_argument("--trainees", type=int, default=0)
    s.add_argument("--attempts", type=int, default=0)
    s.add_argument("--sessions", action="store_true")
    s.add_argument("--scenario-limit", type=int, default=0, help="publish only the first N files of scenarios/")
    s.add_argument("--out", required=True)
    v = sub.add_parser("serve", help="run a bench server by hand")
    v.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    v.add_argument("--workers", type=int, default=2)
    v.add_argument("--mode", choices=["gunicorn", "fd"], default="gunicorn")
    v.add_argument("--port", type=int, default=None)
    v.add_argument("--trainees", type=int, default=5)
    v.add_argument("--seconds", type=float, default=600)
    args = ap.parse_args()
    if args.cmd == "setup":
        _setup_main(args)
    else:
        _serve_main(args)


if __name__ == "__main__":
    main()
