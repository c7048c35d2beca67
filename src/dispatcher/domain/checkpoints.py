"""Signed checkpoints of the audit chain: what is signed, and what a later chain must show.

A hash chain proves that no event inside it was edited, removed or reordered, but not that the
newest events are still there: an insider who cuts the tail leaves a shorter, valid chain. A
checkpoint signs (tenant, site, seq, hash) of the tips of every chain a site depends on (its
own, its tenant's user registry, the platform's) at one moment with a key the database does not
hold; later each chain must still contain its signed event with that hash. Pure: the
signature itself is made and checked by services/checkpoints.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.hashing import canonical_json, is_tagged_digest

CHECKPOINT_FORMAT = "dispatcher.checkpoint/2"  # every chain the site depends on
SITE_ONLY_FORMAT = "dispatcher.checkpoint/1"  # older files: the site's chain alone
HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class ChainTip:
    """One chain's newest event when the checkpoint was signed."""

    tenant: str
    site: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """Signed tips of the chains a site depends on: its own, its tenant's user registry and the
    platform's (each one that has events). `tenant`/`site` name the site it was made for."""

    tenant: str
    site: str
    chains: tuple[ChainTip, ...]
    signed_at: str
    public_key: str  # hex of the raw 32-byte Ed25519 public key
    signature: str  # hex of the 64-byte Ed25519 signature over `payload()`
    format: str = CHECKPOINT_FORMAT

    @property
    def site_tip(self) -> ChainTip:
        return next(c for c in self.chains if (c.tenant, c.site) == (self.tenant, self.site))

    def payload(self) -> bytes:
        """The exact bytes signed: canonical JSON of everything but the signature."""
        if self.format == SITE_ONLY_FORMAT:
            tip = self.site_tip
            return signed_site_payload(self.tenant, self.site, tip.seq, tip.hash, self.signed_at)
        return signed_payload(self.tenant, self.site, self.chains, self.signed_at)

    def as_json(self) -> str:
        document = {
            "format": self.format,
            "tenant": self.tenant,
            "site": self.site,
            "chains": [asdict(c) for c in self.chains],
            "signed_at": self.signed_at,
            "public_key": self.public_key,
            "signature": self.signature,
        }
        return json.dumps(document, indent=2) + "\n"


def signed_payload(tenant: str, site: str, chains: tuple[ChainTip, ...], signed_at: str) -> bytes:
    document = {
        "format": CHECKPOINT_FORMAT,
        "tenant": tenant,
        "site": site,
        "chains": [asdict(c) for c in chains],
        "signed_at": signed_at,
    }
    return canonical_json(document).encode("utf-8")


def signed_site_payload(tenant: str, site: str, seq: int, hash_: str, signed_at: str) -> bytes:
    """What a dispatcher.checkpoint/1 file signed (read, never written any more)."""
    document = {
        "format": SITE_ONLY_FORMAT,
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


def _tip(name: str, entry: Any, tenant: str, site: str) -> ChainTip:
    if not isinstance(entry, dict):
        raise InvalidInput(f"{name}: each chain must be an object")
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise InvalidInput(f"{name}: seq must be a positive integer")
    hash_ = entry.get("hash")
    if not isinstance(hash_, str) or not is_tagged_digest(hash_):
        raise InvalidInput(f"{name}: hash must be sha256: and 64 hex digits")
    return ChainTip(tenant, site, seq, hash_)


def parse_checkpoint(text: str, name: str) -> Checkpoint:
    """A checkpoint file's contents, checked field by field (one-line errors)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{name} is not a checkpoint file (not JSON)") from None
    formats = (CHECKPOINT_FORMAT, SITE_ONLY_FORMAT)
    if not isinstance(doc, dict) or doc.get("format") not in formats:
        raise InvalidInput(f"{name} is not a checkpoint file (format {CHECKPOINT_FORMAT} expected)")
    fields = {}
    for key in ("tenant", "site", "signed_at"):
        value = doc.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{name}: {key} is missing")
        fields[key] = value
    tenant, site = fields["tenant"], fields["site"]
    if doc["format"] == SITE_ONLY_FORMAT:
        chains: tuple[ChainTip, ...] = (_tip(name, doc, tenant, site),)
    else:
        listed = doc.get("chains")
        if not isinstance(listed, list) or not listed:
            raise InvalidInput(f"{name}: chains must list the signed chains")
        chains = tuple(
            _tip(name, entry, str(entry.get("tenant")), str(entry.get("site")))
            if isinstance(entry, dict)
            else _tip(name, entry, "", "")
            for entry in listed
        )
        if (tenant, site) not in {(c.tenant, c.site) for c in chains}:
            raise InvalidInput(f"{name}: the chain of {tenant}/{site} is not among its chains")
    return Checkpoint(
        tenant=tenant,
        site=site,
        chains=chains,
        signed_at=fields["signed_at"],
        public_key=_hex(doc.get("public_key"), 64, "public_key"),
        signature=_hex(doc.get("signature"), 128, "signature"),
        format=str(doc["format"]),
    )


def chain_label(tenant: str, site: str) -> str:
    if tenant == "*":
        return "the platform's chain"
    return f"the {tenant} user registry's chain" if site == "*" else f"{tenant}/{site}'s chain"


def extension_problem(tip: ChainTip, chain_length: int, hash_at_seq: str | None) -> str | None:
    """Why the current chain does not extend the signed tip, or None when it does."""
    label = chain_label(tip.tenant, tip.site)
    if chain_length < tip.seq:
        return (
            f"{label} ends at seq {chain_length} but the checkpoint signed seq {tip.seq}: "
            "events were removed from the end"
        )
    if hash_at_seq != tip.hash:
        return f"event {tip.seq} of {label} is not the one the checkpoint signed"
    return None
