"""The cluster's certificate authority and each node's identity (mutual TLS).

Modelled on Docker Swarm's PKI: `manager init` creates a CA (ECDSA P-256);
every manager, agent and admin client holds a certificate signed by it whose
subject says who it is: CN = node id, OU = role, O = cluster id. The CA decides
the node id and role; a certificate signing request (CSR) only contributes its
public key, so a joiner cannot ask for a better role than its token grants.

Pure: no gRPC, no network, and no file I/O except `save`/`load`. gRPC uses the
PEM bytes directly::

    grpc.ssl_server_credentials([(ident.key_pem, ident.cert_pem)],
                                root_certificates=ident.ca_pem, require_client_auth=True)

and a servicer learns who is calling with
`peer_identity(context.auth_context()["x509_pem_cert"][0])`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.errors import FailedPrecondition, InvalidArgument, PermissionDenied

__all__ = [
    "CA_LIFETIME",
    "CLOCK_SKEW_ALLOWANCE",
    "NODE_CERT_LIFETIME",
    "CertificateAuthority",
    "CertificateRejected",
    "NodeIdentity",
    "PeerIdentity",
    "Role",
    "ca_digest",
    "peer_identity",
    "verify_chain",
]

# Swarm's default CA lifetime is 20 years; 10 is long enough that nobody rotates
# a lab cluster's CA by surprise, and short enough to be a deliberate choice.
CA_LIFETIME = timedelta(days=3650)
# Swarm's default node certificate expiry (`--cert-expiry 2160h`).
NODE_CERT_LIFETIME = timedelta(days=90)
# Certificates start this far in the past so a node whose clock is a little
# behind the manager's still accepts a certificate issued a moment ago (cfssl,
# which Swarm uses, backdates the same way). Capped at a tenth of the lifetime so
# second-long test certificates are not mostly backdating.
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

# CN is at most 64 characters (RFC 5280 ub-common-name); the CA's CN is
# "dockyard-ca " + cluster id, so a cluster id gets 52.
_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_CLUSTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,51}\Z")
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?\Z"
)
# Names every certificate carries so a process can reach a manager on the same host.
_LOOPBACK_SANS: tuple[str, ...] = ("localhost", "127.0.0.1")

_CA_CERT_FILE = "ca.crt"
_CA_KEY_FILE = "ca.key"
_NODE_FILE = "node.pem"


class Role(StrEnum):
    """What a certificate's holder may do; stored as the certificate's OU."""

    MANAGER = "manager"
    AGENT = "agent"
    # The CLI's credential, created at `manager init`; never granted by a join token.
    ADMIN = "admin"


class CertificateRejected(PermissionDenied):
    """A certificate is not acceptable: wrong CA, expired, not yet valid, or not a
    Dockyard certificate. The message says which, in words an operator can act on."""


class PeerIdentity(NamedTuple):
    node_id: str
    role: Role
    cluster_id: str


def ca_digest(ca_pem: bytes) -> str:
    """The "sha256:<hex>" of the CA certificate's DER encoding: what join tokens pin."""
    cert = _load_cert(ca_pem, what="CA certificate")
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class CertificateAuthority:
    """The cluster CA: its certificate and private key, both PEM.

    Lives on managers only. `issue` is the one way a node gets a certificate.
    """

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    _cert: x509.Certificate = field(init=False, repr=False, compare=False)
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cert = _load_cert(self.cert_pem, what="CA certificate")
        key = _load_key(self.key_pem, what="CA key")
        if not _same_public_key(cert.public_key(), key.public_key()):
            raise InvalidArgument("the CA key does not belong to the CA certificate")
        if not _is_ca(cert):
            raise InvalidArgument("the CA certificate is not a CA (basicConstraints CA:TRUE is missing)")
        object.__setattr__(self, "_cert", cert)
        object.__setattr__(self, "_key", key)

    @classmethod
    def create(
        cls, cluster_id: str, lifetime: timedelta = CA_LIFETIME, *, now: datetime | None = None
    ) -> CertificateAuthority:
        """A new self-signed CA for `cluster_id` (ECDSA P-256, CN "dockyard-ca <cluster_id>")."""
        if not _CLUSTER_ID.match(cluster_id):
            raise InvalidArgument(
                f"invalid cluster id {cluster_id!r}: use 1-52 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        _check_lifetime(lifetime)
        now = _utc(now)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"dockyard-ca {cluster_id}"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster_id),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _backdate(lifetime))
            .not_valid_after(now + lifetime)
            # pathlen 0: the CA signs node certificates only, never another CA.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def __repr__(self) -> str:
        return f"CertificateAuthority(cluster_id={self.cluster_id!r}, digest={self.digest()!r})"

    @property
    def cluster_id(self) -> str:
        return _attr(self._cert.subject, NameOID.ORGANIZATION_NAME) or ""

    @property
    def not_after(self) -> datetime:
        return self._cert.not_valid_after_utc

    def digest(self) -> str:
        """The "sha256:<hex>" of the CA certificate (DER); join tokens carry it."""
        return ca_digest(self.cert_pem)

    def issue(
        self,
        csr_pem: bytes,
        node_id: str,
        role: Role,
        lifetime: timedelta = NODE_CERT_LIFETIME,
        sans: Sequence[str] = (),
        *,
        now: datetime | None = None,
    ) -> bytes:
        """A certificate (PEM) for the key in `csr_pem`, naming `node_id` and `role`.

        Only the CSR's public key is used: its subject and any extensions it
        requests are ignored, because who a node is and what it may do is the
        manager's decision (from the join token or the node's current certificate).
        `sans` are IP addresses or DNS names the node is reached at; "localhost"
        and 127.0.0.1 are always added. The certificate never outlives the CA.
        """
        if not _NODE_ID.match(node_id):
            raise InvalidArgument(
                f"invalid node id {node_id!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        role = _role(role)
        _check_lifetime(lifetime)
        now = _utc(now)
        if now >= self._cert.not_valid_after_utc:
            raise FailedPrecondition(
                f"the cluster CA expired at {self._cert.not_valid_after_utc.isoformat()}; it cannot issue certificates"
            )
        if now < self._cert.not_valid_before_utc:
            raise FailedPrecondition(
                f"the cluster CA is not valid until {self._cert.not_valid_before_utc.isoformat()} "
                f"(now {now.isoformat()}): is this manager's clock behind?"
            )
        public_key = _csr_public_key(csr_pem)
        san = x509.SubjectAlternativeName(_general_names([*sans, *_LOOPBACK_SANS]))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.cluster_id),
            ]
        )
        not_before = max(now - _backdate(lifetime), self._cert.not_valid_before_utc)
        not_after = min(now + lifetime, self._cert.not_valid_after_utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # Every node is both a server (managers, agents' task ports) and a client.
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(san, critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ca.crt (0644) and ca.key (0600) into `directory` (created 0700 if missing).

        The key is written first: a crash in between leaves an old certificate
        with a new key, which `load` refuses rather than half-working.
        """
        path = _ensure_dir(directory)
        _atomic_write(path / _CA_KEY_FILE, self.key_pem, mode=0o600)
        _atomic_write(path / _CA_CERT_FILE, self.cert_pem, mode=0o644)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> CertificateAuthority:
        path = Path(directory)
        return cls((path / _CA_CERT_FILE).read_bytes(), (path / _CA_KEY_FILE).read_bytes())


@dataclass(frozen=True, slots=True, repr=False)
class NodeIdentity:
    """What a node (or the CLI) presents in TLS: its certificate and key, plus the
    CA certificate it trusts. The key must belong to the certificate."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)
    ca_pem: bytes
    _cert: x509.Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cert = _load_cert(self.cert_pem, what="node certificate")
        key = _load_key(self.key_pem, what="node key")
        _load_cert(self.ca_pem, what="CA certificate")
        if not _same_public_key(cert.public_key(), key.public_key()):
            raise InvalidArgument("the node key does not belong to the node certificate")
        object.__setattr__(self, "_cert", cert)

    def __repr__(self) -> str:
        ident = peer_identity(self.cert_pem)
        return (
            f"NodeIdentity(node_id={ident.node_id!r}, role={ident.role.value!r}, "
            f"cluster_id={ident.cluster_id!r}, not_after={self.not_after.isoformat()!r})"
        )

    @staticmethod
    def generate_key_and_csr() -> tuple[bytes, bytes]:
        """A fresh ECDSA P-256 key and a CSR for it, both PEM.

        The CSR's subject is empty: the CA names the node, not the node itself.
        A renewal generates a new key too, so a leaked old key dies with its cert.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
        return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM)

    @property
    def node_id(self) -> str:
        return peer_identity(self.cert_pem).node_id

    @property
    def role(self) -> Role:
        return peer_identity(self.cert_pem).role

    @property
    def cluster_id(self) -> str:
        return peer_identity(self.cert_pem).cluster_id

    @property
    def not_before(self) -> datetime:
        return self._cert.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self._cert.not_valid_after_utc

    def needs_renewal(self, now: datetime, fraction: float = 0.5) -> bool:
        """True once `fraction` of the certificate's validity has passed.

        Swarm renews at a random point between 50% and 80% of the lifetime so a
        cluster's nodes do not all renew at once; callers wanting that spread
        pass a random `fraction` chosen once per certificate.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        start, end = self.not_before, self.not_after
        return _utc(now) >= start + (end - start) * fraction

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write node.pem (0600) into `directory` (created 0700 if missing), atomically.

        One file holds the certificate, the CA certificate and the key, so a
        renewal replaces all three with one rename: a crash leaves either the old
        identity or the new one, never a new certificate with an old key.
        """
        path = _ensure_dir(directory)
        # Node certificate first so `openssl x509 -in node.pem` shows it.
        _atomic_write(
            path / _NODE_FILE,
            self.cert_pem.strip() + b"\n" + self.ca_pem.strip() + b"\n" + self.key_pem.strip() + b"\n",
            mode=0o600,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> NodeIdentity:
        file = Path(directory) / _NODE_FILE
        blocks = _pem_blocks(file.read_bytes())
        certs = [b for label, b in blocks if label == "CERTIFICATE"]
        keys = [b for label, b in blocks if label.endswith("PRIVATE KEY")]
        if len(certs) != 2 or len(keys) != 1:
            raise InvalidArgument(
                f"{file}: expected the node certificate, the CA certificate and one private key, "
                f"found {len(certs)} certificate(s) and {len(keys)} key(s)"
            )
        return cls(cert_pem=certs[0], key_pem=keys[0], ca_pem=certs[1])


def peer_identity(cert: bytes) -> PeerIdentity:
    """Who a presented certificate (DER or PEM) names: node id, role, cluster id.

    This only reads the subject; it trusts that TLS already verified the chain
    (gRPC does, with `require_client_auth=True`). Use `verify_chain` otherwise.
    """
    parsed = _load_cert(cert, what="peer certificate", der_ok=True)
    node_id = _attr(parsed.subject, NameOID.COMMON_NAME)
    role_text = _attr(parsed.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    cluster_id = _attr(parsed.subject, NameOID.ORGANIZATION_NAME)
    if not node_id or not role_text or not cluster_id:
        raise CertificateRejected(
            "the certificate is not a Dockyard node certificate: its subject needs CN (node id), OU (role) and O (cluster id)"
        )
    try:
        role = Role(role_text)
    except ValueError:
        raise CertificateRejected(
            f"the certificate names an unknown role {role_text!r} (expected one of: {', '.join(Role)})"
        ) from None
    return PeerIdentity(node_id, role, cluster_id)


def verify_chain(cert_pem: bytes, ca_pem: bytes, now: datetime) -> None:
    """Raise CertificateRejected unless `cert_pem` was signed by `ca_pem` and both are valid at `now`."""
    now = _utc(now)
    cert = _load_cert(cert_pem, what="certificate", der_ok=True)
    ca = _load_cert(ca_pem, what="CA certificate")
    if not _is_ca(ca):
        raise CertificateRejected("the trusted certificate is not a CA (basicConstraints CA:TRUE is missing)")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateRejected(
            f"the certificate was not issued by this cluster's CA (issuer {cert.issuer.rfc4514_string()!r}, "
            f"expected {ca.subject.rfc4514_string()!r} with a matching signature): it belongs to another cluster "
            "or an older CA"
        ) from None
    for what, c in (("CA certificate", ca), ("certificate", cert)):
        if now < c.not_valid_before_utc:
            raise CertificateRejected(
                f"the {what} is not valid yet: valid from {c.not_valid_before_utc.isoformat()}, now is "
                f"{now.isoformat()} (is this host's clock behind?)"
            )
        if now >= c.not_valid_after_utc:
            raise CertificateRejected(
                f"the {what} expired at {c.not_valid_after_utc.isoformat()} (now {now.isoformat()})"
                + ("; rejoin the node with a join token to get a new one" if c is cert else "")
            )


# --- helpers -----------------------------------------------------------------


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidArgument(f"invalid role {role!r}: expected one of {', '.join(Role)}") from None


def _check_lifetime(lifetime: timedelta) -> None:
    if lifetime <= timedelta(0):
        raise InvalidArgument(f"certificate lifetime must be positive, got {lifetime}")


def _backdate(lifetime: timedelta) -> timedelta:
    return min(CLOCK_SKEW_ALLOWANCE, lifetime / 10)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        # A naive datetime is usually local time; guessing would shift expiry by hours.
        raise ValueError("pass a timezone-aware datetime (e.g. datetime.now(UTC)), not a naive one")
    return now.astimezone(UTC)


def _load_cert(data: bytes, *, what: str, der_ok: bool = False) -> x509.Certificate:
    try:
        if der_ok and not data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_der_x509_certificate(data)
        return x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError):
        raise CertificateRejected(f"the {what} could not be parsed (expected an X.509 certificate in PEM)") from None


def _load_key(data: bytes, *, what: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InvalidArgument(f"the {what} could not be parsed (expected an unencrypted PEM private key)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument(f"the {what} must be an ECDSA key, got {type(key).__name__}")
    return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _same_public_key(a: object, b: object) -> bool:
    def raw(k: object) -> bytes:
        return k.public_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return raw(a) == raw(b)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1:
        # None for missing, and for repeated attributes too: two CNs are ambiguous.
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


_ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def _csr_public_key(csr_pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except (ValueError, TypeError):
        raise InvalidArgument("the certificate signing request could not be parsed (expected a PEM CSR)") from None
    # Proof of possession: whoever sent the CSR holds the private key.
    if not csr.is_signature_valid:
        raise InvalidArgument("the certificate signing request's signature does not match its public key")
    key = csr.public_key()
    # ECDSA only: one key type keeps every node's TLS configuration the same.
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _ACCEPTED_CURVES):
        return key
    raise InvalidArgument("the CSR's key must be ECDSA on P-256, P-384 or P-521")


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for raw in names:
        text = raw.strip()
        try:
            ip = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            if not _DNS_NAME.match(text):
                raise InvalidArgument(
                    f"invalid subject alternative name {raw!r}: expected an IP address or DNS name"
                ) from None
            key = "dns:" + text.lower().rstrip(".")
            name: x509.GeneralName = x509.DNSName(text.lower().rstrip("."))
        else:
            key = f"ip:{ip}"
            name = x509.IPAddress(ip)
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL)


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode(), m.group(0)) for m in _PEM_BLOCK.finditer(data)]


def _ensure_dir(directory: str | os.PathLike[str]) -> Path:
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    # Temp file in the same directory (rename is only atomic within a file
    # system), created with its final mode so the key is never briefly readable.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # os.open's mode is filtered by the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
