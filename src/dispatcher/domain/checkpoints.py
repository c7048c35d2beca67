"""Signed checkpoints of the audit chain: what is signed, and what a later chain must show.

A hash chain proves that no event inside it was edited, removed or reordered, but not that the
newest events are still there: an insider who cuts the tail leaves a shorter, valid chain. A
checkpoint signs (tenant, site, seq, hash) of the tip at one moment with a key the database does
not hold; a later chain must still contain that event with that hash. Pure: the signature itself
is made and checked by services/checkpoints.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.hashing import canonical_json, is_tagged_digest

CHECKPOINT_FORMAT = "dispatcher.checkpoint/1"
HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class Checkpoint:
    tenant: str
    site: str
    seq: int
    hash: str
    signed_at: str
    public_key: str  # hex of the raw 32-byte Ed25519 public key
    signature: str  # hex of the 64-byte Ed25519 signature over `payload()`

    def payload(self) -> bytes:
        """The exact bytes signed: canonical JSON of everything but the signature."""
        return signed_payload(self.tenant, self.site, self.seq, self.hash, self.signed_at)

    def as_json(self) -> str:
        return json.dumps({"format": CHECKPOINT_FORMAT, **asdict(self)}, indent=2) + "\n"


def signed_payload(tenant: str, site: str, seq: int, hash_: str, signed_at: str) -> bytes:
    document = {
        "format": CHECKPOINT_FORMAT,
        "tenant": tenant,
        "site": site,
        "seq": seq,
        "hash": hash_,
        "signed_at": signed_at,
    }
    return canonical_json(document).encode("utf-8")


def _hex(value: Any, length: int, what: str) -> str:
    if not isinstance(value, str) or len(value) != length or not set(value) <= HEX:
        raise InvalidInput(f"Checkpoint {what} must be {length} lower-case hex digits")
    return value


def parse_checkpoint(text: str, name: str) -> Checkpoint:
    """A checkpoint file's contents, checked field by field (one-line errors)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{name} is not a checkpoint file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise InvalidInput(f"{name} is not a checkpoint file (format {CHECKPOINT_FORMAT} expected)")
    seq = doc.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput(f"{name}: seq must be a positive integer")
    hash_ = doc.get("hash")
    if not isinstance(hash_, str) or not is_tagged_digest(hash_):
        raise InvalidInput(f"{name}: hash must be sha256: and 64 hex digits")
    fields = {}
    for key in ("tenant", "site", "signed_at"):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{name}: {key} is missing")
        fields[key] = value
    return Checkpoint(
        tenant=fields["tenant"],
        site=fields["site"],
        seq=seq,
        hash=hash_,
        signed_at=fields["signed_at"],
        public_key=_hex(doc.get("public_key"), 64, "public_key"),
        signature=_hex(doc.get("signature"), 128, "signature"),
    )


def extension_problem(
    checkpoint: Checkpoint, tenant: str, site: str, chain_length: int, hash_at_seq: str | None
) -> str | None:
    """Why the current chain does not extend the checkpoint, or None when it does."""
    if (checkpoint.tenant, checkpoint.site) != (tenant, site):
        return f"checkpoint is for {checkpoint.tenant}/{checkpoint.site}, not {tenant}/{site}"
    if chain_length < checkpoint.seq:
        return (
            f"chain ends at seq {chain_length} but the checkpoint signed seq {checkpoint.seq}: "
            "events were removed from the end"
        )
    if hash_at_seq != checkpoint.hash:
        return f"event {checkpoint.seq} is not the one the checkpoint signed"
    return None
