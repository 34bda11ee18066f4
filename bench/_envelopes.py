"""Envelope fixtures for the codec benchmarks, and the peer: a JSON + Ed25519 envelope codec.

The peer is what a Python service commonly does: `json.dumps(sort_keys=True)` of the envelope as
a dict, signed with the same PyNaCl Ed25519 key, verified and parsed back on receipt.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import nacl.signing

from nunet.actor import Envelope, Handle
from nunet.identity import KeyPair

SENDER = KeyPair.generate()
RECIPIENT = KeyPair.generate()
PAYLOAD = {"allocation": "web-1", "resources": {"cpu": 2, "ram": 4 << 30}, "labels": ["gpu", "eu"]}
VERIFY_KEY = nacl.signing.VerifyKey(SENDER.public_key)


def sample(i: int) -> Envelope:
    return Envelope.create(
        Handle(SENDER.did, "orchestrator", SENDER.did),
        Handle(RECIPIENT.did, "node", RECIPIENT.did),
        "/dms/deployment/bid",
        PAYLOAD,
        reply_to="/dms/actor/replyto/0011223344556677",
        nonce=i.to_bytes(16, "big"),
    )


def json_seal(envelope: Envelope) -> bytes:
    body = json.dumps(
        {
            "sender": [envelope.sender.did, envelope.sender.actor, envelope.sender.node],
            "recipient": [
                envelope.recipient.did,
                envelope.recipient.actor,
                envelope.recipient.node,
            ],
            "behavior": envelope.behavior,
            "payload": envelope.payload,
            "nonce": base64.b64encode(envelope.nonce).decode(),
            "created_at": envelope.created_at,
            "expires_at": envelope.expires_at,
            "reply_to": envelope.reply_to,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    signature = SENDER.sign(body)
    return json.dumps({"body": body.decode(), "sig": base64.b64encode(signature).decode()}).encode()


def json_unseal(data: bytes) -> dict[str, Any]:
    wire = json.loads(data)
    body = wire["body"].encode()
    VERIFY_KEY.verify(body, base64.b64decode(wire["sig"]))
    result: dict[str, Any] = json.loads(body)
    if result["expires_at"] < time.time_ns():
        raise ValueError("expired")
    return result
