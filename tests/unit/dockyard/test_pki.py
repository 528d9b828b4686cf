"""The cluster CA and node identities: who a certificate says a node is, which
certificates a node accepts, and a real mutual-TLS handshake with issued certificates."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.errors import DockyardError, FailedPrecondition, InvalidArgument, PermissionDenied
from dockyard.pki import (
    CertificateAuthority,
    CertificateRejected,
    NodeIdentity,
    PeerIdentity,
    Role,
    ca_digest,
    peer_identity,
    verify_chain,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("cluster-a", now=NOW)


@pytest.fixture(scope="module")
def other_ca() -> CertificateAuthority:
    # Same cluster id, so the same subject name: only the signature tells them apart.
    return CertificateAuthority.create("cluster-a", now=NOW)


def _identity(
    ca: CertificateAuthority,
    node_id: str = "node-1",
    role: Role = Role.AGENT,
    lifetime: timedelta = timedelta(days=90),
    sans: tuple[str, ...] = (),
    now: datetime = NOW,
) -> NodeIdentity:
    key_pem, csr_pem = NodeIdentity.generate_key_and_csr()
    cert_pem = ca.issue(csr_pem, node_id, role, lifetime, sans, now=now)
    return NodeIdentity(cert_pem, key_pem, ca.cert_pem)


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


# --- the CA ------------------------------------------------------------------


def test_create_makes_a_p256_ca_named_after_the_cluster(ca: CertificateAuthority) -> None:
    cert = _cert(ca.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dockyard-ca cluster-a"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    assert cert.not_valid_after_utc == NOW + timedelta(days=3650)
    assert ca.cluster_id == "cluster-a"


def test_digest_is_sha256_of_the_ca_certificate_der(ca: CertificateAuthority) -> None:
    der = _cert(ca.cert_pem).public_bytes(serialization.Encoding.DER)
    assert ca.digest() == "sha256:" + hashlib.sha256(der).hexdigest()
    assert ca_digest(ca.cert_pem) == ca.digest()


def test_two_cas_have_different_digests(ca: CertificateAuthority, other_ca: CertificateAuthority) -> None:
    assert ca.digest() != other_ca.digest()


@pytest.mark.parametrize("cluster_id", ["", "has space", "-leading-dash", "x" * 53, "ünicode"])
def test_create_rejects_cluster_ids_that_cannot_name_a_ca(cluster_id: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid cluster id"):
        CertificateAuthority.create(cluster_id)


def test_repr_does_not_show_the_ca_key(ca: CertificateAuthority) -> None:
    assert "PRIVATE" not in repr(ca)
    assert "cluster-a" in repr(ca)


def test_ca_save_and_load_round_trip_with_a_private_key_file(ca: CertificateAuthority, tmp_path: Path) -> None:
    ca.save(tmp_path / "ca")
    assert stat.S_IMODE(os.stat(tmp_path / "ca" / "ca.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "ca").st_mode) == 0o700
    assert CertificateAuthority.load(tmp_path / "ca") == ca
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca.crt", "ca.key"]


def test_ca_load_refuses_a_key_from_another_ca(
    ca: CertificateAuthority, other_ca: CertificateAuthority, tmp_path: Path
) -> None:
    ca.save(tmp_path)
    (tmp_path / "ca.key").write_bytes(other_ca.key_pem)
    with pytest.raises(InvalidArgument, match="does not belong"):
        CertificateAuthority.load(tmp_path)


# --- issuing -----------------------------------------------------------------


def test_issued_certificate_names_node_role_and_cluster(ca: CertificateAuthority) -> None:
    for role in Role:
        ident = _identity(ca, node_id="n-42", role=role)
        assert (ident.node_id, ident.role, ident.cluster_id) == ("n-42", role, "cluster-a")
        subject = _cert(ident.cert_pem).subject
        assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == role.value
        assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "cluster-a"


def test_issued_certificate_is_a_client_and_server_leaf_with_sans(ca: CertificateAuthority) -> None:
    ident = _identity(ca, sans=("10.0.0.7", "manager-1.lab", "fd00::7", "10.0.0.7"))
    cert = _cert(ident.cert_pem)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["manager-1.lab", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("fd00::7"),
        ipaddress.ip_address("127.0.0.1"),
    ]


def test_the_ca_decides_identity_not_the_csr(ca: CertificateAuthority) -> None:
    # A joiner holding an agent token asks for a manager certificate with someone else's id.
    key = ec.generate_private_key(ec.SECP256R1())
    forged = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "leader-node"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "manager"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cluster-b"),
        ]
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(forged)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = ca.issue(
        csr.public_bytes(serialization.Encoding.PEM), "agent-7", Role.AGENT, timedelta(days=1), (), now=NOW
    )
    assert peer_identity(cert_pem) == PeerIdentity("agent-7", Role.AGENT, "cluster-a")
    cert = _cert(cert_pem)
    assert "evil.example" not in cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_issue_rejects_a_csr_whose_signature_does_not_match(ca: CertificateAuthority) -> None:
    # Without proof of possession a node could get a certificate for someone else's public key.
    _, csr_pem = NodeIdentity.generate_key_and_csr()
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature's s value
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidArgument, match="signature does not match"):
        ca.issue(tampered, "n1", Role.AGENT, timedelta(days=1), (), now=NOW)


def test_issue_rejects_garbage_and_non_ecdsa_csrs(ca: CertificateAuthority) -> None:
    with pytest.raises(InvalidArgument, match="could not be parsed"):
        ca.issue(b"not a csr", "n1", Role.AGENT, timedelta(days=1), (), now=NOW)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(rsa_key, hashes.SHA256())
    with pytest.raises(InvalidArgument, match="ECDSA"):
        ca.issue(csr.public_bytes(serialization.Encoding.PEM), "n1", Role.AGENT, timedelta(days=1), (), now=NOW)


@pytest.mark.parametrize(
    ("node_id", "role", "lifetime", "sans", "message"),
    [
        ("", Role.AGENT, timedelta(days=1), (), "invalid node id"),
        ("a b", Role.AGENT, timedelta(days=1), (), "invalid node id"),
        ("n" * 65, Role.AGENT, timedelta(days=1), (), "invalid node id"),
        ("n1", "root", timedelta(days=1), (), "invalid role"),
        ("n1", Role.AGENT, timedelta(0), (), "lifetime must be positive"),
        ("n1", Role.AGENT, timedelta(days=1), ("not a host!",), "invalid subject alternative name"),
        ("n1", Role.AGENT, timedelta(days=1), ("",), "invalid subject alternative name"),
    ],
)
def test_issue_rejects_bad_requests_saying_why(
    ca: CertificateAuthority, node_id: str, role: Role, lifetime: timedelta, sans: tuple[str, ...], message: str
) -> None:
    _, csr_pem = NodeIdentity.generate_key_and_csr()
    with pytest.raises(InvalidArgument, match=message):
        ca.issue(csr_pem, node_id, role, lifetime, sans, now=NOW)


def test_a_certificate_never_outlives_its_ca() -> None:
    short_ca = CertificateAuthority.create("c", timedelta(days=30), now=NOW)
    ident = _identity(short_ca, lifetime=timedelta(days=90))
    assert ident.not_after == short_ca.not_after
    with pytest.raises(FailedPrecondition, match="CA expired"):
        _identity(short_ca, now=NOW + timedelta(days=31))


def test_a_ca_does_not_issue_before_it_is_valid(ca: CertificateAuthority) -> None:
    with pytest.raises(FailedPrecondition, match="clock behind"):
        _identity(ca, now=NOW - timedelta(days=1))


def test_certificates_are_backdated_a_little_for_clock_skew(ca: CertificateAuthority) -> None:
    assert _identity(ca).not_before == NOW - timedelta(minutes=5)
    # ...but a ten-second test certificate is not mostly backdating.
    assert _identity(ca, lifetime=timedelta(seconds=10)).not_before == NOW - timedelta(seconds=1)


# --- node identity -----------------------------------------------------------


def test_generated_csr_has_an_empty_subject_and_a_p256_key() -> None:
    key_pem, csr_pem = NodeIdentity.generate_key_and_csr()
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    assert len(csr.subject) == 0
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


def test_identity_refuses_a_key_that_is_not_the_certificates(ca: CertificateAuthority) -> None:
    a, b = _identity(ca, "a"), _identity(ca, "b")
    with pytest.raises(InvalidArgument, match="does not belong"):
        NodeIdentity(a.cert_pem, b.key_pem, ca.cert_pem)


def test_identity_repr_shows_who_not_the_key(ca: CertificateAuthority) -> None:
    text = repr(_identity(ca, "node-9", Role.MANAGER))
    assert "node-9" in text and "manager" in text
    assert "PRIVATE" not in text


def test_needs_renewal_once_half_the_lifetime_has_passed(ca: CertificateAuthority) -> None:
    ident = _identity(ca, lifetime=timedelta(days=90))
    half = ident.not_before + (ident.not_after - ident.not_before) / 2
    assert not ident.needs_renewal(NOW)
    assert not ident.needs_renewal(half - timedelta(seconds=1))
    assert ident.needs_renewal(half)
    assert ident.needs_renewal(ident.not_after + timedelta(days=1))
    assert not ident.needs_renewal(half, fraction=0.8)
    assert ident.needs_renewal(ident.not_before + (ident.not_after - ident.not_before) * 0.8, fraction=0.8)


def test_needs_renewal_rejects_naive_times_and_bad_fractions(ca: CertificateAuthority) -> None:
    ident = _identity(ca)
    with pytest.raises(ValueError, match="timezone-aware"):
        ident.needs_renewal(datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ident.needs_renewal(NOW, fraction=1.5)


def test_identity_save_and_load_round_trip(ca: CertificateAuthority, tmp_path: Path) -> None:
    ident = _identity(ca, "node-1", Role.MANAGER)
    ident.save(tmp_path / "identity")
    files = list((tmp_path / "identity").iterdir())
    assert [f.name for f in files] == ["node.pem"]  # no temporary files left behind
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert NodeIdentity.load(tmp_path / "identity") == ident


def test_identity_save_replaces_the_previous_identity_whole(ca: CertificateAuthority, tmp_path: Path) -> None:
    old, renewed = _identity(ca, "node-1"), _identity(ca, "node-1", now=NOW + timedelta(days=45))
    old.save(tmp_path)
    renewed.save(tmp_path)
    loaded = NodeIdentity.load(tmp_path)
    assert loaded == renewed
    assert loaded.key_pem != old.key_pem


def test_identity_load_explains_a_damaged_file(ca: CertificateAuthority, tmp_path: Path) -> None:
    ident = _identity(ca)
    (tmp_path / "node.pem").write_bytes(ident.cert_pem + ident.key_pem)
    with pytest.raises(InvalidArgument, match=r"found 1 certificate\(s\) and 1 key"):
        NodeIdentity.load(tmp_path)


# --- reading and checking presented certificates -----------------------------


def test_peer_identity_reads_pem_and_der(ca: CertificateAuthority) -> None:
    ident = _identity(ca, "agent-3", Role.AGENT)
    der = _cert(ident.cert_pem).public_bytes(serialization.Encoding.DER)
    expected = PeerIdentity("agent-3", Role.AGENT, "cluster-a")
    assert peer_identity(ident.cert_pem) == expected
    assert peer_identity(der) == expected
    node_id, role, cluster_id = peer_identity(der)
    assert (node_id, role, cluster_id) == ("agent-3", "agent", "cluster-a")


def test_peer_identity_rejects_certificates_that_are_not_node_certificates(ca: CertificateAuthority) -> None:
    with pytest.raises(CertificateRejected, match="not a Dockyard node certificate"):
        peer_identity(ca.cert_pem)  # no OU
    with pytest.raises(CertificateRejected, match="could not be parsed"):
        peer_identity(b"\x30\x03garbage")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "n"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "root"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "c"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(CertificateRejected, match="unknown role 'root'"):
        peer_identity(cert.public_bytes(serialization.Encoding.PEM))


def test_rejections_are_permission_denied() -> None:
    # Servicers map CertificateRejected through dockyard.errors like any other error.
    assert issubclass(CertificateRejected, PermissionDenied)
    assert issubclass(CertificateRejected, DockyardError)


def test_verify_chain_accepts_a_valid_certificate(ca: CertificateAuthority) -> None:
    verify_chain(_identity(ca).cert_pem, ca.cert_pem, NOW + timedelta(days=1))


def test_verify_chain_rejects_a_certificate_from_another_ca(
    ca: CertificateAuthority, other_ca: CertificateAuthority
) -> None:
    foreign = _identity(other_ca)
    with pytest.raises(CertificateRejected, match="not issued by this cluster's CA"):
        verify_chain(foreign.cert_pem, ca.cert_pem, NOW)


def test_verify_chain_rejects_an_expired_certificate(ca: CertificateAuthority) -> None:
    ident = _identity(ca, lifetime=timedelta(hours=1))
    verify_chain(ident.cert_pem, ca.cert_pem, ident.not_after - timedelta(seconds=1))
    with pytest.raises(CertificateRejected, match="certificate expired at"):
        verify_chain(ident.cert_pem, ca.cert_pem, ident.not_after)


def test_verify_chain_rejects_a_certificate_not_valid_yet(ca: CertificateAuthority) -> None:
    ident = _identity(ca, now=NOW + timedelta(days=10))
    with pytest.raises(CertificateRejected, match="not valid yet.*clock behind"):
        verify_chain(ident.cert_pem, ca.cert_pem, NOW)


def test_verify_chain_rejects_an_expired_ca() -> None:
    short_ca = CertificateAuthority.create("c", timedelta(days=30), now=NOW)
    ident = _identity(short_ca, lifetime=timedelta(days=90))
    with pytest.raises(CertificateRejected, match="CA certificate expired"):
        verify_chain(ident.cert_pem, short_ca.cert_pem, NOW + timedelta(days=30))


def test_verify_chain_rejects_a_leaf_posing_as_the_ca(ca: CertificateAuthority) -> None:
    leaf = _identity(ca)
    with pytest.raises(CertificateRejected, match="not a CA"):
        verify_chain(_identity(ca).cert_pem, leaf.cert_pem, NOW)


# --- a real mutual-TLS handshake ---------------------------------------------
# These use the real clock: OpenSSL checks validity against it.


@pytest.fixture(scope="module")
def live_ca() -> CertificateAuthority:
    return CertificateAuthority.create("cluster-a")


@pytest.fixture(scope="module")
def live_other_ca() -> CertificateAuthority:
    return CertificateAuthority.create("cluster-a")


class _Handshake:
    """One TLS connection over a socketpair: server requires a client certificate."""

    def __init__(self, server: NodeIdentity, client: NodeIdentity, tmp_path: Path) -> None:
        server.save(tmp_path / "server")
        client.save(tmp_path / "client")
        # node.pem holds certificate, CA and key: ssl loads it as-is.
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(tmp_path / "server" / "node.pem")
        self.server_ctx.verify_mode = ssl.CERT_REQUIRED
        self.server_ctx.load_verify_locations(cadata=server.ca_pem.decode())
        self.client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the server and its hostname
        self.client_ctx.load_cert_chain(tmp_path / "client" / "node.pem")
        self.client_ctx.load_verify_locations(cadata=client.ca_pem.decode())
        self.server_error: BaseException | None = None
        self.client_seen_by_server: PeerIdentity | None = None

    def run(self) -> bytes:
        server_sock, client_sock = socket.socketpair()
        server_sock.settimeout(30)
        client_sock.settimeout(30)

        def serve() -> None:
            try:
                with self.server_ctx.wrap_socket(server_sock, server_side=True) as tls:
                    der = tls.getpeercert(binary_form=True)
                    assert der is not None
                    self.client_seen_by_server = peer_identity(der)
                    tls.sendall(b"hello " + self.client_seen_by_server.node_id.encode())
            except BaseException as e:  # noqa: BLE001 - handed to the test thread
                self.server_error = e
                server_sock.close()

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with self.client_ctx.wrap_socket(client_sock, server_hostname="localhost") as tls:
                return tls.recv(100)
        finally:
            thread.join(30)


def test_mutual_tls_handshake_with_issued_certificates(live_ca: CertificateAuthority, tmp_path: Path) -> None:
    server = _identity(live_ca, "manager-1", Role.MANAGER, now=datetime.now(UTC))
    client = _identity(live_ca, "agent-1", Role.AGENT, now=datetime.now(UTC))
    hs = _Handshake(server, client, tmp_path)
    assert hs.run() == b"hello agent-1"
    assert hs.server_error is None
    assert hs.client_seen_by_server == PeerIdentity("agent-1", Role.AGENT, "cluster-a")


def test_mutual_tls_refuses_a_client_certificate_from_another_ca(
    live_ca: CertificateAuthority, live_other_ca: CertificateAuthority, tmp_path: Path
) -> None:
    server = _identity(live_ca, "manager-1", Role.MANAGER, now=datetime.now(UTC))
    # The impostor trusts our CA (so it accepts the server) but its own cert is foreign.
    foreign = _identity(live_other_ca, "manager-2", Role.MANAGER, now=datetime.now(UTC))
    impostor = NodeIdentity(foreign.cert_pem, foreign.key_pem, live_ca.cert_pem)
    hs = _Handshake(server, impostor, tmp_path)
    # With TLS 1.3 the client finishes its half of the handshake before the server
    # checks its certificate, so the client sees the refusal as an alert or EOF.
    try:
        data = hs.run()
    except (ssl.SSLError, ConnectionError):
        data = b""
    assert data == b"", "the server must not talk to a client from another CA"
    assert isinstance(hs.server_error, ssl.SSLCertVerificationError)
    assert hs.client_seen_by_server is None


def test_mutual_tls_client_refuses_a_server_from_another_ca(
    live_ca: CertificateAuthority, live_other_ca: CertificateAuthority, tmp_path: Path
) -> None:
    impostor_server = _identity(live_other_ca, "manager-1", Role.MANAGER, now=datetime.now(UTC))
    impostor_server = NodeIdentity(impostor_server.cert_pem, impostor_server.key_pem, live_other_ca.cert_pem)
    client = _identity(live_ca, "agent-1", Role.AGENT, now=datetime.now(UTC))
    hs = _Handshake(impostor_server, client, tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        hs.run()
    assert hs.client_seen_by_server is None


def test_pki_and_tokens_do_not_import_grpc() -> None:
    # Agents' and the CLI's start-up paths import these; they must stay pure.
    code = (
        "import sys, dockyard.pki, dockyard.tokens; print(sorted(m for m in sys.modules if m.split('.')[0] == 'grpc'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
