"""Kubernetes manifests (Pod, Job, Deployment, ReplicaSet, StatefulSet, Service) → workloads.

A pod template is a workload: each container an allocation, `replicas` (a Job's `parallelism`)
the number of nodes. Services publish ports (NodePort, LoadBalancer) or name a workload inside
the ensemble (ClusterIP). docs/translate.md has the full table.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nunet.capability.fit import normalise_architecture
from nunet.translate.errors import TranslateError
from nunet.translate.plan import (
    Alias,
    AllocationType,
    Container,
    Port,
    Probe,
    Restart,
    Workload,
)
from nunet.translate.quantities import k8s_bytes, k8s_cpu, size_text
from nunet.translate.reading import DropLog, Fields, describe, env_value, join

WORKLOAD_KINDS = ("Pod", "Job", "Deployment", "ReplicaSet", "StatefulSet")
_NOT_TRANSLATED = {
    "DaemonSet": "one copy on every machine has no ensemble equivalent",
    "CronJob": "the ensemble has no schedules; translate its jobTemplate as a Job to run it once",
    "ConfigMap": "the ensemble has no config maps: put the values in env",
    "Secret": "the ensemble has no secrets store: put the values in env",
    "PersistentVolumeClaim": "the ensemble has no volumes; an allocation's disk is its storage",
    "PersistentVolume": "the ensemble has no volumes; an allocation's disk is its storage",
    "Ingress": "no HTTP routing in an ensemble: publish the port on a node",
    "Namespace": "ensembles have no namespaces",
    "ServiceAccount": "capability tokens, not accounts, authorise an ensemble",
    "Role": "capability tokens, not roles, authorise an ensemble",
    "RoleBinding": "capability tokens, not roles, authorise an ensemble",
    "ClusterRole": "capability tokens, not roles, authorise an ensemble",
    "ClusterRoleBinding": "capability tokens, not roles, authorise an ensemble",
    "NetworkPolicy": "an ensemble's network is private to it; no finer policy",
    "HorizontalPodAutoscaler": "the ensemble has a fixed size",
    "PodDisruptionBudget": "the supervisor, not a budget, governs restarts",
    "LimitRange": "the ensemble states each allocation's resources itself",
    "ResourceQuota": "the ensemble states each allocation's resources itself",
}
_KNOWN_KINDS = (*WORKLOAD_KINDS, "Service", "List", *_NOT_TRANSLATED)
_RESTART: dict[str, Restart] = {"Always": "always", "OnFailure": "on-failure", "Never": "never"}
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
_NO_LABELS = "labels and annotations have no place in an ensemble"
_NO_VOLUMES = "the ensemble has no volumes; an allocation's disk is its storage"


@dataclass
class _Pod:
    """A pod template as read: its workload, the labels Services select it by, its ports."""

    workload: Workload
    labels: dict[str, str]
    ports: dict[tuple[str, int | str], int] = field(default_factory=dict)  # (c, port/name) → port
    order: list[tuple[str, int]] = field(default_factory=list)  # (container, port) declared
    mounts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # container → volume names


def read_kubernetes(documents: list[Any], log: DropLog) -> tuple[str, list[Workload]]:
    """The ensemble name (the first workload's) and the workloads, Services applied."""
    manifests = _manifests(documents)
    many = len(manifests) > 1
    pods: list[_Pod] = []
    services: list[Fields] = []
    for index, manifest in manifests:
        fields = Fields.of(manifest, "" if not many else _prefix(index, manifest), log)
        kind = fields.text("kind", required=True) or ""
        fields.text("apiVersion", required=True)
        if kind in _NOT_TRANSLATED:
            log.drop(fields.path or kind, f"{kind} {_name_of(manifest)}", _NOT_TRANSLATED[kind])
            continue
        if kind not in _KNOWN_KINDS:
            near = difflib.get_close_matches(kind, _KNOWN_KINDS, n=1)
            hint = (
                f"did you mean {near[0]}?"
                if near
                else f"translated: {', '.join(WORKLOAD_KINDS)}, Service"
            )
            raise TranslateError(fields.at("kind"), f"unknown kind {kind!r}; {hint}")
        if kind == "Service":
            services.append(fields)
        else:
            pods.append(_workload(kind, fields))
    for service in services:
        pods = _service(service, pods)
    if not pods:
        raise TranslateError(
            "", f"no workload to translate: expected one of {', '.join(WORKLOAD_KINDS)}"
        )
    running = [pod.workload for pod in pods if pod.workload.replicas > 0]
    if not running:
        raise TranslateError("", "no workload to translate: every one has 0 replicas")
    return pods[0].workload.name, running


def _manifests(documents: list[Any]) -> list[tuple[int, Any]]:
    """Documents in order, with `kind: List` unpacked into its items."""
    out: list[tuple[int, Any]] = []
    for index, doc in enumerate(documents):
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "List"
            and isinstance(doc.get("items"), list)
        ):
            out.extend((index, item) for item in doc["items"])
        else:
            out.append((index, doc))
    return out


def _name_of(manifest: Any) -> str:
    metadata = manifest.get("metadata") if isinstance(manifest, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name else "(unnamed)"


def _prefix(index: int, manifest: Any) -> str:
    if isinstance(manifest, dict) and isinstance(manifest.get("kind"), str):
        return f"{manifest['kind']}/{_name_of(manifest)}"
    return f"documents[{index}]"


def _metadata(fields: Fields, *, selectable: bool = False) -> tuple[str, dict[str, str]]:
    """The manifest's name, and its labels when Services select by them (a Pod's own)."""
    meta = fields.fields("metadata")
    if meta is None:
        raise TranslateError(join(fields.at("metadata"), "name"), "required")
    name = meta.text("name", required=True) or ""
    namespace = meta.text("namespace")
    if namespace not in (None, "default"):
        meta.log.drop(meta.at("namespace"), namespace, "ensembles have no namespaces")
    labels: dict[str, str] = {}
    if selectable:
        labels = {k: env_value(v, meta.at("labels")) for k, v in meta.mapping("labels").items()}
    else:
        meta.drop("labels", _NO_LABELS)
    meta.drop("annotations", _NO_LABELS)
    meta.close()
    return name, labels


def _workload(kind: str, fields: Fields) -> _Pod:
    name, own_labels = _metadata(fields, selectable=kind == "Pod")
    spec = fields.fields("spec")
    if spec is None:
        raise TranslateError(fields.at("spec"), "required")
    path = join(fields.at("metadata"), "name")
    if kind == "Pod":
        pod = _pod_spec(name, path, spec, own_labels, kind)
        fields.close()
        return pod
    template = spec.fields("template")
    if template is None:
        raise TranslateError(spec.at("template"), "required")
    labels = {}
    template_meta = template.fields("metadata")
    if template_meta is not None:
        labels = {
            k: env_value(v, template_meta.at(k)) for k, v in template_meta.mapping("labels").items()
        }
        template_meta.drop("annotations", _NO_LABELS)
        template_meta.skip("name")
        template_meta.close()
    pod_spec = template.fields("spec")
    if pod_spec is None:
        raise TranslateError(template.at("spec"), "required")
    template.close()
    spec.skip("selector")  # the template's labels, which the Services below match
    pod = _pod_spec(name, path, pod_spec, labels, kind)
    workload = pod.workload
    if kind == "Job":
        workload = _job(spec, workload)
    else:
        replicas = spec.integer("replicas")
        workload = dataclasses.replace(workload, replicas=1 if replicas is None else replicas)
        deadline = spec.integer("progressDeadlineSeconds")
        if deadline is not None:
            workload = _each(workload, start_timeout=Fraction(deadline))
    if kind == "StatefulSet":
        spec.skip("serviceName")  # the governing Service, translated where it is defined
        policy = spec.text("podManagementPolicy") or "OrderedReady"
        workload = dataclasses.replace(workload, ordered_replicas=policy == "OrderedReady")
        workload = _claims(spec, workload, pod.mounts)
    if workload.replicas == 0:
        fields.log.drop(spec.at("replicas"), 0, "no replica runs: the workload is left out")
    spec.close()
    fields.close()
    pod.workload = workload
    return pod


def _each(workload: Workload, **changes: Any) -> Workload:
    containers = tuple(dataclasses.replace(c, **changes) for c in workload.containers)
    return dataclasses.replace(workload, containers=containers)


def _job(spec: Fields, workload: Workload) -> Workload:
    parallelism = spec.integer("parallelism")
    completions = spec.integer("completions")
    replicas = parallelism if parallelism is not None else 1
    if completions is not None and completions != replicas:
        spec.log.drop(
            spec.at("completions"),
            completions,
            f"the ensemble runs each of its {replicas} task(s) once; it cannot count completions",
        )
    backoff = spec.integer("backoffLimit")
    restart: Restart = "never" if backoff == 0 else "on-failure"
    if backoff:
        spec.log.drop(
            spec.at("backoffLimit"),
            backoff,
            "a failed task restarts without a count of its own: the supervisor's intensity "
            "(3 restarts in 60s by default) bounds the restarts",
        )
    changes: dict[str, Any] = {"restart": restart}
    deadline = spec.integer("activeDeadlineSeconds")
    if deadline is not None:
        changes["run_timeout"] = Fraction(deadline)
    return dataclasses.replace(_each(workload, **changes), replicas=replicas)


def _claims(spec: Fields, workload: Workload, mounts: dict[str, tuple[str, ...]]) -> Workload:
    """volumeClaimTemplates: their storage becomes disk of the container mounting them."""
    containers = list(workload.containers)
    for claim in spec.field_list("volumeClaimTemplates"):
        meta = claim.fields("metadata")
        claim_name = meta.text("name") if meta is not None else None
        if meta is not None:
            meta.close()
        claim_spec = claim.fields("spec")
        storage = None
        if claim_spec is not None:
            resources = claim_spec.fields("resources")
            if resources is not None:
                requests = resources.fields("requests")
                if requests is not None:
                    raw = requests.raw("storage")
                    storage = None if raw is None else k8s_bytes(raw, requests.at("storage"))
                    requests.close()
                resources.close()
            claim_spec.drop("accessModes", _NO_VOLUMES)
            claim_spec.close()
        claim.close()
        if storage is None:
            continue
        spot = next(
            (i for i, c in enumerate(containers) if claim_name in mounts.get(c.name, ())), 0
        )
        target = containers[spot]
        containers[spot] = dataclasses.replace(target, disk=(target.disk or 0) + storage)
        spec.log.drop(
            claim.path,
            f"volume {claim_name}",
            f"{_NO_VOLUMES}: {target.name}'s disk holds its {size_text(storage)}",
        )
    return dataclasses.replace(workload, containers=tuple(containers))


def _pod_spec(name: str, path: str, spec: Fields, labels: dict[str, str], kind: str) -> _Pod:
    policy = spec.text("restartPolicy") or ("OnFailure" if kind == "Job" else "Always")
    if policy not in _RESTART:
        raise TranslateError(
            spec.at("restartPolicy"), f"{policy!r} is not one of Always, OnFailure, Never"
        )
    restart = _RESTART[policy]
    kind_type: AllocationType = "task" if kind == "Job" or restart != "always" else "service"
    deadline = spec.integer("activeDeadlineSeconds")
    pod = _Pod(Workload(name=name, path=path, containers=()), labels)
    containers = []
    host_ports: list[Port] = []
    items = spec.field_list("containers")
    if not items:
        raise TranslateError(spec.at("containers"), "required: at least one container")
    for item in items:
        container, mounts = _container(item, kind_type, None if kind == "Job" else restart)
        pod.mounts[container.name] = mounts
        if deadline is not None:
            container = dataclasses.replace(container, run_timeout=Fraction(deadline))
        containers.append(container)
        host_ports += _container_ports(item, container.name, pod)
        item.close()
    spec.drop(
        "initContainers",
        "init containers run to completion first; depends_on waits for running, not completed",
    )
    spec.drop("volumes", _NO_VOLUMES)
    spec.drop("imagePullSecrets", "registry credentials belong to the node's executor config")
    require = _node_selector(spec)
    spec.close()
    pod.workload = dataclasses.replace(
        pod.workload, containers=tuple(containers), ports=tuple(host_ports), require=require
    )
    return pod


def _node_selector(spec: Fields) -> tuple[str, ...]:
    require = []
    selector = spec.fields("nodeSelector")
    if selector is None:
        return ()
    for key, value in selector.data.items():
        selector.skip(key)
        text = env_value(value, selector.at(key))
        if not _plain(text):
            selector.log.drop(selector.at(key), text, "a node selector needs a plain value")
        elif key in ("kubernetes.io/arch", "beta.kubernetes.io/arch"):
            require.append(f"arch={normalise_architecture(text)}")
        elif key in ("kubernetes.io/os", "beta.kubernetes.io/os"):
            require.append(f"os={text}")
        elif all(ch.isalnum() or ch in "_-" for ch in key) and _plain(text):
            require.append(f"label.{key}={text}")
        else:
            selector.log.drop(
                selector.at(key), text, "only arch, os and plain labels select machines"
            )
    return tuple(require)


def _plain(text: str) -> bool:
    """Text a requirement spec item can carry as it is (`label.k=v`)."""
    return bool(text.strip()) and not any(ch in text for ch in ",= ")


def _container(
    item: Fields, kind_type: AllocationType, restart: Restart | None
) -> tuple[Container, tuple[str, ...]]:
    name = item.text("name", required=True) or ""
    image = item.text("image", required=True) or ""
    entrypoint = item.strings("command")
    command = item.strings("args")
    env = _env(item)
    resources = _resources(item)
    privileged = False
    security = item.fields("securityContext")
    if security is not None:
        privileged = bool(security.boolean("privileged"))
        security.close()
    probe = _probes(item)
    mounts = tuple(str(m.data.get("name")) for m in item.field_list("volumeMounts"))
    item.drop("volumeMounts", _NO_VOLUMES)
    item.drop("imagePullPolicy", "the node's executor decides when to pull")
    item.drop("envFrom", "values from config maps or secrets are not expressible: list them in env")
    container = Container(
        name=name,
        path=item.path,
        image=image,
        type=kind_type,
        entrypoint=None if entrypoint is None else tuple(entrypoint),
        command=None if command is None else tuple(command),
        env=env,
        working_dir=item.text("workingDir"),
        privileged=privileged,
        healthcheck=probe,
        restart=restart,
        **resources,
    )
    return container, mounts


def _env(item: Fields) -> tuple[tuple[str, str], ...]:
    env = []
    for var in item.field_list("env"):
        key = var.text("name", required=True) or ""
        if var.has("valueFrom"):
            var.drop(
                "valueFrom",
                "values from secrets, config maps or fields are not expressible: give the value",
            )
        else:
            value = var.raw("value")
            env.append((key, "" if value is None else env_value(value, var.at("value"))))
        var.close()
    return tuple(env)


def _resources(item: Fields) -> dict[str, Any]:
    resources = item.fields("resources")
    if resources is None:
        return {}
    requests = resources.fields("requests") or Fields({}, resources.at("requests"), item.log)
    limits = resources.fields("limits") or Fields({}, resources.at("limits"), item.log)
    out: dict[str, Any] = {}
    for key, target, parse in (
        ("cpu", "cpu", k8s_cpu),
        ("memory", "ram", k8s_bytes),
        ("ephemeral-storage", "disk", k8s_bytes),
        *((gpu, "gpus", _gpu_count) for gpu in _GPU_RESOURCES),
    ):
        limit = limits.raw(key)
        request = requests.raw(key)
        if limit is None and request is None:
            continue
        chosen = parse(limit, limits.at(key)) if limit is not None else None
        asked = parse(request, requests.at(key)) if request is not None else None
        if chosen is not None and asked is not None and asked != chosen:
            item.log.drop(
                requests.at(key),
                request,
                f"the ensemble reserves one figure per resource: the limit, {describe(limit)}",
            )
        value = chosen if chosen is not None else asked
        if value is not None:
            out[target] = out.get(target, 0) + value
    requests.close()
    limits.close()
    resources.close()
    return out


def _gpu_count(value: object, path: str) -> int:
    count = k8s_cpu(value, path)
    if not count.is_integer():
        raise TranslateError(path, f"{value!r} is not a whole number of GPUs")
    return int(count)


def _probes(item: Fields) -> Probe | None:
    chosen: Probe | None = None
    for key in ("livenessProbe", "readinessProbe"):
        probe = item.fields(key)
        if probe is None:
            continue
        read = _probe(probe)
        if read is not None and chosen is None:
            chosen = read
        elif read is not None:
            item.log.drop(
                probe.path,
                read.exec,
                "one health check per allocation: the liveness probe is the one kept",
            )
    item.drop("startupProbe", "no startup probe: a health check's start_period covers start-up")
    return chosen


def _probe(probe: Fields) -> Probe | None:
    for kind in ("httpGet", "tcpSocket", "grpc"):
        if probe.has(kind):
            probe.drop(kind, "only exec probes become health checks (a command in the image)")
            probe.close("part of a probe that is not translated")
            return None
    action = probe.fields("exec")
    if action is None:
        raise TranslateError(probe.at("exec"), "required: a probe needs exec, httpGet or tcpSocket")
    command = action.strings("command")
    if not command:
        raise TranslateError(action.at("command"), "required: the command the probe runs")
    action.close()
    success = probe.integer("successThreshold")
    if success not in (None, 1):
        probe.log.drop(probe.at("successThreshold"), success, "one success makes it healthy again")
    result = Probe(
        exec=tuple(command),
        path=probe.path,
        interval=Fraction(_int_or(probe.integer("periodSeconds"), 10)),
        timeout=Fraction(_int_or(probe.integer("timeoutSeconds"), 1)),
        retries=_int_or(probe.integer("failureThreshold"), 3),
        start_period=Fraction(_int_or(probe.integer("initialDelaySeconds"), 0)),
    )
    probe.close()
    return result


def _int_or(value: int | None, default: int) -> int:
    return default if value is None else value


def _container_ports(item: Fields, container: str, pod: _Pod) -> list[Port]:
    published = []
    for port in item.field_list("ports"):
        number = port.integer("containerPort", minimum=1)
        if number is None:
            raise TranslateError(port.at("containerPort"), "required")
        pod.ports[(container, number)] = number
        pod.order.append((container, number))
        label = port.text("name")
        if label is not None:
            pod.ports[(container, label)] = number
        host = port.integer("hostPort", minimum=1)
        protocol = port.text("protocol") or "TCP"
        if host is not None and protocol != "TCP":
            port.log.drop(port.at("hostPort"), host, f"{protocol}: ensemble ports are TCP")
        elif host is not None:
            published.append(Port(host, number, container, port.at("hostPort")))
        port.drop("hostIP", "a port is published on the node's own address")
        port.close()
    return published


def _service(service: Fields, pods: list[_Pod]) -> list[_Pod]:
    name, _ = _metadata(service)
    spec = service.fields("spec")
    if spec is None:
        raise TranslateError(service.at("spec"), "required")
    kind = spec.text("type") or "ClusterIP"
    selector = {k: env_value(v, spec.at("selector")) for k, v in spec.mapping("selector").items()}
    chosen = [p for p in pods if selector and selector.items() <= p.labels.items()]
    why = ""
    if kind == "ExternalName":
        why = "a name for something outside the ensemble"
    elif not selector:
        why = "a Service without a selector reaches no workload here"
    elif not chosen:
        why = f"it selects no workload in this source ({describe(selector)})"
    if why:
        service.log.drop(service.path or "Service", f"Service {name}", why)
        spec.close("part of a Service that is not translated")
        service.close()
        return pods
    ports_by_pod: dict[int, list[Port]] = {id(p): [] for p in chosen}
    for port in spec.field_list("ports"):
        number = port.integer("port", minimum=1)
        if number is None:
            raise TranslateError(port.at("port"), "required")
        target = port.raw("targetPort")
        target = number if target is None else target
        node_port = port.integer("nodePort", minimum=1)
        protocol = port.text("protocol") or "TCP"
        port.skip("name")
        port.close()
        if protocol != "TCP":
            port.log.drop(port.path, f"{number}/{protocol}", f"{protocol}: ensemble ports are TCP")
            continue
        for pod in chosen:
            reached = _target(pod, target)
            if reached is None:
                port.log.drop(
                    join(port.path, "targetPort"),
                    target,
                    f"no container of {pod.workload.name} declares this port",
                )
                continue
            container, private = reached
            if kind == "ClusterIP":
                if private != number:
                    port.log.drop(
                        port.path,
                        f"{number}->{private}",
                        f"no port remapping inside an ensemble: reach {pod.workload.name} "
                        f"on {private}",
                    )
                continue
            public = number
            if kind == "NodePort":
                public = node_port if node_port is not None else number
                if node_port is None:
                    port.log.drop(
                        port.path,
                        f"nodePort for {number}",
                        f"Kubernetes would pick one: published on {number}",
                    )
            ports_by_pod[id(pod)].append(Port(public, private, container, port.path))
    spec.skip("type", "selector")
    spec.close()
    service.close()
    updated = []
    for pod in pods:
        if id(pod) in ports_by_pod:
            workload = pod.workload
            extra: dict[str, Any] = {"ports": workload.ports + tuple(ports_by_pod[id(pod)])}
            if kind == "ClusterIP":
                extra["aliases"] = (*workload.aliases, Alias(name, service.path or "Service"))
            pod.workload = dataclasses.replace(workload, **extra)
        updated.append(pod)
    return updated


def _target(pod: _Pod, target: object) -> tuple[str, int] | None:
    """Which container a Service's targetPort reaches, and on which port."""
    if isinstance(target, int) and not isinstance(target, bool):
        for container, number in pod.order:
            if number == target:
                return container, number
        return pod.workload.containers[0].name, target
    for (container, label), number in pod.ports.items():
        if label == target:
            return container, number
    return None
