"""Per-request overhead and the decision POST (issue #7): behaviour the lean paths must keep.

- Every response carries the security headers and an X-Request-ID, and each request logs
  one JSON line with the same fields, from the plain ASGI middleware.
- A GET never opens a database session unless its route needs one; a form post's CSRF
  check opens the one session the route then shares.
- A plain decision post makes a fixed, small number of statements: the signed-in user in
  one query, no scenario source text, no pre-alert lookup for a standard case, no reloads.
- SQLite writers of one worker queue on a lock held from BEGIN IMMEDIATE to the end of
  the transaction, however it ends.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.core.db import begin_write, get_session, make_engine, sqlite_writer_queue
from app.core.logging import JsonFormatter
from app.main import SECURITY_HEADERS
from app.models import AuditEvent, Decision, PreAlertJudgement
from app.services.attempts import answer_of, view_of
from tests.utils.auth import login
from tests.utils.logs import captured
from tests.utils.triage import attempt, decide, make_drill, next_case, publish

SCENARIOS = ["copd-hypercapnic-baseline", "pneumonia-respiratory-failure"]


@pytest.fixture
def nurse(demo, client):
    publish(demo, SCENARIOS)
    return login(client, "nurse")


@pytest.fixture
def access_log(client) -> Iterator[list[logging.LogRecord]]:
    with captured("alertdrill.http") as records:
        yield records


# -- headers and the access log ----------------------------------------------------------------


def test_every_response_has_the_security_headers_and_a_request_id(client):
    for r in (client.get("/login"), client.get("/no-such-page"), client.post("/login", data={})):
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value, (r.request.url, name)
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    assert client.get("/login").headers["x-request-id"] != client.get("/login").headers["x-request-id"]


def test_the_clients_request_id_is_kept(client):
    r = client.get("/login", headers={"X-Request-ID": "lb-1234"})
    assert r.headers["x-request-id"] == "lb-1234"


def test_vendored_files_are_cached_for_a_year_and_others_are_not(client):
    vendor = client.get("/static/vendor/MANIFEST.json")
    assert vendor.status_code == 200
    assert vendor.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "immutable" not in client.get("/login").headers.get("cache-control", "")


def test_one_json_log_line_per_request_with_the_same_fields(client, access_log):
    r = client.get("/login?next=/drills", headers={"X-Request-ID": "req-42"})
    assert r.status_code == 200
    client.get("/no-such-page")
    first, second = access_log
    line = json.loads(JsonFormatter().format(first))
    assert line["msg"] == "request" and line["logger"] == "alertdrill.http" and line["level"] == "INFO"
    assert {k: line[k] for k in ("request_id", "method", "path", "status")} == {
        "request_id": "req-42",
        "method": "GET",
        "path": "/login",
        "status": 200,
    }
    assert isinstance(line["ms"], float) and line["ms"] >= 0
    assert (second.path, second.status) == ("/no-such-page", 404)  # type: ignore[attr-defined]


# -- when a database session is opened ----------------------------------------------------------


@pytest.fixture
def sessions_opened(app, db) -> list[int]:
    opened: list[int] = []

    def counting() -> Iterator[Session]:
        opened.append(1)
        yield db

    app.dependency_overrides[get_session] = counting
    return opened


def test_a_get_that_needs_no_database_opens_no_session(client, sessions_opened):
    assert client.get("/login").status_code == 200
    assert client.get("/static/vendor/MANIFEST.json").status_code == 200
    assert sessions_opened == []
    assert client.get("/healthz").status_code == 200
    assert sessions_opened == [1]


def test_a_form_post_shares_one_session_between_csrf_check_and_route(demo, client, sessions_opened):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": "nurse", "password": "demo", "csrf_token": token})
    assert r.status_code == 303
    assert sessions_opened == [1]


def test_csrf_is_still_checked_on_every_unsafe_method(nurse):
    aid = next_case(nurse, "/practice/next")
    token = nurse.headers.pop("X-CSRF-Token")
    refused = decide(nurse, aid, action="escalate")
    assert refused.status_code == 403
    assert decide(nurse, aid, action="escalate", csrf_token="wrong").status_code == 403
    assert decide(nurse, aid, action="escalate", csrf_token=token).status_code == 303


# -- the decision form, read as sent --------------------------------------------------------------


def test_a_decision_form_over_the_limit_is_refused_before_reading(nurse, demo):
    """With the token in a header the CSRF check reads no form, so the route's own read refuses it."""
    aid = next_case(nurse, "/practice/next")
    r = nurse.post(f"/attempts/{aid}/decision", content=b"action=escalate&reason_text=" + b"x" * (1024 * 1024),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "larger than 1024 KiB" in r.text
    assert demo.exec(select(Decision).where(Decision.attempt_id == aid)).first() is None


def test_a_broken_multipart_decision_is_a_400_not_a_500(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    r = nurse.post(f"/attempts/{aid}/decision", content=b"--b\r\nContent-Disposition: form-data\r\n\r\nx",
                   headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 400 and "form could not be read" in r.text
    assert demo.exec(select(Decision).where(Decision.attempt_id == aid)).first() is None


def test_an_uploaded_file_is_no_answer(nurse, demo):
    aid = next_case(nurse, "/practice/next")
    r = nurse.post(f"/attempts/{aid}/decision", data={"reason": "baseline", "confidence": "70"},
                   files={"action": ("action.txt", b"dismiss", "text/plain")})
    assert r.status_code == 422 and "Choose Escalate" in r.text
    assert demo.exec(select(Decision).where(Decision.attempt_id == aid)).first() is None


# -- the decision POST's statements ---------------------------------------------------------------


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _tables(stmts: list[str], verb: str) -> list[str]:
    if verb == "INSERT":  # every table inserted into (PostgreSQL writes a decision in one WITH statement)
        return [t for s in stmts for t in re.findall(r"\bINSERT INTO (\w+)", s)]
    return [m.group(1) for s in stmts if s.startswith(verb) and (m := re.search(r"\bFROM (\w+)", s))]


def test_a_plain_decision_post_is_a_handful_of_statements(nurse, demo, statements):
    aid = next_case(nurse, "/practice/next")
    statements.clear()
    r = decide(nurse, aid, action="escalate", confidence="80")
    assert r.status_code == 303 and r.headers["location"] == f"/attempts/{aid}"
    selects, inserts = _tables(statements, "SELECT"), _tables(statements, "INSERT")
    # One query: session and user, the attempt, "decided already?" and the version's category.
    assert selects == ["user_session"], statements
    joined = next(s for s in statements if s.startswith("SELECT"))
    assert all(re.search(rf'JOIN "?{t}"? ON', joined) for t in ("user", "case_attempt", "decision", "scenario_version"))
    assert not any("source_text" in s for s in statements)
    assert not any("pre_alert_judgement" in s for s in statements)
    assert inserts == ["decision", "audit_event"]
    assert not any(s.startswith(("UPDATE", "DELETE")) for s in statements)

    d = demo.exec(select(Decision).where(Decision.attempt_id == aid)).one()
    stored = attempt(demo, aid)
    answer = answer_of(stored)
    assert (d.deteriorated, d.alert_fired, d.category) == (
        answer.deteriorated,
        view_of(stored).alert.fired,
        answer.explanation.category,
    )
    assert d.correct == answer.deteriorated and d.independent_action is None
    audit = demo.exec(select(AuditEvent).where(AuditEvent.target == f"attempt:{aid}")).one()
    assert audit.detail == {"decision_id": d.id, "action": "escalate", "correct": d.correct}


def test_a_repeated_post_reads_the_stored_decision_and_writes_nothing(nurse, demo, statements):
    aid = next_case(nurse, "/practice/next")
    decide(nurse, aid, action="dismiss", reason="baseline", confidence="60")
    statements.clear()
    again = decide(nurse, aid, action="dismiss", reason="baseline", confidence="60")
    assert again.status_code == 303
    assert _tables(statements, "INSERT") == []
    assert decide(nurse, aid, action="escalate").status_code == 409
    assert len(demo.exec(select(Decision).where(Decision.attempt_id == aid)).all()) == 1


def test_independent_first_reads_the_judgement_and_copies_it(nurse, demo, statements):
    drill = make_drill(demo, spec={"scenario_ids": SCENARIOS}, n_cases=1, mode="independent-first")
    aid = next_case(nurse, f"/drills/{drill.id}/next")
    assert decide(nurse, aid, action="escalate").status_code == 409  # the judgement comes first
    assert demo.exec(select(Decision).where(Decision.attempt_id == aid)).first() is None
    assert nurse.post(f"/attempts/{aid}/independent", data={"action": "dismiss"}).status_code == 303
    statements.clear()
    assert decide(nurse, aid, action="escalate").status_code == 303
    assert "pre_alert_judgement" in _tables(statements, "SELECT")
    d = demo.exec(select(Decision).where(Decision.attempt_id == aid)).one()
    assert d.independent_action == "dismiss"
    judgement = demo.exec(select(PreAlertJudgement).where(PreAlertJudgement.attempt_id == aid)).one()
    assert judgement.action == "dismiss" and judgement.id is not None


# -- SQLite: one writer at a time per worker ----------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}", pool_size=5)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("ending", ["commit", "rollback", "close", "error"])
def test_sqlite_writer_turn_is_held_for_the_write_and_given_back(sqlite_engine, ending):
    queue = sqlite_writer_queue(sqlite_engine)
    assert queue is not None and not queue.locked()
    session = Session(sqlite_engine)
    session.exec(text("SELECT count(*) FROM t"))  # type: ignore[call-overload]
    assert not queue.locked()  # reading takes no turn
    begin_write(session)
    assert queue.locked()
    if ending == "error":
        with pytest.raises(Exception, match="no such table"):
            session.exec(text("INSERT INTO missing VALUES (1)"))  # type: ignore[call-overload]
        session.rollback()
    else:
        session.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
        getattr(session, ending)()
    assert not queue.locked()
    session.close()
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == (1 if ending == "commit" else 0)


def test_sqlite_writers_take_turns_and_all_commit(sqlite_engine):
    queue = sqlite_writer_queue(sqlite_engine)
    assert queue is not None
    first = Session(sqlite_engine)
    begin_write(first)
    first.exec(text("INSERT INTO t VALUES (0)"))  # type: ignore[call-overload]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Session(sqlite_engine) as s:
                begin_write(s)
                s.exec(text("INSERT INTO t VALUES (:n)"), params={"n": n})  # type: ignore[call-overload]
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    first.commit()
    first.close()
    for t in threads:
        t.join(60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert not queue.locked()
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 5


def test_sqlite_writers_of_two_workers_share_a_file_lock(sqlite_engine, tmp_path):
    """A second engine on the same file stands in for a second worker: it waits its turn."""
    other = make_engine(f"sqlite:///{tmp_path / 'writers.db'}", pool_size=2)
    assert (tmp_path / "writers.db-writer.lock").exists() is False  # made on first write
    first = Session(sqlite_engine)
    begin_write(first)
    assert (tmp_path / "writers.db-writer.lock").exists()
    first.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
    errors: list[BaseException] = []

    def second_worker() -> None:
        try:
            with Session(other) as s:
                begin_write(s)
                s.exec(text("INSERT INTO t VALUES (2)"))  # type: ignore[call-overload]
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=second_worker)
    t.start()
    t.join(0.5)
    assert t.is_alive()  # waiting for the turn, not failing with "database is locked"
    first.commit()
    first.close()
    t.join(60)
    assert not t.is_alive() and errors == []
    queue = sqlite_writer_queue(other)
    assert queue is not None and not queue.locked()
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    other.dispose()


def test_postgres_has_no_writer_queue(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert sqlite_writer_queue(engine) is None
