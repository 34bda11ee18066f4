"""Rendering a server spec into a nats-server config: pure, then checked by nats-server itself."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nunet.mesh import (
    SWARM_DOMAIN,
    ClusterSpec,
    LeafListen,
    MeshConfigError,
    ServerSpec,
    SwarmKey,
    TlsFiles,
    issue_node_tls,
    locate_nats_server,
    render_config,
)

KEY = SwarmKey(bytes(range(32)))
TLS = TlsFiles(Path("/n/tls/ca.pem"), Path("/n/tls/node.pem"), Path("/n/tls/node.key"))


def member(**changes: object) -> ServerSpec:
    spec = ServerSpec(
        name="node-a",
        directory=Path("/n"),
        client_token="tok3n",
        jetstream_domain="node-a",
        remotes=("nats-leaf://hub.example.org:7422",),
        tls=TLS,
        leaf_credentials=KEY.leaf_credentials,
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def hub(**changes: object) -> ServerSpec:
    spec = ServerSpec(
        name="hub-1",
        directory=Path("/h"),
        client_token="tok3n",
        jetstream_domain=SWARM_DOMAIN,
        leaf_listen=LeafListen("0.0.0.0", 7422, advertise="hub.example.org:7422"),
        cluster=ClusterSpec("swarm", port=6222, routes=("nats-route://hub2.example.org:6222",)),
        tls=TLS,
        leaf_credentials=KEY.leaf_credentials,
        route_credentials=KEY.route_credentials,
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def test_clients_reach_only_loopback_with_the_token_and_auto_ports_are_minus_one() -> None:
    config = render_config(member())
    assert 'listen: "127.0.0.1:-1"' in config  # 0 = the server picks; nats reads 0 as 4222
    assert 'http: "127.0.0.1:-1"' in config
    assert 'authorization { token: "tok3n"' in config
    assert 'jetstream { store_dir: "/n/jetstream", domain: "node-a" }' in config
    assert 'ports_file_dir: "/n"' in config


def test_a_member_dials_each_hub_over_tls_with_the_swarm_password() -> None:
    config = render_config(member(remotes=("nats-leaf://h1:7422", "nats-leaf://h2:7422")))
    credentials = KEY.leaf_credentials
    for host in ("h1", "h2"):
        url = f"nats-leaf://{credentials.user}:{credentials.password}@{host}:7422"
        assert f'{{ url: "{url}", tls {{ ca_file: "/n/tls/ca.pem"' in config
    assert "verify" not in config  # a dialler always verifies the hub; verify is the listener's
    assert 'listen: "0.0.0.0' not in config


def test_a_hub_demands_a_swarm_certificate_and_password_on_leaf_and_route_ports() -> None:
    config = render_config(hub())
    leafnodes = config[config.index("leafnodes {") : config.index("cluster {")]
    cluster = config[config.index("cluster {") :]
    for block in (leafnodes, cluster):
        assert 'cert_file: "/n/tls/node.pem"' in block
        assert "verify: true" in block
    leaf, route = KEY.leaf_credentials, KEY.route_credentials
    assert f'authorization {{ user: "{leaf.user}", password: "{leaf.password}"' in leafnodes
    assert f'authorization {{ user: "{route.user}", password: "{route.password}"' in cluster
    assert 'listen: "0.0.0.0:7422"' in leafnodes
    assert 'advertise: "hub.example.org:7422"' in leafnodes
    assert f'"nats-route://{route.user}:{route.password}@hub2.example.org:6222"' in cluster
    assert 'domain: "swarm"' in config


def test_pinned_ports_are_rendered_as_chosen() -> None:
    cluster = ClusterSpec("swarm", routes=("nats-route://127.0.0.1:6001",))
    spec = hub(leaf_listen=LeafListen("127.0.0.1"), cluster=cluster)
    pinned = spec.with_ports(4001, 8001, leaf=7001, cluster=6001)
    config = render_config(pinned)
    for address in ("127.0.0.1:4001", "127.0.0.1:8001", "127.0.0.1:7001", "0.0.0.0:6001"):
        assert f'"{address}"' in config


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"tls": None}, "plain-text links are not allowed"),
        ({"leaf_credentials": None}, "leaf links need the swarm's credentials"),
        ({"client_token": ""}, "client token must not be empty"),
        ({"name": "two words"}, "server name"),
        ({"client_port": 70000}, "client port 70000"),
        ({"remotes": ("http://hub:80",)}, "must look like nats-leaf://HOST:PORT"),
        ({"remotes": ("nats-leaf://hub",)}, "must look like nats-leaf://HOST:PORT"),
        ({"max_payload": 0}, "max_payload"),
    ],
)
def test_an_unsafe_or_broken_member_spec_is_refused(
    changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(MeshConfigError, match=problem):
        member(**changes)


def test_a_cluster_without_route_credentials_or_routes_is_refused() -> None:
    with pytest.raises(MeshConfigError, match="route credentials"):
        hub(route_credentials=None)
    with pytest.raises(MeshConfigError, match="needs routes"):
        hub(cluster=ClusterSpec("swarm"))


def test_adding_a_remote_twice_changes_nothing() -> None:
    spec = member()
    grown = spec.with_remote("nats-leaf://h2:7422")
    assert grown.remotes == (*spec.remotes, "nats-leaf://h2:7422")
    assert grown.with_remote("nats-leaf://h2:7422") is grown


@pytest.mark.parametrize("make", [member, hub], ids=["member", "hub-in-cluster"])
def test_nats_server_accepts_the_rendered_config(
    tmp_path: Path, make: Callable[..., ServerSpec]
) -> None:
    tls = issue_node_tls(KEY, tmp_path / "tls", "n")
    spec = make(directory=tmp_path, tls=tls)
    (tmp_path / "server.conf").write_text(render_config(spec))
    checked = subprocess.run(
        [str(locate_nats_server()), "-t", "-c", str(tmp_path / "server.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
