"""Admin pages: accounts, units and cohorts, roster import (HTML, htmx and no-JS)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, col, select

from app.deps import SESSION_COOKIE
from app.models import AuditEvent, Cohort, LoginFailure, Unit, User, UserSession
from app.services.accounts import DEMO_UNIT, AccountError, import_roster
from app.services.auth import start_session
from tests.utils.auth import csrf_from

HX = {"HX-Request": "true"}


def sign_in(client, db: Session, username: str):
    """A real server-side session, without going through other features' home pages."""
    user = db.exec(select(User).where(User.username == username)).one()
    token, us = start_session(db, user)
    client.cookies.set(SESSION_COOKIE, token)
    client.headers["X-CSRF-Token"] = us.csrf_token
    return client


def can_log_in(client, username: str, password: str) -> bool:
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code in (303, 401), r.status_code
    return r.status_code == 303


def _user(db: Session, username: str) -> User | None:
    return db.exec(select(User).where(User.username == username)).first()


def _demo_unit(db: Session) -> Unit:
    unit = db.exec(select(Unit).where(Unit.name == DEMO_UNIT)).one()
    return unit


def _audit(db: Session, action: str) -> list[AuditEvent]:
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))).all())


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


@pytest.fixture
def admin(demo, client, db):
    return sign_in(client, db, "admin")


# --- the account list ---------------------------------------------------------------


def test_users_page_lists_accounts_and_filters_by_role_and_unit(admin, db):
    r = admin.get("/admin/users")
    assert r.status_code == 200
    assert "<html" in r.text and 'id="admin-panel"' in r.text
    for name in ("nurse", "educator", "manager", "admin"):
        assert f">{name} <span" in r.text  # each demo account has a row

    r = admin.get("/admin/users", params={"role": "trainee"})
    assert ">nurse <span" in r.text and ">manager <span" not in r.text

    other = Unit(name="Ward 9")
    db.add(other)
    db.flush()
    r = admin.get("/admin/users", params={"unit": str(other.id)})
    assert "No accounts match these filters." in r.text
    r = admin.get("/admin/users", params={"unit": "none"})
    assert "No accounts match these filters." in r.text  # every demo account has a unit


def test_users_page_htmx_returns_only_the_panel(admin):
    r = admin.get("/admin/users", params={"role": "admin"}, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="admin-panel">')
    assert "<html" not in r.text and "<nav" not in r.text
    assert r.headers["vary"] == "HX-Request"


def test_bad_filters_mean_all(admin):
    r = admin.get("/admin/users", params={"unit": "x'; drop", "role": "wizard"})
    assert r.status_code == 200
    assert ">nurse <span" in r.text and ">admin <span" in r.text


# --- creating accounts --------------------------------------------------------------


def test_create_user_without_javascript_redirects_and_audits(admin, db):
    # A plain form post: the token travels in the form field, not the htmx header.
    token = admin.headers.pop("X-CSRF-Token")
    assert csrf_from(admin.get("/admin/users").text) == token
    unit = _demo_unit(db)
    r = admin.post(
        "/admin/users",
        data={"csrf_token": token, "username": "  A.Khan ", "display_name": "Aisha Khan", "role": "manager",
              "unit": str(unit.id), "cohort": "", "password": "long-enough-1",
              "filter_role": "manager", "filter_unit": ""},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/admin/users?")
    assert _query(r.headers["location"]) == {"role": ["manager"], "notice": ["created"], "subject": ["a.khan"]}
    created = _user(db, "a.khan")
    assert created is not None
    assert (created.role, created.unit_id, created.display_name, created.is_demo) == (
        "manager", unit.id, "Aisha Khan", False)
    admin_id = _user(db, "admin").id  # type: ignore[union-attr]
    events = [e for e in _audit(db, "user.create") if e.target == f"user:{created.id}"]
    assert len(events) == 1 and events[0].actor_id == admin_id

    page = admin.get(r.headers["location"])
    assert "Account a.khan created." in page.text


def test_created_user_can_log_in(admin, make_client, db):
    unit = _demo_unit(db)
    r = admin.post("/admin/users", data={"username": "newbie", "role": "trainee", "unit": str(unit.id),
                                         "password": "correct horse"})
    assert r.status_code == 303
    assert can_log_in(make_client(), "newbie", "correct horse")


def test_create_user_htmx_returns_panel_with_notice(admin, db):
    r = admin.post("/admin/users", data={"username": "edu2", "role": "educator", "password": "long-enough-1"},
                   headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="admin-panel">')
    assert "Account edu2 created." in r.text
    assert _user(db, "edu2") is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "bad name!", "role": "educator"}, "use letters, digits"),
        ({"username": "nurse", "role": "educator"}, "already exists"),
        ({"username": "x1", "role": "wizard"}, "must be one of"),
        ({"username": "x2", "role": "educator", "password": "short"}, "at least 8 characters"),
        ({"username": "x3", "role": "trainee"}, "a trainee must belong to a unit"),
        ({"username": "x4", "role": "manager"}, "a manager must belong to a unit"),
        ({"username": "x5", "role": "educator", "unit": "999999"}, "no such unit"),
    ],
)
def test_create_user_refuses_bad_input(admin, db, fields, message):
    data = {"password": "long-enough-1", **fields}
    r = admin.post("/admin/users", data=data)
    assert r.status_code == 422
    assert message in r.text
    assert "<html" in r.text  # no-JS gets the whole page back, with the error
    assert "Create an account" in r.text
    if fields["username"] != "nurse":
        assert _user(db, fields["username"].strip().lower()) is None


def test_create_user_keeps_form_values_on_error(admin):
    r = admin.post("/admin/users", data={"username": "keepme", "display_name": "Keep Me", "role": "educator",
                                         "password": "short"}, headers=HX)
    assert r.status_code == 422
    assert 'value="keepme"' in r.text and 'value="Keep Me"' in r.text
    assert "short" not in r.text.split("at least 8 characters")[1]  # the password is not echoed


def test_cohort_must_match_unit_and_role(admin, db):
    unit = _demo_unit(db)
    other = Unit(name="Ward 12")
    db.add(other)
    db.flush()
    cohort = db.exec(select(Cohort).where(Cohort.unit_id == unit.id)).first()
    assert cohort is not None
    r = admin.post("/admin/users", data={"username": "c1", "role": "trainee", "unit": str(other.id),
                                         "cohort": str(cohort.id), "password": "long-enough-1"})
    assert r.status_code == 422 and "belongs to another unit" in r.text
    r = admin.post("/admin/users", data={"username": "c2", "role": "educator", "cohort": str(cohort.id),
                                         "password": "long-enough-1"})
    assert r.status_code == 422 and "only trainees belong to a cohort" in r.text
    # A cohort alone is enough for a trainee: the unit follows from it.
    r = admin.post("/admin/users", data={"username": "c3", "role": "trainee", "cohort": str(cohort.id),
                                         "password": "long-enough-1"})
    assert r.status_code == 303
    c3 = _user(db, "c3")
    assert c3 is not None and (c3.unit_id, c3.cohort_id) == (unit.id, cohort.id)


# --- deactivate, reactivate, reset password ----------------------------------------


def test_deactivate_ends_sessions_and_blocks_login_then_reactivate(admin, make_client, db):
    nurse_client = sign_in(make_client(), db, "nurse")
    nurse = _user(db, "nurse")
    assert nurse is not None
    assert db.exec(select(UserSession).where(UserSession.user_id == nurse.id)).first() is not None

    r = admin.post(f"/admin/users/{nurse.id}/deactivate", data={"filter_role": "trainee"})
    assert r.status_code == 303
    assert _query(r.headers["location"]) == {"role": ["trainee"], "notice": ["deactivated"], "subject": ["nurse"]}
    db.refresh(nurse)
    assert nurse.is_active is False
    assert db.exec(select(UserSession).where(UserSession.user_id == nurse.id)).first() is None
    r = nurse_client.get("/", follow_redirects=False)
    assert r.headers["location"] == "/login"  # the old cookie no longer signs anyone in
    assert not can_log_in(make_client(), "nurse", "demo")
    assert "Deactivated" in admin.get("/admin/users").text
    assert _audit(db, "user.deactivate")[-1].target == f"user:{nurse.id}"

    r = admin.post(f"/admin/users/{nurse.id}/reactivate", headers=HX)
    assert r.status_code == 200 and "Account nurse reactivated." in r.text
    db.refresh(nurse)
    assert nurse.is_active is True
    assert _audit(db, "user.reactivate")[-1].target == f"user:{nurse.id}"
    assert can_log_in(make_client(), "nurse", "demo")


def test_admin_cannot_deactivate_themself(admin, db):
    me = _user(db, "admin")
    assert me is not None
    r = admin.post(f"/admin/users/{me.id}/deactivate")
    assert r.status_code == 422
    assert "cannot deactivate your own account" in r.text
    db.refresh(me)
    assert me.is_active
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_reset_password_changes_login_ends_sessions_and_lifts_lockout(admin, make_client, db):
    manager_client = sign_in(make_client(), db, "manager")
    manager = _user(db, "manager")
    assert manager is not None
    db.add(LoginFailure(username="manager"))
    db.flush()

    r = admin.post(f"/admin/users/{manager.id}/password", data={"password": "brand-new-pass"})
    assert r.status_code == 303
    assert _query(r.headers["location"])["notice"] == ["password"]
    assert manager_client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert db.exec(select(LoginFailure).where(LoginFailure.username == "manager")).first() is None
    event = _audit(db, "user.password_reset")[-1]
    assert event.target == f"user:{manager.id}"
    assert "brand-new-pass" not in str(event.detail)

    assert not can_log_in(make_client(), "manager", "demo")
    assert can_log_in(make_client(), "manager", "brand-new-pass")


def test_resetting_own_password_keeps_the_current_session(admin, db):
    me = _user(db, "admin")
    assert me is not None
    r = admin.post(f"/admin/users/{me.id}/password", data={"password": "my-new-password"}, headers=HX)
    assert r.status_code == 200
    assert admin.get("/admin/users").status_code == 200


def test_reset_password_refuses_short_password(admin, db):
    nurse = _user(db, "nurse")
    assert nurse is not None
    before = nurse.password_hash
    r = admin.post(f"/admin/users/{nurse.id}/password", data={"password": "abc"})
    assert r.status_code == 422 and "at least 8 characters" in r.text
    db.refresh(nurse)
    assert nurse.password_hash == before


@pytest.mark.parametrize("action", ["deactivate", "reactivate", "password"])
def test_unknown_user_is_404(admin, action):
    r = admin.post(f"/admin/users/999999/{action}", data={"password": "long-enough-1"})
    assert r.status_code == 404
    assert "No such account." in r.text


@pytest.mark.parametrize("username", ["nurse", "educator", "manager"])
def test_other_roles_cannot_create_accounts(demo, client, db, username):
    sign_in(client, db, username)
    r = client.post("/admin/users", data={"username": "sneaky", "role": "admin", "password": "long-enough-1"})
    assert r.status_code == 403
    assert _user(db, "sneaky") is None


# --- units and cohorts --------------------------------------------------------------


def test_create_unit_and_cohort(admin, db):
    r = admin.post("/admin/units", data={"name": "  Ward 4A  "})
    assert r.status_code == 303
    assert _query(r.headers["location"]) == {"notice": ["unit"], "subject": ["Ward 4A"]}
    unit = db.exec(select(Unit).where(Unit.name == "Ward 4A")).one()
    assert _audit(db, "unit.create")[-1].target == f"unit:{unit.id}"

    r = admin.post(f"/admin/units/{unit.id}/cohorts", data={"name": "Spring starters"}, headers=HX)
    assert r.status_code == 200
    assert "Cohort Spring starters created." in r.text and "<li>Spring starters</li>" in r.text
    cohort = db.exec(select(Cohort).where(Cohort.unit_id == unit.id)).one()
    assert cohort.name == "Spring starters"
    event = _audit(db, "cohort.create")[-1]
    assert event.target == f"cohort:{cohort.id}" and event.detail["unit_id"] == unit.id

    page = admin.get("/admin/units")
    assert "Ward 4A" in page.text and "Spring starters" in page.text


def test_duplicate_or_empty_unit_and_cohort_refused(admin, db):
    r = admin.post("/admin/units", data={"name": DEMO_UNIT.upper()})
    assert r.status_code == 422 and "already exists" in r.text
    r = admin.post("/admin/units", data={"name": "   "})
    assert r.status_code == 422 and "must not be empty" in r.text
    unit = _demo_unit(db)
    r = admin.post(f"/admin/units/{unit.id}/cohorts", data={"name": "7B NURSES"})
    assert r.status_code == 422 and "already exists" in r.text
    r = admin.post("/admin/units/999999/cohorts", data={"name": "x"})
    assert r.status_code == 404


# --- roster import ------------------------------------------------------------------


def _upload(client, unit_id: int | str, content: bytes, headers: dict[str, str] | None = None):
    return client.post("/admin/roster", data={"unit": str(unit_id)},
                       files={"file": ("roster.csv", content, "text/csv")}, headers=headers)


GOOD_ROSTER = (
    "\ufeffusername,display_name,cohort,password\r\n"
    "T.One,\"One, Trainee\",Night shift,pass-word-1\r\n"
    "\r\n"
    "t.two,Trainee Two,Night shift,pass-word-2\r\n"
    "t.three,Trainee Three,,pass-word-3\r\n"
).encode()


def test_roster_page_shows_form_and_format(admin):
    r = admin.get("/admin/roster")
    assert r.status_code == 200
    assert 'enctype="multipart/form-data"' in r.text
    assert "username,display_name,cohort,password" in r.text


def test_roster_import_creates_trainees_in_cohorts(admin, db):
    unit = _demo_unit(db)
    r = _upload(admin, unit.id, GOOD_ROSTER)
    assert r.status_code == 303
    assert _query(r.headers["location"]) == {
        "unit": [str(unit.id)], "role": ["trainee"], "notice": ["imported"], "subject": ["3"]}
    one, two, three = (_user(db, n) for n in ("t.one", "t.two", "t.three"))
    assert one is not None and two is not None and three is not None
    assert one.display_name == "One, Trainee"
    assert {u.role for u in (one, two, three)} == {"trainee"}
    assert {u.unit_id for u in (one, two, three)} == {unit.id}
    night = db.exec(select(Cohort).where(Cohort.unit_id == unit.id, Cohort.name == "Night shift")).one()
    assert one.cohort_id == two.cohort_id == night.id and three.cohort_id is None
    event = _audit(db, "roster.import")[-1]
    assert event.target == f"unit:{unit.id}" and event.detail["created"] == 3
    assert "Roster imported: 3 trainee accounts created." in admin.get(r.headers["location"]).text


def test_roster_import_htmx_lists_created_accounts(admin, db):
    r = _upload(admin, _demo_unit(db).id, GOOD_ROSTER, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="admin-panel">')
    assert "3 trainee accounts created" in r.text and "<li>t.two</li>" in r.text


def test_roster_import_is_all_or_nothing_with_line_numbers(admin, db):
    unit = _demo_unit(db)
    cohorts_before = len(db.exec(select(Cohort)).all())
    bad = (
        b"username,display_name,cohort,password\n"
        b"ok.one,Fine,New cohort,pass-word-1\n"   # line 2: fine, but must not be created
        b"bad name,Bad,,pass-word-2\n"            # line 3
        b"ok.two,Short,,abc\n"                    # line 4
        b"OK.ONE,Again,,pass-word-4\n"            # line 5: duplicate of line 2
        b"ok.three,,,pass-word-5\n"               # line 6: no display name
        b"ok.four,Four\n"                          # line 7: wrong field count
    )
    r = _upload(admin, unit.id, bad)
    assert r.status_code == 422
    for expected in (
        "line 3: username &#39;bad name&#39;",
        "line 4: password: at least 8 characters",
        "line 5: username &#39;ok.one&#39; already appears on line 2",
        "line 6: display_name: must not be empty",
        "line 7: expected 4 fields, found 2",
    ):
        assert expected in r.text
    assert "Nothing was changed. 5 problems" in r.text
    assert _user(db, "ok.one") is None
    assert len(db.exec(select(Cohort)).all()) == cohorts_before
    refused = _audit(db, "roster.import_refused")[-1]
    assert refused.detail == {"errors": 5}
    assert _audit(db, "roster.import") == []


def test_roster_import_refuses_existing_usernames(admin, db):
    content = b"username,display_name,password\nfresh.one,Fresh,pass-word-1\nnurse,Clash,pass-word-2\n"
    r = _upload(admin, _demo_unit(db).id, content)
    assert r.status_code == 422
    assert "line 3: username &#39;nurse&#39; already exists" in r.text
    assert _user(db, "fresh.one") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "line 1: the file is empty"),
        (b"user,name,pw\na,b,c\n", "line 1: header must include"),
        (b"username,display_name,password\n", "the file has a header but no trainees"),
        ("username,display_name,password\nj\u00f6rg,J\u00f6rg,pass-word-1\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_roster_import_bad_files(admin, db, content, message):
    r = _upload(admin, _demo_unit(db).id, content)
    assert r.status_code == 422
    assert message in r.text


def test_roster_import_needs_unit_and_file(admin, db):
    r = admin.post("/admin/roster", data={"unit": ""})
    assert r.status_code == 422
    assert "choose the unit" in r.text and "choose a CSV file" in r.text
    r = _upload(admin, 999999, GOOD_ROSTER)
    assert r.status_code == 422 and "choose the unit" in r.text
    assert _user(db, "t.one") is None


def test_roster_line_numbers_count_physical_lines(db, demo):
    # A quoted field spanning two lines shifts every later line number.
    text = 'username,display_name,password\nm.one,"Two\nLines",pass-word-1\nm two,Bad,pass-word-2\n'
    result = import_roster(db, csv_text=text, unit=_demo_unit(db), actor_id=None)
    assert result.created == []
    assert len(result.errors) == 1 and result.errors[0].startswith("line 4: username")


def test_roster_header_is_case_and_space_tolerant(db, demo):
    text = " Username , Display_Name ,Password\nspaced,Spaced Out,pass-word-1\n"
    result = import_roster(db, csv_text=text, unit=_demo_unit(db), actor_id=None)
    assert result.errors == [] and result.created == ["spaced"]
    spaced = _user(db, "spaced")
    assert spaced is not None and spaced.display_name == "Spaced Out"


def test_create_user_service_refuses_overlong_password(db):
    from app.services.accounts import create_user

    with pytest.raises(AccountError, match="at most 200"):
        create_user(db, username="long", password="x" * 201, role="educator")
