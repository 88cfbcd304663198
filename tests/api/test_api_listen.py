"""Where the HTTP API listens and how: loopback by default, HTTPS with a
configured certificate (the session cookie then Secure), any other address
refused without one, a port in use told in one line, and the client's
address taken from a reverse proxy's headers only when configured so."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from api_support import PASSWORD, add_first_admin, kvarter
from conftest import free_tcp_port, launch_gateway, one_line_error
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sim.gateway_process import gateway_log_path


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "http.pem", directory / "http.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def run_with(tmp_path: Path, toml: str, *args: str) -> str:
    cfg = tmp_path / "gateway.toml"
    cfg.write_text("[gateway]\n" + toml)
    return one_line_error(kvarter("gateway", "run", "--config", str(cfg), "--port", "0",
                                  "--db", str(tmp_path / "g.sqlite"), *args))


@pytest.mark.parametrize("toml, expect", [
    ('http_host = "0.0.0.0"\n', "not loopback"),
    ('http_host = "0.0.0.0"\nhttp_behind_proxy = true\nhttp_tls_cert = "c.pem"\n'
     'http_tls_key = "c.key"\n', "http_behind_proxy"),
    ('http_tls_cert = "c.pem"\n', "go together"),
    ("http_port = 70000\n", "http_port must be"),
    ('http = "yes"\n', "http must be true or false"),
])
def test_unsafe_or_bad_http_settings_get_one_line(tmp_path: Path, toml: str,
                                                  expect: str) -> None:
    assert expect in run_with(tmp_path, toml)


def test_a_missing_certificate_gets_one_line(tmp_path: Path) -> None:
    line = run_with(tmp_path, f'http_tls_cert = "{tmp_path}/no.pem"\n'
                              f'http_tls_key = "{tmp_path}/no.key"\n')
    assert "cannot use the HTTPS certificate" in line


def test_an_http_port_in_use_gets_one_line(tmp_path: Path) -> None:
    gw = launch_gateway(tmp_path)
    try:
        line = one_line_error(kvarter("gateway", "run", "--port", "0", "--http-port",
                                      str(gw.http_port), "--db", str(tmp_path / "other.sqlite")))
        assert "cannot listen for HTTP" in line and "--http-port" in line
    finally:
        gw.stop()


def test_https_with_a_configured_certificate_and_a_secure_cookie(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_tcp_port()
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'[gateway]\nhttp_tls_cert = "{cert}"\nhttp_tls_key = "{key}"\n')
    gw = launch_gateway(tmp_path, "--config", str(cfg), "--http-port", str(port))
    try:
        add_first_admin(gw.db)
        trust = ssl.create_default_context(cafile=str(cert))
        r = httpx.post(f"https://127.0.0.1:{port}/api/v1/session", verify=trust,
                       json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5)
    finally:
        gw.stop()


def test_forwarded_headers_count_only_behind_a_configured_proxy(tmp_path: Path) -> None:
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("[gateway]\nhttp_behind_proxy = true\n")
    proxied = launch_gateway(tmp_path / "proxied", "--config", str(cfg))
    try:
        plain = launch_gateway(tmp_path / "plain")
    except BaseException:
        proxied.stop()
        raise
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    try:
        for gw in (plain, proxied):
            add_first_admin(gw.db)
            httpx.post(f"{gw.http_url}/api/v1/session", headers=forged,
                       json={"username": "admin", "password": "wrong password"})
            r = httpx.post(f"{gw.http_url}/api/v1/session", headers=forged,
                           json={"username": "admin", "password": PASSWORD})
            secure = "; secure" in r.headers["set-cookie"].lower()
            assert secure == (gw is proxied)
    finally:
        plain.stop()
        proxied.stop()
    assert "failed login for 'admin' from 127.0.0.1" in gateway_log_path(plain.db).read_text()
    assert "from 203.0.113.7" in gateway_log_path(proxied.db).read_text()
