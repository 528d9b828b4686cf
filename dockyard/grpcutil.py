"""gRPC plumbing shared by the daemons and the client: error mapping for
servicers, server construction with the standard health and reflection
services, and channel options."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dockyard.errors import DockyardError, PermissionDenied, status_code
from dockyard.pki import NodeIdentity, PeerIdentity, Role, peer_identity

R = TypeVar("R")

# Keepalives let both ends notice a dead peer (a SIGKILLed manager, a cut
# cable) within ~20 s instead of TCP's minutes.
CHANNEL_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)
SERVER_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)


def host_of(address: str) -> str:
    """The host part of HOST:PORT ("[::1]:7460" -> "::1")."""
    return address.rsplit(":", 1)[0].strip("[]")


def peer_of(context: grpc.aio.ServicerContext) -> PeerIdentity | None:
    """Who is calling, from the client certificate mutual TLS verified
    (None on a connection without one: the join port)."""
    pem = context.auth_context().get("x509_pem_cert")
    if not pem:
        return None
    return _identity_of(pem[0])


@functools.lru_cache(maxsize=4096)
def _identity_of(cert_pem: bytes) -> PeerIdentity:
    # Parsing the certificate cost ~0.3 ms per call; a caller presents the
    # same certificate on every call of its connection.
    return peer_identity(cert_pem)


def require_role(context: grpc.aio.ServicerContext, roles: Iterable[Role]) -> PeerIdentity:
    peer = peer_of(context)
    allowed = set(roles)
    if peer is None:
        raise PermissionDenied("this call needs a client certificate (mutual TLS)")
    if peer.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise PermissionDenied(f"a {peer.role.value} certificate may not make this call (allowed: {names})")
    return peer


def rpc(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Turn Dockyard errors raised by a unary servicer method into gRPC
    statuses (the mapping itself lives in dockyard.errors). When the servicer
    has `allowed_roles`, the caller's certificate must carry one of them."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            roles = getattr(self, "allowed_roles", None)
            if roles is not None:
                require_role(context, roles)
            return await method(self, request, context)
        except DockyardError as e:
            await context.abort(status_code(e), str(e))
            raise  # unreachable: abort raises

    return wrapper


def new_server(service_names: Sequence[str]) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    server = grpc.aio.server(options=list(SERVER_OPTIONS))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    return server, health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, service_names: Sequence[str]) -> None:
    for name in ["", *service_names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


def insecure_channel(address: str) -> grpc.aio.Channel:
    """Only for the join port (the CA service) and tests that say so."""
    return grpc.aio.insecure_channel(address, options=list(CHANNEL_OPTIONS))


def server_credentials(identity: NodeIdentity) -> grpc.ServerCredentials:
    """Mutual TLS: the server presents its node certificate and requires a
    client certificate signed by the cluster CA."""
    return grpc.ssl_server_credentials(
        [(identity.key_pem, identity.cert_pem)], root_certificates=identity.ca_pem, require_client_auth=True
    )


class ReloadableServerCredentials:
    """Mutual-TLS server credentials whose certificate can be replaced while
    the server runs (renewal): gRPC asks `fetch` at each new handshake."""

    def __init__(self, identity: NodeIdentity) -> None:
        self._identity = identity
        self._changed = False
        self.credentials = grpc.dynamic_ssl_server_credentials(
            self._config(), self._fetch, require_client_authentication=True
        )

    def replace(self, identity: NodeIdentity) -> None:
        self._identity = identity
        self._changed = True

    def _config(self) -> grpc.ServerCertificateConfiguration:
        ident = self._identity
        return grpc.ssl_server_certificate_configuration([(ident.key_pem, ident.cert_pem)], root_certificates=ident.ca_pem)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        if not self._changed:
            return None
        self._changed = False
        return self._config()


def channel_credentials(identity: NodeIdentity) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)


def secure_channel(address: str, identity: NodeIdentity) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(address, channel_credentials(identity), options=list(CHANNEL_OPTIONS))
