"""docker-compose files → ensembles, loaded through `load_ensemble`."""

from __future__ import annotations

import pytest

from nunet.ensemble import AllocationType, Restart, flatten
from nunet.translate import TranslateError, translate
from tests.translate.support import dropped, manifest, translated


def test_a_shop_of_four_services_a_migration_and_a_build() -> None:
    result, ensemble = translated(manifest("compose-shop.yaml"))
    assert result.source == "compose"
    assert ensemble.name == "shop"
    assert list(ensemble.allocations) == ["db", "cache", "migrate", "api-0", "api-1", "web"]
    db = ensemble.allocations["db"]
    assert db.restart is Restart.ALWAYS  # unless-stopped
    assert (db.resources.cpu, db.resources.ram) == (1.5, 2**30)  # limits beat reservations
    assert db.execution.env == {
        "POSTGRES_USER": "shop",
        "POSTGRES_PASSWORD": "secret",
        "POSTGRES_DB": "shop",
    }
    assert db.healthcheck is not None
    assert db.healthcheck.exec == ("sh", "-c", "pg_isready -U shop -d shop")  # CMD-SHELL
    assert (db.healthcheck.interval, db.healthcheck.timeout) == (10.0, 5.0)
    assert (db.healthcheck.retries, db.healthcheck.start_period) == (5, 30.0)
    cache = ensemble.allocations["cache"]
    assert cache.execution.command == (
        "redis-server",
        "--maxmemory",
        "200mb",
        "--maxmemory-policy",
        "allkeys-lru",
    )
    assert cache.healthcheck is not None
    assert cache.healthcheck.exec == ("redis-cli", "ping")
    assert (cache.healthcheck.timeout, cache.healthcheck.retries) == (30.0, 3)  # compose's
    migrate = ensemble.allocations["migrate"]
    assert migrate.type is AllocationType.TASK  # api waits for it to complete
    assert migrate.restart is Restart.NEVER  # compose's default "no"
    assert migrate.execution.entrypoint == ("/app/bin/migrate",)
    assert migrate.execution.command == ("--to", "latest")
    api = ensemble.allocations["api-1"]
    assert api.depends_on == ("db", "cache", "migrate")
    assert api.restart is Restart.ON_FAILURE
    assert (api.resources.cpu, api.resources.ram) == (0.5, 256 * 2**20)
    assert api.execution.working_dir == "/app"
    assert api.execution.env == {
        "DATABASE_URL": "postgres://shop:secret@db:5432/shop",
        "REDIS_URL": "redis://cache:6379/0",
    }
    assert ensemble.allocations["web"].depends_on == ("api-0", "api-1")
    ports = {
        node: [(p.public, p.private, p.allocation) for p in spec.ports]
        for node, spec in ensemble.nodes.items()
        if spec.ports
    }
    assert ports == {
        "api-0": [(8000, 8000, "api-0")],
        "web": [(8080, 80, "web"), (8443, 443, "web")],
    }
    assert flatten(ensemble).start_order() == [
        ["db", "cache"],
        ["migrate"],
        ["api-0", "api-1"],
        ["web"],
    ]
    assert dropped(result) == [
        'volumes: {"pgdata": null} (the ensemble has no volumes; an allocation\'s disk is its '
        "storage)",
        "services.db.deploy.resources.reservations.memory: 512m (the ensemble reserves one "
        "figure per resource: the limit, 1g)",
        'services.db.volumes: ["pgdata:/var/lib/postgresql/data"] (the ensemble has no volumes; '
        "an allocation's disk is its storage)",
        "services.api.restart: on-failure:5 (restarts are not counted per allocation: the "
        "supervisor's intensity bounds them)",
        "services.api.environment[2]: LOG_LEVEL (taken from the host's environment by compose: "
        "give the value)",
        "services.api.depends_on.migrate.condition: service_completed_successfully (depends_on "
        "waits until migrate runs, not until it has completed)",
        "services.web.ports[1]: host ip 127.0.0.1 (a port is published on the node's own address)",
        "services.docs.build: ./docs (a build-only service: build and push the image, then name "
        "it)",
        "services.api.depends_on.cache: cache: service_started (the ensemble waits until cache "
        "is healthy (it has a health check))",
        "services.web.depends_on[0]: api: service_started (the ensemble waits until api is "
        "healthy (it has a health check))",
        "services.api.ports[0]: 8000->8000 on replica 1 (a public port is published once in an "
        "ensemble: only on replica 0)",
    ]


def test_short_port_forms_and_environment_as_a_list() -> None:
    text = """
services:
  app:
    image: example/app:1
    environment: ["A=1", "B=x=y", "C="]
    ports: ["9000-9001:8000-8001", "7000:7000/udp", "5000", 8080]
    entrypoint: /bin/app --verbose "two words"
"""
    result, ensemble = translated(text)
    app = ensemble.allocations["app"]
    assert app.execution.env == {"A": "1", "B": "x=y", "C": ""}
    assert app.execution.entrypoint == ("/bin/app", "--verbose", "two words")
    assert [(p.public, p.private) for p in ensemble.nodes["app"].ports] == [
        (9000, 8000),
        (9001, 8001),
    ]
    assert dropped(result) == [
        "services.app.ports[1]: 7000:7000/udp (udp: ensemble ports are TCP)",
        "services.app.ports[2]: 5000 (the host port is left to Docker: give the public port "
        "(8080:80))",
        "services.app.ports[3]: 8080 (the host port is left to Docker: give the public port "
        "(8080:80))",
    ]


def test_gpus_platform_and_a_disabled_healthcheck() -> None:
    text = """
name: ml
services:
  trainer:
    image: example/trainer:1
    platform: linux/arm64
    restart: "no"
    healthcheck: {disable: true}
    deploy:
      resources:
        reservations:
          devices: [{driver: nvidia, count: 2, capabilities: [gpu]}]
"""
    result, ensemble = translated(text)
    trainer = ensemble.allocations["trainer"]
    assert len(trainer.resources.gpus) == 2
    assert trainer.healthcheck is None
    assert trainer.restart is Restart.NEVER
    assert ensemble.nodes["trainer"].require.architectures == ("aarch64",)
    assert dropped(result) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a: {command: x}\n", "services.a.image: required"),
        ("services:\n  a: {image: i, depends_on: [b]}\n", "services.a.depends_on[0]: no service"),
        ("services:\n  a: {image: i, restart: sometimes}\n", "services.a.restart: 'sometimes'"),
        ("services:\n  a: {image: i, healthcheck: {test: [CMD]}}\n", "services.a.healthcheck.test"),
        (
            "services:\n  a: {image: i, healthcheck: {test: x, interval: 10}}\n",
            "services.a.healthcheck.interval: 10 is not a duration",
        ),
        (
            "services:\n  a: {image: i, deploy: {resources: {limits: {memory: 1x}}}}\n",
            "services.a.deploy.resources.limits.memory: '1x' is not a size",
        ),
        ("services:\n  a: {image: i, ports: ['70000:80']}\n", "services.a.ports[0]: '70000'"),
        ("services: {}\n", "services: required"),
        ("services:\n  a: {image: i, environment: 3}\n", "services.a.environment: expected"),
    ],
)
def test_malformed_compose_files_name_the_path(text: str, message: str) -> None:
    with pytest.raises(TranslateError) as caught:
        translate(text, "compose")
    assert str(caught.value).startswith(message)


def test_what_only_the_ensemble_reader_refuses_is_shown_at_its_source() -> None:
    with pytest.raises(TranslateError) as caught:
        translate("services:\n  api: {image: i, working_dir: relative}\n")
    assert str(caught.value).startswith(
        "services.api: execution.working_dir: 'relative' is not an absolute path"
    )
