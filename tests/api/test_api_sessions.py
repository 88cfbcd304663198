"""Browser sessions and programs' tokens over real HTTP: the cookie's
attributes, CSRF refusal, logging out, a password change or a disabled
account ending sessions, and what the database keeps of secrets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest
from api_support import PASSWORD, add_first_admin, assert_problem, login, token_client
from conftest import RunningGateway, launch_gateway


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    gateway = launch_gateway(tmp_path_factory.mktemp("sessions"))
    try:
        add_first_admin(gateway.db)
        with closing(login(gateway, "admin")) as admin:
            for name, role in (("olle", "operator"), ("petra", "planner"),
                               ("tove", "technician")):
                r = admin.post("/api/v1/users", json={"username": name, "role": role,
                                                      "password": PASSWORD})
                assert r.status_code == 201, r.text
        yield gateway
    finally:
        gateway.stop()


def test_the_session_cookie_is_httponly_and_samesite_strict(gw: RunningGateway) -> None:
    r = httpx.post(f"{gw.http_url}/api/v1/session",
                   json={"username": "olle", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("kvarter_session=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    # Plain HTTP on loopback: a Secure cookie would never come back.
    assert "secure" not in cookie.replace("samesite", "")
    assert r.json()["csrf_token"] and r.json()["user"]["role"] == "operator"


def test_a_change_without_the_csrf_token_is_refused(gw: RunningGateway) -> None:
    with closing(login(gw, "olle")) as session:
        token = session.headers.pop("X-CSRF-Token")
        r = session.post("/api/v1/me/tokens", json={"name": "no csrf"})
        assert "X-CSRF-Token" in assert_problem(r, 403)
        r = session.post("/api/v1/me/tokens", json={"name": "wrong csrf"},
                         headers={"X-CSRF-Token": token[:-2] + "xx"})
        assert_problem(r, 403)
        assert_problem(session.delete("/api/v1/session"), 403)
        # Reading needs no token; nothing was made.
        assert session.get("/api/v1/me/tokens").json() == []
        r = session.post("/api/v1/me/tokens", json={"name": "with csrf"},
                         headers={"X-CSRF-Token": token})
        assert r.status_code == 201
        assert [t["name"] for t in session.get("/api/v1/me/tokens").json()] == ["with csrf"]


def test_another_sessions_csrf_token_does_not_do(gw: RunningGateway) -> None:
    with closing(login(gw, "olle")) as one, closing(login(gw, "olle")) as other:
        r = one.post("/api/v1/me/tokens", json={"name": "x"},
                     headers={"X-CSRF-Token": other.headers["X-CSRF-Token"]})
        assert_problem(r, 403)


def test_a_bearer_token_needs_no_csrf_token_and_can_be_revoked(gw: RunningGateway) -> None:
    with closing(login(gw, "tove")) as session, \
            closing(token_client(gw, session, "field laptop")) as program:
        made = session.get("/api/v1/me/tokens").json()
        assert [t["name"] for t in made] == ["field laptop"]
        assert program.post("/api/v1/me/tokens", json={"name": "child"}).status_code == 201
        assert program.get("/api/v1/nodes").status_code == 200
        assert session.delete(f"/api/v1/me/tokens/{made[0]['id']}").status_code == 204
        assert "revoked" in assert_problem(program.get("/api/v1/nodes"), 401)


def test_a_malformed_authorization_header_gets_401(gw: RunningGateway) -> None:
    for value in ("Basic b2xsZTpwdw==", "Bearer", "Bearer not-a-kvarter-token",
                  "Bearer kvt_unknown"):
        r = httpx.get(f"{gw.http_url}/api/v1/me", headers={"Authorization": value})
        assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_logging_out_ends_the_session(gw: RunningGateway) -> None:
    session = login(gw, "petra")
    cookie = session.cookies.get("kvarter_session")
    assert session.delete("/api/v1/session").status_code == 204
    # Even a client that kept the cookie gets nowhere with it.
    r = httpx.get(f"{gw.http_url}/api/v1/me", cookies={"kvarter_session": str(cookie)})
    assert "log in again" in assert_problem(r, 401)


def test_a_password_change_ends_the_other_sessions(gw: RunningGateway) -> None:
    first, second = login(gw, "petra"), login(gw, "petra")
    r = first.put("/api/v1/me/password",
                  json={"current_password": "wrong password", "new_password": "x" * 12})
    assert "current password is wrong" in assert_problem(r, 409)
    r = first.put("/api/v1/me/password",
                  json={"current_password": PASSWORD, "new_password": "another good password"})
    assert r.status_code == 204
    assert first.get("/api/v1/me").status_code == 200
    assert_problem(second.get("/api/v1/me"), 401)
    r = first.put("/api/v1/me/password",
                  json={"current_password": "another good password", "new_password": PASSWORD})
    assert r.status_code == 204


def test_disabling_an_account_ends_its_sessions_and_tokens(gw: RunningGateway) -> None:
    with closing(login(gw, "admin")) as admin:
        r = admin.post("/api/v1/users", json={"username": "temp", "role": "planner",
                                              "password": PASSWORD})
        assert r.status_code == 201
        session = login(gw, "temp")
        program = token_client(gw, session)
        r = admin.patch("/api/v1/users/temp", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert_problem(session.get("/api/v1/me"), 401)
        assert_problem(program.get("/api/v1/me"), 401)
        r = httpx.post(f"{gw.http_url}/api/v1/session",
                       json={"username": "temp", "password": PASSWORD})
        assert_problem(r, 401)
        r = admin.patch("/api/v1/users/admin", json={"disabled": True})
        assert "last enabled administrator" in assert_problem(r, 409)


def test_the_database_keeps_no_secret_in_the_clear(gw: RunningGateway) -> None:
    with closing(login(gw, "tove")) as session:
        cookie = str(session.cookies.get("kvarter_session"))
        made = session.post("/api/v1/me/tokens", json={"name": "kept?"}).json()["token"]
    with sqlite3.connect(gw.db) as db:
        dump = "\n".join(db.iterdump())
        hashes = [h for (h,) in db.execute("SELECT password_hash FROM users")]
    assert PASSWORD not in dump and cookie not in dump and made not in dump
    assert made.startswith("kvt_")
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


def test_user_names_compare_without_case_and_bad_accounts_are_refused(
        gw: RunningGateway) -> None:
    with closing(login(gw, "admin")) as admin:
        r = admin.post("/api/v1/users", json={"username": "OLLE", "role": "crew",
                                              "crew": "t1", "password": PASSWORD})
        assert_problem(r, 422)  # capitals are not a user name
        r = admin.post("/api/v1/users", json={"username": "olle", "role": "planner",
                                              "password": PASSWORD})
        assert "exists already" in assert_problem(r, 409)
        r = admin.post("/api/v1/users", json={"username": "c2", "role": "crew",
                                              "password": PASSWORD})
        assert "crew" in assert_problem(r, 422)
        r = admin.post("/api/v1/users", json={"username": "p2", "role": "planner",
                                              "crew": "t1", "password": PASSWORD})
        detail = assert_problem(r, 422)
        assert "crew" in detail and "not permitted" in detail
        r = admin.post("/api/v1/users", json={"username": "p3", "role": "planner",
                                              "password": "short"})
        assert "password" in assert_problem(r, 422)
        r = admin.post("/api/v1/users", json={"username": "p4", "role": "king",
                                              "password": PASSWORD})
        assert "role" in assert_problem(r, 422)


def test_the_login_takes_json_only_so_another_sites_form_cannot_log_in(
        gw: RunningGateway) -> None:
    body = '{"username": "olle", "password": "' + PASSWORD + '"}'
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = httpx.post(f"{gw.http_url}/api/v1/session", content=body.encode(),
                       headers={"content-type": kind})
        assert_problem(r, 422)
        assert "set-cookie" not in r.headers
