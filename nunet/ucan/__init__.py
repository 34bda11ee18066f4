"""Capability tokens (UCAN-style): who may invoke which behavior, by signed delegation chains."""

from nunet.ucan.anchor_file import FileAnchorStore, anchor_path
from nunet.ucan.anchors import Anchors, AnchorStore, MemoryAnchorStore
from nunet.ucan.behavior import PUBLIC, check_path, check_topic, covers, is_public
from nunet.ucan.cache import ChainCache
from nunet.ucan.chain import VerifiedChain, check_delegation, verify_chain
from nunet.ucan.context import CapabilityContext
from nunet.ucan.delegation import delegate, grant
from nunet.ucan.errors import AnchorError, CapabilityDenied, CapabilityError, MalformedToken
from nunet.ucan.expiry import parse_expiry
from nunet.ucan.revocation import (
    Revocation,
    decode_revocation,
    is_token_id,
    revocation_from_text,
    revoke,
)
from nunet.ucan.token import Token, decode_token, token_from_text, token_id, token_text

__all__ = [
    "PUBLIC",
    "AnchorError",
    "AnchorStore",
    "Anchors",
    "CapabilityContext",
    "CapabilityDenied",
    "CapabilityError",
    "ChainCache",
    "FileAnchorStore",
    "MalformedToken",
    "MemoryAnchorStore",
    "Revocation",
    "Token",
    "VerifiedChain",
    "anchor_path",
    "check_delegation",
    "check_path",
    "check_topic",
    "covers",
    "decode_revocation",
    "decode_token",
    "delegate",
    "grant",
    "is_public",
    "is_token_id",
    "parse_expiry",
    "revocation_from_text",
    "revoke",
    "token_from_text",
    "token_id",
    "token_text",
    "verify_chain",
]
