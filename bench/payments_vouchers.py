"""Payment vouchers issued and verified per second: the requester builds and signs the next
cumulative voucher, the provider's channel end checks and keeps it (`ProviderChannel.take`:
decode, issuer, contract and channel binding, Ed25519 signature, seq and total monotonic,
budget). Peer: the floor under it, PyNaCl Ed25519 sign + verify of the very bytes our
vouchers sign, with no encoding, decoding or checks.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nacl.signing
from _common import Stopwatch, report

from nunet.contracts import ContractTerms, PaymentVoucher, sign
from nunet.contracts.channel import ProviderChannel
from nunet.contracts.documents import signed_bytes
from nunet.identity import KeyPair

N = 10_000
REQUESTER = KeyPair.generate()
PROVIDER = KeyPair.generate()
TERMS = ContractTerms(
    contract_id=secrets.token_hex(16),
    channel=secrets.token_hex(16),
    requester=REQUESTER.did,
    provider=PROVIDER.did,
    deployment="bench",
    node="worker",
    budget=10**15,
    proposed_at=time.time(),
)
STEP = 1_250  # micro-units each voucher adds


def issue_and_verify() -> float:
    """Vouchers per second: each one built, signed, then taken by a fresh provider end."""
    provider = ProviderChannel(TERMS)
    start = time.time()
    with Stopwatch() as watch:
        for seq in range(1, N + 1):
            voucher = PaymentVoucher(
                contract_id=TERMS.contract_id,
                channel=TERMS.channel,
                seq=seq,
                amount=seq * STEP,
                issued_at=start + seq,
            )
            provider.take(sign(voucher, REQUESTER), start + seq)
    assert provider.paid == N * STEP
    return N / watch.seconds


def raw_sign_and_verify(messages: list[bytes]) -> float:
    """Sign + verify per second of `messages` with PyNaCl directly."""
    signing = nacl.signing.SigningKey(REQUESTER.seed)
    verifying = signing.verify_key
    with Stopwatch() as watch:
        for message in messages:
            verifying.verify(message, signing.sign(message).signature)
    return len(messages) / watch.seconds


def voucher_messages() -> list[bytes]:
    """The exact bytes the benchmark's vouchers sign."""
    start = time.time()
    return [
        signed_bytes("voucher", sign(voucher, REQUESTER).body)
        for voucher in (
            PaymentVoucher(
                contract_id=TERMS.contract_id,
                channel=TERMS.channel,
                seq=seq,
                amount=seq * STEP,
                issued_at=start + seq,
            )
            for seq in range(1, N + 1)
        )
    ]


def main() -> None:
    messages = voucher_messages()
    ours = max(issue_and_verify() for _ in range(3))
    peer = max(raw_sign_and_verify(messages) for _ in range(3))
    print(f"per voucher: {1e6 / ours:.1f} us issued+verified vs {1e6 / peer:.1f} us raw floor")
    report("payments_vouchers", ours, "vouchers/s", "pynacl-ed25519-sign+verify", peer)


if __name__ == "__main__":
    main()
