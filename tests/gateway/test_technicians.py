"""Technicians' credentials in the gateway's database (schema version 4) and
the admin's commands: a kid is never given twice, a revoked credential loses
its secret, a credential is shown once and written owner-only, and the site
profile's [technician] lines are read back as the tool needs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line_error
from hypothesis import given
from hypothesis import strategies as st

from gateway.records import replace_proof
from gateway.security.technician import CredentialError, credential_from
from gateway.storage.migrations import LATEST
from gateway.storage.store import Store
from gateway.storage.technicians import TechnicianError
from tools.field.site import load_site


def kvarter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_kids_are_never_given_twice_and_a_revoked_secret_is_gone(tmp_path: Path) -> None:
    assert LATEST >= 4
    with Store(tmp_path / "g.sqlite") as store:
        anna = store.add_technician("anna")
        bo = store.add_technician("bo")
        with pytest.raises(TechnicianError, match="already has a credential"):
            store.add_technician("anna")
        assert store.revoke_technician("bo") and not store.revoke_technician("bo")
        anna2 = store.rotate_technician("anna")
        bo2 = store.add_technician("bo")  # a new credential for a revoked name
        kids = [anna.kid, bo.kid, anna2.kid, bo2.kid]
        assert kids == [b"\x01", b"\x02", b"\x03", b"\x04"]
        rows = {(r.name, r.kid): r for r in store.technicians()}
        assert rows[("bo", b"\x02")].secret is None and rows[("bo", b"\x02")].revoked_at
        assert rows[("anna", b"\x01")].secret is None
        assert rows[("anna", b"\x03")].secret == anna2.secret != anna.secret
        with pytest.raises(TechnicianError, match="letters, digits"):
            store.add_technician("anna/../x")


def test_the_admins_commands_show_a_credential_once_and_write_it_owner_only(
        tmp_path: Path) -> None:
    db = str(tmp_path / "g.sqlite")
    out = kvarter("gateway", "technician", "add", "anna", "--db", db, "--out",
                  str(tmp_path / "anna.toml"))
    assert out.returncode == 0, out.stderr
    assert "secret" not in out.stdout  # written to the file, not shown
    path = tmp_path / "anna.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    site = load_site(path)
    assert site.technician is not None and site.technician.name == "anna"
    assert "exists already" in one_line_error(kvarter(
        "gateway", "technician", "add", "bo", "--db", db, "--out", str(path)))
    assert "already has a credential" in one_line_error(kvarter(
        "gateway", "technician", "add", "anna", "--db", db))
    assert "no active technician 'zed'" in one_line_error(kvarter(
        "gateway", "technician", "revoke", "zed", "--db", db))
    with Store(Path(db)) as store:
        (row,) = store.technicians()
    assert row.secret is not None and row.secret not in kvarter(
        "gateway", "technician", "list", "--db", db).stdout
    os.chmod(path, 0o640)
    with pytest.raises(Exception, match="chmod 600"):
        load_site(path)


@pytest.mark.parametrize("table, expect", [
    ({"name": "anna", "id": "01"}, "secret missing"),
    ({"name": "anna", "id": "zz", "secret": "00" * 16}, "technician.id"),
    ({"name": "anna", "id": "01", "secret": "00" * 15}, "technician.secret"),
    ({"name": "anna", "id": "01", "secret": "00" * 16, "key": "x"}, "no setting key"),
    ("anna", "must be a table"),
])
def test_a_wrong_technician_table_is_named(table: object, expect: str) -> None:
    with pytest.raises(CredentialError, match=expect):
        credential_from(table, "site profile x.toml")


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16),
       st.from_regex(r"[A-Za-z0-9_.-]{1,16}", fullmatch=True))
def test_a_replacement_proof_is_bound_to_old_key_id_and_new_key(old: bytes, new: bytes,
                                                               node_id: str) -> None:
    proof = replace_proof(old.hex(), node_id, new.hex())
    assert len(proof) == 64 and proof == replace_proof(old.hex(), node_id, new.hex())
    if old != new:
        assert proof != replace_proof(new.hex(), node_id, new.hex())
        assert proof != replace_proof(old.hex(), node_id, old.hex())
    assert proof != replace_proof(old.hex(), node_id + "x", new.hex())


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["name", "id", "secret", "x"]), inner,
                                      max_size=4), max_leaves=8))
def test_any_technician_table_is_taken_or_named_never_a_crash(table: object) -> None:
    try:
        cred = credential_from(table, "site profile x.toml")
    except CredentialError as e:
        assert "site profile x.toml" in str(e) and "\n" not in str(e)
    else:
        assert len(cred.secret) == 16 and 1 <= len(cred.kid) <= 3
