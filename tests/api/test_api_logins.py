"""Failed logins over real HTTP: limited per account and per source address
(even the right password waits), logged one line each with the name quoted
and cut short, never the password. The limiter's arithmetic on its own, on
a clock the test moves."""

from __future__ import annotations

from pathlib import Path

import httpx
from api_support import PASSWORD, add_first_admin, assert_problem, login
from conftest import launch_gateway

from gateway.api.limits import PER_ACCOUNT, PER_ADDRESS, LoginLimiter
from sim.gateway_process import gateway_log_path


def _login(url: str, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/session", json={"username": name, "password": password},
                      timeout=30)


def test_failed_logins_are_limited_per_account_then_per_address(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path)
    try:
        add_first_admin(gw.db)
        with login(gw, "admin") as admin:
            for name in ("anna", "bo"):
                r = admin.post("/api/v1/users", json={"username": name, "role": "planner",
                                                      "password": PASSWORD})
                assert r.status_code == 201
        guess = "Secret-Guess-1234"
        for _ in range(PER_ACCOUNT):
            assert_problem(_login(gw.http_url, "anna", guess), 401)
        # The account is locked for a while: the right password waits too.
        r = _login(gw.http_url, "anna", PASSWORD)
        assert "too many failed logins" in assert_problem(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
        # Another account from the same address is not locked by it...
        assert _login(gw.http_url, "bo", PASSWORD).status_code == 200
        # ...until the address has failed too often, whatever names it tries.
        for i in range(PER_ADDRESS - PER_ACCOUNT):
            assert_problem(_login(gw.http_url, f"nobody{i}", guess), 401)
        assert_problem(_login(gw.http_url, "bo", PASSWORD), 429)
        long_name = "x" * 200
        assert_problem(_login(gw.http_url, long_name, guess), 429)
    finally:
        gw.stop()
    log = gateway_log_path(gw.db).read_text()
    failed = [ln for ln in log.splitlines() if "failed login" in ln]
    assert any("failed login for 'anna' from 127.0.0.1" in ln for ln in failed), failed
    assert any("login refused for 'anna'" in ln for ln in log.splitlines())
    assert guess not in log and PASSWORD not in log
    assert "x" * 65 not in log  # a name is quoted cut short


def test_the_limiter_lets_an_account_try_again_once_its_failures_age_out() -> None:
    now = [1000.0]
    limiter = LoginLimiter(per_account=3, per_address=5, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("Anna", "10.0.0.1") is None
        limiter.failed("Anna", "10.0.0.1")
        now[0] += 1
    # Names compare without case, as user names do.
    wait = limiter.retry_after("anna", "10.0.0.2")
    assert wait is not None and 57 <= wait <= 58
    now[0] += wait
    assert limiter.retry_after("anna", "10.0.0.2") is None
    limiter.succeeded("anna")
    # The address still has two failures in its window (one aged out).
    for i in range(3):
        limiter.failed(f"other{i}", "10.0.0.1")
    assert limiter.retry_after("somebody", "10.0.0.1") is not None
    assert limiter.retry_after("somebody", "10.0.0.3") is None


def test_the_limiter_forgets_the_oldest_names_first_when_flooded() -> None:
    limiter = LoginLimiter(per_account=1, per_address=10**9, window_s=60, clock=lambda: 0.0)
    for i in range(30000):
        limiter.failed(f"name{i}", "10.0.0.1")
    assert len(limiter._failures) <= 10000
    assert limiter.retry_after("name29999", "10.0.0.9") is not None
