"""The outbox's cursor: the last record the swarm stream acknowledged, kept in the DocumentStore,
and the rule that reconciles it with what the stream holds when the outbox (re)starts.
"""

from __future__ import annotations

from nunet.db import DocumentStore

COLLECTION = "replication.outbox"


def resume_after(cursor: int | None, last_in_stream: int | None, window: int) -> int:
    """The seq after which an outbox must (re)send, so that nothing is skipped and little repeats.

    `cursor`: the last contiguous acknowledged seq this node remembers (None: lost).
    `last_in_stream`: the seq of the last message on the node's subject, in stream order (None:
    the subject is empty). `window`: the most publishes the outbox keeps in flight.

    Why this is safe: a record is only published once every record more than `window` below it
    was acknowledged, so in any prefix of the stream that ends with seq L, every seq <= L - window
    is present; the last `window` may have gaps (a publish lost while later ones got through,
    then a crash before the re-send). A cursor at or below L is trusted (every record up to it
    was acknowledged); one above L means the stream lost its tail (a hub lost acknowledged
    messages) or a re-sent record landed last, and only the prefix rule holds. An empty subject
    with a cursor is trusted: the node's messages may have aged out of the stream (`max_age`),
    and re-sending the whole log would fill it with history. Re-sent records that the stream
    still holds are dropped by its duplicate window, or by readers.
    """
    if last_in_stream is None:
        return cursor or 0
    floor = max(last_in_stream - window, 0)
    if cursor is None or cursor > last_in_stream:
        return floor
    return max(cursor, floor)


class CursorStore:
    """One small document per replicated log: `{"acknowledged": seq}`."""

    def __init__(self, store: DocumentStore, node_did: str) -> None:
        self._store = store
        self._doc_id = node_did

    async def load(self) -> int | None:
        doc = await self._store.get(COLLECTION, self._doc_id)
        if doc is None:
            return None
        value = doc.get("acknowledged")
        return value if isinstance(value, int) and value >= 0 else None

    async def save(self, acknowledged: int) -> None:
        await self._store.put(COLLECTION, self._doc_id, {"acknowledged": acknowledged})

    async def forget(self) -> None:
        await self._store.delete(COLLECTION, self._doc_id)
