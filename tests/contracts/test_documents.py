"""Signed contract documents: round trips, and every way a signature or binding can be wrong."""

from __future__ import annotations

from hashlib import sha256
from typing import get_args

import msgspec
import pytest

from nunet.contracts import (
    BadDocument,
    ContractTerms,
    DebitDispute,
    DebitNote,
    Metered,
    PaymentVoucher,
    Signed,
    SignedContract,
    Termination,
    accept,
    open_contract,
    open_signed,
    propose,
    sign,
)
from nunet.contracts.documents import Kind, signed_bytes
from nunet.identity import KeyPair

REQUESTER = KeyPair.generate()
PROVIDER = KeyPair.generate()
STRANGER = KeyPair.generate()
TERMS = ContractTerms(
    contract_id="c" * 32,
    channel="d" * 32,
    requester=REQUESTER.did,
    provider=PROVIDER.did,
    deployment="dep",
    node="node-1",
    budget=5_000_000,
    proposed_at=100.0,
)
OTHER_CONTRACT = "e" * 32
OTHER_CHANNEL = "f" * 32

Document = DebitNote | PaymentVoucher | DebitDispute | Termination


def seal(document: Document, key: KeyPair) -> Signed:
    return sign(document, key)  # type: ignore[type-var]  # any one of sign's document types


def unseal(signed: Signed, cls: type[Document]) -> Document:
    return open_signed(signed, cls, TERMS)  # type: ignore[type-var]


def documents(
    contract_id: str = TERMS.contract_id, channel: str = TERMS.channel
) -> dict[str, tuple[Document, KeyPair]]:
    """One document of each kind and the key of the party that issues it."""
    return {
        "debit-note": (
            DebitNote(
                contract_id=contract_id,
                channel=channel,
                seq=1,
                usage=Metered(cpu_ms=10, wall_ms=10, runs=1),
                amount=7,
                issued_at=1.0,
            ),
            PROVIDER,
        ),
        "voucher": (
            PaymentVoucher(
                contract_id=contract_id, channel=channel, seq=1, amount=7, issued_at=2.0
            ),
            REQUESTER,
        ),
        "dispute": (
            DebitDispute(
                contract_id=contract_id,
                channel=channel,
                note_seq=1,
                reason="never ran",
                issued_at=3.0,
            ),
            REQUESTER,
        ),
        "termination": (
            Termination(
                contract_id=contract_id,
                by=PROVIDER.did,
                reason="budget spent",
                issued_at=4.0,
                effective_at=4.0,
            ),
            PROVIDER,
        ),
    }


KINDS = sorted(documents())


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_document_opens_to_itself(kind: str) -> None:
    document, key = documents()[kind]
    signed = seal(document, key)
    assert (signed.kind, signed.signer) == (kind, key.did)
    assert unseal(signed, type(document)) == document


@pytest.mark.parametrize("kind", KINDS)
def test_a_signed_document_still_opens_after_travelling_as_msgpack(kind: str) -> None:
    document, key = documents()[kind]
    wire = msgspec.msgpack.encode(seal(document, key))
    assert unseal(msgspec.msgpack.decode(wire, type=Signed), type(document)) == document


def test_either_party_may_sign_a_termination_of_its_own() -> None:
    ending = Termination(
        contract_id=TERMS.contract_id,
        by=REQUESTER.did,
        reason="asked by a user",
        issued_at=1.0,
        effective_at=1.0,
    )
    assert open_signed(sign(ending, REQUESTER), Termination, TERMS) == ending


# -- a signature of one kind never passes for another --------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_document_is_opened_only_as_its_own_kind(kind: str) -> None:
    document, key = documents()[kind]
    signed = seal(document, key)
    for other in KINDS:
        if other != kind:
            cls = type(documents()[other][0])
            with pytest.raises(BadDocument, match=f"expected a {other}, got a {kind}"):
                unseal(signed, cls)


ALL_KINDS: tuple[Kind, ...] = get_args(Kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signed_as", ALL_KINDS)
def test_a_signature_made_in_another_kinds_context_does_not_verify(
    kind: str, signed_as: Kind
) -> None:
    document, key = documents()[kind]
    genuine = seal(document, key)
    if signed_as == kind:
        assert unseal(genuine, type(document)) == document
        return
    relabelled = msgspec.structs.replace(
        genuine, signature=key.sign(signed_bytes(signed_as, genuine.body))
    )
    with pytest.raises(BadDocument, match=f"{kind} signature"):
        unseal(relabelled, type(document))


# -- tampering -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_tampered_body_does_not_verify(kind: str) -> None:
    document, key = documents()[kind]
    genuine = seal(document, key)
    changed = msgspec.structs.replace(document, issued_at=document.issued_at + 1)
    forged = msgspec.structs.replace(genuine, body=msgspec.msgpack.encode(changed))
    with pytest.raises(BadDocument, match=f"{kind} signature"):
        unseal(forged, type(document))


@pytest.mark.parametrize("kind", KINDS)
def test_a_tampered_signature_does_not_verify(kind: str) -> None:
    document, key = documents()[kind]
    genuine = seal(document, key)
    flipped = bytes([genuine.signature[0] ^ 1]) + genuine.signature[1:]
    with pytest.raises(BadDocument, match=f"{kind} signature"):
        unseal(msgspec.structs.replace(genuine, signature=flipped), type(document))


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_is_not_the_document_is_bad_naming_the_kind(kind: str) -> None:
    document, key = documents()[kind]
    garbage = msgspec.structs.replace(seal(document, key), body=b"\x93\x01\x02\x03")
    with pytest.raises(BadDocument, match=f"^{kind}: "):
        unseal(garbage, type(document))


@pytest.mark.parametrize("kind", ["debit-note", "voucher", "dispute"])  # termination: below
def test_a_document_signed_by_a_stranger_is_bad(kind: str) -> None:
    document, _ = documents()[kind]
    with pytest.raises(BadDocument, match=f"signed by {STRANGER.did}, but only"):
        unseal(seal(document, STRANGER), type(document))


@pytest.mark.parametrize("kind", KINDS)
def test_a_document_claiming_its_issuer_but_signed_by_a_stranger_is_bad(kind: str) -> None:
    document, key = documents()[kind]
    forged = msgspec.structs.replace(seal(document, STRANGER), signer=key.did)
    with pytest.raises(BadDocument, match=f"{kind} signature"):
        unseal(forged, type(document))


@pytest.mark.parametrize("kind", ["debit-note", "voucher", "dispute"])
def test_a_document_signed_by_the_other_party_is_bad(kind: str) -> None:
    document, key = documents()[kind]
    other = REQUESTER if key is PROVIDER else PROVIDER
    with pytest.raises(BadDocument, match=f"signed by {other.did}, but only {key.did} issues"):
        unseal(seal(document, other), type(document))


def test_a_termination_by_one_party_signed_by_the_other_is_bad() -> None:
    ending = Termination(
        contract_id=TERMS.contract_id, by=PROVIDER.did, reason="x", issued_at=1, effective_at=1
    )
    with pytest.raises(BadDocument, match=f"signed by {REQUESTER.did}, but only {PROVIDER.did}"):
        open_signed(sign(ending, REQUESTER), Termination, TERMS)


def test_a_termination_by_a_non_party_is_bad() -> None:
    ending = Termination(
        contract_id=TERMS.contract_id, by=STRANGER.did, reason="x", issued_at=1, effective_at=1
    )
    with pytest.raises(BadDocument, match=f"is by {STRANGER.did}, who is not a party to it"):
        open_signed(sign(ending, STRANGER), Termination, TERMS)


# -- binding to the contract ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_validly_signed_document_of_another_contract_is_bad(kind: str) -> None:
    document, key = documents(contract_id=OTHER_CONTRACT)[kind]
    with pytest.raises(
        BadDocument, match=f"{kind} is for contract {OTHER_CONTRACT}, not {TERMS.contract_id}"
    ):
        unseal(seal(document, key), type(document))


@pytest.mark.parametrize("kind", ["debit-note", "voucher", "dispute"])
def test_a_validly_signed_document_of_another_channel_is_bad(kind: str) -> None:
    document, key = documents(channel=OTHER_CHANNEL)[kind]
    with pytest.raises(BadDocument, match=f"{kind} is for channel {OTHER_CHANNEL}, not"):
        unseal(seal(document, key), type(document))


# -- the contract --------------------------------------------------------------------------------
def test_a_proposal_accepted_opens_to_its_terms_with_both_signatures() -> None:
    proposal = propose(TERMS, REQUESTER)
    assert proposal.provider_signature == b""
    assert open_contract(proposal, accepted=False) == TERMS
    contract = accept(proposal, PROVIDER)
    assert open_contract(contract) == TERMS
    assert contract.digest == sha256(contract.terms).digest() == proposal.digest


def test_a_proposal_is_not_an_accepted_contract() -> None:
    with pytest.raises(BadDocument, match="is not signed by its provider"):
        open_contract(propose(TERMS, REQUESTER))


def test_the_requesters_proposal_signature_does_not_pass_as_the_providers_acceptance() -> None:
    proposal = propose(TERMS, REQUESTER)
    forged = msgspec.structs.replace(proposal, provider_signature=proposal.requester_signature)
    with pytest.raises(BadDocument, match="acceptance signature"):
        open_contract(forged)


def test_a_provider_signature_in_the_proposal_context_is_not_an_acceptance() -> None:
    proposal = propose(TERMS, REQUESTER)
    wrong = PROVIDER.sign(signed_bytes("proposal", proposal.terms))
    with pytest.raises(BadDocument, match="acceptance signature"):
        open_contract(msgspec.structs.replace(proposal, provider_signature=wrong))


def test_an_acceptance_signature_does_not_pass_as_the_proposal() -> None:
    contract = accept(propose(TERMS, REQUESTER), PROVIDER)
    wrong = REQUESTER.sign(signed_bytes("acceptance", contract.terms))
    with pytest.raises(BadDocument, match="proposal signature"):
        open_contract(msgspec.structs.replace(contract, requester_signature=wrong))


def test_tampered_terms_do_not_verify() -> None:
    contract = accept(propose(TERMS, REQUESTER), PROVIDER)
    richer = msgspec.structs.replace(TERMS, budget=TERMS.budget * 2 if TERMS.budget else 1)
    forged = msgspec.structs.replace(contract, terms=msgspec.msgpack.encode(richer))
    with pytest.raises(BadDocument, match="proposal signature"):
        open_contract(forged)


def test_terms_that_do_not_decode_are_bad() -> None:
    contract = SignedContract(terms=b"\xc1", requester_signature=bytes(64))
    with pytest.raises(BadDocument, match=r"^contract terms: "):
        open_contract(contract)


def test_only_the_named_requester_proposes_and_only_the_named_provider_accepts() -> None:
    with pytest.raises(ValueError, match="terms name requester"):
        propose(TERMS, STRANGER)
    with pytest.raises(ValueError, match="terms name provider"):
        accept(propose(TERMS, REQUESTER), STRANGER)
