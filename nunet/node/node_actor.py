"""The node actor: the behaviors every node answers (`/public/hello`, `/public/status`, ...)."""

from __future__ import annotations

import time
from typing import Any

import msgspec

import nunet
from nunet.actor import Actor, BehaviorFailed, Message, behavior
from nunet.db import DocumentStore
from nunet.telemetry import LoggerConfig, configure_logging

NODE_ACTOR_ID = "node"
_CONFIG_COLLECTION = "config"
_LOGGER_DOC = "logger"


class NodeActor(Actor):
    """Answers questions about this node and holds its run-time settings."""

    kind = "node"

    def __init__(self, store: DocumentStore, started_at: float) -> None:
        super().__init__()
        self._store = store
        self._started_at = started_at

    async def on_start(self) -> None:
        configure_logging(await self._logger_config())

    @behavior("/public/hello", public=True)
    async def hello(self, message: Message) -> dict[str, Any]:
        return {
            "did": self.handle.did,
            "node": self.handle.node,
            "version": nunet.__version__,
            "greeting": f"hello {message.sender.did}",
            "time": time.time(),
        }

    @behavior("/public/status", public=True)
    async def status(self, message: Message) -> dict[str, Any]:
        head_seq, head_hash = await self.system.event_log.head()
        return {
            "did": self.handle.did,
            "node": self.handle.node,
            "version": nunet.__version__,
            "started_at": self._started_at,
            "uptime_seconds": round(time.time() - self._started_at, 3),
            "actors": sorted(self.system.actor_ids()),
            "log": {"head": head_seq, "hash": head_hash.hex()},
        }

    @behavior("/dms/node/peers/self")
    async def peers_self(self, message: Message) -> dict[str, Any]:
        return {
            "did": self.handle.did,
            "address": self.handle.node,
            "handle": {
                "did": self.handle.did,
                "actor": self.handle.actor,
                "node": self.handle.node,
            },
        }

    @behavior("/dms/node/logger/config")
    async def logger_config(self, message: Message) -> dict[str, Any]:
        """With no payload: the current logger config. With `level`/`format`: change and persist it."""
        current = await self._logger_config()
        changes = message.payload or {}
        if not isinstance(changes, dict):
            raise BehaviorFailed(
                "payload must be a mapping like {level: debug}", code="invalid-payload"
            )
        try:
            updated = msgspec.convert(
                {**msgspec.to_builtins(current), **changes}, LoggerConfig, strict=False
            )
        except (msgspec.ValidationError, ValueError) as exc:
            raise BehaviorFailed(f"logger config: {exc}", code="invalid-payload") from None
        if updated != current:
            await self._store.put(_CONFIG_COLLECTION, _LOGGER_DOC, msgspec.to_builtins(updated))
            configure_logging(updated)
        result: dict[str, Any] = msgspec.to_builtins(updated)
        return result

    async def _logger_config(self) -> LoggerConfig:
        stored = await self._store.get(_CONFIG_COLLECTION, _LOGGER_DOC)
        if stored is None:
            return LoggerConfig()
        try:
            return msgspec.convert(stored, LoggerConfig)
        except (msgspec.ValidationError, ValueError):
            return LoggerConfig()
