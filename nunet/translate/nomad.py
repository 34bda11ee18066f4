"""Nomad jobs (HCL2, or the API's JSON as `nomad job run -output` prints it) → workloads.

job → group → task: a group is a workload (`count` replicas, co-located tasks), each task an
allocation. One reader serves both forms: `_Form` says how a key is spelled (`count` / `Count`),
how blocks are listed and how durations are written (`30s` / nanoseconds).
docs/translate.md has the full table and the unit rules (1000 MHz = 1 core, MB = MiB).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from nunet.capability.errors import CapabilityError
from nunet.capability.fit import normalise_architecture
from nunet.capability.parse import location_rule_from_user
from nunet.translate.errors import TranslateError
from nunet.translate.plan import (
    Alias,
    AllocationType,
    Container,
    Intensity,
    Port,
    Probe,
    Restart,
    Workload,
)
from nunet.translate.quantities import go_duration, nanoseconds, nomad_cores, nomad_mib
from nunet.translate.reading import DropLog, Fields, env_value, join

_JSON_KEYS = {
    "datacenters": "Datacenters",
    "region": "Region",
    "type": "Type",
    "constraint": "Constraints",
    "group": "TaskGroups",
    "count": "Count",
    "task": "Tasks",
    "network": "Networks",
    "restart": "RestartPolicy",
    "reschedule": "ReschedulePolicy",
    "service": "Services",
    "ephemeral_disk": "EphemeralDisk",
    "driver": "Driver",
    "config": "Config",
    "env": "Env",
    "resources": "Resources",
    "lifecycle": "Lifecycle",
    "cpu": "CPU",
    "memory": "MemoryMB",
    "memory_max": "MemoryMaxMB",
    "cores": "Cores",
    "device": "Devices",
    "attempts": "Attempts",
    "interval": "Interval",
    "delay": "Delay",
    "mode": "Mode",
    "command": "Command",
    "args": "Args",
    "timeout": "Timeout",
    "name": "Name",
    "port": "PortLabel",
    "check": "Checks",
    "attribute": "LTarget",
    "operator": "Operand",
    "value": "RTarget",
    "size": "SizeMB",
    "check_task": "TaskName",
    "namespace": "Namespace",
    "priority": "Priority",
    "node_pool": "NodePool",
    "leader": "Leader",
    "hook": "Hook",
    "sidecar": "Sidecar",
    "render_templates": "RenderTemplates",
}
# What the Nomad server adds to a job it returns: bookkeeping, nothing the job asks for.
_JSON_BOOKKEEPING = (
    "ID",
    "ParentID",
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Dispatched",
    "DispatchIdempotencyToken",
    "NomadTokenID",
    "ConsulToken",
    "VaultToken",
)
_NOT_RESTARTS = "rescheduling onto another machine is the orchestrator's, not the ensemble's"
_DOCKER_KEYS = ("image", "command", "args", "entrypoint", "ports", "work_dir", "privileged")


@dataclass(frozen=True)
class _Form:
    """HCL or API JSON: how keys are spelled, how blocks are listed, how durations are written."""

    json: bool

    def key(self, name: str) -> str:
        if not self.json:
            return "task" if name == "check_task" else name
        return _JSON_KEYS[name]

    def duration(self, value: object, path: str) -> Fraction:
        return nanoseconds(value, path) if self.json else go_duration(value, path)

    def blocks(self, fields: Fields, name: str) -> list[tuple[str | None, Fields]]:
        """A repeated block: HCL's `group "web" {...}` (label) or JSON's list (its Name)."""
        key = self.key(name)
        out: list[tuple[str | None, Fields]] = []
        for index, (path, item) in enumerate(fields.items(key)):
            body = Fields.of(item, path, fields.log)
            label = body.data.get("__label__") if not self.json else body.data.get("Name")
            body.skip("__label__", "Name")
            if label is not None and not self.json:
                body.path = join(fields.at(key), str(label))
            elif label is not None:
                body.path = f"{fields.at(key)}[{index}]"
            out.append((None if label is None else str(label), body))
        return out

    def block(self, fields: Fields, name: str) -> Fields | None:
        """A block given at most once (`resources`); JSON gives it as an object."""
        key = self.key(name)
        value = fields.data.get(key)
        if self.json or isinstance(value, dict):
            return fields.fields(key)
        found = self.blocks(fields, name)
        if len(found) > 1:
            raise TranslateError(fields.at(key), "given more than once; merge the blocks")
        if found:
            found[0][1].path = fields.at(key)
        return found[0][1] if found else None

    def text(self, fields: Fields, name: str, *, required: bool = False) -> str | None:
        return fields.text(self.key(name), required=required)

    def integer(self, fields: Fields, name: str) -> int | None:
        return fields.integer(self.key(name))


def read_nomad(document: Any, log: DropLog, *, hcl: bool) -> tuple[str, list[Workload]]:
    """The job's name and one workload per group (`hcl`: the body came from HCL)."""
    form = _Form(json=not hcl)
    log.quiet_defaults = form.json
    job = _job_fields(_unblock(document) if hcl else document, log, form)
    name = job.path.rpartition(".")[2] if hcl else (job.text("ID") or job.text("Name") or "")
    if form.json:
        job.skip("Name", *_JSON_BOOKKEEPING)
    job_type = form.text(job, "type") or "service"
    kind: AllocationType = "task" if job_type in ("batch", "sysbatch") else "service"
    if job_type not in ("service", "batch"):
        log.drop(
            job.at(form.key("type")), job_type, "one copy per machine has no ensemble equivalent"
        )
    placement = _Placement()
    _datacenters(job, form, placement)
    _constraints(job, form, placement)
    _defaults(job, form)
    groups = form.blocks(job, "group")
    if not groups:
        raise TranslateError(job.at(form.key("group")), "required: at least one group")
    workloads = [_group(label, group, form, kind, placement) for label, group in groups]
    job.close()
    running = [w for w in workloads if w.replicas > 0]
    if not running:
        raise TranslateError(
            job.at(form.key("group")), "no group runs anything (count 0, or no docker task)"
        )
    return name, running


def _unblock(value: Any) -> Any:
    """python-hcl2's shape → plain data: a labelled block `{label: {..., __is_block__}}` becomes
    `{__label__: label, ...}`; the block markers go."""
    if isinstance(value, list):
        return [_unblock_item(item) for item in value]
    if isinstance(value, dict):
        return {k: _unblock(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _unblock_item(item: Any) -> Any:
    if isinstance(item, dict) and "__is_block__" not in item and len(item) == 1:
        ((label, body),) = item.items()
        if isinstance(body, dict) and body.get("__is_block__"):
            return {"__label__": label, **_unblock(body)}
    return _unblock(item)


def _job_fields(document: Any, log: DropLog, form: _Form) -> Fields:
    top = Fields.of(document, "", log, "a Nomad job")
    if form.json:
        if "Job" in top.data:
            job = top.fields("Job")
            top.close()
            if job is None:
                raise TranslateError("Job", "required: the job (it is null)")
            return job
        if "job" in top.data:
            raise TranslateError(
                "job", "the HCL-as-JSON syntax is not read: give the HCL file or API JSON (Job)"
            )
        return top
    jobs = form.blocks(top, "job") if "job" in top.data else []
    if len(jobs) != 1 or jobs[0][0] is None:
        raise TranslateError("job", 'required: exactly one job "name" { ... } block')
    top.skip("job")
    top.close("only the job block is translated (variables and locals are not evaluated)")
    return jobs[0][1]


def _defaults(job: Fields, form: _Form) -> None:
    """Job settings whose default value asks for nothing."""
    for name, default in (("namespace", "default"), ("priority", 50), ("node_pool", "default")):
        key = form.key(name)
        if job.data.get(key) in (None, default):
            job.skip(key)


@dataclass
class _Placement:
    """What the job's and group's datacenters/region/constraints say about machines."""

    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    require: tuple[str, ...] = ()

    def copy(self) -> _Placement:
        return dataclasses.replace(self)


def _location(text: str) -> str | None:
    """`text` as a location rule the ensemble reads (`EU/DE`), or None."""
    try:
        location_rule_from_user(text)
    except CapabilityError:
        return None
    return text


def _plain(text: str) -> bool:
    """Text a requirement spec item can carry as it is (`label.k=v`)."""
    return bool(text.strip()) and not any(ch in text for ch in ",={}$ ")


def _datacenters(job: Fields, form: _Form, placement: _Placement) -> None:
    key = form.key("datacenters")
    names = job.strings(key) or []
    accepted = []
    for index, name in enumerate(names):
        if name == "*":
            continue
        rule = _location(name)
        if rule is None:
            job.log.drop(f"{job.at(key)}[{index}]", name, "a datacenter name is not a location")
        else:
            accepted.append(rule)
    region = form.text(job, "region")
    if region not in (None, "global"):
        rule = _location(region)
        if rule is None:
            job.log.drop(job.at(form.key("region")), region, "a region name is not a location")
        else:
            accepted.append(rule)
    placement.accept += tuple(accepted)


def _constraints(fields: Fields, form: _Form, placement: _Placement) -> None:
    for _, constraint in form.blocks(fields, "constraint"):
        attribute = form.text(constraint, "attribute") or ""
        operator = form.text(constraint, "operator") or "="
        value = form.text(constraint, "value") or ""
        constraint.close()
        shown = f"{attribute} {operator} {value}".strip()
        equal = operator in ("=", "==")
        if not _plain(value):
            fields.log.drop(constraint.path, shown, "a constraint needs a plain value")
        elif operator not in ("=", "==", "!="):
            fields.log.drop(constraint.path, shown, f"the operator {operator} is not expressible")
        elif attribute == "${attr.cpu.arch}" and equal:
            placement.require += (f"arch={normalise_architecture(value)}",)
        elif attribute in ("${attr.kernel.name}", "${attr.os.name}") and equal:
            placement.require += (f"os={value}",)
        elif attribute.startswith("${meta.") and _plain(attribute[7:-1]) and equal:
            placement.require += (f"label.{attribute[7:-1]}={value}",)
        elif attribute in ("${node.datacenter}", "${node.region}") and _location(value):
            if equal:
                placement.accept += (value,)
            else:
                placement.reject += (value,)
        else:
            why = "not expressible as a machine requirement"
            if attribute in ("${node.datacenter}", "${node.region}"):
                why = f"{value!r} is not a location"
            fields.log.drop(constraint.path, shown, why)


def _group(
    label: str | None, group: Fields, form: _Form, kind: AllocationType, job: _Placement
) -> Workload:
    if label is None:
        raise TranslateError(group.at(form.key("name")), "required: every group has a name")
    count = form.integer(group, "count")
    placement = job.copy()
    _constraints(group, form, placement)
    restart, intensity = _restart(group, form, kind)
    disk = _ephemeral_disk(group, form)
    ports = _network(group, form)
    tasks = form.blocks(group, "task")
    if not tasks:
        raise TranslateError(group.at(form.key("task")), "required: at least one task")
    containers: list[Container] = []
    uses: dict[str, str] = {}  # port label → the task whose config uses it
    task_aliases: list[Alias] = []
    for task_label, task in tasks:
        read = _task(task_label, task, form, kind, restart)
        if read is None:
            continue
        container, labels, named = read
        containers.append(container)
        task_aliases += named
        for port_label in labels:
            uses.setdefault(port_label, container.name)
    if not containers:
        group.log.drop(group.path, f"group {label}", "none of its tasks can be translated")
        group.skip(*group.data)
        return Workload(name=label, path=group.path, containers=(), replicas=0)
    if disk:
        containers[0] = dataclasses.replace(containers[0], disk=disk)
    first = containers[0].name
    published = [
        Port(public, private, uses.get(port_label, first), path)
        for port_label, public, private, path in ports
    ]
    aliases, checks = _services(group, form, uses, first)
    aliases += tuple(task_aliases)
    containers = [
        dataclasses.replace(c, healthcheck=checks[c.name])
        if c.name in checks and c.healthcheck is None
        else c
        for c in containers
    ]
    group.drop(form.key("reschedule"), _NOT_RESTARTS)
    group.close()
    return Workload(
        name=label,
        path=group.path,
        containers=tuple(containers),
        replicas=1 if count is None else count,
        ports=tuple(published),
        accept=placement.accept,
        reject=placement.reject,
        require=placement.require,
        intensity=intensity,
        aliases=aliases,
    )


def _restart(
    group: Fields, form: _Form, kind: AllocationType
) -> tuple[Restart | None, Intensity | None]:
    """Nomad's restart block: attempts within interval, then fail → the ensemble's restart plus
    a supervisor intensity of the same numbers; mode "delay" retries forever (no intensity)."""
    block = form.block(group, "restart")
    if block is None:
        return None, None
    attempts = form.integer(block, "attempts")
    raw_interval = block.raw(form.key("interval"))
    interval = (
        None
        if raw_interval is None
        else form.duration(raw_interval, block.at(form.key("interval")))
    )
    mode = form.text(block, "mode") or "fail"
    block.drop(form.key("delay"), "restarts follow the supervisor, without a delay of their own")
    block.skip(form.key("render_templates"))
    block.close()
    if attempts == 0 and mode == "fail":
        return "never", None
    restart: Restart = "always" if kind == "service" else "on-failure"
    if mode != "fail":
        return restart, None
    if attempts is None or interval is None:
        missing = "attempts" if attempts is None else "interval"
        group.log.drop(block.path, f"{missing} not given", "Nomad's default is not assumed")
        return restart, None
    return restart, Intensity(attempts, interval, block.path)


def _ephemeral_disk(group: Fields, form: _Form) -> int:
    block = form.block(group, "ephemeral_disk")
    if block is None:
        return 0
    size = form.integer(block, "size")
    block.drop("Migrate" if form.json else "migrate", _NOT_RESTARTS)
    block.drop("Sticky" if form.json else "sticky", _NOT_RESTARTS)
    block.close()
    return 0 if size is None else nomad_mib(size)


def _network(group: Fields, form: _Form) -> list[tuple[str, int, int, str]]:
    """(label, public, private, path) of every static port; dynamic ones are reported."""
    ports: list[tuple[str, int, int, str]] = []
    for _, network in form.blocks(group, "network"):
        network.skip("Mode" if form.json else "mode")  # host or bridge: the executor's choice
        if form.json:
            found = [
                (Fields.of(item, path, group.log), True)
                for path, item in network.items("ReservedPorts")
            ] + [
                (Fields.of(item, path, group.log), False)
                for path, item in network.items("DynamicPorts")
            ]
            entries = [
                (f.text("Label") or "", f, f.integer("Value"), f.integer("To")) for f, _ in found
            ]
        else:
            entries = []
            for port_label, port in form.blocks(network, "port"):
                entries.append((port_label or "", port, port.integer("static"), port.integer("to")))
        for port_label, port, static, to in entries:
            port.skip("HostNetwork", "IgnoreCollision")
            port.close()
            if not static:
                group.log.drop(
                    port.path, port_label, "a dynamic port: the ensemble publishes fixed ports"
                )
                continue
            private = to if to and to > 0 else static
            ports.append((port_label, static, private, port.path))
        network.close()
    return ports


def _task(
    label: str | None, task: Fields, form: _Form, kind: AllocationType, restart: Restart | None
) -> tuple[Container, list[str], tuple[Alias, ...]] | None:
    """The task's container, the port labels its config uses, its service names; None (and
    reported) when its driver is not docker."""
    if label is None:
        raise TranslateError(task.at(form.key("name")), "required: every task has a name")
    driver = form.text(task, "driver", required=True)
    if driver != "docker":
        task.skip(*task.data)
        task.log.drop(
            task.path, f"task {label} (driver {driver})", "only docker tasks are translated"
        )
        return None
    config = form.block(task, "config")
    if config is None:
        raise TranslateError(task.at(form.key("config")), "required: the docker driver's config")
    image = config.text("image", required=True) or ""
    executable = config.text("command")
    args = config.strings("args")
    command = None
    if executable is not None:
        command = (executable, *(args or []))
    elif args is not None:
        command = tuple(args)
    entrypoint = config.strings("entrypoint")
    port_labels = config.strings("ports") or []
    working_dir = config.text("work_dir")
    privileged = bool(config.boolean("privileged"))
    config.close("a docker driver option with no ensemble equivalent")
    lifecycle = form.block(task, "lifecycle")
    task_kind = kind
    if lifecycle is not None:
        hook = form.text(lifecycle, "hook")
        sidecar = lifecycle.boolean(form.key("sidecar"))
        lifecycle.close()
        if not sidecar:
            task_kind = "task"
        task.log.drop(
            lifecycle.path,
            f"{hook}{' sidecar' if sidecar else ''}",
            "tasks of a group start together; depends_on cannot order them inside one node",
        )
    container = Container(
        name=label,
        path=task.path,
        image=image,
        type=task_kind,
        entrypoint=None if entrypoint is None else tuple(entrypoint),
        command=command,
        env=_env(task, form),
        working_dir=working_dir,
        privileged=privileged,
        restart=_restart_for(task_kind, restart),
        **_resources(task, form),
    )
    aliases, checks = _services(task, form, {}, label)
    if label in checks:
        container = dataclasses.replace(container, healthcheck=checks[label])
    task.drop(form.key("leader"), "tasks of a group stop on their own")
    task.close()
    return container, port_labels, aliases


def _restart_for(kind: AllocationType, restart: Restart | None) -> Restart | None:
    if kind == "task" and restart == "always":
        return "on-failure"
    return restart


def _env(task: Fields, form: _Form) -> tuple[tuple[str, str], ...]:
    key = form.key("env")
    value = task.data.get(key)
    if isinstance(value, list):  # HCL's `env { ... }` block
        block = form.block(task, "env")
        values = dict(block.data) if block is not None else {}
        if block is not None:
            block.skip(*values)
        path = task.at(key)
    else:
        values = task.mapping(key)
        path = task.at(key)
    return tuple((str(k), env_value(v, join(path, str(k)))) for k, v in values.items())


def _resources(task: Fields, form: _Form) -> dict[str, Any]:
    block = form.block(task, "resources")
    if block is None:
        return {}
    out: dict[str, Any] = {}
    cores = form.integer(block, "cores")
    mhz = form.integer(block, "cpu")
    if cores:
        out["cpu"] = float(cores)
        if mhz:
            block.log.drop(block.at(form.key("cpu")), mhz, f"cores = {cores} is what is reserved")
    elif mhz:
        out["cpu"] = nomad_cores(mhz)
    memory = form.integer(block, "memory")
    memory_max = form.integer(block, "memory_max")
    if memory_max:
        out["ram"] = nomad_mib(memory_max)
        if memory:
            block.log.drop(
                block.at(form.key("memory")),
                memory,
                f"the ensemble reserves one figure: memory_max, {memory_max} MB",
            )
    elif memory:
        out["ram"] = nomad_mib(memory)
    gpus = 0
    for device_label, device in form.blocks(block, "device"):
        count = form.integer(device, "count")
        device.close("device constraints and affinities are not translated")
        if (
            device_label is not None and device_label.split("/")[-1] == "gpu"
        ) or device_label == "gpu":
            gpus += 1 if count is None else count
        else:
            block.log.drop(device.path, device_label, "only GPUs are reserved as devices")
    if gpus:
        out["gpus"] = gpus
    block.close()
    return out


def _services(
    fields: Fields, form: _Form, uses: dict[str, str], default_task: str
) -> tuple[tuple[Alias, ...], dict[str, Probe]]:
    """Service names (DNS aliases) and their script checks → health checks of tasks."""
    aliases: list[Alias] = []
    checks: dict[str, Probe] = {}
    for _, service in form.blocks(fields, "service"):
        name = form.text(service, "name")
        port_label = form.text(service, "port")
        owner = uses.get(port_label or "", default_task)
        if name is not None:
            aliases.append(Alias(name, service.at(form.key("name"))))
        for _, check in form.blocks(service, "check"):
            probe, task_name = _check(check, form)
            if probe is None:
                continue
            target = task_name or owner
            if target in checks:
                check.log.drop(check.path, probe.exec, f"{target} already has a health check")
            else:
                checks[target] = probe
        service.skip("Provider" if form.json else "provider")
        service.close("service registration (Consul/Nomad) has no ensemble equivalent")
    return tuple(aliases), checks


def _check(check: Fields, form: _Form) -> tuple[Probe | None, str | None]:
    kind = form.text(check, "type") or ""
    if kind != "script":
        check.skip(*check.data)
        check.log.drop(
            check.path, f"{kind} check", "only script checks become health checks (a command)"
        )
        return None, None
    command = form.text(check, "command", required=True) or ""
    args = check.strings(form.key("args")) or []
    task_name = form.text(check, "check_task")
    durations: dict[str, Fraction | None] = {}
    for key in ("interval", "timeout"):
        raw = check.raw(form.key(key))
        durations[key] = None if raw is None else form.duration(raw, check.at(form.key(key)))
    check.skip(form.key("name"))
    check.close("a check option with no ensemble equivalent")
    probe = Probe(
        exec=(command, *args),
        path=check.path,
        interval=durations["interval"],
        timeout=durations["timeout"],
    )
    return probe, task_name
