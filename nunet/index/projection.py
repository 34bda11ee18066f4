"""The index as a projection of one node's own log (a node alone, or a swarm in memory mode).

The log is the node's, so its owner's DID is the `node` of every event applied. The state is
stored as an `IndexSnapshot` (msgpack) and rebuilt from it.
"""

from __future__ import annotations

import msgspec
import structlog

from nunet.eventlog import Catalogue, EventRecord, Projection
from nunet.index.follow import apply_record, index_catalogue
from nunet.index.index import INDEXED_TYPES, CapabilityIndex, IndexSnapshot

log = structlog.get_logger("nunet.index")


class IndexProjection(Projection[CapabilityIndex]):
    """The capability index over the log owned by `owner` (its DID)."""

    name = "capability-index"
    types = INDEXED_TYPES

    def __init__(self, owner: str, catalogue: Catalogue | None = None) -> None:
        # The state is not a msgspec type: encode_state/decode_state go through IndexSnapshot.
        self.owner = owner
        self._catalogue = catalogue or index_catalogue()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(IndexSnapshot)

    def initial(self) -> CapabilityIndex:
        return CapabilityIndex()

    def evolve(self, state: CapabilityIndex, record: EventRecord) -> CapabilityIndex:
        reason = apply_record(state, self._catalogue, self.owner, record)
        if reason is not None:
            log.warning("index.record_skipped", seq=record.seq, type=record.type, reason=reason)
        return state

    def encode_state(self, state: CapabilityIndex) -> bytes:
        return self._encoder.encode(state.snapshot())

    def decode_state(self, data: bytes) -> CapabilityIndex:
        return CapabilityIndex.from_snapshot(self._decoder.decode(data))
