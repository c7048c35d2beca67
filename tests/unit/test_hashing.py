"""Known-answer vectors pin the canonical form (docs/data-model.md is the contract)."""

from __future__ import annotations

import hashlib

import pytest

from dispatcher.domain.hashing import GENESIS_HASH, canonical_json, digest, is_tagged_digest


def test_canonical_json_sorts_keys_at_every_level_without_spaces() -> None:
    value = {"b": 1, "a": {"d": [3, {"z": None, "y": True}], "c": "x"}}
    assert canonical_json(value) == '{"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}'


def test_canonical_json_writes_non_ascii_as_utf8() -> None:
    assert canonical_json({"name": "Jürgen Öztürk"}) == '{"name":"Jürgen Öztürk"}'


@pytest.mark.parametrize("bad", [1.5, {"a": [0.0]}, float("nan")])
def test_canonical_json_refuses_floats(bad: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


def test_digest_is_tagged_sha256_of_utf8_canonical_bytes() -> None:
    expected = "sha256:" + hashlib.sha256('{"a":"ä","b":[1,2]}'.encode()).hexdigest()
    assert digest({"b": [1, 2], "a": "ä"}) == expected


def test_genesis_is_sha256_prefix_and_64_zeros() -> None:
    assert GENESIS_HASH == "sha256:" + "0" * 64
    assert is_tagged_digest(GENESIS_HASH)
    assert not is_tagged_digest("sha256:abc")
