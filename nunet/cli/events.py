"""`nunet events`: read, follow, verify, replay and export the node's event log.

Every command opens the log read-only, where the node's configuration keeps it
(<home>/log/events.db by default, or PostgreSQL), so it is safe while the node runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec
import yaml

from nunet.catalogue import full_catalogue, known_projections
from nunet.cli.context import CliContext, NunetGroup, emit, pass_context
from nunet.eventlog import EventLog, EventLogError, EventRecord, LogNotFound
from nunet.eventlog.catalogue import Catalogue
from nunet.eventlog.projection import replay
from nunet.eventlog.projection_store import SQLiteProjectionStore
from nunet.eventlog.verify import TrustedHead, verify_log
from nunet.mesh import read_mesh_access
from nunet.node import NodeLayout, load_config, open_node_log
from nunet.replication import ChainProblem, NodeRecord, swarm_log_reader

T = TypeVar("T")


def log_path(ctx: CliContext) -> Path:
    return NodeLayout(ctx.home).log


def projections_path(ctx: CliContext) -> Path:
    return NodeLayout(ctx.home).projections


@click.group("events", cls=NunetGroup)
def events() -> None:
    """Inspect the node's event log, read-only (safe while the node runs)."""


@events.command("tail")
@click.option("--from", "from_seq", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing records as they are written.")
@click.option("--type", "types", multiple=True, help="Only records of this type (repeatable).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after N records.")
@click.option("--poll", type=float, default=0.2, show_default=True, help="Seconds between polls.")
@click.option(
    "--node",
    "node_did",
    default=None,
    metavar="DID",
    help="Read node DID's log as replicated to the swarm (through this node's mesh).",
)
@click.option(
    "--swarm", is_flag=True, help="Read every node's replicated log; lines start with the node."
)
@pass_context
def tail(
    ctx: CliContext,
    from_seq: int,
    follow: bool,
    types: tuple[str, ...],
    count: int | None,
    poll: float,
    node_did: str | None,
    swarm: bool,
) -> None:
    """Print records from --from on; with --follow, wait for new ones.

    With --node or --swarm, read the swarm's replicated logs (verified, each node's in order)
    instead of this node's own log; refused records are reported on stderr.
    """
    catalogue = full_catalogue()
    wanted = set(types) or None
    if node_did is not None and swarm:
        raise click.UsageError("--node and --swarm exclude each other")
    if node_did is not None or swarm:
        _tail_replicated(ctx, node_did, from_seq, follow, wanted, count)
        return

    async def print_records(log: EventLog) -> None:
        printed = 0
        source = log.tail(from_seq) if follow else log.read(from_seq, None, wanted)
        async for record in source:
            if wanted is not None and record.type not in wanted:
                continue
            _print_line(ctx, record_view(record, catalogue))
            printed += 1
            if count is not None and printed >= count:
                return

    _with_log(ctx, print_records, poll_interval=poll)


def _tail_replicated(
    ctx: CliContext,
    node_did: str | None,
    from_seq: int,
    follow: bool,
    wanted: set[str] | None,
    count: int | None,
) -> None:
    """`tail --node/--swarm`: records from the swarm log stream, through mesh.json's server."""
    catalogue = full_catalogue()
    access = read_mesh_access(NodeLayout(ctx.home).mesh_access)

    def refused(problem: ChainProblem) -> None:
        click.echo(f"refused: {problem}", err=True)

    async def print_records() -> None:
        async with swarm_log_reader(access, on_problem=refused) as reader:
            source = (
                reader.swarm(follow=follow)
                if node_did is None
                else _with_node(node_did, reader.node(node_did, from_seq=from_seq, follow=follow))
            )
            printed = 0
            async with contextlib.aclosing(source):
                async for item in source:
                    record = item.record
                    if record.seq < from_seq or (wanted is not None and record.type not in wanted):
                        continue
                    view = record_view(record, catalogue)
                    if node_did is None:
                        _print_line(ctx, {"node": item.node, **view}, prefix=_short(item.node))
                    else:
                        _print_line(ctx, view)
                    printed += 1
                    if count is not None and printed >= count:
                        return

    with _quiet_interrupt():
        asyncio.run(print_records())


async def _with_node(
    node: str, records: AsyncGenerator[EventRecord, None]
) -> AsyncGenerator[NodeRecord, None]:
    async with contextlib.aclosing(records):
        async for record in records:
            yield NodeRecord(node, record)


def _short(node_did: str) -> str:
    """A node's DID cut to its last 8 characters: enough to tell a swarm's nodes apart."""
    return node_did.rpartition(":")[2][-8:]


@events.command("show")
@click.argument("seq", type=click.IntRange(min=1))
@pass_context
def show(ctx: CliContext, seq: int) -> None:
    """Print record SEQ with its decoded payload."""

    async def get(log: EventLog) -> tuple[EventRecord | None, int]:
        return await log.get(seq), (await log.head())[0]

    record, head = _with_log(ctx, get)
    if record is None:
        raise click.ClickException(f"no record {seq}: the log ends at seq {head}")
    emit(ctx, record_view(record, full_catalogue()))


@events.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint",
    default=None,
    metavar="SEQ:HASHHEX",
    help="A head you trust from elsewhere (a replica, an earlier verify); catches truncation.",
)
@click.option("--signer", default=None, metavar="DID", help="Checkpoints must be signed by DID.")
@pass_context
def verify(ctx: CliContext, checkpoint: str | None, signer: str | None) -> None:
    """Check the hash chain and the signed checkpoints; exit 1 naming each bad record."""
    trusted = None
    if checkpoint is not None:
        try:
            trusted = TrustedHead.parse(checkpoint)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--checkpoint") from None

    async def check(log: EventLog) -> Any:
        return await verify_log(
            log, trusted_checkpoint=trusted, signer=signer, catalogue=full_catalogue()
        )

    report = _with_log(ctx, check)
    emit(
        ctx,
        {
            "ok": report.ok,
            "records": report.records,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash.hex(),
            "checkpoints": report.checkpoints,
            "last_checkpoint_seq": report.last_checkpoint_seq,
            "problems": [str(problem) for problem in report.problems],
        },
    )
    if not report.ok:
        first = report.problems[0]
        click.echo(
            f"verification failed: {len(report.problems)} problem(s); first at seq {first.seq}: "
            f"{first.reason}",
            err=True,
        )
        raise SystemExit(1)


@events.command("replay")
@click.option(
    "--projection",
    "name",
    type=click.Choice(sorted(known_projections())),
    default="log-statistics",
    show_default=True,
)
@pass_context
def replay_command(ctx: CliContext, name: str) -> None:
    """Rebuild a projection from seq 1, print it, and compare it with the stored one."""
    projection = known_projections()[name]()

    async def rebuild(log: EventLog) -> dict[str, Any]:
        position, state = await replay(log, projection)
        result: dict[str, Any] = {
            "projection": name,
            "position": position,
            "state": _plain(state),
        }
        stored = await _stored_projection(projections_path(ctx), name)
        if stored is None:
            result["stored"] = "none: no stored state to compare with"
            return result
        stored_position, stored_state = stored
        _, expected = await replay(log, projection, to_seq=stored_position)
        agrees = projection.encode_state(expected) == stored_state
        result["stored"] = {"position": stored_position, "agrees": agrees}
        return result

    result = _with_log(ctx, rebuild)
    emit(ctx, result)
    stored = result["stored"]
    if isinstance(stored, dict) and not stored["agrees"]:
        click.echo(
            f"the stored {name} projection at position {stored['position']} differs from a "
            "replay to the same position",
            err=True,
        )
        raise SystemExit(1)


@events.command("export")
@click.option("--from", "from_seq", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--to", "to_seq", type=click.IntRange(min=1), default=None)
@click.option("--type", "types", multiple=True, help="Only records of this type (repeatable).")
@pass_context
def export(ctx: CliContext, from_seq: int, to_seq: int | None, types: tuple[str, ...]) -> None:
    """Write records as JSON lines (whatever --output says)."""
    catalogue = full_catalogue()

    async def write(log: EventLog) -> None:
        async for record in log.read(from_seq, to_seq, set(types) or None):
            click.echo(json.dumps(record_view(record, catalogue), sort_keys=True))

    _with_log(ctx, write)


@events.command("catalogue")
def catalogue_command() -> None:
    """Print the event catalogue as YAML (events/catalogue.yaml is this output)."""
    click.echo(full_catalogue().render(), nl=False)


def record_view(record: EventRecord, catalogue: Catalogue) -> dict[str, Any]:
    """A record for people and JSON: decoded event if the catalogue knows it, else raw hex."""
    view: dict[str, Any] = {
        "seq": record.seq,
        "time": _iso(record.timestamp),
        "type": record.type,
        "version": record.version,
        "actor": record.actor,
    }
    if record.type in catalogue:
        try:
            view["event"] = _plain(catalogue.decode(record))
        except (EventLogError, msgspec.MsgspecError) as exc:
            view["payload_hex"] = record.payload.hex()
            view["undecodable"] = str(exc)
    else:
        view["payload_hex"] = record.payload.hex()
    view["hash"] = record.hash.hex()
    view["prev_hash"] = record.prev_hash.hex()
    return view


def _plain(value: Any) -> Any:
    """Builtins for JSON/YAML: structs as objects with their field names (even those encoded as
    arrays on the wire, such as envelopes), bytes as hex."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return _plain(msgspec.to_builtins(value, builtin_types=(bytes,)))


def _iso(timestamp_ns: int) -> str:
    try:
        when = datetime.fromtimestamp(timestamp_ns / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return str(timestamp_ns)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _print_line(ctx: CliContext, view: dict[str, Any], *, prefix: str = "") -> None:
    if ctx.output == "json":
        click.echo(json.dumps(view, sort_keys=True))
    elif ctx.output == "yaml":
        click.echo("---\n" + yaml.safe_dump(view, sort_keys=False).rstrip())
    else:
        body = _summary(view["type"], view.get("event"))
        if body is None:
            body = view.get("event", view.get("payload_hex", ""))
            if not isinstance(body, str):
                body = json.dumps(body, sort_keys=True, separators=(",", ":"))
        actor = view["actor"] or "-"
        lead = f"{prefix}  " if prefix else ""
        click.echo(
            f"{lead}{view['seq']:>8}  {view['time']}  {view['type']} v{view['version']}  "
            f"{actor}  {body}"
        )


def _summary(event_type: str, event: Any) -> str | None:
    """One readable line for the envelope events people scan a log for; None: print it whole."""
    if not isinstance(event, dict):
        return None
    if event_type == "envelope.delivered":
        envelope = event["envelope"]
        payload = json.dumps(envelope["payload"], sort_keys=True, separators=(",", ":"))
        behavior = "reply" if envelope["in_reply_to"] else envelope["behavior"]
        return (
            f"{envelope['sender']['actor']} -> {envelope['recipient']['actor']} "
            f"{behavior} {_cut(payload)}"
        )
    if event_type == "envelope.sent":
        return (
            f"-> {event['recipient_node']} {event['behavior']} ({len(event['sealed']) // 2} bytes)"
        )
    if event_type == "envelope.received":
        return f"<- {event['sender_did']} {event['behavior']} ({len(event['sealed']) // 2} bytes)"
    if event_type == "envelope.refused":
        return f"{event['code']}: {event['reason']}"
    return None


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _stored_projection(path: Path, name: str) -> tuple[int, bytes] | None:
    try:
        store = await SQLiteProjectionStore.open(path, read_only=True)
    except LogNotFound:
        return None
    try:
        return await store.load(name)
    finally:
        await store.close()


def _with_log(
    ctx: CliContext,
    action: Callable[[EventLog], Awaitable[T]],
    *,
    poll_interval: float = 0.2,
) -> T:
    """Open the log read-only, run `action`, close; domain errors become CLI errors."""

    layout = NodeLayout(ctx.home)
    config = load_config(layout.config)

    async def run() -> T:
        node_did = ""
        if config.log.store != "sqlite":  # other stores keep many nodes' logs, one per DID
            node_did = ctx.public_keystore().did(config.node_key)
        log = await open_node_log(
            layout, config, node_did, read_only=True, poll_interval=poll_interval
        )
        try:
            return await action(log)
        finally:
            await log.close()

    try:
        with _quiet_interrupt():
            return asyncio.run(run())
    except LogNotFound:
        raise click.ClickException(
            f"no event log at {log_path(ctx)}: is --home (or $NUNET_HOME) the node's home?"
        ) from None
    except EventLogError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def _quiet_interrupt() -> Iterator[None]:
    """Ctrl-C ends `tail --follow` with status 130 and no traceback."""
    try:
        yield
    except KeyboardInterrupt:
        raise SystemExit(130) from None
