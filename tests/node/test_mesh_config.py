"""The mesh section of the node config: every wrong field is named in the error."""

from __future__ import annotations

import pytest

from nunet.node import ConfigError, parse_config


@pytest.mark.parametrize(
    ("mesh", "named"),
    [
        ({"bootstrap": ["http://hub:7422"]}, r"mesh\.bootstrap\[0\].*must start with"),
        ({"bootstrap": ["tls://hub"]}, r"mesh\.bootstrap\[0\].*host and a port"),
        ({"bootstrap": ["tls://hub:99999"]}, r"mesh\.bootstrap\[0\].*invalid port"),
        ({"mode": "external"}, r"mesh\.external_urls: required"),
        ({"mode": "external", "external_urls": ["ftp://x:1"]}, r"mesh\.external_urls\[0\]"),
        ({"mode": "memory", "hub": {}}, r"mesh\.hub: only an embedded server"),
        ({"mode": "memory", "bootstrap": ["tls://h:1"]}, r"mesh\.bootstrap: only an embedded"),
        ({"cluster": {}}, r"mesh\.cluster: only hubs"),
        ({"hub": {}, "cluster": {"routes": ["x:1"]}}, r"mesh\.cluster\.routes\[0\]"),
        ({"heartbeat_seconds": 0}, r"mesh\.heartbeat_seconds"),
        ({"client_port": 70000}, r"mesh\.client_port"),
        ({"mode": "satellite"}, r"mesh\.mode"),
        ({"replication": {"stream_replicas": 9}}, r"mesh\.replication\.stream_replicas"),
        ({"hubs": []}, r"mesh.*hubs"),
    ],
)
def test_a_wrong_mesh_setting_is_named(mesh: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_config({"mesh": mesh})


def test_a_hub_that_joins_other_hubs_and_routes_to_a_cluster_is_accepted() -> None:
    config = parse_config(
        {
            "mesh": {
                "hub": {"host": "0.0.0.0", "port": 7422, "advertise": ["hub.example.org"]},
                "bootstrap": ["tls://other.example.org:7422"],
                "cluster": {"port": 6222, "routes": ["nats-route://peer.example.org:6222"]},
                "swarm_key_file": "/etc/nunet/swarm.key",
            }
        }
    )
    assert config.mesh.hub is not None
    assert config.mesh.hub.port == 7422
    assert config.mesh.cluster is not None
    assert config.mesh.cluster.routes == ["nats-route://peer.example.org:6222"]


def test_the_default_is_an_embedded_leaf_of_the_open_swarm() -> None:
    mesh = parse_config({}).mesh
    assert (mesh.mode, mesh.hub, mesh.bootstrap, mesh.swarm_key_file) == (
        "embedded",
        None,
        [],
        None,
    )
