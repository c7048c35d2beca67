"""Signing the chain's tip and proving a later chain still extends it (Ed25519).

Keys never live in the database: the signing key comes from `--key FILE` or the
DISPATCHER_SIGNING_KEY environment variable, the key that checks a checkpoint from
`--public-key FILE` or DISPATCHER_VERIFY_KEY (else it is derived from the signing key). Both
accept PEM or 64 hex digits (the raw 32-byte key). `cryptography` is imported only here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.db.repositories import AuditLog
from dispatcher.db.unit_of_work import UnitOfWork
from dispatcher.domain.checkpoints import (
    ChainTip,
    Checkpoint,
    chain_label,
    extension_problem,
    parse_checkpoint,
    signed_payload,
)
from dispatcher.domain.errors import IntegrityDamage, InvalidInput
from dispatcher.domain.events import ChainReport, format_timestamp, verify_sealed
from dispatcher.services.files import read_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNING_ENV = "DISPATCHER_SIGNING_KEY"
VERIFY_ENV = "DISPATCHER_VERIFY_KEY"


@dataclass(frozen=True)
class CheckpointCheck:
    report: ChainReport
    checkpoint: Checkpoint
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.report.ok and self.problem is None


def _read(path: Path, what: str) -> str:
    return read_text(path, f"{what} file", 1, "ascii").strip()


def load_checkpoint(path: Path) -> Checkpoint:
    """A checkpoint file, parsed (one-line refusal when unreadable or malformed)."""
    return parse_checkpoint(read_text(path, "Checkpoint file", 1), str(path))


def _raw_hex(text: str) -> bytes | None:
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    return None


def _private_key(text: str, source: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    raw = _raw_hex(text)
    if raw is not None:
        return Ed25519PrivateKey.from_private_bytes(raw)
    try:
        key = load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise InvalidInput(f"{source} is not an Ed25519 private key (PEM or 64 hex)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{source} is not an Ed25519 key")
    return key


def _public_key(text: str, source: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    raw = _raw_hex(text)
    if raw is not None:
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        key = load_pem_public_key(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise InvalidInput(f"{source} is not an Ed25519 public key (PEM or 64 hex)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"{source} is not an Ed25519 key")
    return key


def signing_key(key_file: Path | None) -> Ed25519PrivateKey:
    if key_file is not None:
        return _private_key(_read(key_file, "Key"), f"Key file {key_file}")
    text = os.environ.get(SIGNING_ENV, "").strip()
    if not text:
        raise InvalidInput(f"No signing key: pass --key FILE or set {SIGNING_ENV}")
    return _private_key(text, SIGNING_ENV)


def trusted_key(public_file: Path | None, key_file: Path | None) -> Ed25519PublicKey:
    """The key a checkpoint must be signed with: given, configured, or the signing key's."""
    if public_file is not None:
        return _public_key(_read(public_file, "Public key"), f"Public key file {public_file}")
    text = os.environ.get(VERIFY_ENV, "").strip()
    if text:
        return _public_key(text, VERIFY_ENV)
    if key_file is not None or os.environ.get(SIGNING_ENV, "").strip():
        return signing_key(key_file).public_key()
    raise InvalidInput(
        f"No key to check the checkpoint with: pass --public-key FILE or set {VERIFY_ENV}"
    )


def public_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def new_key_pem() -> tuple[bytes, str]:
    """A fresh private key as unencrypted PKCS#8 PEM, and its public key in hex."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return pem, public_hex(key.public_key())


def _logs(uow: UnitOfWork) -> list[AuditLog]:
    """The chains a site depends on, its own first."""
    return [uow.audit_log, uow.tenant_log, uow.platform_log]


def create_checkpoint(uow: UnitOfWork, key: Ed25519PrivateKey) -> Checkpoint:
    """Verify every chain this site depends on, then sign their tips together."""
    tips = []
    with uow:
        for log in _logs(uow):
            report = verify_sealed(log.sealed_rows(), log.stored_event)
            if not report.ok:
                raise IntegrityDamage(
                    f"{chain_label(*log.chain).capitalize()} is broken at seq "
                    f"{report.broken_seq} ({report.problem}); not signing it"
                )
            if report.count:
                tips.append(ChainTip(*log.chain, report.count, report.tip_hash))
        signed_at = format_timestamp(uow.now())
    if not tips or tips[0].site != uow.site:
        raise InvalidInput(f"The audit chain of {uow.tenant}/{uow.site} is empty; nothing to sign")
    chains = tuple(tips)
    payload = signed_payload(uow.tenant, uow.site, chains, signed_at)
    return Checkpoint(
        tenant=uow.tenant,
        site=uow.site,
        chains=chains,
        signed_at=signed_at,
        public_key=public_hex(key.public_key()),
        signature=key.sign(payload).hex(),
    )


def check_checkpoint(
    uow: UnitOfWork, checkpoint: Checkpoint, trusted: Ed25519PublicKey
) -> CheckpointCheck:
    """Every signed chain verifies and still holds its signed event; the signature is the
    trusted key's; the checkpoint is this site's."""
    from cryptography.exceptions import InvalidSignature

    problem = None
    with uow:
        logs = {log.chain: log for log in _logs(uow)}
        report = verify_sealed(uow.audit_log.sealed_rows(), uow.audit_log.stored_event)
        if (checkpoint.tenant, checkpoint.site) != (uow.tenant, uow.site):
            problem = (
                f"checkpoint is for {checkpoint.tenant}/{checkpoint.site}, "
                f"not {uow.tenant}/{uow.site}"
            )
        for tip in checkpoint.chains if problem is None else ():
            log = logs.get((tip.tenant, tip.site))
            if log is None:
                problem = f"checkpoint signs {chain_label(tip.tenant, tip.site)}, not this site's"
                break
            chain = (
                report
                if log is uow.audit_log
                else verify_sealed(log.sealed_rows(), log.stored_event)
            )
            length = chain.count if chain.ok else (chain.broken_seq or 1) - 1
            event = log.stored_event(tip.seq)
            problem = extension_problem(tip, length, None if event is None else event.hash)
            if problem is not None:
                break
    if checkpoint.public_key != public_hex(trusted):
        return CheckpointCheck(report, checkpoint, "checkpoint was signed with another key")
    try:
        trusted.verify(bytes.fromhex(checkpoint.signature), checkpoint.payload())
    except InvalidSignature:
        return CheckpointCheck(
            report, checkpoint, "checkpoint signature does not match its content"
        )
    return CheckpointCheck(report, checkpoint, problem)
