"""`nunet cap`: capability contexts, their anchors, and the tokens a context grants or delegates."""

from __future__ import annotations

import time
from typing import Any

import click

from nunet.cli.context import CliContext, NunetGroup, emit, pass_context
from nunet.ucan import (
    AnchorError,
    CapabilityDenied,
    CapabilityError,
    FileAnchorStore,
    Token,
    anchor_path,
    covers,
    delegate,
    grant,
    is_token_id,
    parse_expiry,
    revoke,
    token_from_text,
    verify_chain,
)
from nunet.ucan.timefmt import iso

DEFAULT_EXPIRY = "30d"


def _store(ctx: CliContext, context: str) -> FileAnchorStore:
    path = anchor_path(ctx.home, context)
    if not path.exists():
        raise AnchorError(
            f"unknown context {context!r}: no anchors at {path} (nunet cap new {context})"
        )
    return FileAnchorStore(path)


def _parse_token(text: str, now: float) -> Token:
    token = token_from_text(text)
    chain = verify_chain(token)
    chain.check_at(now)
    return token


@click.group("cap", cls=NunetGroup)
def cap() -> None:
    """Capability tokens: who may invoke which behaviors of this node."""


@cap.command("new")
@click.argument("context")
@pass_context
def new(ctx: CliContext, context: str) -> None:
    """Create the anchors of CONTEXT, owned by the key of the same name."""
    path = anchor_path(ctx.home, context)
    did = ctx.public_keystore().did(context)
    FileAnchorStore.create(path, did)
    emit(ctx, {"context": context, "did": did, "anchors": str(path)})


@cap.command("anchor")
@click.option("--context", "-c", "context", required=True, help="Capability context (key name).")
@click.option("--root", "root", default=None, help="Trust this DID fully.")
@click.option("--require", "require", default=None, help="Accept this token's grant.")
@click.option("--provide", "provide", default=None, help="Keep this token granted to us.")
@pass_context
def anchor(
    ctx: CliContext, context: str, root: str | None, require: str | None, provide: str | None
) -> None:
    """Add one anchor to CONTEXT: a root DID, a require token or a provide token."""
    given = [v for v in (root, require, provide) if v is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --root DID, --require TOKEN, --provide TOKEN")
    store = _store(ctx, context)
    now = time.time()
    if root is not None:
        store.add_root(root)
        emit(ctx, {"context": context, "root": root})
        return
    kind = "require" if require is not None else "provide"
    token = _parse_token(require or provide or "", now)
    if kind == "require":
        store.add_require(token)
    else:
        store.add_provide(token)
    emit(ctx, {"context": context, kind: token.id})


@cap.command("grant")
@click.option("--context", "-c", "context", required=True, help="Context whose key signs.")
@click.option("--cap", "caps", multiple=True, required=True, help="Behavior path, e.g. /dms/node.")
@click.option("--audience", required=True, help="DID the token is granted to.")
@click.option("--topic", "topics", multiple=True, help="Broadcast topic the holder may publish to.")
@click.option("--expiry", default=DEFAULT_EXPIRY, show_default=True, help="30m, 1h, 2d or ISO.")
@click.option("--depth", default=0, show_default=True, type=int, help="Further delegations.")
@pass_context
def grant_command(
    ctx: CliContext,
    context: str,
    caps: tuple[str, ...],
    audience: str,
    topics: tuple[str, ...],
    expiry: str,
    depth: int,
) -> None:
    """Issue a root token signed by CONTEXT's key and print it."""
    _store(ctx, context)
    now = time.time()
    until = parse_expiry(expiry, now)
    key = ctx.keystore().load(context)
    token = grant(
        key,
        audience=audience,
        capabilities=caps,
        topics=topics,
        expiry=until,
        depth=depth,
        now=now,
    )
    _print_token(ctx, token)


@cap.command("delegate")
@click.option("--context", "-c", "context", required=True, help="Context holding the token.")
@click.option("--cap", "caps", multiple=True, required=True, help="Behavior path to pass on.")
@click.option("--audience", required=True, help="DID the new token is granted to.")
@click.option("--topic", "topics", multiple=True, help="Topic to pass on.")
@click.option("--expiry", default=None, help="30m, 1h, 2d or ISO (default: the parent's).")
@click.option(
    "--depth", default=None, type=int, help="Further delegations (default: parent's - 1)."
)
@pass_context
def delegate_command(
    ctx: CliContext,
    context: str,
    caps: tuple[str, ...],
    audience: str,
    topics: tuple[str, ...],
    expiry: str | None,
    depth: int | None,
) -> None:
    """Derive a narrower token from a provide anchor of CONTEXT that covers the capabilities."""
    anchors = _store(ctx, context).snapshot()
    now = time.time()
    until = None if expiry is None else parse_expiry(expiry, now)
    candidates = [
        t
        for t in anchors.provide
        if all(any(covers(p, c) for p in t.capabilities) for c in caps)
        and set(topics) <= set(t.topics)
    ]
    if not candidates:
        raise CapabilityDenied(
            f"no provide anchor of context {context!r} covers {', '.join(caps)}"
            + (f" with topics {', '.join(topics)}" if topics else "")
            + f" (anchor one: nunet cap anchor --context {context} --provide TOKEN)"
        )
    key = ctx.keystore().load(context)
    reasons = []
    for parent in candidates:
        try:
            verify_chain(parent).check_at(now)
            token = delegate(
                parent,
                key,
                audience=audience,
                capabilities=caps,
                topics=topics,
                expiry=until,
                depth=depth,
                now=now,
            )
        except CapabilityDenied as exc:
            reasons.append(f"{parent.id[:16]}: {exc}")
            continue
        _print_token(ctx, token)
        return
    raise CapabilityDenied("no provide anchor can be delegated: " + "; ".join(reasons))


@cap.command("list")
@click.option("--context", "-c", "context", required=True, help="Capability context.")
@pass_context
def list_command(ctx: CliContext, context: str) -> None:
    """Show CONTEXT's anchors: roots, require and provide tokens, revocations."""
    anchors = _store(ctx, context).snapshot()
    now = time.time()
    rows: list[dict[str, Any]] = [
        {"kind": "self", "id": anchors.did, "capabilities": "/", "expiry": "-"}
    ]
    rows += [{"kind": "root", "id": d, "capabilities": "/", "expiry": "-"} for d in anchors.roots]
    for kind, tokens in (("require", anchors.require), ("provide", anchors.provide)):
        for token in tokens:
            rows.append(
                {
                    "kind": kind,
                    "id": token.id,
                    "capabilities": " ".join(token.capabilities),
                    "topics": " ".join(token.topics),
                    "issuer": token.issuer,
                    "audience": token.audience,
                    "expiry": iso(token.expiry),
                    "status": _status(token, anchors.revokers, now),
                }
            )
    rows += [
        {"kind": "revoked", "id": r.token_id, "issuer": r.issuer, "expiry": "-"}
        for r in anchors.revocations
    ]
    emit(ctx, rows)


@cap.command("revoke")
@click.option("--context", "-c", "context", required=True, help="Context whose key signs.")
@click.argument("token_or_id")
@pass_context
def revoke_command(ctx: CliContext, context: str, token_or_id: str) -> None:
    """Record a revocation of a token (by id or text) signed by CONTEXT's key."""
    store = _store(ctx, context)
    anchors = store.snapshot()
    text = token_or_id.strip()
    token = anchors.find_token(text) if is_token_id(text) else token_from_text(text)
    if token is not None:
        issuers = [t.issuer for t in token.chain()]
        if anchors.did not in issuers:
            raise CapabilityError(
                f"context {context!r} ({anchors.did}) issued no token in the chain of"
                f" {token.id[:16]}; only an issuer up its chain can revoke it"
            )
    elif not is_token_id(text):  # pragma: no cover - token_from_text raised already
        raise CapabilityError(f"{text!r} is neither a token nor a token id")
    revoked_id = token.id if token is not None else text
    key = ctx.keystore().load(context)
    revocation = revoke(key, revoked_id, time.time())
    store.add_revocation(revocation)
    emit(ctx, {"revoked": revoked_id, "by": key.did, "known_token": token is not None})


def _print_token(ctx: CliContext, token: Token) -> None:
    if ctx.output == "table":
        click.echo(token.text())
    else:
        emit(ctx, {"id": token.id, "token": token.text(), **token.describe()})


def _status(token: Token, revokers: Any, now: float) -> str:
    try:
        chain = verify_chain(token)
        chain.check_revocations(revokers)
        chain.check_at(now)
    except CapabilityDenied as exc:
        return f"invalid: {exc}"
    return "valid"
