"""Signed checkpoints: a cut, replaced or re-signed tail is detected; keys stay outside the db."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import Cli


def _keygen(cli: Cli, path: Path) -> str:
    made = cli("audit", "keygen", "--out", str(path))
    assert made.exit_code == 0, made.output
    assert (path.stat().st_mode & 0o777) == 0o600
    return Path(f"{path}.pub").read_text().strip()


def _checkpoint(cli: Cli, key: Path, out: Path) -> dict[str, object]:
    made = cli("audit", "checkpoint", "--key", str(key), "--out", str(out))
    assert made.exit_code == 0, made.output
    document: dict[str, object] = json.loads(out.read_text())
    return document


def _verify(cli: Cli, checkpoint: Path, public: Path) -> tuple[int, str]:
    result = cli("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", str(public))
    # Lines wrap at the terminal's width between words (a long temporary path moves the rest).
    return result.exit_code, " ".join(result.output.split())


CHAIN_WHERE = {
    "site": "tenant_id = 'LTS' AND site_id = 'WIEN'",
    "registry": "tenant_id = 'LTS' AND site_id = '*'",
    "platform": "tenant_id = '*' AND site_id = '*'",
}


def _cut_tail(db: Path, events: int, chain: str = "site") -> None:
    with closing(sqlite3.connect(db)) as con:
        for (name,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
        ).fetchall():
            con.execute(f"DROP TRIGGER {name}")
        where = CHAIN_WHERE[chain]
        (tip,) = con.execute(f"SELECT MAX(seq) FROM audit_events WHERE {where}").fetchone()
        con.execute(f"DELETE FROM audit_events WHERE {where} AND seq > ?", (tip - events,))
        con.commit()


def _site_seq(document: dict[str, object]) -> int:
    chains = document["chains"]
    assert isinstance(chains, list)
    return int(next(c["seq"] for c in chains if c["site"] == "WIEN"))


def test_an_untouched_chain_extends_its_checkpoint(site: Cli, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    public = _keygen(site, key)
    document = _checkpoint(site, key, tmp_path / "cp.json")
    assert document["public_key"] == public and document["site"] == "WIEN"
    assert _verify(site, tmp_path / "cp.json", Path(f"{key}.pub"))[0] == 0
    # The chain grows; the old checkpoint still holds.
    assert site("kill-switch", "status").exit_code == 0
    changed = site(
        "site", "set", "min_reason_length=12", "--by", "admin01", "--reason", "Longer reasons now"
    )
    assert changed.exit_code == 0, changed.output
    code, output = _verify(site, tmp_path / "cp.json", Path(f"{key}.pub"))
    assert code == 0 and "still extends it" in output


def test_a_cut_tail_is_detected(site: Cli, tmp_path: Path, db_path: Path) -> None:
    key = tmp_path / "audit.key"
    _keygen(site, key)
    document = _checkpoint(site, key, tmp_path / "cp.json")
    _cut_tail(db_path, 2)
    plain = site("audit", "verify")
    assert plain.exit_code == 0, (
        "a shorter chain is still a valid chain: the reason for checkpoints"
    )
    code, output = _verify(site, tmp_path / "cp.json", Path(f"{key}.pub"))
    assert code == 1
    assert f"signed seq {_site_seq(document)}: events were removed from the end" in output


def test_a_replaced_tail_is_detected(site: Cli, tmp_path: Path, db_path: Path) -> None:
    key = tmp_path / "audit.key"
    _keygen(site, key)
    document = _checkpoint(site, key, tmp_path / "cp.json")
    _cut_tail(db_path, 1)
    # New, valid events take the cut event's place.
    changed = site(
        "site", "set", "min_reason_length=12", "--by", "admin01", "--reason", "Longer reasons now"
    )
    assert changed.exit_code == 0, changed.output
    assert site("audit", "verify").exit_code == 0
    code, output = _verify(site, tmp_path / "cp.json", Path(f"{key}.pub"))
    assert code == 1
    assert (
        f"event {_site_seq(document)} of LTS/WIEN's chain is not the one the checkpoint" in output
    )


@pytest.mark.parametrize("change", ["signature", "seq", "other-key"])
def test_a_forged_checkpoint_is_refused(site: Cli, tmp_path: Path, change: str) -> None:
    key, other = tmp_path / "audit.key", tmp_path / "other.key"
    _keygen(site, key)
    _keygen(site, other)
    path = tmp_path / "cp.json"
    document = _checkpoint(site, key, path)
    if change == "signature":
        signature = str(document["signature"])
        document["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
        path.write_text(json.dumps(document))
        expected = "signature does not match its content"
    elif change == "seq":
        chains = document["chains"]
        assert isinstance(chains, list)
        chains[0]["seq"] = int(chains[0]["seq"]) - 1
        path.write_text(json.dumps(document))
        expected = "signature does not match its content"
    else:
        _checkpoint(site, other, path.with_name("other.json"))
        path = path.with_name("other.json")
        expected = "signed with another key"
    code, output = _verify(site, path, Path(f"{key}.pub"))
    assert code == 1 and expected in output


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("chain", "label"),
    [("registry", "the LTS user registry's chain"), ("platform", "the platform's chain")],
)
def test_a_cut_tail_of_the_registry_or_the_platform_is_detected(
    site: Cli, tmp_path: Path, db_path: Path, chain: str, label: str
) -> None:
    """The disabled user and the global kill switch live in the tenant's and the platform's
    chains: the checkpoint signs their tips too, so cutting them off is caught."""
    stop = ("kill-switch", "activate", "--by", "admin01", "--reason", "Breach at the dispatch end")
    assert site(*stop).exit_code == 0
    gone = ("users", "disable", "ops001", "--by", "admin01", "--reason", "Left the company")
    assert site(*gone).exit_code == 0
    key = tmp_path / "audit.key"
    _keygen(site, key)
    document = _checkpoint(site, key, tmp_path / "cp.json")
    signed = {(c["tenant"], c["site"]) for c in document["chains"]}  # type: ignore[attr-defined]
    assert signed == {("LTS", "WIEN"), ("LTS", "*"), ("*", "*")}
    _cut_tail(db_path, 1, chain)
    assert site("audit", "verify").exit_code == 0  # each chain is still a valid chain
    code, output = _verify(site, tmp_path / "cp.json", Path(f"{key}.pub"))
    assert code == 1
    assert f"{label} ends at seq" in output and "events were removed from the end" in output


def test_a_checkpoint_of_the_older_format_still_verifies(site: Cli, tmp_path: Path) -> None:
    """dispatcher.checkpoint/1 files signed the site's chain alone; they keep proving it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dispatcher.domain.checkpoints import signed_site_payload

    tip = json.loads(site("audit", "log", "--json", "-n", "1").stdout)[0]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex("22" * 32))
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    signed_at = "2026-01-13T08:00:00.000000Z"
    old = {
        "format": "dispatcher.checkpoint/1",
        "tenant": "LTS",
        "site": "WIEN",
        "seq": tip["seq"],
        "hash": tip["hash"],
        "signed_at": signed_at,
        "public_key": public,
        "signature": key.sign(
            signed_site_payload("LTS", "WIEN", tip["seq"], tip["hash"], signed_at)
        ).hex(),
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    public_file = tmp_path / "old.pub"
    public_file.write_text(public)
    code, output = _verify(site, path, public_file)
    assert code == 0, output
    old["seq"] = tip["seq"] - 1
    path.write_text(json.dumps(old))
    assert _verify(site, path, public_file)[0] == 1


def test_keys_from_the_environment(
    site: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = "11" * 32
    monkeypatch.setenv("DISPATCHER_SIGNING_KEY", seed)
    made = site("audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
    assert made.exit_code == 0, made.output
    # With only the signing key configured, verify derives the public key from it.
    assert site("audit", "verify", "--checkpoint", str(tmp_path / "cp.json")).exit_code == 0
    public = json.loads((tmp_path / "cp.json").read_text())["public_key"]
    monkeypatch.delenv("DISPATCHER_SIGNING_KEY")
    monkeypatch.setenv("DISPATCHER_VERIFY_KEY", public)
    assert site("audit", "verify", "--checkpoint", str(tmp_path / "cp.json")).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "checkpoint"], "No signing key: pass --key FILE or set DISPATCHER_SIGNING_KEY"),
        (["audit", "checkpoint", "--key", "missing.key"], "Key file missing.key not found"),
        (["audit", "verify", "--checkpoint", "missing.json"], "not found"),
        (["audit", "verify", "--checkpoint", "BAD"], "is not a checkpoint file"),
        (["audit", "checkpoint", "--key", "BAD"], "is not an Ed25519 private key"),
    ],
)
def test_bad_keys_and_files_are_one_line_errors(
    site: Cli, tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BAD").write_text("this is not a key or a checkpoint\n")
    result = site(*args)
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not list(tmp_path.glob("checkpoint-*.json"))


def test_checkpoint_refuses_to_overwrite_or_sign_a_broken_chain(
    site: Cli, tmp_path: Path, db_path: Path
) -> None:
    key = tmp_path / "audit.key"
    _keygen(site, key)
    out = tmp_path / "cp.json"
    out.write_text("keep me")
    kept = site("audit", "checkpoint", "--key", str(key), "--out", str(out))
    assert kept.exit_code == 1 and "already exists" in kept.stderr
    assert out.read_text() == "keep me"
    with closing(sqlite3.connect(db_path)) as con:
        con.execute("DROP TRIGGER audit_events_no_update")
        con.execute("UPDATE audit_events SET reason = 'edited' WHERE seq = 2")
        con.commit()
    refused = site("audit", "checkpoint", "--key", str(key), "--out", str(tmp_path / "new.json"))
    assert refused.exit_code == 1 and "not signing it" in refused.stderr
    assert not (tmp_path / "new.json").exists()


def test_keygen_writes_both_key_files_or_neither(cli: Cli, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    Path(f"{key}.pub").write_text("an older public key\n")
    result = cli("audit", "keygen", "--out", str(key))
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {key}.pub already exists; choose another --out\n",
    )
    assert not key.exists()  # no private key left behind without its public half
