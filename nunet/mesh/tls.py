"""The swarm's certificate authority, derived from the swarm key, and the node certificates it signs.

The CA key is Ed25519 seeded from the key (nats-server's Go TLS accepts Ed25519 certificates), and
the CA certificate has a fixed serial, subject and validity; Ed25519 signatures are deterministic,
so every member derives a byte-identical CA and no CA file ever needs distributing.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nunet.mesh.swarmkey import SwarmKey

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
NODE_CERT_LIFETIME = datetime.timedelta(days=365)
"""A node re-issues its certificate every time its server starts, so this only bounds uptime."""

_CA_NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
_CA_NOT_AFTER = datetime.datetime(
    9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC
)  # RFC 5280 "forever"
_CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files a server needs for its links: the swarm CA, its certificate, its private key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


class SwarmCA:
    """The CA of one swarm; anyone holding the swarm key holds this CA (that is the membership)."""

    def __init__(self, key: SwarmKey) -> None:
        self._private_key = ed25519.Ed25519PrivateKey.from_private_bytes(key.ca_seed)
        self.fingerprint = key.fingerprint
        self.subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nunet"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"nunet swarm {key.fingerprint}"),
            ]
        )
        public = self._private_key.public_key()
        serial = int.from_bytes(key.derive(b"ca-serial", 16), "big") >> 1  # positive, < 2**127
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.subject)
            .issuer_name(self.subject)
            .public_key(public)
            .serial_number(serial)
            .not_valid_before(_CA_NOT_BEFORE)
            .not_valid_after(_CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self._private_key, None)
        )

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        name: str,
        hosts: Iterable[str] = (),
        *,
        now: datetime.datetime | None = None,
        lifetime: datetime.timedelta = NODE_CERT_LIFETIME,
    ) -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
        """A certificate for node `name` on a fresh key, valid as server and client.

        Its SANs are the loopback names plus `hosts` (the addresses other servers dial: a peer
        checks the name it dialled against them).
        """
        now = now or datetime.datetime.now(datetime.UTC)
        node_key = ed25519.Ed25519PrivateKey.generate()
        public = node_key.public_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"nunet swarm {self.fingerprint}"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + lifetime)
            .add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
                critical=False,
            )
            .sign(self._private_key, None)
        )
        return certificate, node_key


def issue_node_tls(
    key: SwarmKey, directory: Path, name: str, hosts: Iterable[str] = ()
) -> TlsFiles:
    """Write the swarm CA, a fresh node certificate and its key (0600) under `directory`."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = SwarmCA(key)
    certificate, node_key = ca.issue(name, hosts)
    files = TlsFiles(directory / "ca.pem", directory / "node.pem", directory / "node.key")
    key_pem = node_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(files.key_file, key_pem, 0o600)
    _write(files.cert_file, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(files.ca_file, ca.certificate_pem, 0o644)
    return files


def _san(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys([*LOOPBACK_HOSTS, *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, created with `mode` so a key is never readable by others, even briefly."""
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(partial, mode)
    os.replace(partial, path)
