"""The signed documents two parties exchange: the contract, debit notes, payment vouchers,
disputes and terminations.

Each travels as the exact msgpack bytes its signer signed (`Signed`), so anyone it is shown to
later — the other party, an auditor reading either log — verifies the very bytes that were
signed. Every signature is over a per-kind context, so a signature on one kind of document can
never pass for another.

The contract carries two signatures over the same terms: the requester's (proposing) and the
provider's (accepting). A debit note is the provider's, a voucher, a dispute the requester's; a
termination is signed by whichever party ends the contract.
"""

from __future__ import annotations

from hashlib import sha256
from typing import Annotated, Literal, TypeVar

import msgspec

from nunet.contracts.amount import Amount
from nunet.contracts.errors import BadDocument
from nunet.contracts.terms import ChannelId, ContractId, ContractTerms, Metered
from nunet.identity import IdentityError, KeyPair, verify_signature

Kind = Literal["proposal", "acceptance", "debit-note", "voucher", "dispute", "termination"]
Signature = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
Body = Annotated[bytes, msgspec.Meta(max_length=64 * 1024)]
Reason = Annotated[str, msgspec.Meta(max_length=1024)]
Sequence = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Instant = Annotated[float, msgspec.Meta(ge=0)]

_CONTEXT = b"nunet/contract/v1\x00"


class DebitNote(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Provider -> requester: what the work has cost so far. `usage` and `amount` are
    cumulative since the contract began; `seq` grows by one per note; `final` on the note sent
    when the work has ended."""

    contract_id: ContractId
    channel: ChannelId
    seq: Sequence
    usage: Metered
    amount: Amount
    issued_at: Instant
    final: bool = False


class PaymentVoucher(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Requester -> provider: a promise of `amount` in total (cumulative, never lower than an
    earlier voucher's) on `channel`, redeemable on the ledger. `seq` grows with every voucher;
    `note_seq` is the debit note it answers (0: sent on its own)."""

    contract_id: ContractId
    channel: ChannelId
    seq: Sequence
    amount: Amount
    note_seq: Annotated[int, msgspec.Meta(ge=0)] = 0
    issued_at: Instant


class DebitDispute(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Requester -> provider: debit note `note_seq` charges for work not done; `reason` says how
    (the requester then pays at most `accepted`, what it agrees was done)."""

    contract_id: ContractId
    channel: ChannelId
    note_seq: Sequence
    reason: Reason
    accepted: Amount = 0
    issued_at: Instant


class Termination(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Either party ends the contract; the work stops at `effective_at` (after the notice)."""

    contract_id: ContractId
    by: Annotated[str, msgspec.Meta(max_length=256)]  # DID of the party ending it; the signer
    reason: Reason
    issued_at: Instant
    effective_at: Instant


class Signed(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A document's bytes and its signer's signature over them (in `kind`'s context)."""

    kind: Kind
    body: Body
    signer: Annotated[str, msgspec.Meta(max_length=256)]
    signature: Signature


class SignedContract(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The contract's terms with the requester's signature and, once accepted, the provider's."""

    terms: Body
    requester_signature: Signature
    provider_signature: bytes = b""  # empty: proposed, not accepted yet

    @property
    def digest(self) -> bytes:
        """SHA-256 of the terms: what both logs' events name the exact contract by."""
        return sha256(self.terms).digest()


D = TypeVar("D", DebitNote, PaymentVoucher, DebitDispute, Termination)

_encode = msgspec.msgpack.Encoder().encode
_KINDS: dict[type, Kind] = {
    DebitNote: "debit-note",
    PaymentVoucher: "voucher",
    DebitDispute: "dispute",
    Termination: "termination",
}
_DECODERS: dict[type, msgspec.msgpack.Decoder[object]] = {}
_terms_decoder = msgspec.msgpack.Decoder(ContractTerms)


def signed_bytes(kind: Kind, body: bytes) -> bytes:
    """The bytes a signature of a `kind` document over `body` covers."""
    return _CONTEXT + kind.encode() + b"\x00" + body


# -- the contract --------------------------------------------------------------------------------
def propose(terms: ContractTerms, key: KeyPair) -> SignedContract:
    """The requester signs `terms`."""
    if terms.requester != key.did:
        raise ValueError(f"terms name requester {terms.requester}, but the key is {key.did}")
    body = _encode(terms)
    return SignedContract(terms=body, requester_signature=key.sign(signed_bytes("proposal", body)))


def accept(contract: SignedContract, key: KeyPair) -> SignedContract:
    """The provider signs a proposal it has checked (see `open_contract`)."""
    terms = contract_terms(contract)
    if terms.provider != key.did:
        raise ValueError(f"terms name provider {terms.provider}, but the key is {key.did}")
    signature = key.sign(signed_bytes("acceptance", contract.terms))
    return SignedContract(
        terms=contract.terms,
        requester_signature=contract.requester_signature,
        provider_signature=signature,
    )


def contract_terms(contract: SignedContract) -> ContractTerms:
    """The terms, decoded; BadDocument naming what is wrong (no signature is checked)."""
    try:
        return _terms_decoder.decode(contract.terms)
    except msgspec.DecodeError as exc:
        raise BadDocument(f"contract terms: {exc}") from None


def open_contract(contract: SignedContract, *, accepted: bool = True) -> ContractTerms:
    """The terms after checking the requester's signature and, when `accepted`, the
    provider's; BadDocument naming the one that fails."""
    terms = contract_terms(contract)
    _verify(terms.requester, "proposal", contract.terms, contract.requester_signature)
    if accepted:
        if not contract.provider_signature:
            raise BadDocument(f"contract {terms.contract_id} is not signed by its provider")
        _verify(terms.provider, "acceptance", contract.terms, contract.provider_signature)
    return terms


# -- notes, vouchers, disputes, terminations -----------------------------------------------------
def sign(document: D, key: KeyPair) -> Signed:
    kind = _KINDS[type(document)]
    body = _encode(document)
    return Signed(
        kind=kind, body=body, signer=key.did, signature=key.sign(signed_bytes(kind, body))
    )


def open_signed(signed: Signed, cls: type[D], terms: ContractTerms) -> D:
    """The document after checking it is a `cls`, signed by the party of `terms` who issues
    such documents, and bound to `terms`'s contract (and channel); BadDocument otherwise."""
    kind = _KINDS[cls]
    if signed.kind != kind:
        raise BadDocument(f"expected a {kind}, got a {signed.kind}")
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = msgspec.msgpack.Decoder(cls)
    try:
        document: D = decoder.decode(signed.body)  # type: ignore[assignment]
    except msgspec.DecodeError as exc:
        raise BadDocument(f"{kind}: {exc}") from None
    issuer = _issuer(document, terms)
    if signed.signer != issuer:
        raise BadDocument(
            f"{kind} for contract {terms.contract_id} is signed by {signed.signer}, "
            f"but only {issuer} issues them"
        )
    if document.contract_id != terms.contract_id:
        raise BadDocument(f"{kind} is for contract {document.contract_id}, not {terms.contract_id}")
    channel = getattr(document, "channel", terms.channel)
    if channel != terms.channel:
        raise BadDocument(
            f"{kind} is for channel {channel}, not contract {terms.contract_id}'s {terms.channel}"
        )
    _verify(issuer, kind, signed.body, signed.signature)
    return document


def _issuer(document: object, terms: ContractTerms) -> str:
    if isinstance(document, DebitNote):
        return terms.provider
    if isinstance(document, Termination):
        if document.by not in (terms.requester, terms.provider):
            raise BadDocument(
                f"termination of contract {terms.contract_id} is by {document.by}, "
                "who is not a party to it"
            )
        return document.by
    return terms.requester


def _verify(did: str, kind: Kind, body: bytes, signature: bytes) -> None:
    try:
        verify_signature(did, signed_bytes(kind, body), signature)
    except IdentityError as exc:
        raise BadDocument(f"{kind} signature: {exc}") from None
