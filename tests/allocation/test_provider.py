"""The provider side of deployment for real: two actor systems, the onboarding ledger, a bid
round, the Docker engine on this machine running busybox allocations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec
import pytest

from nunet.actor import RemoteError
from nunet.allocation import (
    ALLOCATE_BEHAVIOR,
    COMMIT_BEHAVIOR,
    LOGS_BEHAVIOR,
    RESTART_BEHAVIOR,
    REVERT_BEHAVIOR,
    START_BEHAVIOR,
    STATUS_BEHAVIOR,
    STOP_BEHAVIOR,
    Allocate,
    AllocationAsk,
    AllocationCommitted,
    AllocationRecovered,
    AllocationReverted,
    AllocationStateChanged,
    CommitRefused,
    HealthCheck,
    LogEntry,
    LogsAsk,
    ProviderRefused,
    Report,
    ReservationExpired,
    Revert,
)
from nunet.capability.model import GpuNeed, Requirement
from nunet.identity import KeyPair
from nunet.network import InMemoryNetwork
from tests.allocation.harness import (
    Deployer,
    MiB,
    Orchestrator,
    allocation_handle,
    containers_of,
    orchestrator_node,
    provider_node,
    remove_containers_of,
    task,
)
from tests.executor.images import docker_available, ensure_busybox_image
from tests.support.actors import events_of, wait_for_event

GiB = 1 << 30
SMALL = Requirement(cpu=0.5, ram=64 * MiB, executors=("docker",))


@pytest.fixture(scope="module")
def image() -> str:
    if not docker_available():
        pytest.skip("no Docker engine answers here (scripts/bootstrap.sh starts one)")
    return ensure_busybox_image()


@pytest.fixture
async def deployer(tmp_path: Path, image: str) -> AsyncIterator[Deployer]:
    network = InMemoryNetwork()
    key = KeyPair.generate()
    try:
        async with (
            provider_node(network, tmp_path / "provider", key) as provider,
            orchestrator_node(network, tmp_path / "orchestrator", provider) as deployer,
        ):
            yield deployer
    finally:
        await remove_containers_of(key.did)  # a failed test leaves nothing on the engine


async def refused(deployer: Deployer, behavior: str, payload: object, **kw: object) -> RemoteError:
    with pytest.raises(RemoteError) as caught:
        await deployer.ask(behavior, payload, **kw)  # type: ignore[arg-type]
    return caught.value


def ask(allocation: str) -> AllocationAsk:
    return AllocationAsk(deployment="dep1", allocation=allocation)


async def test_a_commit_without_a_bid_is_refused_and_recorded(deployer: Deployer) -> None:
    before = deployer.provider.free()
    error = await refused(deployer, COMMIT_BEHAVIOR, deployer.commit_for("f" * 24, SMALL))
    assert error.code == "commit-refused"
    assert "issued no valid bid" in error.remote_message
    assert deployer.provider.free() == before
    _, event = await wait_for_event(deployer.provider.node.log, CommitRefused)
    assert (event.deployment, event.node, event.code) == ("dep1", "n1", "commit-refused")
    assert event.sender == deployer.orchestrator.handle.did


async def test_a_commit_asking_more_than_is_free_is_refused_naming_the_resource(
    deployer: Deployer,
) -> None:
    request_id = await deployer.bid(SMALL)
    greedy = Requirement(cpu=0.5, ram=4 * GiB, executors=("docker",))
    error = await refused(deployer, COMMIT_BEHAVIOR, deployer.commit_for(request_id, greedy))
    assert error.code == "commit-refused"
    assert "ram: needs 4.0GiB ram" in error.remote_message or "ram:" in error.remote_message
    assert "1.0GiB" in error.remote_message or "1GiB" in error.remote_message
    assert deployer.provider.onboarding.ledger.allocations == {}


async def test_a_task_runs_from_commit_to_revert_and_leaves_nothing(
    deployer: Deployer, image: str
) -> None:
    provider = deployer.provider
    before = provider.free()
    requirement = Requirement(cpu=1.0, ram=128 * MiB, executors=("docker",))
    request_id = await deployer.bid(requirement)
    committed = await deployer.commit(deployer.commit_for(request_id, requirement))
    assert committed.reservation == "dep1/n1"
    assert provider.free().cpu == before.cpu - 1.0
    assert provider.free().ram == before.ram - 128 * MiB
    again = await deployer.commit(deployer.commit_for(request_id, requirement))
    assert again == committed  # idempotent: nothing reserved twice
    assert provider.free().cpu == before.cpu - 1.0

    orders = [
        task("job", image, "echo hello && echo oops >&2"),
        task(
            "keys",
            image,
            "cat /tmp/provisioned /root/.ssh/authorized_keys",
            provision=("echo step-one > /tmp/provisioned", "echo step-two >> /tmp/provisioned"),
            keys=("ssh-ed25519 AAAAtestkey user@example",),
        ),
    ]
    allocated = await deployer.allocate(orders)
    assert set(allocated.allocations) == {"job", "keys"}
    assert allocated.allocations["job"] == allocation_handle(provider, "job")
    orchestrator = deployer.orchestrator
    for name in ("job", "keys"):
        await orchestrator.report_where(lambda r, n=name: r.allocation == n)  # type: ignore[misc]
        started = await deployer.ask(START_BEHAVIOR, ask(name), to=allocated.allocations[name])
        assert started["state"] == "starting"
        assert started["run"] == 1
    for name in ("job", "keys"):
        done = await orchestrator.report_where(
            lambda r, n=name: r.allocation == n and r.state == "exited"  # type: ignore[misc]
        )
        assert done.exit_code == 0
        assert done.run == 1
        assert orchestrator.states(name) == [
            ("allocated", 0),
            ("starting", 1),
            ("running", 1),
            ("exited", 1),
        ]
        seqs = [r.seq for r in orchestrator.reports if r.allocation == name]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)

    entries = await deployer.ask(
        LOGS_BEHAVIOR,
        LogsAsk(deployment="dep1", allocation="job"),
        to=allocated.allocations["job"],
    )
    logs = [msgspec.convert(e, LogEntry) for e in entries]
    assert sorted((e.stream, e.text) for e in logs) == [("stderr", "oops"), ("stdout", "hello")]
    later = await deployer.ask(
        LOGS_BEHAVIOR,
        LogsAsk(deployment="dep1", allocation="job", since=max(e.at for e in logs)),
        to=allocated.allocations["job"],
    )
    assert later == []
    keys_logs = await deployer.ask(
        LOGS_BEHAVIOR,
        LogsAsk(deployment="dep1", allocation="keys"),
        to=allocated.allocations["keys"],
    )
    assert [e[2] for e in keys_logs] == [
        "step-one",
        "step-two",
        "ssh-ed25519 AAAAtestkey user@example",
    ]
    assert len(await containers_of(deployer.provider.node.key.did)) == 2  # kept until released

    reverted = await deployer.revert()
    assert reverted.released
    assert set(reverted.allocations) == {"job", "keys"}
    assert provider.free() == before
    assert await containers_of(provider.node.key.did) == []
    assert not (provider.work_dir / "dep1").exists()
    released = await orchestrator.report_where(lambda r: r.state == "released")
    assert released.kind == "state"
    assert (await deployer.revert()).released is False  # idempotent
    (event,) = await events_of(provider.node.log, AllocationReverted)
    assert event.allocations == ("job", "keys")


async def test_an_unallocated_reservation_is_released_when_its_hold_expires(
    deployer: Deployer,
) -> None:
    provider = deployer.provider
    before = provider.free()
    request_id = await deployer.bid(SMALL)
    await deployer.commit(deployer.commit_for(request_id, SMALL, hold_seconds=0.3))
    assert provider.free() != before
    _, expired = await wait_for_event(provider.node.log, ReservationExpired)
    assert (expired.deployment, expired.node, expired.reservation) == ("dep1", "n1", "dep1/n1")
    assert provider.free() == before
    error = await refused(
        deployer,
        ALLOCATE_BEHAVIOR,
        Allocate(deployment="dep1", node="n1", allocations=(task("job", "x", "true"),)),
    )
    assert error.code == "unknown-deployment"


async def test_a_service_whose_health_check_fails_reports_unhealthy(
    deployer: Deployer, image: str
) -> None:
    service = task(
        "web",
        image,
        "sleep 30",
        type="service",
        health_check=HealthCheck(command=("false",), interval=0.1, timeout=2.0, retries=2),
    )
    allocated = await deployer.deploy([service])
    await deployer.ask(START_BEHAVIOR, ask("web"), to=allocated.allocations["web"])
    unhealthy = await deployer.orchestrator.report_where(lambda r: r.healthy is False)
    assert unhealthy.state == "running"
    assert "unhealthy: the health check exited 1" in unhealthy.error
    await deployer.revert()
    assert await containers_of(deployer.provider.node.key.did) == []


async def test_a_restart_runs_it_again_under_a_new_run_number(
    deployer: Deployer, image: str
) -> None:
    allocated = await deployer.deploy([task("job", image, "echo ran")])
    to = allocated.allocations["job"]
    await deployer.ask(START_BEHAVIOR, ask("job"), to=to)
    orchestrator = deployer.orchestrator
    await orchestrator.report_where(lambda r: r.state == "exited" and r.run == 1)
    error = await refused(deployer, START_BEHAVIOR, ask("job"), to=to)
    assert error.code == "illegal-transition"
    assert "use restart" in error.remote_message
    restarted = await deployer.ask(RESTART_BEHAVIOR, ask("job"), to=to)
    assert restarted["state"] == "starting"
    assert restarted["run"] == 2
    done = await orchestrator.report_where(lambda r: r.state == "exited" and r.run == 2)
    assert done.exit_code == 0
    status = msgspec.convert(await deployer.ask(STATUS_BEHAVIOR, ask("job"), to=to), Report)
    assert (status.state, status.run) == ("exited", 2)
    logs = await deployer.ask(LOGS_BEHAVIOR, LogsAsk(deployment="dep1", allocation="job"), to=to)
    assert [e[2] for e in logs] == ["ran"]  # the current run's
    assert len(await containers_of(deployer.provider.node.key.did)) == 1  # the first was cleaned
    await deployer.revert()


async def test_a_stop_ends_a_running_service_and_keeps_its_state(
    deployer: Deployer, image: str
) -> None:
    allocated = await deployer.deploy([task("web", image, "echo up && sleep 30", type="service")])
    to = allocated.allocations["web"]
    await deployer.ask(START_BEHAVIOR, ask("web"), to=to)
    await deployer.orchestrator.report_where(lambda r: r.state == "running")
    stopped = await deployer.ask(STOP_BEHAVIOR, ask("web"), to=to)
    assert stopped["state"] == "stopped"
    again = await deployer.ask(STOP_BEHAVIOR, ask("web"), to=to)
    assert again["state"] == "stopped"
    await deployer.revert()


async def test_someone_else_cannot_revert_or_drive_a_deployment(
    deployer: Deployer, image: str
) -> None:
    allocated = await deployer.deploy([task("job", image, "echo hi")])
    stranger = deployer.stranger
    with pytest.raises(RemoteError) as caught:
        await stranger.invoke(
            deployer.provider.handle, REVERT_BEHAVIOR, Revert(deployment="dep1", node="n1")
        )
    assert caught.value.code == "not-your-deployment"
    with pytest.raises(RemoteError) as caught:
        await stranger.invoke(allocated.allocations["job"], START_BEHAVIOR, ask("job"))
    assert caught.value.code == "not-your-deployment"
    with pytest.raises(RemoteError) as caught:
        await stranger.invoke(
            deployer.provider.handle,
            COMMIT_BEHAVIOR,
            deployer.commit_for("r" * 24, SMALL),
        )
    assert caught.value.code == "not-your-deployment"  # it names another orchestrator
    await wait_for_event(deployer.provider.node.log, CommitRefused)
    refusals = await events_of(deployer.provider.node.log, ProviderRefused)
    assert [(r.operation, r.code) for r in refusals] == [
        ("revert", "not-your-deployment"),
        ("start", "not-your-deployment"),
    ]
    assert all(r.sender == stranger.handle.did for r in refusals)
    assert "dep1/n1" in deployer.provider.onboarding.ledger.allocations  # still held
    await deployer.revert()


async def test_allocation_orders_that_cannot_run_are_refused_and_the_hold_runs_on(
    deployer: Deployer, image: str
) -> None:
    request_id = await deployer.bid(SMALL)
    await deployer.commit(deployer.commit_for(request_id, SMALL))
    cases = [
        (task("job", image, "true", executor="qemu"), "executor: qemu is not available"),
        (task("job", image, "true", gpus=(0,)), "gpus: device(s) [0] were not committed"),
        (task("job", image, "true", cpu=2.0), "cpu: the allocations ask 2 cores"),
        (
            task("job", "nunet-test/absent:1", "true"),
            "image nunet-test/absent:1 is not on this node",
        ),
    ]
    for order, reason in cases:
        error = await refused(
            deployer,
            ALLOCATE_BEHAVIOR,
            Allocate(deployment="dep1", node="n1", allocations=(order,)),
        )
        assert error.code == "allocate-refused", error
        assert reason in error.remote_message
    assert await containers_of(deployer.provider.node.key.did) == []
    allocated = await deployer.allocate([task("job", image, "true")])  # still committed
    assert set(allocated.allocations) == {"job"}
    await deployer.revert()


async def test_a_commit_reserves_the_gpu_its_bid_named(tmp_path: Path, image: str) -> None:
    network = InMemoryNetwork()
    share = {"cpu": 2, "ram": "1GiB", "disk": "1GiB", "gpus": [0, 1]}
    async with (
        provider_node(network, tmp_path / "p", KeyPair.generate(), share=share, gpus=True) as p,
        orchestrator_node(network, tmp_path / "o", p) as deployer,
    ):
        needs = Requirement(cpu=0.5, ram=64 * MiB, gpus=(GpuNeed(vram=20 * GiB),))
        request_id = await deployer.bid(needs)
        committed = await deployer.commit(deployer.commit_for(request_id, needs))
        assert committed.gpus == (1,)  # the 24 GiB device, the one that meets the need
        assert [g.index for g in p.onboarding.ledger.allocations["dep1/n1"].gpus] == [1]
        (event,) = await events_of(p.node.log, AllocationCommitted)
        assert event.gpus == (1,)
        await deployer.revert()
        assert [g.index for g in p.free().gpus] == [0, 1]


async def test_a_restarted_provider_readopts_its_running_allocation(
    tmp_path: Path, image: str
) -> None:
    network = InMemoryNetwork()
    key = KeyPair.generate()
    try:
        async with AsyncExitStack() as first_run:
            first = await first_run.enter_async_context(provider_node(network, tmp_path / "p", key))
            async with orchestrator_node(network, tmp_path / "o", first) as deployer:
                allocated = await deployer.deploy(
                    [task("web", image, "echo up && sleep 60", type="service")]
                )
                await deployer.ask(START_BEHAVIOR, ask("web"), to=allocated.allocations["web"])
                running = await deployer.orchestrator.report_where(lambda r: r.state == "running")
                held = first.free()
                await first_run.aclose()  # the provider node stops; its container runs on
                async with provider_node(network, tmp_path / "p", key) as second:
                    deployer.provider = second
                    assert second.free() == held  # the ledger and the commitment came back
                    _, recovered = await wait_for_event(second.node.log, AllocationRecovered)
                    assert (recovered.allocation, recovered.action, recovered.state) == (
                        "web",
                        "adopted",
                        "running",
                    )
                    report = await deployer.orchestrator.report_where(
                        lambda r: r.allocation == "web" and r.seq > running.seq
                    )
                    assert report.state == "running"
                    status = await deployer.ask(
                        STATUS_BEHAVIOR, ask("web"), to=allocation_handle(second, "web")
                    )
                    assert status["state"] == "running"
                    await deployer.revert()
                    assert await containers_of(key.did) == []
                    assert second.free().cpu == 2.0
    finally:
        await remove_containers_of(key.did)


async def test_a_state_change_while_the_orchestrator_is_away_reaches_it_when_it_is_back(
    deployer: Deployer, image: str
) -> None:
    allocated = await deployer.deploy([task("job", image, "sleep 0.3 && echo done")])
    await deployer.ask(START_BEHAVIOR, ask("job"), to=allocated.allocations["job"])
    orchestrator = deployer.orchestrator
    await orchestrator.report_where(lambda r: r.state == "running")
    system = deployer.node.system
    await system.stop(orchestrator.handle.actor)  # the orchestrator goes away
    _, exited = await wait_for_event(
        deployer.provider.node.log, AllocationStateChanged, lambda e: e.state == "exited"
    )
    assert exited.exit_code == 0  # the allocation ran on without it
    back = Orchestrator()
    await system.spawn(back, "orchestrator/dep1")  # the same handle as before
    report = await back.report_where(lambda r: r.kind == "state")
    assert (report.state, report.exit_code) == ("exited", 0)
    assert report.seq > max(r.seq for r in orchestrator.reports)
    deployer.orchestrator = back
    await deployer.revert()
