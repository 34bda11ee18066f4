"""What a node context trusts: root DIDs, require tokens, provide tokens and revocations.

`Anchors` is an immutable snapshot (pure, serialisable); an `AnchorStore` holds the current one.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nunet.identity import InvalidDID, public_key_from_did
from nunet.ucan.errors import AnchorError, CapabilityError
from nunet.ucan.revocation import Revocation, revocation_from_text
from nunet.ucan.token import Token, token_from_text

FORMAT = "nunet-cap/1"


@dataclass(frozen=True, slots=True)
class Anchors:
    """One context's trust anchors. `did` is the context's own DID (always trusted)."""

    did: str
    roots: tuple[str, ...] = ()
    require: tuple[Token, ...] = ()
    provide: tuple[Token, ...] = ()
    revocations: tuple[Revocation, ...] = ()
    revokers: Mapping[str, frozenset[str]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by: dict[str, set[str]] = {}
        for revocation in self.revocations:
            by.setdefault(revocation.token_id, set()).add(revocation.issuer)
        object.__setattr__(self, "revokers", {k: frozenset(v) for k, v in by.items()})

    def with_root(self, did: str) -> Anchors:
        _check_did(did)
        return self if did in self.roots else replace(self, roots=(*self.roots, did))

    def with_require(self, token: Token) -> Anchors:
        if any(t.id == token.id for t in self.require):
            return self
        return replace(self, require=(*self.require, token))

    def with_provide(self, token: Token) -> Anchors:
        if token.audience != self.did:
            raise AnchorError(
                f"token {token.id[:16]} was granted to {token.audience}, not to this context"
                f" ({self.did}); only tokens granted to it can be provided"
            )
        if any(t.id == token.id for t in self.provide):
            return self
        return replace(self, provide=(*self.provide, token))

    def with_revocation(self, revocation: Revocation) -> Anchors:
        if any(r.encoded == revocation.encoded for r in self.revocations):
            return self
        return replace(self, revocations=(*self.revocations, revocation))

    def without(self, what: str) -> Anchors:
        """Drop the root DID or the require/provide token (by id) named `what`."""
        after = replace(
            self,
            roots=tuple(d for d in self.roots if d != what),
            require=tuple(t for t in self.require if t.id != what),
            provide=tuple(t for t in self.provide if t.id != what),
        )
        if after == self:
            raise AnchorError(f"no anchor {what!r} in this context")
        return after

    def find_token(self, token_id: str) -> Token | None:
        for token in (*self.require, *self.provide):
            for link in token.chain():
                if link.id == token_id:
                    return link
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "did": self.did,
            "roots": list(self.roots),
            "require": [t.text() for t in self.require],
            "provide": [t.text() for t in self.provide],
            "revocations": [r.text() for r in self.revocations],
        }

    @classmethod
    def from_json(cls, document: Any, where: str = "anchors") -> Anchors:
        """Parse a document written by `to_json`; raise AnchorError naming the bad entry."""
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise AnchorError(f"{where} is not a {FORMAT} anchor document")
        entry = "did"
        try:
            did = document["did"]
            _check_did(did)
            roots = _strings(document, "roots")
            for i, root in enumerate(roots):
                entry = f"roots[{i}]"
                _check_did(root)
            tokens: dict[str, list[Token]] = {"require": [], "provide": []}
            for kind, parsed in tokens.items():
                for i, text in enumerate(_strings(document, kind)):
                    entry = f"{kind}[{i}]"
                    parsed.append(token_from_text(text))
            revocations = []
            for i, text in enumerate(_strings(document, "revocations")):
                entry = f"revocations[{i}]"
                revocations.append(revocation_from_text(text))
        except KeyError as exc:
            raise AnchorError(f"{where}: missing {exc.args[0]!r}") from None
        except CapabilityError as exc:
            raise AnchorError(f"{where}: {entry}: {exc}") from None
        return cls(
            did=did,
            roots=tuple(roots),
            require=tuple(tokens["require"]),
            provide=tuple(tokens["provide"]),
            revocations=tuple(revocations),
        )


class AnchorStore(ABC):
    """Holds a context's current anchors; `snapshot` is cheap and reflects changes by others."""

    @abstractmethod
    def snapshot(self) -> Anchors:
        """The current anchors; raise AnchorError if they cannot be read."""

    @abstractmethod
    def update(self, change: Callable[[Anchors], Anchors]) -> Anchors:
        """Apply `change` to the current anchors atomically and keep the result."""

    def add_root(self, did: str) -> Anchors:
        return self.update(lambda a: a.with_root(did))

    def add_require(self, token: Token) -> Anchors:
        return self.update(lambda a: a.with_require(token))

    def add_provide(self, token: Token) -> Anchors:
        return self.update(lambda a: a.with_provide(token))

    def add_revocation(self, revocation: Revocation) -> Anchors:
        return self.update(lambda a: a.with_revocation(revocation))

    def remove(self, what: str) -> Anchors:
        return self.update(lambda a: a.without(what))


class MemoryAnchorStore(AnchorStore):
    """Anchors held in memory: for tests and for nodes that configure trust in code."""

    def __init__(self, did: str) -> None:
        _check_did(did)
        self._anchors = Anchors(did=did)
        self._lock = threading.Lock()

    def snapshot(self) -> Anchors:
        return self._anchors

    def update(self, change: Callable[[Anchors], Anchors]) -> Anchors:
        with self._lock:
            self._anchors = change(self._anchors)
            return self._anchors


def _check_did(did: Any) -> None:
    try:
        public_key_from_did(did)
    except InvalidDID as exc:
        raise AnchorError(str(exc)) from None


def _strings(document: dict[str, Any], key: str) -> list[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AnchorError(f"{key!r} must be a list of strings")
    return value
