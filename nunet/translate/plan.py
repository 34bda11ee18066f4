"""What every source is read into before it becomes an ensemble: workloads of containers.

A `Workload` is what the source schedules together (a Kubernetes pod template, a Nomad group, a
compose service) with a replica count; each replica becomes one ensemble node, and each of its
`Container`s one allocation in that node. Every part keeps its path in the source so what the
document builder cannot express is reported where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

AllocationType = Literal["task", "service"]
Restart = Literal["never", "on-failure", "always"]


@dataclass(frozen=True)
class Probe:
    """A health check: a command run in the container; durations in seconds (None: default)."""

    exec: tuple[str, ...] | str
    path: str
    interval: Fraction | None = None
    timeout: Fraction | None = None
    retries: int | None = None
    start_period: Fraction | None = None


@dataclass(frozen=True)
class Container:
    """One process image; one allocation per replica of its workload."""

    name: str
    path: str
    image: str
    type: AllocationType
    entrypoint: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    cpu: float | None = None  # cores
    ram: int | None = None  # bytes
    disk: int | None = None  # bytes
    gpus: int = 0
    privileged: bool = False
    healthcheck: Probe | None = None
    restart: Restart | None = None
    run_timeout: Fraction | None = None  # seconds
    start_timeout: Fraction | None = None  # seconds


@dataclass(frozen=True)
class Port:
    """A port published on the machine: `public` outside, `private` in the container."""

    public: int
    private: int
    container: str  # the name of the container it reaches
    path: str


@dataclass(frozen=True)
class Dependency:
    """This workload starts once `workload` is running (healthy, when it has a health check)."""

    workload: str
    path: str


@dataclass(frozen=True)
class Intensity:
    """At most `restarts` within `period` seconds, else the failure escalates."""

    restarts: int
    period: Fraction
    path: str


@dataclass(frozen=True)
class Alias:
    """A DNS name the source gives the workload (a Kubernetes Service, a Nomad service)."""

    name: str
    path: str


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    containers: tuple[Container, ...]
    replicas: int = 1
    ports: tuple[Port, ...] = ()
    accept: tuple[str, ...] = ()  # location rule texts
    reject: tuple[str, ...] = ()
    require: tuple[str, ...] = ()  # requirement spec items: `arch=x86_64`, `label.disk=ssd`
    depends_on: tuple[Dependency, ...] = ()
    ordered_replicas: bool = False  # replica i+1 starts once replica i is running (StatefulSet)
    intensity: Intensity | None = None
    aliases: tuple[Alias, ...] = field(default=())
