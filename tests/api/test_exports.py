"""CSV exports: columns, hand-checked values, formula neutralising, streaming, unit isolation."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.models import Unit
from app.services import exports
from app.services.accounts import DEMO_UNIT
from tests.api import dashboard_fixtures as fx
from tests.api.dashboard_fixtures import WORKED, D
from tests.utils.auth import login


@pytest.fixture
def wards(demo):
    db = demo
    home = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    ann = fx.user(db, "ann", "trainee", home, "=Ann Able")  # a hostile display name
    rows = fx.add(db, ann, WORKED)
    fx.add(db, ann, [D(det=False, alert=True, action="dismiss", reason_text="@SUM(A1:A9)")])
    away = fx.unit(db, "Ward Z")
    fx.user(db, "zmanager", "manager", away)
    zoe = fx.user(db, "zoe", "trainee", away, "Zoe Zed")
    fx.add(db, zoe, [D(det=True, alert=True, action="dismiss")])
    db.commit()
    return {"db": db, "ann": ann, "rows": rows}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+44 20", "'+44 20"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (-0.40196, "-0.4020"),  # our own numbers stay numbers
        (3, "3"),
        (True, "true"),
        (None, ""),
        (datetime(2026, 11, 18, 10, 0, tzinfo=UTC), "2026-11-18T10:00:00Z"),
        (datetime(2026, 11, 18, 10, 0), "2026-11-18T10:00:00Z"),
    ],
)
def test_csv_cell(value, cell):
    assert exports.csv_cell(value) == cell


def test_summary_csv(wards, client):
    login(client, "manager")
    r = client.get("/dashboard/export/summary.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="alertdrill-demo-ward-7b-summary-')
    header = r.text.splitlines()[0].split(",")
    assert header == list(exports.TraineeSummaryOut.model_fields)
    rows = {row["trainee_id"]: row for row in _csv(r.text)}
    ann = rows[str(wards["ann"].id)]
    assert ann["trainee_name"] == "'=Ann Able"
    # Nine decisions: the worked eight plus one correct rejection.
    assert (ann["cases"], ann["correct"], ann["correct_rejections"]) == ("9", "7", "4")
    assert ann["accuracy"] == f"{7 / 9:.4f}"
    assert ann["median_time_to_decide_ms"] == "4000.0000"
    assert "Zoe Zed" not in r.text


def test_decisions_csv(wards, client):
    login(client, "manager")
    r = client.get("/dashboard/export/decisions.csv")
    assert r.status_code == 200
    rows = _csv(r.text)
    assert len(rows) == 9
    assert list(rows[0]) == list(exports.DecisionOut.model_fields)
    first = rows[0]
    assert first["attempt_id"] == str(wards["rows"][0].attempt_id)
    assert (first["action"], first["confidence"], first["p_deteriorating"], first["correct"]) == (
        "escalate", "90", "0.9000", "true"
    )
    assert first["created_at"].endswith("Z")
    assert rows[-1]["reason_text"] == "'@SUM(A1:A9)"
    assert all(row["trainee_name"] == "'=Ann Able" for row in rows)


def test_decisions_csv_for_one_trainee_and_period(wards, client):
    db = wards["db"]
    home = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    cat = fx.user(db, "cat", "trainee", home, "Cat Crisp")
    now = datetime.now(UTC)
    fx.add(db, cat, [
        D(det=True, alert=True, action="escalate", at=now - timedelta(days=30)),
        D(det=True, alert=True, action="escalate", at=now - timedelta(days=1)),
    ])
    db.commit()
    login(client, "manager")
    rows = _csv(client.get(f"/dashboard/export/decisions.csv?trainee={cat.id}&days=7").text)
    assert len(rows) == 1 and rows[0]["trainee_name"] == "Cat Crisp"
    assert len(_csv(client.get(f"/dashboard/export/decisions.csv?trainee={cat.id}").text)) == 2


def test_other_unit_manager_exports_only_their_own(wards, make_client):
    c = login(make_client(), "zmanager")
    rows = _csv(c.get("/dashboard/export/decisions.csv").text)
    assert [row["trainee_name"] for row in rows] == ["Zoe Zed"]
    assert c.get(f"/dashboard/export/decisions.csv?trainee={wards['ann'].id}").status_code == 403


def test_export_streams_in_batches(wards):
    """iter_decisions pages through the table; the CSV generator is lazy."""
    lines = exports.decisions_csv(iter([]))
    assert next(lines).startswith("id,attempt_id,created_at")
    with pytest.raises(StopIteration):
        next(lines)


def test_export_filename():
    when = datetime(2026, 11, 25, tzinfo=UTC)
    assert exports.export_filename("decisions", "Ward 7B / ICU", when) == "alertdrill-ward-7b---icu-decisions-20261125.csv"
