"""The Docker executor against the real engine on this machine: the contract, then what only
Docker has (recover by label, digests, registry credentials, ports on host network, a dead engine,
a job printing a lot)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from nunet.eventlog import Event
from nunet.executor import (
    ExecutionFailed,
    ExecutionFailedToStart,
    ExecutionFinished,
    ExecutionPrepared,
    ExecutionRecovered,
    Executor,
    ExecutorUnavailable,
    ImageNotFound,
    InvalidSpec,
    Limits,
    Mount,
    OutputMount,
    PortMapping,
    State,
)
from nunet.executor.docker import DockerEngine, DockerExecutor, RegistryAuth
from nunet.executor.docker.engine import DEFAULT_SOCKET
from tests.executor.contract import WAIT_S, ExecutorBackend, ExecutorContract, Opened, texts
from tests.executor.images import image_id


class DockerBackend(ExecutorBackend):
    def __init__(self, image: str, node_id: str, log_dir: Path) -> None:
        self.image = image
        self.node_id = node_id
        self.log_dir = log_dir

    async def open(
        self, record: Callable[[Event], None], *, allow_privileged: bool = False
    ) -> Executor:
        return DockerExecutor(
            record, node_id=self.node_id, allow_privileged=allow_privileged, log_dir=self.log_dir
        )

    async def leftovers(self, execution_id: str) -> list[str]:
        engine = DockerEngine()
        try:
            found = await engine.containers(
                {"nunet.node": self.node_id, "nunet.execution": execution_id}
            )
        finally:
            await engine.close()
        logs = [str(p) for p in self.log_dir.glob(f"{execution_id}.log")]
        return [str(c["Id"]) for c in found] + logs


async def remove_node_containers(node_id: str) -> None:
    engine = DockerEngine()
    try:
        for container in await engine.containers({"nunet.node": node_id}):
            await engine.remove(container["Id"])
    finally:
        await engine.close()


@pytest.fixture
async def docker_backend(
    busybox_image: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[DockerBackend]:
    node_id = f"did:test:{request.node.name[:40]}-{id(request)}"
    yield DockerBackend(busybox_image, node_id, tmp_path_factory.mktemp("logs"))
    await remove_node_containers(node_id)  # a failed test leaves nothing on the engine


class TestDockerContract(ExecutorContract):
    # This machine's kernel withholds capabilities a privileged container needs (runc: "unable
    # to apply caps"): test_docker proves the privileged container is built and refused clearly.
    supports_privileged = False

    @pytest.fixture
    def backend(self, docker_backend: DockerBackend) -> ExecutorBackend:
        return docker_backend


# --- Docker only ---


@pytest.fixture
async def opened(docker_backend: DockerBackend) -> AsyncIterator[Opened]:
    events: list[Event] = []
    executor = await docker_backend.open(events.append)
    try:
        yield Opened(executor, events, docker_backend)
    finally:
        await executor.close()


async def inspect(container_label_execution: str, node_id: str) -> dict[str, object]:
    engine = DockerEngine()
    try:
        (summary,) = await engine.containers(
            {"nunet.node": node_id, "nunet.execution": container_label_execution}
        )
        return await engine.inspect_container(summary["Id"])
    finally:
        await engine.close()


async def test_a_restarted_node_adopts_its_running_job_and_cleans_its_finished_one(
    docker_backend: DockerBackend, busybox_image: str
) -> None:
    before: list[Event] = []
    first = await docker_backend.open(before.append)
    opened = Opened(first, before, docker_backend)
    running = opened.spec("echo before; sleep 2; echo after")
    finished = opened.spec("echo done")
    await opened.run(finished)
    await first.prepare(running)
    await first.start(running.id)
    await first.close()  # the node stops; its containers do not

    other_node = DockerBackend(
        busybox_image, docker_backend.node_id + "-other", docker_backend.log_dir
    )
    other_events: list[Event] = []
    other = await other_node.open(other_events.append)
    foreign = Opened(other, other_events, other_node).spec("sleep 30")
    await other.prepare(foreign)
    try:
        after: list[Event] = []
        second = await docker_backend.open(after.append)
        try:
            assert sorted(await second.recover()) == sorted([running.id, finished.id])
            actions = {e.execution: e.action for e in after if isinstance(e, ExecutionRecovered)}
            assert actions == {running.id: "adopted", finished.id: "cleaned"}
            assert await docker_backend.leftovers(finished.id) == []
            async with asyncio.timeout(WAIT_S):
                status = await second.wait(running.id)
            assert (status.state, status.exit_code) == (State.EXITED, 0)
            lines = texts([line async for line in second.logs(running.id)])
            assert lines[-1] == "after"  # the log book survived the restart
            await second.cleanup(running.id)
            assert await docker_backend.leftovers(running.id) == []
            assert await other_node.leftovers(foreign.id) != []  # another node's: untouched
        finally:
            await second.close()
    finally:
        await other.cleanup(foreign.id)
        await other.close()


async def test_a_recovered_job_still_has_the_sum_of_its_outputs_held_to_the_limit(
    docker_backend: DockerBackend, tmp_path: Path
) -> None:
    """The outputs reach a restarted node through the container's label: the job writes them
    only after the restart (when the test drops a file in its input), and they are measured."""
    trigger, first, second = tmp_path / "trigger", tmp_path / "first", tmp_path / "second"
    for directory in (trigger, first, second):
        directory.mkdir()
    before: list[Event] = []
    executor = await docker_backend.open(before.append)
    spec = Opened(executor, before, docker_backend).spec(
        "while [ ! -e /trigger/go ]; do sleep 0.05; done; "
        "dd if=/dev/zero of=/first/part bs=1024 count=3; "
        "dd if=/dev/zero of=/second/part bs=1024 count=3",
        inputs=(Mount(source=str(trigger), target="/trigger"),),
        outputs=(
            OutputMount(source=str(first), target="/first"),
            OutputMount(source=str(second), target="/second"),
        ),
        limits=Limits(output_bytes=4096),
    )
    await executor.prepare(spec)
    await executor.start(spec.id)
    await executor.close()  # the node stops; its container does not
    after: list[Event] = []
    restarted = await docker_backend.open(after.append)
    try:
        assert await restarted.recover() == [spec.id]
        (trigger / "go").touch()
        async with asyncio.timeout(WAIT_S):
            status = await restarted.wait(spec.id)
        assert status.state is State.FAILED
        assert status.output_bytes == 6144
        for said in ("6144", "4096", str(first), str(second)):
            assert said in status.error
        await restarted.cleanup(spec.id)
    finally:
        await restarted.close()


async def test_a_job_printing_hundreds_of_megabytes_keeps_only_its_log_limit(
    opened: Opened,
) -> None:
    spec = opened.spec(
        "yes 0123456789012345678901234567890123456789012345678901234567890123456789 "
        "| head -c 200000000",
        limits=Limits(log_bytes=1 << 20),
    )
    status = await opened.run(spec)
    assert status.exit_code == 0
    kept = sum(len(line.text) + 1 for line in await opened.lines(spec.id))
    assert kept <= 1 << 20
    assert kept + status.logs_dropped == 200_000_000
    assert isinstance(opened.backend, DockerBackend)
    log_file = opened.backend.log_dir / f"{spec.id}.log"
    assert await asyncio.to_thread(lambda: log_file.stat().st_size) < 2 << 20


async def test_an_engine_that_does_not_answer_is_unavailable_and_recorded(
    tmp_path: Path, busybox_image: str
) -> None:
    events: list[Event] = []
    dead = str(tmp_path / "dead.sock")
    executor = DockerExecutor(
        events.append, node_id="did:test:dead", engine=DockerEngine(dead), log_dir=tmp_path
    )
    try:
        spec = Opened(executor, events, DockerBackend(busybox_image, "x", tmp_path)).spec("true")
        with pytest.raises(ExecutorUnavailable, match=f"unix://{dead} is not answering"):
            await executor.prepare(spec)
        (refused,) = events
        assert isinstance(refused, ExecutionFailedToStart)
        assert refused.code == "executor-unavailable"
    finally:
        await executor.close()


async def test_an_unknown_image_is_refused_as_not_pullable(opened: Opened) -> None:
    spec = opened.spec("true", image="nunet-test/nope:1")
    with pytest.raises(
        ImageNotFound, match="image nunet-test/nope:1 is not on this node and cannot be pulled: "
    ):
        await opened.executor.prepare(spec)
    assert await opened.backend.leftovers(spec.id) == []


async def test_an_image_pinned_by_its_digest_runs_and_a_wrong_digest_is_refused(
    opened: Opened, busybox_image: str
) -> None:
    digest = image_id(busybox_image)
    name = busybox_image.partition(":")[0]
    pinned = opened.spec("echo pinned", image=f"{name}@{digest}")
    status = await opened.run(pinned)
    assert status.exit_code == 0
    prepared = next(e for e in opened.events_of(pinned.id) if isinstance(e, ExecutionPrepared))
    assert prepared.digest == digest
    wrong = opened.spec("true", image=f"{name}@sha256:{'0' * 64}")
    with pytest.raises(ImageNotFound, match=f"only as {digest}, not the pinned sha256:0000"):
        await opened.executor.prepare(wrong)


async def test_a_malformed_image_reference_is_an_invalid_spec(opened: Opened) -> None:
    with pytest.raises(InvalidSpec, match="not a repository name"):
        await opened.executor.prepare(opened.spec("true", image="Upper/Case:1"))


async def test_ports_need_host_network_where_the_job_binds_loopback_itself(
    opened: Opened,
) -> None:
    with pytest.raises(InvalidSpec, match="ports need network 'host'"):
        await opened.executor.prepare(opened.spec("true", ports=(PortMapping(port=8080),)))
    with pytest.raises(InvalidSpec, match="leave host_port 0 or equal to port"):
        await opened.executor.prepare(
            opened.spec("true", network="host", ports=(PortMapping(port=8080, host_port=9090),))
        )
    port = free_port()
    spec = opened.spec(
        f"mkdir -p /www && echo served > /www/index.html && httpd -f -p 127.0.0.1:{port} -h /www",
        network="host",
        ports=(PortMapping(port=port),),
    )
    await opened.executor.prepare(spec)
    await opened.executor.start(spec.id)
    try:
        body = await fetch_when_listening(port)
        assert "served" in body
    finally:
        await opened.executor.cancel(spec.id)
        await opened.executor.cleanup(spec.id)


async def test_gpus_are_asked_of_the_nvidia_driver_by_index_and_refused_clearly_without_one(
    opened: Opened, docker_backend: DockerBackend
) -> None:
    spec = opened.spec("true", limits=Limits(gpus=(0, 2)))
    await opened.executor.prepare(spec)
    container = await inspect(spec.id, docker_backend.node_id)
    (request,) = container["HostConfig"]["DeviceRequests"]  # type: ignore[index]
    assert request["Driver"] == "nvidia"
    assert request["DeviceIDs"] == ["0", "2"]
    assert request["Capabilities"] == [["gpu"]]
    # This machine has no NVIDIA runtime: the engine refuses at start, and it is said clearly.
    with pytest.raises(ExecutionFailed, match=f"execution {spec.id} could not start: .*nvidia"):
        await opened.executor.start(spec.id)
    assert (await opened.executor.status(spec.id)).state is State.FAILED
    assert await opened.backend.leftovers(spec.id) == []


async def test_privileged_where_allowed_builds_a_privileged_container(
    docker_backend: DockerBackend,
) -> None:
    events: list[Event] = []
    executor = await docker_backend.open(events.append, allow_privileged=True)
    try:
        spec = Opened(executor, events, docker_backend).spec("true", privileged=True)
        await executor.prepare(spec)
        container = await inspect(spec.id, docker_backend.node_id)
        assert container["HostConfig"]["Privileged"] is True  # type: ignore[index]
        await executor.cleanup(spec.id)
    finally:
        await executor.close()


async def test_limits_reach_the_container(opened: Opened, docker_backend: DockerBackend) -> None:
    spec = opened.spec("true", limits=Limits(cpu=0.5, memory=64 << 20))
    await opened.executor.prepare(spec)
    host = (await inspect(spec.id, docker_backend.node_id))["HostConfig"]
    assert host["CpuQuota"] == 50_000  # type: ignore[index]
    assert host["CpuPeriod"] == 100_000  # type: ignore[index]
    assert host["Memory"] == 64 << 20  # type: ignore[index]
    assert host["MemorySwap"] == 64 << 20  # type: ignore[index]
    assert host["NetworkMode"] == "none"  # type: ignore[index]
    await opened.executor.cleanup(spec.id)


async def test_a_disk_limit_this_storage_cannot_enforce_is_refused_clearly(
    opened: Opened,
) -> None:
    spec = opened.spec("true", limits=Limits(disk=1 << 30))
    with pytest.raises(
        ExecutionFailed, match="refused to create its container: --storage-opt is supported only"
    ):
        await opened.executor.prepare(spec)
    assert await opened.backend.leftovers(spec.id) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def fetch_when_listening(port: int) -> str:
    async with asyncio.timeout(WAIT_S):
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except ConnectionRefusedError:
                await asyncio.sleep(0.05)  # the server is starting: poll its port
                continue
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            body = await reader.read()
            writer.close()
            return body.decode()


class FakeRegistry:
    """A registry on loopback that wants Basic credentials and has no images: what the engine
    sends it proves the node's credentials travel with the pull. (No real registry can run here.)"""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.read(1)
        if first in (b"", b"\x16"):  # a TLS hello: refused, the engine falls back to plain HTTP
            writer.close()
            return
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        headers = dict(
            line.split(": ", 1)
            for line in head.decode(errors="replace").split("\r\n")[1:]
            if ": " in line
        )
        authorization = headers.get("Authorization", "")
        if authorization:
            self.authorizations.append(authorization)
            status, extra = "404 Not Found", ""
        else:
            status, extra = "401 Unauthorized", 'WWW-Authenticate: Basic realm="nunet-test"\r\n'
        body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
        writer.write(
            f"HTTP/1.1 {status}\r\n{extra}Docker-Distribution-API-Version: registry/2.0\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


async def test_registry_credentials_from_the_node_reach_the_registry(
    docker_backend: DockerBackend, tmp_path: Path
) -> None:
    registry = FakeRegistry()
    async with registry as port:
        host = f"127.0.0.1:{port}"
        events: list[Event] = []
        executor = DockerExecutor(
            events.append,
            node_id=docker_backend.node_id,
            registry_auth={host: RegistryAuth(username="ann", password="s3cret")},
            log_dir=tmp_path,
        )
        try:
            spec = Opened(executor, events, docker_backend).spec("true", image=f"{host}/app:1")
            with pytest.raises(ImageNotFound, match=f"image {host}/app:1 is not on this node"):
                await executor.prepare(spec)
        finally:
            await executor.close()
    expected = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    assert expected in registry.authorizations


class EngineLink:
    """A Unix-socket relay to the real engine that can be cut: to the executor behind it, a cut
    is an engine that crashed mid-run (every connection drops, new ones are refused); restoring
    it is the engine coming back. The real engine and its containers are untouched."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        engine_reader, engine_writer = await asyncio.open_unix_connection(DEFAULT_SOCKET)
        self._writers |= {writer, engine_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, engine_writer), pipe(engine_reader, writer))
        self._writers -= {writer, engine_writer}


async def test_an_engine_crash_mid_run_fails_the_job_clearly_and_spares_the_others(
    tmp_path: Path, docker_backend: DockerBackend
) -> None:
    link = EngineLink(Path(tempfile.mkdtemp(prefix="nunet-engine-")) / "docker.sock")
    await link.up()
    events: list[Event] = []
    behind_link = DockerExecutor(
        events.append,
        node_id=docker_backend.node_id,
        engine=DockerEngine(str(link.path)),
        log_dir=tmp_path,
    )
    direct = await docker_backend.open(events.append)
    crashing = Opened(behind_link, events, docker_backend)
    other = Opened(direct, events, docker_backend)
    try:
        doomed = crashing.spec("echo up; sleep 60")
        spared = other.spec("sleep 2; echo spared")
        for opened, spec in ((crashing, doomed), (other, spared)):
            await opened.executor.prepare(spec)
            await opened.executor.start(spec.id)
        async with asyncio.timeout(WAIT_S):
            async for line in behind_link.logs(doomed.id, follow=True):
                if line.text == "up":
                    break
        await link.cut()

        async with asyncio.timeout(WAIT_S):
            lost = await behind_link.wait(doomed.id)
        assert lost.state is State.FAILED
        assert "lost track of its container: the Docker engine at unix://" in lost.error
        assert "is not answering" in lost.error
        finished = [e for e in events if isinstance(e, ExecutionFinished)]
        assert [e.state for e in finished if e.execution == doomed.id] == ["failed"]

        async with asyncio.timeout(WAIT_S):
            status = await direct.wait(spared.id)
        assert (status.state, status.exit_code) == (State.EXITED, 0)
        assert texts(await other.lines(spared.id)) == ["spared"]

        # The engine comes back: cleaning up the lost job removes its container.
        await link.up()
        await behind_link.cleanup(doomed.id)
        await direct.cleanup(spared.id)
        assert await docker_backend.leftovers(doomed.id) == []
        assert await docker_backend.leftovers(spared.id) == []
    finally:
        await behind_link.close()
        await direct.close()
        with contextlib.suppress(AssertionError):
            await link.cut()


async def test_a_prepare_cancelled_as_its_container_is_created_leaves_nothing_after_cleanup(
    opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task preparing is cancelled just as the engine answers the create (the container
    exists, the executor never learned its id): cancel and cleanup still remove it."""
    assert isinstance(opened.executor, DockerExecutor)
    engine = opened.executor._engine  # the cut must fall inside the engine call
    create = engine.create_container

    async def created_then_cancelled(name: str, config: dict[str, object]) -> str:
        await create(name, config)
        raise asyncio.CancelledError

    monkeypatch.setattr(engine, "create_container", created_then_cancelled)
    spec = opened.spec("true")
    with pytest.raises(asyncio.CancelledError):
        await opened.executor.prepare(spec)
    assert len(await opened.backend.leftovers(spec.id)) == 1  # the engine made it
    await opened.executor.cancel(spec.id)
    await opened.executor.cleanup(spec.id)
    assert await opened.backend.leftovers(spec.id) == []
