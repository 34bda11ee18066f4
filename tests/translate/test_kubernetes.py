"""Kubernetes manifests → ensembles, loaded through `load_ensemble`; what is dropped, exactly."""

from __future__ import annotations

import pytest

from nunet.ensemble import AllocationType, Restart, flatten
from nunet.translate import TranslateError, translate
from tests.translate.support import dropped, manifest, translated


def test_a_deployment_and_its_load_balancer_become_one_node_per_replica() -> None:
    result, ensemble = translated(manifest("k8s-web.yaml"))
    assert result.source == "k8s"
    assert ensemble.name == "web"
    assert list(ensemble.nodes) == ["web-0", "web-1"]
    assert ensemble.nodes["web-0"].allocations == ("web-0-nginx", "web-0-exporter")
    nginx = ensemble.allocations["web-1-nginx"]
    assert nginx.type is AllocationType.SERVICE
    assert nginx.restart is Restart.ALWAYS
    assert nginx.execution.image == "nginx:1.25-alpine"
    assert nginx.execution.command == ("nginx", "-g", "daemon off;")  # args → command
    assert nginx.execution.entrypoint == ()
    assert nginx.execution.env == {"NGINX_ENTRYPOINT_QUIET_LOGS": "1"}
    assert nginx.resources.cpu == 0.5  # the limit, not the 250m request
    assert nginx.resources.ram == 128 * 2**20
    assert nginx.healthcheck is not None
    assert nginx.healthcheck.exec == ("wget", "-q", "-O", "/dev/null", "http://127.0.0.1/")
    assert (nginx.healthcheck.interval, nginx.healthcheck.timeout) == (15.0, 2.0)
    assert (nginx.healthcheck.retries, nginx.healthcheck.start_period) == (4, 5.0)
    exporter = ensemble.allocations["web-0-exporter"]
    assert exporter.execution.entrypoint == ("/usr/bin/nginx-prometheus-exporter",)  # command
    assert exporter.resources.cpu == 0.1
    assert exporter.resources.ram == 32 * 2**20
    ports = [(p.public, p.private, p.allocation) for p in ensemble.nodes["web-0"].ports]
    assert ports == [(8080, 80, "web-0-nginx"), (9113, 9113, "web-0-exporter")]
    assert ensemble.nodes["web-1"].ports == ()
    assert dropped(result) == [
        'Deployment/web.metadata.labels: {"app": "web"} (labels and annotations have no place '
        "in an ensemble)",
        "Deployment/web.spec.template.spec.containers[0].env[1].valueFrom: "
        '{"fieldRef": {"fieldPath": "status.podIP"}} (values from secrets, config maps or '
        "fields are not expressible: give the value)",
        "Deployment/web.spec.template.spec.containers[0].resources.requests.cpu: 250m "
        "(the ensemble reserves one figure per resource: the limit, 500m)",
        "Deployment/web.spec.template.spec.containers[0].readinessProbe.httpGet: "
        '{"path": "/", "port": "http"} (only exec probes become health checks (a command in '
        "the image))",
        "Service/web.spec.ports[0]: 8080->80 on replica 1 (a public port is published once in "
        "an ensemble: only on replica 0)",
        "Service/web.spec.ports[1]: 9113->9113 on replica 1 (a public port is published once "
        "in an ensemble: only on replica 0)",
    ]


def test_a_job_becomes_parallel_tasks_with_a_run_timeout() -> None:
    result, ensemble = translated(manifest("k8s-job.yaml"))
    assert list(ensemble.allocations) == [f"train-shard-{i}" for i in range(4)]
    task = ensemble.allocations["train-shard-3"]
    assert task.type is AllocationType.TASK
    assert task.restart is Restart.ON_FAILURE
    assert task.timeouts.run == 3600.0
    assert task.execution.image.startswith("ghcr.io/example/trainer@sha256:4b9d")
    assert task.execution.entrypoint == ("python", "-m", "trainer")
    assert task.execution.command == ("--epochs", "3")
    assert task.execution.working_dir == "/workspace"
    assert task.resources.cpu == 8.0
    assert task.resources.ram == 64 * 2**30
    assert task.resources.disk == 100 * 2**30
    assert len(task.resources.gpus) == 1
    require = ensemble.nodes["train-shard-0"].require
    assert require.architectures == ("x86_64",)
    assert require.labels == {"accelerator": "h100"}
    assert dropped(result) == [
        "spec.backoffLimit: 2 (a failed task restarts without a count of its own: the "
        "supervisor's intensity (3 restarts in 60s by default) bounds the restarts)",
        "spec.ttlSecondsAfterFinished: 600 (no ensemble equivalent)",
    ]


def test_a_statefulset_starts_its_replicas_in_order_with_their_claims_as_disk() -> None:
    result, ensemble = translated(manifest("k8s-statefulset.yaml"))
    assert ensemble.name == "pg"  # the first workload names the ensemble
    assert [a.depends_on for a in ensemble.allocations.values()] == [(), ("pg-0",), ("pg-1",)]
    pg = ensemble.allocations["pg-2"]
    assert pg.resources.disk == 20 * 2**30
    assert pg.resources.ram == 2**30
    assert pg.resources.cpu == 1.0
    assert pg.execution.env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
    assert pg.healthcheck is not None
    assert pg.healthcheck.exec == ("pg_isready", "-U", "postgres")
    assert (pg.healthcheck.interval, pg.healthcheck.timeout) == (5.0, 1.0)  # Kubernetes' 1s
    assert flatten(ensemble).start_order() == [["pg-0"], ["pg-1"], ["pg-2"]]
    assert dropped(result) == [
        "StatefulSet/pg.spec.template.spec.containers[0].volumeMounts: "
        '[{"mountPath": "/var/lib/postgresql/data", "name": "data"}] (the ensemble has no '
        "volumes; an allocation's disk is its storage)",
        "StatefulSet/pg.spec.template.spec.terminationGracePeriodSeconds: 30 (no ensemble "
        "equivalent)",
        'StatefulSet/pg.spec.volumeClaimTemplates[0].spec.accessModes: ["ReadWriteOnce"] (the '
        "ensemble has no volumes; an allocation's disk is its storage)",
        "StatefulSet/pg.spec.volumeClaimTemplates[0]: volume data (the ensemble has no "
        "volumes; an allocation's disk is its storage: postgres's disk holds its 20GiB)",
        "Service/pg.spec.clusterIP: None (no ensemble equivalent)",
        "Service/pg: pg (a DNS name for 3 allocations: reach them by their own names (pg-0, "
        "pg-1, pg-2))",
    ]


POD = """
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  restartPolicy: %(policy)s
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, "echo hi"]
      livenessProbe:
        exec: {command: ["true"]}
"""


@pytest.mark.parametrize(
    ("policy", "kind", "restart"),
    [
        ("Always", AllocationType.SERVICE, Restart.ALWAYS),
        ("OnFailure", AllocationType.TASK, Restart.ON_FAILURE),
        ("Never", AllocationType.TASK, Restart.NEVER),
    ],
)
def test_a_pods_restart_policy_decides_task_or_service(
    policy: str, kind: AllocationType, restart: Restart
) -> None:
    result, ensemble = translated(POD % {"name": "one", "policy": policy})
    alloc = ensemble.allocations["one"]
    assert (alloc.type, alloc.restart) == (kind, restart)
    assert alloc.resources.ram == 256 * 2**20  # the ensemble's default: nothing was asked
    if kind is AllocationType.TASK:
        assert alloc.healthcheck is None
        assert dropped(result) == [
            'spec.containers[0].livenessProbe: ["true"] (main runs to completion (a task); '
            "health checks are for services)"
        ]
    else:
        assert alloc.healthcheck is not None
        assert dropped(result) == []


def test_a_cluster_ip_service_names_its_single_allocation() -> None:
    text = (POD % {"name": "postgres", "policy": "Always"}).replace(
        "metadata: {name: postgres}", "metadata: {name: postgres, labels: {app: db}}"
    )
    text += """
      ports: [{containerPort: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  selector: {app: db}
  ports: [{port: 5433, targetPort: 5432}]
"""
    result, ensemble = translated(text)
    assert ensemble.allocations["postgres"].dns_name == "db"
    assert ensemble.nodes["postgres"].ports == ()  # ClusterIP: inside the ensemble only
    assert (
        "Service/db.spec.ports[0]: 5433->5432 (no port remapping inside an ensemble: reach "
        "postgres on 5432)" in dropped(result)
    )


def test_a_node_port_service_publishes_its_node_port_and_a_host_port_is_published() -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: example/api:1
          ports: [{containerPort: 9000, hostPort: 9000}, {name: web, containerPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: api-public}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 80, targetPort: web, nodePort: 30080}]
"""
    result, ensemble = translated(text)
    ports = [(p.public, p.private, p.allocation) for p in ensemble.nodes["api"].ports]
    assert ports == [(9000, 9000, "api"), (30080, 8000, "api")]
    assert dropped(result) == []


def test_unsupported_kinds_are_dropped_whole_and_a_file_of_them_alone_is_an_error() -> None:
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n"
    text = config + "---\n" + POD % {"name": "p", "policy": "Always"}
    result, _ = translated(text)
    assert dropped(result)[0] == (
        "ConfigMap/cfg: ConfigMap cfg (the ensemble has no config maps: put the values in env)"
    )
    with pytest.raises(TranslateError, match="no workload to translate"):
        translate(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n"
            "    spec:\n      containers: [{name: c}]\n",
            "spec.template.spec.containers[0].image: required",
        ),
        (
            "apiVersion: v1\nkind: Deploymnet\nmetadata: {name: w}\n",
            "kind: unknown kind 'Deploymnet'; did you mean Deployment?",
        ),
        ("apiVersion: v1\nkind: Pod\nspec: {}\n", "metadata.name: required"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
            "spec.containers: required: at least one container",
        ),
        (
            POD.replace("restartPolicy: %(policy)s", "restartPolicy: Sometimes") % {"name": "p"},
            "spec.restartPolicy: 'Sometimes' is not one of Always, OnFailure, Never",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            "    - {name: c, image: i, resources: {limits: {memory: 12 Mi}}}\n",
            "spec.containers[0].resources.limits.memory: '12 Mi' is not a quantity",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, "
            "image: [x]}]\n",
            "spec.containers[0].image: expected text",
        ),
        (
            "kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec: [\n",
            "line 5, column 1: not valid YAML",
        ),
    ],
)
def test_malformed_manifests_name_the_path(text: str, message: str) -> None:
    with pytest.raises(TranslateError) as caught:
        translate(text, "k8s")
    assert str(caught.value).startswith(message)


def test_a_name_that_is_not_an_ensemble_name_is_rewritten_and_reported() -> None:
    result, ensemble = translated(POD % {"name": "My_Pod", "policy": "Always"})
    assert list(ensemble.allocations) == ["my-pod"]
    assert dropped(result) == [
        "metadata.name: name My_Pod (ensemble names are lowercase letters, digits and '-': "
        "named my-pod)"
    ]
