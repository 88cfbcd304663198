"""What the attack tests share: a gateway with production settings (node
clocks bounded, unlike a simulation's gateway), requests sent as a node
would, and a look at what the gateway stored and logged."""

from __future__ import annotations

import ipaddress
import os
import queue
import socket
import sqlite3
import ssl
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from conftest import RunningGateway, free_tcp_port, launch_gateway
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from firmware.proto import coap
from sim.broker import run_mosquitto
from sim.gateway_process import gateway_log_path

OPT_URI_QUERY = 15  # RFC 7252 5.10


def production_gateway(tmp_path: Path, *extra: str) -> RunningGateway:
    """A gateway as a city runs it: real clock bounds on reports."""
    return launch_gateway(tmp_path, *extra, virtual_time=False)


def exchange(sock: socket.socket, msg: coap.Message, timeout: float = 1.0) -> coap.Message:
    """Send as a node would, retransmitting until the answer comes."""
    sock.settimeout(timeout)
    for _ in range(coap.MAX_RETRANSMIT + 1):
        sock.send(coap.encode(msg))
        try:
            while True:
                reply = coap.decode(sock.recv(65536))
                if reply.mid == msg.mid:
                    return reply
        except TimeoutError:
            continue
    raise AssertionError("the gateway does not answer")


def request(gw: RunningGateway, code: int, path: list[bytes], payload: bytes = b"",
            queries: list[bytes] = (), mid: int = 1,  # type: ignore[assignment]
            timeout: float = 1.0) -> coap.Message:
    """One confirmable request from a fresh socket; the answer. timeout:
    between retransmissions."""
    opts = [(coap.OPT_URI_PATH, p) for p in path]
    opts += [(OPT_URI_QUERY, q) for q in queries]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(gw.addr)
        return exchange(sock, coap.Message(coap.CON, code, mid, b"\x42", opts, payload),
                        timeout)


def post_report(gw: RunningGateway, kind: bytes, node_id: str, payload: bytes,
                mid: int = 1, timeout: float = 1.0) -> tuple[str, str]:
    reply = request(gw, coap.POST, [kind, node_id.encode()], payload, mid=mid,
                    timeout=timeout)
    return coap.code_str(reply.code), reply.payload.decode(errors="replace")


def bin_rows(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT node_id, seq, measured_at FROM bin_reports").fetchall()


def log_text(gw: RunningGateway) -> str:
    return gateway_log_path(gw.db).read_text(errors="replace")


# --- a broker with TLS and passwords ----------------------------------------

@dataclass
class TlsBroker:
    port: int
    ca: Path
    username: str
    password: str
    proc: subprocess.Popen[bytes]


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it:
    (ca.pem, server.pem, server.key)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kvarter test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - timedelta(minutes=5))
              .not_valid_after(now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                   x509.DNSName("localhost")]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


def start_tls_broker(directory: Path, username: str, password: str) -> TlsBroker:
    """mosquitto on 127.0.0.1 over TLS only, refusing anonymous clients."""
    ca, cert, key = make_certificates(directory)
    passwd = directory / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), username, password],
                   check=True, capture_output=True)
    port = free_tcp_port()
    conf = directory / "mosquitto-tls.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        f"allow_anonymous false\npassword_file {passwd}\npersistence false\n"
        + ("user root\n" if os.geteuid() == 0 else ""))
    return TlsBroker(port, ca, username, password, run_mosquitto(conf, port))


def mqtt_connect(broker: TlsBroker, username: str | None, password: str | None,
                 tls: bool = True) -> tuple[mqtt.Client, ReasonCode | str]:
    """A client's attempt; (client, the broker's answer or the error)."""
    answer: queue.Queue[ReasonCode | str] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
    client.on_connect = lambda c, u, f, reason, p: answer.put(reason)
    if tls:
        client.tls_set(ca_certs=str(broker.ca))
    if username is not None:
        client.username_pw_set(username, password)
    try:
        client.connect("127.0.0.1", broker.port)
    except (OSError, ssl.SSLError) as e:
        return client, f"{type(e).__name__}: {e}"
    client.loop_start()
    try:
        return client, answer.get(timeout=5)
    except queue.Empty:
        return client, "no answer"
