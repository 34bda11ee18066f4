"""The node's own nats-server: spawned, health-checked, restarted, and its log turned into events.

`NatsServer` is the thin shell: the config is rendered by `server_config`, log lines are
classified by `server_log`, and when to restart is decided by `restarts.RestartIntensity`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import json
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from nunet.childproc import die_with_parent
from nunet.eventlog import Event
from nunet.mesh import server_log
from nunet.mesh.binary import locate_nats_server, verify_nats_server
from nunet.mesh.errors import MeshError, PortInUseError, ServerStartError
from nunet.mesh.events import (
    BootstrapUnreachable,
    LeafLinkConnected,
    LeafLinkDisconnected,
    MeshLinkRejected,
    MeshServerExited,
    MeshServerGaveUp,
    MeshServerRestarted,
    MeshServerStarted,
    MeshServerUnhealthy,
)
from nunet.mesh.monitor import LeafLink, MonitorUnavailable, get_json, healthz, leaf_links
from nunet.mesh.restarts import RestartIntensity
from nunet.mesh.server_config import ServerSpec, redact, render_config

log = structlog.get_logger("nunet.mesh")

EventSink = Callable[[Event], None]
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")
_LOG_FILE_LIMIT = 16 << 20
_TAIL_LINES = 200
_MAX_REJECTION_KEYS = 1024


@dataclass(frozen=True)
class SupervisionSettings:
    """How the server is watched; the defaults suit a production node."""

    start_timeout_s: float = 20.0
    stop_grace_s: float = 10.0
    health_interval_s: float = 5.0
    unhealthy_after: int = 3  # consecutive failed /healthz before the server is killed
    link_poll_interval_s: float = 1.0
    bootstrap_timeout_s: float = 30.0
    rejection_report_interval_s: float = 60.0
    reload_timeout_s: float = 10.0
    max_restarts: int = 5
    restart_window_s: float = 60.0

    def intensity(self) -> RestartIntensity:
        return RestartIntensity(self.max_restarts, self.restart_window_s)


@dataclass
class _RemoteWatch:
    """Since when a bootstrap remote has been without a leaf link, and whether that was told."""

    since: float
    addresses: frozenset[str]
    reported: bool = False


@dataclass
class _Rejections:
    last_reported: float
    suppressed: int = 0


@dataclass
class _Launch:
    """What one spawned process has: the spec it was started with, its log reader, its start-up.

    nats-server compares a reloaded config with the one it started from, "-1" ports included, so
    a reload renders this spec (not the one with the chosen ports) plus the new remotes.
    """

    spec: ServerSpec
    process: asyncio.subprocess.Process
    ready: asyncio.Future[None]
    reader: asyncio.Task[None] = field(init=False)


class NatsServer:
    """One supervised nats-server child process configured from a `ServerSpec`."""

    def __init__(
        self,
        spec: ServerSpec,
        *,
        on_event: EventSink | None = None,
        binary: Path | None = None,
        settings: SupervisionSettings | None = None,
    ) -> None:
        self._spec = spec
        self._on_event = on_event
        self._binary = binary
        self._settings = settings or SupervisionSettings()
        self._intensity = self._settings.intensity()
        self._launch: _Launch | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lifecycle = asyncio.Lock()
        self._stopping = False
        self._gave_up = False
        self._tail: deque[str] = deque(maxlen=_TAIL_LINES)
        self._links: dict[str, LeafLink] = {}
        self._close_reasons: dict[str, str] = {}
        self._dial_errors: dict[str, str] = {}
        self._watches: dict[str, _RemoteWatch] = {}
        self._rejections: dict[tuple[str, str, str], _Rejections] = {}
        self._reload: asyncio.Future[str | None] | None = None

    # -- what callers read ------------------------------------------------------------------

    @property
    def spec(self) -> ServerSpec:
        """The spec in force, with the ports the server chose filled in after the first start."""
        return self._spec

    @property
    def pid(self) -> int | None:
        launch = self._launch
        if launch is None or launch.process.returncode is not None:
            return None
        return launch.process.pid

    @property
    def gave_up(self) -> bool:
        return self._gave_up

    @property
    def client_url(self) -> str:
        return f"nats://{_dial_host(self._spec.host)}:{self._spec.client_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{_dial_host(self._spec.host)}:{self._spec.monitor_port}"

    @property
    def leaf_url(self) -> str | None:
        """Where members dial this hub (None when it is not one)."""
        listen = self._spec.leaf_listen
        if listen is None:
            return None
        if listen.advertise:
            return f"nats-leaf://{listen.advertise}"
        return f"nats-leaf://{_dial_host(listen.host)}:{listen.port}"

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(list(self._tail)[-lines:])

    async def leaf_links(self) -> list[LeafLink]:
        """The established leaf connections, as the server reports them now."""
        return await leaf_links(_dial_host(self._spec.host), self._spec.monitor_port)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the server and return once /healthz answers; raise a MeshError if it cannot."""
        if self._launch is not None or self._tasks:
            raise MeshError(f"nats-server {self._spec.name} is already started")
        self._stopping = self._gave_up = False
        binary = self._binary or locate_nats_server()
        self._binary = await asyncio.to_thread(verify_nats_server, binary)
        async with self._lifecycle:
            await self._start_process()
        self._emit_started()
        self._tasks = [
            asyncio.create_task(self._supervise(), name=f"nats-supervise-{self._spec.name}"),
            asyncio.create_task(self._watch_health(), name=f"nats-health-{self._spec.name}"),
            asyncio.create_task(self._watch_links(), name=f"nats-links-{self._spec.name}"),
        ]

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace period; supervision ends first."""
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        launch, self._launch = self._launch, None
        if launch is not None and launch.process.returncode is None:
            await self._terminate(launch)
            self._emit_exit(launch, expected=True)

    async def restart(self) -> None:
        """Stop and start the process on purpose (same ports); supervision carries on."""
        async with self._lifecycle:
            launch = self._launch
            if launch is not None:
                await self._terminate(launch)
                self._emit_exit(launch, expected=True)
            await self._start_process()
        self._emit_started()

    async def add_remote(self, url: str) -> None:
        """Dial one more hub (leaf URL) from now on: a config reload, a restart if that fails."""
        spec = self._spec.with_remote(url)
        if spec == self._spec:
            return
        async with self._lifecycle:
            self._spec = spec
            launch = self._launch
            if launch is None or launch.process.returncode is not None:
                return  # the next (re)start renders it
            failure = await self._reload_config(launch)
        if failure is not None:
            log.warning("mesh.reload_failed", server=spec.name, error=failure)
            await self.restart()

    # -- one process ------------------------------------------------------------------------

    async def _start_process(self) -> None:
        spec = self._spec
        _check_ports_free(spec)
        spec.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_config(spec)
        for stale in spec.directory.glob("*.ports"):
            stale.unlink()
        _rotate(spec.directory / "server.log")
        process = await asyncio.create_subprocess_exec(
            str(self._binary),
            "-c",
            str(spec.config_file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,  # the node's ^C reaches the node only; it stops us in order
            limit=1 << 20,
        )
        launch = _Launch(spec, process, asyncio.get_running_loop().create_future())
        launch.reader = asyncio.create_task(self._read_log(launch))
        try:
            async with asyncio.timeout(self._settings.start_timeout_s):
                await self._wait_ready(launch)
                await self._pin_ports(process.pid)
                await self._wait_healthy()
        except BaseException as exc:
            await self._terminate(launch)
            if isinstance(exc, TimeoutError):
                raise ServerStartError(
                    f"nats-server {spec.name} did not become healthy within "
                    f"{self._settings.start_timeout_s}s; its log ends:\n{self.log_tail()}"
                ) from None
            raise
        self._launch = launch

    async def _wait_ready(self, launch: _Launch) -> None:
        exited = asyncio.ensure_future(launch.process.wait())
        either: set[asyncio.Future[Any]] = {launch.ready, exited}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
        if not launch.ready.done():
            await launch.reader  # the fatal line, if any, is read before judging the exit
        if launch.ready.done():
            launch.ready.result()  # raises the PortInUseError or fatal error the log gave
            return
        raise ServerStartError(
            f"nats-server {self._spec.name} exited with status {launch.process.returncode} "
            f"while starting; its log ends:\n{self.log_tail()}"
        )

    async def _pin_ports(self, pid: int) -> None:
        spec = self._spec
        ports = await self._ports_file(pid)
        client = int(ports["nats"][0].rsplit(":", 1)[1])
        monitor = int(ports["monitoring"][0].rsplit(":", 1)[1])
        leaf = cluster = None
        if spec.leaf_listen is not None or spec.cluster is not None:
            _, varz = await get_json(_dial_host(spec.host), monitor, "/varz")
            if spec.leaf_listen is not None:
                leaf = int(varz["leaf"]["port"])
            if spec.cluster is not None:
                cluster = int(varz["cluster"]["cluster_port"])
        self._spec = spec.with_ports(client, monitor, leaf, cluster)

    async def _ports_file(self, pid: int) -> dict[str, list[str]]:
        """The ports the server listens on; it writes them just after it says it is ready."""
        path = self._spec.directory / f"{Path(str(self._binary)).name}_{pid}.ports"
        while True:
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                return dict(json.loads(path.read_text()))
            await asyncio.sleep(0.02)

    async def _wait_healthy(self) -> None:
        while True:
            try:
                if await healthz(_dial_host(self._spec.host), self._spec.monitor_port) is None:
                    return
            except MonitorUnavailable:
                pass
            await asyncio.sleep(0.05)

    async def _terminate(self, launch: _Launch) -> None:
        process = launch.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(self._settings.stop_grace_s):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await launch.reader

    async def _reload_config(self, launch: _Launch) -> str | None:
        """SIGHUP with the new config written; None on success, else why it failed."""
        _write_config(dataclasses.replace(launch.spec, remotes=self._spec.remotes))
        self._reload = asyncio.get_running_loop().create_future()
        try:
            launch.process.send_signal(signal.SIGHUP)
            async with asyncio.timeout(self._settings.reload_timeout_s):
                return await self._reload
        except TimeoutError:
            return "the server did not confirm the reload"
        finally:
            self._reload = None

    # -- the log ----------------------------------------------------------------------------

    async def _read_log(self, launch: _Launch) -> None:
        stream = launch.process.stdout
        assert stream is not None
        with (self._spec.directory / "server.log").open("ab") as log_file:
            while True:
                try:
                    raw = await stream.readline()
                except ValueError:  # a line over the limit: skip it, keep reading
                    continue
                if not raw:
                    return
                log_file.write(raw)
                log_file.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                self._tail.append(line)
                signal_ = server_log.classify(line)
                if signal_ is not None:
                    self._on_signal(launch, signal_)

    def _on_signal(self, launch: _Launch, signal_: server_log.LogSignal) -> None:
        match signal_:
            case server_log.ServerReady():
                _settle(launch.ready, None)
            case server_log.ListenFailed(role=role, port=port, detail=detail):
                host = _listen_host(self._spec, role)
                _settle(launch.ready, PortInUseError(role, host, port, detail))
            case server_log.Fatal(detail=detail):
                _settle(launch.ready, ServerStartError(f"nats-server {self._spec.name}: {detail}"))
            case server_log.LinkRejected():
                self._on_rejected(signal_)
            case server_log.LinkClosed(address=address, reason=reason):
                self._close_reasons[address] = reason
            case server_log.RemoteDialFailed(remote=remote, detail=detail):
                self._dial_errors[remote] = detail
            case server_log.ReloadDone():
                if self._reload is not None and not self._reload.done():
                    self._reload.set_result(None)
            case server_log.ReloadFailed(detail=detail):
                if self._reload is not None and not self._reload.done():
                    self._reload.set_result(detail)

    def _on_rejected(self, rejected: server_log.LinkRejected) -> None:
        # Keyed by host, not host:port: a rejected dialler retries from a new port every second.
        host = rejected.address.rpartition(":")[0]
        key = (rejected.link, host, rejected.cause)
        now = time.monotonic()
        seen = self._rejections.get(key)
        if (
            seen is not None
            and now - seen.last_reported < self._settings.rejection_report_interval_s
        ):
            seen.suppressed += 1
            return
        if len(self._rejections) >= _MAX_REJECTION_KEYS:  # many hosts: forget the quiet ones
            interval = self._settings.rejection_report_interval_s
            self._rejections = {
                k: v for k, v in self._rejections.items() if now - v.last_reported < interval
            }
        self._rejections[key] = _Rejections(now)
        self._emit(
            MeshLinkRejected(
                server=self._spec.name,
                link=rejected.link,
                address=rejected.address,
                cause=rejected.cause,
                detail=rejected.detail,
                repeats=seen.suppressed if seen is not None else 0,
            )
        )

    # -- supervision ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            launch = self._launch
            if launch is None:
                return
            await launch.process.wait()
            await launch.reader
            async with self._lifecycle:
                if self._stopping:
                    return
                if launch is not self._launch:
                    continue  # replaced on purpose (restart, add_remote)
                self._launch = None
                self._emit_exit(launch, expected=False)
                if not await self._recover():
                    return

    async def _recover(self) -> bool:
        """Restart after a crash, with backoff; False once the restart intensity is exceeded."""
        while True:
            delay = self._intensity.on_exit(time.monotonic())
            if delay is None:
                self._gave_up = True
                self._emit(
                    MeshServerGaveUp(
                        server=self._spec.name,
                        restarts=self._intensity.max_restarts,
                        window_s=self._intensity.window_s,
                        last_log=self.log_tail(5),
                    )
                )
                return False
            await asyncio.sleep(delay)
            try:
                await self._start_process()
            except MeshError as exc:
                log.warning("mesh.restart_failed", server=self._spec.name, error=str(exc))
                continue
            assert self._launch is not None
            self._emit(
                MeshServerRestarted(
                    server=self._spec.name,
                    pid=self._launch.process.pid,
                    recent_restarts=self._intensity.recent_restarts,
                )
            )
            return True

    async def _watch_health(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self._settings.health_interval_s)
            launch = self._launch
            if launch is None or launch.process.returncode is not None:
                failures = 0
                continue
            try:
                error = await healthz(_dial_host(self._spec.host), self._spec.monitor_port)
            except MonitorUnavailable as exc:
                error = str(exc)
            if error is None:
                failures = 0
                continue
            failures += 1
            if failures >= self._settings.unhealthy_after and launch is self._launch:
                failures = 0
                self._emit(
                    MeshServerUnhealthy(server=self._spec.name, pid=launch.process.pid, error=error)
                )
                with contextlib.suppress(ProcessLookupError):
                    launch.process.kill()  # supervision restarts it

    async def _watch_links(self) -> None:
        while True:
            await asyncio.sleep(self._settings.link_poll_interval_s)
            if self._launch is None:
                continue
            try:
                links = await self.leaf_links()
            except MonitorUnavailable:
                continue
            self._on_links({link.address: link for link in links})
            await self._check_bootstraps(time.monotonic())

    def _on_links(self, links: dict[str, LeafLink]) -> None:
        name = self._spec.name
        for address, link in links.items():
            if address not in self._links:
                self._emit(LeafLinkConnected(server=name, remote_name=link.name, address=address))
        for address, link in self._links.items():
            if address not in links:
                reason = self._close_reasons.pop(address, "unknown")
                self._emit(
                    LeafLinkDisconnected(
                        server=name, remote_name=link.name, address=address, reason=reason
                    )
                )
        self._links = links

    async def _check_bootstraps(self, now: float) -> None:
        for url in self._spec.remotes:
            watch = self._watches.get(url)
            if watch is None:
                watch = self._watches[url] = _RemoteWatch(now, await _addresses(url))
            if watch.addresses & self._links.keys():
                watch.since, watch.reported = now, False
                continue
            waited = now - watch.since
            if watch.reported or waited < self._settings.bootstrap_timeout_s:
                continue
            watch.reported = True
            dialled = urlsplit(url).netloc.rpartition("@")[2]
            self._emit(
                BootstrapUnreachable(
                    server=self._spec.name,
                    url=redact(url),
                    waited_s=round(waited, 3),
                    last_error=self._dial_errors.get(dialled, ""),
                )
            )

    # -- events -----------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a failing sink must not take supervision down with it
            log.exception("mesh.event_sink_failed", event=type(event).TYPE)

    def _emit_started(self) -> None:
        assert self._launch is not None
        self._emit(
            MeshServerStarted(
                server=self._spec.name,
                pid=self._launch.process.pid,
                client_url=self.client_url,
                leaf_url=self.leaf_url,
            )
        )

    def _emit_exit(self, launch: _Launch, *, expected: bool) -> None:
        self._emit(
            MeshServerExited(
                server=self._spec.name,
                pid=launch.process.pid,
                returncode=launch.process.returncode or 0,
                expected=expected,
                last_log=self.log_tail(5),
            )
        )


def _settle(future: asyncio.Future[None], outcome: BaseException | None) -> None:
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)


def _write_config(spec: ServerSpec) -> None:
    config = spec.config_file
    partial = config.with_name(config.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets
    with os.fdopen(fd, "w") as out:
        out.write(render_config(spec))
    os.replace(partial, config)


def _check_ports_free(spec: ServerSpec) -> None:
    """Fail before spawning when a configured port is taken (the server's own error is terser).

    SO_REUSEADDR as Go sets it, so a port only in TIME_WAIT after a restart counts as free.
    """
    wanted = [("client", spec.host, spec.client_port), ("monitor", spec.host, spec.monitor_port)]
    if spec.leaf_listen is not None:
        wanted.append(("leafnode", spec.leaf_listen.host, spec.leaf_listen.port))
    if spec.cluster is not None:
        wanted.append(("cluster", spec.cluster.host, spec.cluster.port))
    for role, host, port in wanted:
        if port == 0:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUseError(role, host, port) from None
                raise MeshError(f"cannot use the {role} address {host}:{port}: {exc}") from None


def _listen_host(spec: ServerSpec, role: str) -> str:
    if role == "leafnode" and spec.leaf_listen is not None:
        return spec.leaf_listen.host
    if role == "cluster" and spec.cluster is not None:
        return spec.cluster.host
    return spec.host


def _dial_host(host: str) -> str:
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


async def _addresses(url: str) -> frozenset[str]:
    """ip:port forms of a remote URL, as /leafz shows the link once it is up."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return frozenset()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port, type=socket.SOCK_STREAM
        )
    except OSError:
        return frozenset()
    found = set()
    for _, _, _, _, sockaddr in infos:
        ip = str(sockaddr[0])
        found.add(f"[{ip}]:{parts.port}" if ":" in ip else f"{ip}:{parts.port}")
    return frozenset(found)


def _rotate(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > _LOG_FILE_LIMIT:
            os.replace(path, path.with_name(path.name + ".1"))
