"""What two nodes' contracts actors say to each other, and what the node's user asks of its own.

The proposal itself travels in the deployment's `Commit` (and the accepted contract back in
`Committed`): a provider signs a contract before it reserves anything. After that:

- provider -> requester, `DEBIT_BEHAVIOR`: a signed `DebitNote` every payment interval (and a
  final one when the work ends); the answer is a `DebitAnswer`: the signed voucher paying what
  the requester agrees it owes, and/or the signed dispute refusing the rest (work not done).
  A note sent again (its answer was lost) gets the same answer again.
- either -> the other, `TERMINATE_BEHAVIOR`: a signed `Termination`.
- provider -> requester, `SETTLE_BEHAVIOR`: the final voucher was redeemed on the ledger.

Node-local behaviors (the user agent asks them; `nunet contracts|payments ...`) are under
`/dms/node/contracts/` and `/dms/node/payments/`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nunet.contracts.documents import Signed
from nunet.contracts.terms import ContractId

CONTRACTS_ACTOR_ID = "contracts"
"""On every node: its contracts as requester and as provider, and its payment channels."""

DEBIT_BEHAVIOR = "/dms/contracts/debit"
TERMINATE_BEHAVIOR = "/dms/contracts/terminate"
SETTLE_BEHAVIOR = "/dms/contracts/settle"

LIST_BEHAVIOR = "/dms/node/contracts/list"
SHOW_BEHAVIOR = "/dms/node/contracts/show"
USER_TERMINATE_BEHAVIOR = "/dms/node/contracts/terminate"
PAYMENTS_LIST_BEHAVIOR = "/dms/node/payments/list"
PAYMENTS_SHOW_BEHAVIOR = "/dms/node/payments/show"
PAYMENTS_EXPORT_BEHAVIOR = "/dms/node/payments/export"

Reason = Annotated[str, msgspec.Meta(max_length=1024)]


class Debit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    contract_id: ContractId
    note: Signed


class DebitAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """`voucher`: pays what the requester agrees to (None when that adds nothing to what it
    already promised); `dispute`: refuses the rest of the note as charging for work not done."""

    voucher: Signed | None = None
    dispute: Signed | None = None


class TerminateNotice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    contract_id: ContractId
    termination: Signed
    paid: Annotated[int, msgspec.Meta(ge=0)] = 0  # the latest voucher the sender knows of


class SettleNotice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    contract_id: ContractId
    voucher: Signed | None = None  # the voucher redeemed; None: nothing was owed
    ledger: Annotated[str, msgspec.Meta(max_length=64)]
    reference: Annotated[str, msgspec.Meta(max_length=512)]


class ContractAsk(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`show` or `terminate` one contract (an id prefix of at least 6 characters will do)."""

    contract: Annotated[str, msgspec.Meta(min_length=6, max_length=32, pattern=r"^[0-9a-f]+$")]
    reason: Reason = ""


class ContractQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`list`: contracts (and payments) filtered by role, status, counterparty or deployment."""

    role: Literal["requester", "provider", ""] = ""
    status: Annotated[str, msgspec.Meta(max_length=32)] = ""
    counterparty: Annotated[str, msgspec.Meta(max_length=256)] = ""
    deployment: Annotated[str, msgspec.Meta(max_length=64)] = ""
