"""Workloads → a native `nunet/v1` ensemble document (the pure core every source shares).

Naming: a workload with one replica is the node `web`; with several, the nodes `web-0`,
`web-1`, … A node's single container is the allocation of the same name; with several, each is
`<node>-<container>`. Names are lowercased and every character outside `[a-z0-9-]` becomes `-`
(reported when that changes a name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from nunet.translate.errors import TranslateError
from nunet.translate.plan import Container, Probe, Workload
from nunet.translate.quantities import cpu_value, duration_text, size_text
from nunet.translate.reading import DropLog
from nunet.translate.result import Source

_NAME_LIMIT = 63
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


def ensemble_name(text: str) -> str:
    """A valid ensemble/allocation name from any text, or "" when nothing usable is left."""
    name = _NOT_NAME.sub("-", text.strip().lower()).strip("-")
    return name[:_NAME_LIMIT].rstrip("-")


def build_document(
    name: str,
    workloads: Iterable[Workload],
    log: DropLog,
    source: Source,
    origins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ensemble document; what it cannot express goes to `log`. `origins`, when given, is
    filled with where each allocation and node came from (`allocations.web-0` → its source
    path), so a problem found in the document can be shown at its source."""
    origins = {} if origins is None else origins
    plan = list(workloads)
    if not plan:
        raise TranslateError("", "nothing to translate: the source defines no workload")
    naming = _Naming(plan, log)
    known = {w.name for w in plan}
    for workload in plan:
        for dep in workload.depends_on:
            if dep.workload not in known:
                raise TranslateError(dep.path, f"{dep.workload!r} is not defined in this source")
    allocations: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    published: dict[int, str] = {}
    for workload in plan:
        for replica, node in enumerate(naming.nodes[workload.name]):
            members = naming.members(workload, replica)
            for container in workload.containers:
                allocation = _allocation(container, log)
                depends = [a for dep in workload.depends_on for a in naming.every(dep.workload)]
                if workload.ordered_replicas and replica > 0:
                    depends += naming.members(workload, replica - 1).values()
                if depends:
                    allocation["depends_on"] = depends
                allocations[members[container.name]] = allocation
                origins[f"allocations.{members[container.name]}"] = container.path
            nodes[node] = _node(workload, replica, members, published, log)
            origins[f"nodes.{node}"] = workload.path
    for workload in plan:
        _aliases(workload, naming, allocations, log)
    document: dict[str, Any] = {
        "version": "nunet/v1",
        "name": ensemble_name(name) or "ensemble",
        "metadata": {"translated_from": source},
        "allocations": allocations,
        "nodes": nodes,
    }
    if any(w.intensity is not None for w in plan):
        document["supervisor"] = _supervisor(plan, naming)
    return document


class _Naming:
    """Node and allocation names for every replica of every workload, unique or refused."""

    def __init__(self, plan: list[Workload], log: DropLog) -> None:
        self.nodes: dict[str, list[str]] = {}
        self._allocations: dict[tuple[str, int, str], str] = {}
        taken: dict[str, str] = {}
        for workload in plan:
            if workload.name in self.nodes:
                raise TranslateError(workload.path, f"{workload.name!r} is defined twice")
            base = self._clean(workload.name, workload.path, log)
            names = (
                [base]
                if workload.replicas == 1
                else [f"{base}-{i}" for i in range(workload.replicas)]
            )
            self.nodes[workload.name] = names
            for replica, node in enumerate(names):
                self._claim(node, workload.path, taken)
                for container in workload.containers:
                    alloc = node
                    if len(workload.containers) > 1:
                        part = self._clean(
                            container.name, container.path, log if not replica else None
                        )
                        alloc = f"{node}-{part}"[:_NAME_LIMIT].rstrip("-")
                        self._claim(alloc, container.path, taken)
                    self._allocations[(workload.name, replica, container.name)] = alloc
        self._plan = {w.name: w for w in plan}

    @staticmethod
    def _clean(text: str, path: str, log: DropLog | None) -> str:
        name = ensemble_name(text)
        if not name:
            raise TranslateError(path, f"{text!r} leaves no usable name; use letters or digits")
        if name != text and log is not None:
            log.drop(
                path,
                f"name {text}",
                f"ensemble names are lowercase letters, digits and '-': named {name}",
            )
        return name

    @staticmethod
    def _claim(name: str, path: str, taken: dict[str, str]) -> None:
        if name in taken and taken[name] != path:
            raise TranslateError(
                path, f"the name {name!r} is also used by {taken[name]}; rename one of them"
            )
        taken[name] = path

    def members(self, workload: Workload, replica: int) -> dict[str, str]:
        return {
            c.name: self._allocations[(workload.name, replica, c.name)] for c in workload.containers
        }

    def every(self, workload_name: str) -> list[str]:
        workload = self._plan[workload_name]
        return [
            self._allocations[(workload_name, replica, container.name)]
            for replica in range(workload.replicas)
            for container in workload.containers
        ]


def _allocation(container: Container, log: DropLog) -> dict[str, Any]:
    execution: dict[str, Any] = {"image": container.image}
    if container.entrypoint is not None:
        execution["entrypoint"] = list(container.entrypoint)
    if container.command is not None:
        execution["command"] = list(container.command)
    if container.env:
        execution["env"] = dict(container.env)
    if container.working_dir is not None:
        execution["working_dir"] = container.working_dir
    allocation: dict[str, Any] = {"type": container.type, "executor": "docker"}
    resources: dict[str, Any] = {}
    if container.cpu is not None:
        if container.cpu > 0:
            resources["cpu"] = cpu_value(container.cpu)
        else:
            log.drop(container.path, "cpu 0", "an allocation needs some CPU: the default 1 core")
    if container.ram is not None:
        if container.ram > 0:
            resources["ram"] = size_text(container.ram)
        else:
            log.drop(container.path, "memory 0", "an allocation needs memory: the default 256MiB")
    if container.disk:
        resources["disk"] = size_text(container.disk)
    if container.gpus:
        resources["gpus"] = container.gpus
    if resources:
        allocation["resources"] = resources
    allocation["execution"] = execution
    if container.healthcheck is not None:
        if container.type == "service":
            allocation["healthcheck"] = _healthcheck(container.healthcheck)
        else:
            log.drop(
                container.healthcheck.path,
                container.healthcheck.exec,
                f"{container.name} runs to completion (a task); health checks are for services",
            )
    if container.restart is not None:
        allocation["restart"] = container.restart
    timeouts = {}
    if container.start_timeout is not None:
        timeouts["start"] = duration_text(container.start_timeout)
    if container.run_timeout is not None:
        timeouts["run"] = duration_text(container.run_timeout)
    if timeouts:
        allocation["timeouts"] = timeouts
    if container.privileged:
        allocation["privileged"] = True
    return allocation


def _healthcheck(probe: Probe) -> dict[str, Any]:
    check: dict[str, Any] = {
        "exec": probe.exec if isinstance(probe.exec, str) else list(probe.exec)
    }
    if probe.interval is not None:
        check["interval"] = duration_text(probe.interval)
    if probe.timeout is not None:
        check["timeout"] = duration_text(probe.timeout)
    if probe.retries is not None:
        check["retries"] = probe.retries
    if probe.start_period is not None:
        check["start_period"] = duration_text(probe.start_period)
    return check


def _node(
    workload: Workload,
    replica: int,
    members: dict[str, str],
    published: dict[int, str],
    log: DropLog,
) -> dict[str, Any]:
    node: dict[str, Any] = {"allocations": list(members.values())}
    ports = []
    for port in workload.ports:
        mapping = f"{port.public}->{port.private}"
        if replica > 0:
            if replica == 1:
                log.drop(
                    port.path,
                    f"{mapping} on replica{'s 1..' if workload.replicas > 2 else ' '}"
                    f"{workload.replicas - 1}",
                    "a public port is published once in an ensemble: only on replica 0",
                )
            continue
        if port.public in published:
            log.drop(
                port.path,
                mapping,
                f"public port {port.public} is already published for {published[port.public]}",
            )
            continue
        published[port.public] = members[port.container]
        ports.append(
            {"public": port.public, "private": port.private, "allocation": members[port.container]}
        )
    if ports:
        node["ports"] = ports
    location: dict[str, list[str]] = {}
    if workload.accept:
        location["accept"] = list(workload.accept)
    if workload.reject:
        location["reject"] = list(workload.reject)
    if location:
        node["location"] = location
    if workload.require:
        node["require"] = ",".join(workload.require)
    return node


def _aliases(
    workload: Workload, naming: _Naming, allocations: dict[str, dict[str, Any]], log: DropLog
) -> None:
    members = naming.every(workload.name)
    taken = {a.get("dns_name") for a in allocations.values()}
    for index, alias in enumerate(workload.aliases):
        dns = ensemble_name(alias.name)
        if len(members) != 1:
            log.drop(
                alias.path,
                alias.name,
                f"a DNS name for {len(members)} allocations: reach them by their own names "
                f"({', '.join(members)})",
            )
        elif index > 0:
            log.drop(alias.path, alias.name, f"{members[0]} already answers to another DNS name")
        elif dns != alias.name:
            log.drop(alias.path, alias.name, f"not a DNS label: {members[0]} keeps its own name")
        elif dns != members[0] and (dns in allocations or dns in taken):
            log.drop(alias.path, alias.name, f"{dns} already names another allocation")
        elif dns != members[0]:
            allocations[members[0]]["dns_name"] = dns


def _supervisor(plan: list[Workload], naming: _Naming) -> dict[str, Any]:
    """One-for-one over everything; a workload with a restart intensity gets, per replica, its own
    one-for-one supervisor holding that intensity (its failures escalate past it)."""
    children: list[Any] = []
    for workload in plan:
        for replica in range(workload.replicas):
            members = list(naming.members(workload, replica).values())
            if workload.intensity is None:
                children.extend(members)
                continue
            children.append(
                {
                    "supervisor": {
                        "strategy": "one-for-one",
                        "intensity": {
                            "restarts": workload.intensity.restarts,
                            "period": duration_text(workload.intensity.period),
                        },
                        "children": members,
                    }
                }
            )
    return {"strategy": "one-for-one", "children": children}
