from __future__ import annotations

import msgspec
import pytest

from nunet.identity import KeyPair
from nunet.ucan import (
    CapabilityDenied,
    CapabilityError,
    MalformedToken,
    decode_token,
    delegate,
    grant,
    token_from_text,
    token_id,
)
from nunet.ucan.token import MAX_TOKEN_BYTES

from .conftest import HOUR, NOW


def test_a_granted_token_round_trips_through_bytes_and_text(node: KeyPair, alice: KeyPair) -> None:
    token = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    assert decode_token(token.encoded) == token
    again = token_from_text(token.text())
    assert again == token
    assert again.issuer == again.subject == node.did
    assert again.audience == alice.did
    assert again.capabilities == ("/dms",)
    assert again.id == token_id(token.encoded)


def test_text_form_tolerates_line_breaks_from_copy_and_paste(node: KeyPair, alice: KeyPair) -> None:
    token = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    text = token.text()
    wrapped = "\n".join(text[i : i + 60] for i in range(0, len(text), 60))
    assert token_from_text(wrapped) == token


def test_each_grant_gets_a_fresh_nonce_and_so_a_distinct_id(node: KeyPair, alice: KeyPair) -> None:
    a = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    b = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    assert a.id != b.id


def test_chain_lists_the_root_first(node: KeyPair, alice: KeyPair, bob: KeyPair) -> None:
    root = grant(
        node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW, depth=1
    )
    child = delegate(root, alice, audience=bob.did, capabilities=["/dms/node"], now=NOW)
    assert [t.id for t in child.chain()] == [root.id, child.id]
    assert child.proof == root
    assert child.describe()["chain_length"] == 2


@pytest.mark.parametrize("text", ["", "   ", "not base64!!", "AAAA", "aGVsbG8"])
def test_malformed_token_text_is_a_clear_malformed_token_error(text: str) -> None:
    with pytest.raises(MalformedToken):
        token_from_text(text)


def test_malformed_token_is_a_kind_of_denial() -> None:
    assert issubclass(MalformedToken, CapabilityDenied)
    assert issubclass(CapabilityDenied, CapabilityError)


def test_non_canonical_encoding_is_rejected(node: KeyPair, alice: KeyPair) -> None:
    token = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    body, signature = msgspec.msgpack.decode(token.encoded)
    # The same pair, but as a map instead of an array: decodes to the same values, other bytes.
    fields = msgspec.msgpack.decode(body)
    fields[7] = int(fields[7])  # expiry as an int rather than a float64
    reencoded = msgspec.msgpack.encode([msgspec.msgpack.encode(fields), signature])
    with pytest.raises(MalformedToken, match="canonical"):
        decode_token(reencoded)


def test_oversized_tokens_are_rejected_before_parsing() -> None:
    with pytest.raises(MalformedToken, match="at most"):
        decode_token(b"\x92" + b"\x00" * MAX_TOKEN_BYTES)


def test_a_token_must_be_bytes() -> None:
    with pytest.raises(MalformedToken, match="bytes"):
        decode_token("text")  # type: ignore[arg-type]
