"""Nomad jobs (HCL2 and API JSON) → ensembles, loaded through `load_ensemble`."""

from __future__ import annotations

import json

import pytest

from nunet.ensemble import AllocationType, Restart
from nunet.translate import TranslateError, translate
from tests.translate.support import dropped, manifest, translated


def test_an_hcl_job_with_two_groups() -> None:
    result, ensemble = translated(manifest("nomad-web.nomad.hcl"))
    assert result.source == "nomad"
    assert ensemble.name == "storefront"
    assert list(ensemble.nodes) == ["frontend-0", "frontend-1", "frontend-2", "cache"]
    web = ensemble.allocations["frontend-2"]
    assert web.type is AllocationType.SERVICE
    assert web.restart is Restart.ALWAYS
    assert web.execution.image == "nginx:1.25"
    assert web.execution.command == ("nginx", "-g", "daemon off;")
    assert web.execution.env == {"UPSTREAM": "cache.service.consul", "WORKERS": "4"}
    assert web.resources.cpu == 0.5  # 500 MHz at 1000 MHz per core
    assert web.resources.ram == 256 * 2**20
    assert web.healthcheck is not None
    assert web.healthcheck.exec == ("/usr/bin/curl", "-fsS", "http://127.0.0.1/health")
    assert (web.healthcheck.interval, web.healthcheck.timeout) == (10.0, 2.0)
    ports = [(p.public, p.private, p.allocation) for p in ensemble.nodes["frontend-0"].ports]
    assert ports == [(8080, 80, "frontend-0")]
    assert ensemble.nodes["frontend-1"].require.architectures == ("x86_64",)
    cache = ensemble.allocations["cache"]
    assert cache.execution.command == ("redis-server", "--appendonly", "yes")
    assert cache.resources.cpu == 2.0  # cores
    assert cache.resources.ram == 2 * 2**30  # memory_max
    assert cache.resources.disk == 2 * 2**30  # ephemeral_disk 2048 MB
    assert ensemble.nodes["cache"].require.labels == {"storage": "ssd"}
    children = ensemble.supervisor.children
    assert [c.allocation for c in children] == ["", "", "", "cache"]
    for index, child in enumerate(children[:3]):
        assert child.supervisor is not None
        assert (child.supervisor.intensity.restarts, child.supervisor.intensity.period) == (
            2,
            1800.0,
        )
        assert [c.allocation for c in child.supervisor.children] == [f"frontend-{index}"]
    assert dropped(result) == [
        "job.storefront.datacenters[0]: dc1 (a datacenter name is not a location)",
        "job.storefront.group.frontend.restart.delay: 15s (restarts follow the supervisor, "
        "without a delay of their own)",
        "job.storefront.group.frontend.network[0].port.metrics: metrics (a dynamic port: the "
        "ensemble publishes fixed ports)",
        "job.storefront.group.frontend.service[0].check[1]: http check (only script checks "
        "become health checks (a command))",
        "job.storefront.group.cache.task.redis.resources.memory: 1024 (the ensemble reserves "
        "one figure: memory_max, 2048 MB)",
        'job.storefront.group.cache.task.redis.template: [{"data": "maxmemory 1gb", '
        '"destination": "local/redis.conf"}] (no ensemble equivalent)',
        "job.storefront.group.cache.task.log-shipper: task log-shipper (driver exec) (only "
        "docker tasks are translated)",
        'job.storefront.update: [{"max_parallel": 1}] (no ensemble equivalent)',
        "job.storefront.group.frontend.network[0].port.http: 8080->80 on replicas 1..2 (a "
        "public port is published once in an ensemble: only on replica 0)",
        "job.storefront.group.frontend.service[0].name: storefront-web (a DNS name for 3 "
        "allocations: reach them by their own names (frontend-0, frontend-1, frontend-2))",
    ]


def test_an_api_json_batch_job() -> None:
    result, ensemble = translated(manifest("nomad-batch.json"))
    assert ensemble.name == "nightly-report"
    report = ensemble.allocations["report-1"]
    assert report.type is AllocationType.TASK
    assert report.restart is Restart.ON_FAILURE
    assert report.execution.entrypoint == ("/bin/report",)
    assert report.execution.command == ("--since", "24h")
    assert report.execution.working_dir == "/srv"
    assert report.execution.env == {"OUTPUT": "/srv/out", "FORMAT": "pdf"}
    assert (report.resources.cpu, report.resources.ram) == (2.0, 512 * 2**20)
    assert report.resources.disk == 500 * 2**20
    assert len(report.resources.gpus) == 1
    node = ensemble.nodes["report-0"]
    assert [(r.continent, r.country) for r in node.accept_locations] == [("EU", "DE")]
    assert node.require.os == ("linux",)
    first = ensemble.supervisor.children[0].supervisor
    assert first is not None
    assert (first.intensity.restarts, first.intensity.period) == (3, 86400.0)
    assert dropped(result) == [
        "Job.TaskGroups[0].RestartPolicy.Delay: 15000000000 (restarts follow the supervisor, "
        "without a delay of their own)",
        "Job.TaskGroups[0].Tasks[0].KillTimeout: 30000000000 (no ensemble equivalent)",
        'Job.TaskGroups[0].ReschedulePolicy: {"Attempts": 1, "Unlimited": false} (rescheduling '
        "onto another machine is the orchestrator's, not the ensemble's)",
    ]


def test_the_same_job_in_hcl_and_json_gives_the_same_ensemble() -> None:
    hcl = """
job "api" {
  type = "batch"
  group "g" {
    count = 2
    restart {
      attempts = 0
      mode = "fail"
    }
    task "t" {
      driver = "docker"
      config {
        image = "alpine:3.20"
        command = "echo"
        args = ["hello"]
      }
      env = { A = "1" }
      resources {
        cpu = 1500
        memory = 128
      }
    }
  }
}
"""
    api = {
        "Job": {
            "ID": "api",
            "Type": "batch",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Count": 2,
                    "RestartPolicy": {"Attempts": 0, "Mode": "fail", "Interval": 0},
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": "docker",
                            "Config": {
                                "image": "alpine:3.20",
                                "command": "echo",
                                "args": ["hello"],
                            },
                            "Env": {"A": "1"},
                            "Resources": {"CPU": 1500, "MemoryMB": 128},
                        }
                    ],
                }
            ],
        }
    }
    from_hcl, _ = translated(hcl)
    from_json, ensemble = translated(json.dumps(api))
    assert from_hcl.document == from_json.document
    assert from_hcl.dropped == from_json.dropped == ()
    task = ensemble.allocations["g-0"]
    assert task.execution.command == ("echo", "hello")
    assert task.restart is Restart.NEVER
    assert task.resources.cpu == 1.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'job "x" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n      config {}\n'
            "    }\n  }\n}\n",
            "job.x.group.g.task.t.config.image: required",
        ),
        ('job "x" {\n  group "g" {\n  }\n}\n', "job.x.group.g.task: required"),
        ('job "x" {\n  group "g" {\n    task "t" {\n      driver = \n', "line "),
        (
            '{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", '
            '"Driver": "docker", "Config": {"image": "i"}, "Resources": {"CPU": "lots"}}]}]}}',
            "Job.TaskGroups[0].Tasks[0].Resources.CPU: expected a whole number",
        ),
        (
            '{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", '
            '"Driver": "exec", "Config": {"command": "x"}}]}]}}',
            "Job.TaskGroups: no group runs anything",
        ),
        ('{"job": {"x": {}}}', "job: the HCL-as-JSON syntax is not read"),
    ],
)
def test_malformed_jobs_name_the_path(text: str, message: str) -> None:
    with pytest.raises(TranslateError) as caught:
        translate(text, "nomad")
    assert str(caught.value).startswith(message)
