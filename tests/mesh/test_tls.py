"""The swarm CA is the same on every member; node certificates chain to it and to nothing else."""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from nunet.mesh import SwarmCA, SwarmKey, TlsFiles, issue_node_tls


def test_two_derivations_of_the_ca_are_byte_identical(tmp_path: Path) -> None:
    key = SwarmKey.generate()
    key.write(tmp_path / "swarm.key")
    copy = SwarmKey.load(tmp_path / "swarm.key")  # as a second member would hold it
    first, second = SwarmCA(key), SwarmCA(copy)
    assert first.certificate_pem == second.certificate_pem
    assert first.certificate.public_bytes(serialization.Encoding.DER) == (
        second.certificate.public_bytes(serialization.Encoding.DER)
    )
    a = issue_node_tls(key, tmp_path / "a", "a").ca_file.read_bytes()
    b = issue_node_tls(copy, tmp_path / "b", "b").ca_file.read_bytes()
    assert a == b == first.certificate_pem


def test_another_key_gives_another_ca() -> None:
    one, two = SwarmCA(SwarmKey.generate()), SwarmCA(SwarmKey.generate())
    assert one.certificate.public_key() != two.certificate.public_key()
    assert one.certificate_pem != two.certificate_pem


def test_the_ca_is_an_ed25519_ca_for_signing_certificates_only() -> None:
    ca = SwarmCA(SwarmKey.generate()).certificate
    assert isinstance(ca.public_key(), ed25519.Ed25519PublicKey)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert not usage.digital_signature


def _context(own: TlsFiles, trusted: Path, side: ssl._SSLMethod) -> ssl.SSLContext:
    context = ssl.SSLContext(side)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(own.cert_file, own.key_file)
    context.load_verify_locations(trusted)
    context.verify_mode = ssl.CERT_REQUIRED  # both ways, as nats-server's `verify: true`
    return context


async def _handshake(
    server: TlsFiles, client: TlsFiles, dial: str, client_trusts: Path | None = None
) -> bool:
    """A real mutual TLS handshake on loopback (OpenSSL, like Go, accepts Ed25519).

    The server only answers once it has verified the client, so b"ok" proves both directions.
    """

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(
        on_client,
        "127.0.0.1",
        0,
        ssl=_context(server, server.ca_file, ssl.PROTOCOL_TLS_SERVER),
    )
    port = listener.sockets[0].getsockname()[1]
    trusted = client_trusts or client.ca_file
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=_context(client, trusted, ssl.PROTOCOL_TLS_CLIENT),
                server_hostname=dial,
            )
            try:
                return await reader.read() == b"ok"
            finally:
                writer.close()
    except (ssl.SSLError, ConnectionError):
        return False
    finally:
        listener.close()


async def test_node_certificates_of_one_swarm_complete_a_mutual_tls_handshake(
    tmp_path: Path,
) -> None:
    key = SwarmKey.generate()
    hub = issue_node_tls(key, tmp_path / "hub", "hub", ["hub.example.org"])
    member = issue_node_tls(key, tmp_path / "member", "member")
    certificate = x509.load_pem_x509_certificate(hub.cert_file.read_bytes())
    certificate.verify_directly_issued_by(SwarmCA(key).certificate)
    for dialled in ("127.0.0.1", "localhost", "hub.example.org"):
        assert await _handshake(hub, member, dialled)


async def test_a_certificate_of_another_swarm_fails_the_handshake_either_way(
    tmp_path: Path,
) -> None:
    key = SwarmKey.generate()
    hub = issue_node_tls(key, tmp_path / "hub", "hub")
    for index, other in enumerate((SwarmKey.generate(), SwarmKey.public())):
        foreign = issue_node_tls(other, tmp_path / f"foreign{index}", "foreign")
        assert not await _handshake(hub, foreign, "127.0.0.1")
        assert not await _handshake(foreign, hub, "127.0.0.1")
        # Even trusting the hub's CA, a foreign client is refused by the hub's own check.
        assert not await _handshake(hub, foreign, "127.0.0.1", client_trusts=hub.ca_file)


async def test_a_name_outside_the_certificate_fails_the_handshake(tmp_path: Path) -> None:
    key = SwarmKey.generate()
    hub = issue_node_tls(key, tmp_path / "hub", "hub")
    member = issue_node_tls(key, tmp_path / "member", "member")
    assert not await _handshake(hub, member, "elsewhere.example.org")


def test_node_keys_are_fresh_and_private(tmp_path: Path) -> None:
    key = SwarmKey.generate()
    first = issue_node_tls(key, tmp_path / "one", "n")
    second = issue_node_tls(key, tmp_path / "two", "n")
    assert first.key_file.read_bytes() != second.key_file.read_bytes()
    assert stat.S_IMODE(first.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "one").stat().st_mode) == 0o700
    loaded = serialization.load_pem_private_key(first.key_file.read_bytes(), None)
    certificate = x509.load_pem_x509_certificate(first.cert_file.read_bytes())
    assert isinstance(loaded, ed25519.Ed25519PrivateKey)
    assert loaded.public_key() == certificate.public_key()
