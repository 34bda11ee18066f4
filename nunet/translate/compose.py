"""docker-compose files (the Compose Specification) → workloads: one per service.

Strings in `command`/`entrypoint` are split as compose splits them (shell words, no shell);
sizes are Docker's (`512m` = 512 MiB); `deploy.resources.limits` wins over `reservations`.
docs/translate.md has the full table.
"""

from __future__ import annotations

import dataclasses
import shlex
from fractions import Fraction
from typing import Any

from nunet.capability.fit import normalise_architecture
from nunet.translate.errors import TranslateError
from nunet.translate.plan import (
    Alias,
    AllocationType,
    Container,
    Dependency,
    Port,
    Probe,
    Restart,
    Workload,
)
from nunet.translate.quantities import cpu_count, docker_bytes, go_duration
from nunet.translate.reading import DropLog, Fields, describe, env_value, join, string_list

_NO_VOLUMES = "the ensemble has no volumes; an allocation's disk is its storage"
_NO_NETWORKS = "an ensemble has one private network for all its allocations"
_TOP_DROPPED = {
    "volumes": _NO_VOLUMES,
    "networks": _NO_NETWORKS,
    "secrets": "the ensemble has no secrets store: put the values in env",
    "configs": "the ensemble has no config files: bake them into the image or use env",
}


def read_compose(document: Any, log: DropLog) -> tuple[str | None, list[Workload]]:
    """The project's `name` (None if not given) and one workload per service that runs."""
    top = Fields.of(document, "", log, "a compose file (a mapping with services)")
    name = top.text("name")
    top.skip("version")  # obsolete in the Compose Specification; informative only
    top.skip(*(key for key in top.data if key.startswith("x-")))  # anchors, merged already
    for key, why in _TOP_DROPPED.items():
        top.drop(key, why)
    services = top.fields("services")
    if services is None or not services.data:
        raise TranslateError("services", "required: at least one service")
    top.close()
    completed = _awaited_completion(services.data)
    workloads: list[Workload] = []
    for key in services.data:
        service = Fields.of(services.raw(key), services.at(key), log)
        workload = _service(key, service, key in completed)
        if workload is not None:
            workloads.append(workload)
    built = {w.name for w in workloads}
    for workload in workloads:
        for dep in workload.depends_on:
            if dep.workload not in services.data:
                raise TranslateError(dep.path, f"no service named {dep.workload!r}")
    workloads = [
        dataclasses.replace(w, depends_on=tuple(d for d in w.depends_on if d.workload in built))
        for w in workloads
    ]
    _stricter_waits(services, workloads, log)
    if not workloads:
        raise TranslateError("services", "no service with an image to run")
    return name, workloads


def _stricter_waits(services: Fields, workloads: list[Workload], log: DropLog) -> None:
    """`service_started` on a service with a health check: the ensemble waits for healthy."""
    checked = {
        w.name
        for w in workloads
        if any(c.healthcheck and c.type == "service" for c in w.containers)
    }
    for workload in workloads:
        body = services.data[workload.name]
        deps = body.get("depends_on") if isinstance(body, dict) else None
        for dep in workload.depends_on:
            how = deps.get(dep.workload) if isinstance(deps, dict) else None
            condition = how.get("condition") if isinstance(how, dict) else None
            if dep.workload in checked and condition in (None, "service_started"):
                log.drop(
                    dep.path,
                    f"{dep.workload}: service_started",
                    f"the ensemble waits until {dep.workload} is healthy (it has a health check)",
                )


def _awaited_completion(services: Any) -> set[str]:
    """Services some other service waits on to complete: one-shot tasks, not services."""
    done = set()
    for body in services.values():
        deps = body.get("depends_on") if isinstance(body, dict) else None
        if isinstance(deps, dict):
            for dep, how in deps.items():
                if (
                    isinstance(how, dict)
                    and how.get("condition") == "service_completed_successfully"
                ):
                    done.add(dep)
    return done


def _service(key: str, service: Fields, one_shot: bool) -> Workload | None:
    image = service.text("image")
    if image is not None and not image.strip():
        raise TranslateError(service.at("image"), "required (it is empty)")
    if image is None:
        if service.has("build"):
            service.drop("build", "a build-only service: build and push the image, then name it")
            service.close("part of a build-only service")
            return None
        raise TranslateError(service.at("image"), "required (or build, which is not translated)")
    service.drop("build", f"the image {image} is used as it is; nothing is built")
    restart = _restart(service)
    kind: AllocationType = "task" if one_shot and restart != "always" else "service"
    if one_shot and restart == "always":
        service.log.drop(
            service.at("restart"),
            "always",
            "others wait for this service to complete, yet it always restarts: kept a service",
        )
    deploy = service.fields("deploy")
    replicas = service.integer("scale")
    resources: dict[str, Any] = {"cpu": None, "ram": None, "gpus": 0}
    _legacy_resources(service, resources)
    if deploy is not None:
        replicas = _deploy(deploy, resources, replicas)
    healthcheck = _healthcheck(service)
    if kind == "task" and restart == "always":
        restart = "on-failure"
    container = Container(
        name=key,
        path=service.path,
        image=image,
        type=kind,
        entrypoint=_words(service, "entrypoint"),
        command=_words(service, "command"),
        env=_environment(service),
        working_dir=service.text("working_dir"),
        privileged=bool(service.boolean("privileged")),
        healthcheck=healthcheck,
        restart=restart,
        cpu=resources["cpu"],
        ram=resources["ram"],
        gpus=resources["gpus"],
    )
    hostname = service.text("hostname")
    aliases = () if hostname is None else (Alias(hostname, service.at("hostname")),)
    arch = _platform(service)
    service.skip("container_name")  # Docker's container name; the allocation name replaces it
    service.drop("volumes", _NO_VOLUMES)
    service.drop("networks", _NO_NETWORKS)
    service.drop("env_file", "env files are read on the host: list the values in environment")
    service.drop("expose", "every port is open inside the ensemble's network")
    service.drop("labels", "labels have no place in an ensemble")
    workload = Workload(
        name=key,
        path=service.path,
        containers=(container,),
        replicas=1 if replicas is None else replicas,
        ports=_ports(service, key),
        depends_on=_depends_on(service),
        require=arch,
        aliases=aliases,
    )
    service.close()
    if workload.replicas == 0:
        service.log.drop(service.at("deploy.replicas"), 0, "no replica runs: left out")
        return None
    return workload


def _restart(service: Fields) -> Restart:
    value = service.raw("restart")
    if value is None or value is False or value == "no":
        return "never"
    if not isinstance(value, str):
        raise TranslateError(service.at("restart"), f"{describe(value)} is not a restart policy")
    if value in ("always", "unless-stopped"):
        return "always"
    policy, _, count = value.partition(":")
    if policy == "on-failure":
        if count:
            service.log.drop(
                service.at("restart"),
                value,
                "restarts are not counted per allocation: the supervisor's intensity bounds them",
            )
        return "on-failure"
    raise TranslateError(
        service.at("restart"),
        f"{value!r} is not one of no, always, on-failure[:N], unless-stopped",
    )


def _words(service: Fields, key: str) -> tuple[str, ...] | None:
    value = service.raw(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise TranslateError(service.at(key), f"cannot split {value!r}: {exc}") from None
    return tuple(string_list(value, service.at(key)))


def _environment(service: Fields) -> tuple[tuple[str, str], ...]:
    value = service.raw("environment")
    path = service.at("environment")
    env: list[tuple[str, str]] = []
    host = "taken from the host's environment by compose: give the value"
    if isinstance(value, dict):
        for name, item in value.items():
            if item is None:
                service.log.drop(join(path, str(name)), str(name), host)
            else:
                env.append((str(name), env_value(item, join(path, str(name)))))
    elif isinstance(value, list):
        for index, item in enumerate(string_list(value, path)):
            name, equals, text = item.partition("=")
            if not equals:
                service.log.drop(f"{path}[{index}]", name, host)
            else:
                env.append((name, text))
    elif value is not None:
        raise TranslateError(path, f"expected a list or a mapping, got {describe(value)}")
    return tuple(env)


def _legacy_resources(service: Fields, resources: dict[str, Any]) -> None:
    """The pre-`deploy` keys `cpus` and `mem_limit` (and `mem_reservation`, lower)."""
    if service.has("cpus"):
        resources["cpu"] = cpu_count(service.raw("cpus"), service.at("cpus"))
    limit = service.raw("mem_limit")
    reservation = service.raw("mem_reservation")
    if limit is not None:
        resources["ram"] = docker_bytes(limit, service.at("mem_limit"))
        if reservation is not None:
            service.drop("mem_reservation", "the ensemble reserves one figure: mem_limit")
    elif reservation is not None:
        resources["ram"] = docker_bytes(reservation, service.at("mem_reservation"))


def _deploy(deploy: Fields, resources: dict[str, Any], replicas: int | None) -> int | None:
    count = deploy.integer("replicas")
    mode = deploy.text("mode") or "replicated"
    if mode != "replicated":
        deploy.log.drop(deploy.at("mode"), mode, "one copy per machine has no ensemble equivalent")
    spec = deploy.fields("resources")
    if spec is not None:
        limits = spec.fields("limits") or Fields({}, spec.at("limits"), deploy.log)
        reservations = spec.fields("reservations") or Fields(
            {}, spec.at("reservations"), deploy.log
        )
        for key, target, parse in (("cpus", "cpu", cpu_count), ("memory", "ram", docker_bytes)):
            limit, reserve = limits.raw(key), reservations.raw(key)
            chosen = parse(limit, limits.at(key)) if limit is not None else None
            asked = parse(reserve, reservations.at(key)) if reserve is not None else None
            if chosen is not None and asked is not None and chosen != asked:
                deploy.log.drop(
                    reservations.at(key),
                    reserve,
                    f"the ensemble reserves one figure per resource: the limit, {describe(limit)}",
                )
            if chosen is not None or asked is not None:
                resources[target] = chosen if chosen is not None else asked
        resources["gpus"] = _devices(reservations)
        limits.close()
        reservations.close()
        spec.close()
    policy = deploy.fields("restart_policy")
    if policy is not None:
        policy.drop(
            "max_attempts",
            "restarts are not counted per allocation: the supervisor's intensity bounds them",
        )
        policy.close("the restart key is what is translated; restart_policy is Swarm's")
    placement = deploy.fields("placement")
    if placement is not None:
        placement.close("placement constraints name Swarm nodes: use the node's require")
    deploy.close()
    return count if count is not None else replicas


def _devices(reservations: Fields) -> int:
    gpus = 0
    for device in reservations.field_list("devices"):
        capabilities = device.strings("capabilities") or []
        device.skip("driver")
        count = device.raw("count")
        ids = device.strings("device_ids")
        device.close()
        if "gpu" not in capabilities:
            device.log.drop(device.path, capabilities, "only GPUs are reserved as devices")
            continue
        if ids:
            device.log.drop(device.at("device_ids"), ids, "the node picks the GPUs: counted")
            gpus += len(ids)
        elif count == "all" or count is None:
            device.log.drop(device.at("count"), "all", "a job asks for a number of GPUs: 1")
            gpus += 1
        elif isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            gpus += count
        else:
            raise TranslateError(device.at("count"), f"{describe(count)} is not a number of GPUs")
    return gpus


def _healthcheck(service: Fields) -> Probe | None:
    check = service.fields("healthcheck")
    if check is None:
        return None
    if check.boolean("disable"):
        check.close("the health check is disabled")
        return None
    test = check.raw("test")
    path = check.at("test")
    command: tuple[str, ...] | str
    if isinstance(test, str):
        command = test
    elif isinstance(test, list) and test:
        words = string_list(test, path)
        if words[0] == "NONE":
            check.close("the health check is disabled")
            return None
        if words[0] == "CMD" and len(words) > 1:
            command = tuple(words[1:])
        elif words[0] == "CMD-SHELL" and len(words) == 2:
            command = words[1]
        else:
            raise TranslateError(path, "write it as [CMD, arg, ...], [CMD-SHELL, command] or NONE")
    else:
        raise TranslateError(path, "required: the command the health check runs")
    check.drop("start_interval", "checks during start_period run at the interval")
    durations = {
        key: (None if check.raw(key) is None else go_duration(check.raw(key), check.at(key)))
        for key in ("interval", "timeout", "start_period")
    }
    probe = Probe(
        exec=command,
        path=check.path,
        interval=durations["interval"] or Fraction(30),
        timeout=durations["timeout"] or Fraction(30),
        retries=_int_or(check.integer("retries"), 3),
        start_period=durations["start_period"] or Fraction(0),
    )
    check.close()
    return probe


def _int_or(value: int | None, default: int) -> int:
    return default if value is None else value


def _ports(service: Fields, name: str) -> tuple[Port, ...]:
    ports: list[Port] = []
    for path, item in service.items("ports"):
        if isinstance(item, dict):
            ports += _long_port(Fields.of(item, path, service.log), name)
        elif isinstance(item, str | int) and not isinstance(item, bool):
            ports += _short_port(str(item), path, name, service.log)
        else:
            raise TranslateError(path, f"{describe(item)} is not a port")
    return tuple(ports)


def _short_port(text: str, path: str, name: str, log: DropLog) -> list[Port]:
    """`8080:80`, `127.0.0.1:8080:80`, `8000-8002:8000-8002`, `80/udp`, `80`."""
    spec, _, protocol = text.partition("/")
    if protocol and protocol != "tcp":
        log.drop(path, text, f"{protocol}: ensemble ports are TCP")
        return []
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        log.drop(path, f"host ip {parts[0]}", "a port is published on the node's own address")
        parts = parts[1:]
    if len(parts) == 1 or not parts[0]:
        log.drop(path, text, "the host port is left to Docker: give the public port (8080:80)")
        return []
    public, private = (_port_range(p, path) for p in parts)
    if len(public) != len(private):
        raise TranslateError(path, f"{text!r}: the two ranges differ in length")
    return [Port(p, q, name, path) for p, q in zip(public, private, strict=True)]


def _port_range(text: str, path: str) -> list[int]:
    low, dash, high = text.partition("-")
    try:
        first, last = int(low), int(high) if dash else int(low)
    except ValueError:
        raise TranslateError(path, f"{text!r} is not a port or a range like 8000-8010") from None
    if not 0 < first <= last <= 65535:
        raise TranslateError(path, f"{text!r}: ports are 1-65535, low to high")
    return list(range(first, last + 1))


def _long_port(port: Fields, name: str) -> list[Port]:
    target = port.integer("target", minimum=1)
    if target is None:
        raise TranslateError(port.at("target"), "required")
    protocol = port.text("protocol") or "tcp"
    published = port.raw("published")
    port.drop("host_ip", "a port is published on the node's own address")
    port.skip("name", "app_protocol")
    mode = port.text("mode") or "ingress"
    port.close()
    if mode != "ingress" and mode != "host":
        raise TranslateError(port.at("mode"), f"{mode!r} is not ingress or host")
    if protocol != "tcp":
        port.log.drop(port.path, f"{target}/{protocol}", f"{protocol}: ensemble ports are TCP")
        return []
    if published is None:
        port.log.drop(port.path, target, "the host port is left to Docker: give published")
        return []
    public = _port_range(str(published), port.at("published"))
    if len(public) != 1:
        port.log.drop(port.at("published"), published, f"a range: published on {public[0]}")
    return [Port(public[0], target, name, port.path)]


def _depends_on(service: Fields) -> tuple[Dependency, ...]:
    value = service.raw("depends_on")
    path = service.at("depends_on")
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(Dependency(d, f"{path}[{i}]") for i, d in enumerate(string_list(value, path)))
    deps = []
    for dep_name, how in Fields.of(value, path, service.log).data.items():
        spec = Fields.of(how or {}, join(path, dep_name), service.log)
        condition = spec.text("condition") or "service_started"
        spec.drop("restart", "a dependency's restart does not restart this one")
        required = spec.boolean("required")
        spec.close()
        if required is False:
            spec.log.drop(spec.at("required"), False, "every dependency is required")
        if condition == "service_completed_successfully":
            spec.log.drop(
                spec.at("condition"),
                condition,
                f"depends_on waits until {dep_name} runs, not until it has completed",
            )
        elif condition not in ("service_started", "service_healthy"):
            raise TranslateError(
                spec.at("condition"),
                f"{condition!r} is not service_started, service_healthy or "
                "service_completed_successfully",
            )
        deps.append(Dependency(dep_name, spec.path))
    return tuple(deps)


def _platform(service: Fields) -> tuple[str, ...]:
    platform = service.text("platform")
    if platform is None:
        return ()
    system, _, arch = platform.partition("/")
    arch = arch.partition("/")[0]
    if system != "linux" or not arch:
        service.log.drop(service.at("platform"), platform, "only linux/<arch> is translated")
        return ()
    return (f"arch={normalise_architecture(arch)}",)
