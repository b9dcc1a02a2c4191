from __future__ import annotations

from tests.utils.auth import csrf_from, login


def test_login_page_renders_with_csrf(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert 'name="csrf_token"' in r.text
    assert r.headers["vary"] == "HX-Request"


def test_login_redirects_each_role_home(demo, make_client):
    homes = {"nurse": "/drills", "educator": "/scenarios", "manager": "/dashboard", "admin": "/admin/users"}
    for username, home in homes.items():
        c = make_client()
        token = csrf_from(c.get("/login").text)
        r = c.post("/login", data={"username": username, "password": "demo", "csrf_token": token})
        assert r.status_code == 303
        assert r.headers["location"] == home
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


def test_login_without_csrf_is_refused(demo, client):
    client.get("/login")
    r = client.post("/login", data={"username": "nurse", "password": "demo"})
    assert r.status_code == 403


def test_wrong_password_then_throttled(demo, client):
    token = csrf_from(client.get("/login").text)
    for _ in range(5):
        r = client.post("/login", data={"username": "nurse", "password": "wrong", "csrf_token": token})
        assert r.status_code == 401
    # Even the right password is refused while throttled.
    r = client.post("/login", data={"username": "nurse", "password": "demo", "csrf_token": token})
    assert r.status_code == 429
    assert "Too many failed attempts" in r.text


def test_logout_ends_the_server_side_session(demo, client):
    login(client, "manager")
    r = client.post("/logout", headers={"X-CSRF-Token": client.headers["X-CSRF-Token"]})
    assert r.status_code == 303
    # The old cookie no longer works even if replayed.
    r = client.get("/", follow_redirects=False)
    assert r.headers["location"] == "/login"


def test_cross_origin_post_refused(demo, client):
    login(client, "nurse")
    r = client.post("/logout", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_anonymous_page_redirects_to_login(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_healthz_checks_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def test_unknown_page_is_friendly_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert "Page not found" in r.text


def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives(demo, client):
    """No Content-Length to check up front: the app counts the bytes and stops at MAX_BODY_BYTES."""
    from app.deps import MAX_BODY_BYTES

    login(client, "nurse")
    del client.headers["X-CSRF-Token"]  # so the CSRF check reads the form for its token

    def chunks():  # type: ignore[no-untyped-def]
        yield b"csrf_token=x&reason_text="
        for _ in range(3 * MAX_BODY_BYTES // 65536):
            yield b"x" * 65536

    r = client.post("/logout", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "Content-Length" not in r.request.headers and r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 413
    assert "larger than 2048 KiB" in r.text and r.headers.get("X-Request-ID")


def test_a_small_chunked_form_is_read_as_usual(demo, client):
    login(client, "nurse")
    token = client.headers.pop("X-CSRF-Token")
    r = client.post("/logout", content=iter([b"csrf_token=", token.encode()]),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 303


def test_oversized_form_refused_before_parsing(demo, client):
    login(client, "educator")
    del client.headers["X-CSRF-Token"]
    body = "source=" + "a" * (1024 * 1024 + 10)
    r = client.post("/logout", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert "larger than 1024 KiB" in r.text
