"""The cluster CA as a service: hands out the CA certificate, issues node
certificates to joiners that prove they hold a join token, and renews the
certificates of nodes that already have one. The CA key and the tokens live
in the replicated ClusterSecurity object, so every manager can serve this."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import grpc

from dockyard.api.v1 import ca_pb2 as capb
from dockyard.api.v1 import ca_pb2_grpc as cagrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import FailedPrecondition, InvalidArgument, PermissionDenied, ResourceExhausted, Unavailable
from dockyard.grpcutil import require_role, rpc
from dockyard.pki import CertificateAuthority, Role
from dockyard.tokens import JoinToken, proof_matches
from manager.raft import Proposer
from manager.ratelimit import RateLimiter, caller_host
from manager.store import Store, clone, update

log = logging.getLogger("dockyard.ca")

SECURITY_ID = "cluster"
JOIN_ROLES = {"agent": Role.AGENT, "manager": Role.MANAGER}


def cluster_security(store: Store) -> pb.ClusterSecurity:
    sec = store.view().security.get(SECURITY_ID)
    if sec is None:
        raise Unavailable("the cluster's security settings are not replicated yet; retry")
    return sec


def token_for(sec: pb.ClusterSecurity, role: str) -> JoinToken:
    text = sec.agent_token if role == "agent" else sec.manager_token
    return JoinToken.parse(text)


class NodeCAService(cagrpc.NodeCAServicer):
    def __init__(self, store: Store, proposer: Proposer, limiter: RateLimiter | None = None) -> None:
        self.store = store
        self.proposer = proposer
        self.limiter = limiter or RateLimiter()

    def _ca(self, sec: pb.ClusterSecurity) -> CertificateAuthority:
        return CertificateAuthority(sec.ca_cert_pem, sec.ca_key_pem)

    @rpc
    async def GetRootCA(self, request: capb.GetRootCARequest, context: grpc.aio.ServicerContext) -> capb.GetRootCAResponse:
        return capb.GetRootCAResponse(ca_cert_pem=cluster_security(self.store).ca_cert_pem)

    @rpc
    async def IssueCertificate(
        self, request: capb.IssueCertificateRequest, context: grpc.aio.ServicerContext
    ) -> capb.IssueCertificateResponse:
        host = caller_host(context.peer())
        if not self.limiter.allow(host):
            raise ResourceExhausted("too many join attempts from this host; wait a few seconds")
        role = JOIN_ROLES.get(request.role)
        if role is None:
            raise InvalidArgument(f"role must be agent or manager, not {request.role!r}")
        sec = cluster_security(self.store)
        if not proof_matches(token_for(sec, request.role).secret, request.csr_pem, request.proof):
            log.warning("event=join_refused host=%s role=%s reason=bad_token", host, request.role)
            raise PermissionDenied("the join token is wrong or has been rotated")
        node_id = uuid.uuid4().hex
        cert = self._ca(sec).issue(request.csr_pem, node_id, role, timedelta(seconds=sec.cert_lifetime), list(request.sans))
        log.info("event=certificate_issued node=%s role=%s host=%s", node_id, role.value, host)
        return capb.IssueCertificateResponse(
            cert_pem=cert, ca_cert_pem=sec.ca_cert_pem, node_id=node_id, managers=self._managers()
        )

    def _managers(self) -> list[str]:
        return sorted(m.api_address for m in self.store.view().managers.values())

    @rpc
    async def RenewCertificate(
        self, request: capb.RenewCertificateRequest, context: grpc.aio.ServicerContext
    ) -> capb.IssueCertificateResponse:
        peer = require_role(context, (Role.AGENT, Role.MANAGER, Role.ADMIN))
        sec = cluster_security(self.store)
        cert = self._ca(sec).issue(
            request.csr_pem, peer.node_id, peer.role, timedelta(seconds=sec.cert_lifetime), list(request.sans)
        )
        log.info("event=certificate_renewed node=%s role=%s", peer.node_id, peer.role.value)
        return capb.IssueCertificateResponse(
            cert_pem=cert, ca_cert_pem=sec.ca_cert_pem, node_id=peer.node_id, managers=self._managers()
        )


async def rotate_token(store: Store, proposer: Proposer, role: str) -> pb.ClusterSecurity:
    if role not in JOIN_ROLES:
        raise InvalidArgument(f"role must be agent or manager, not {role!r}")
    for _ in range(3):
        sec = clone(cluster_security(store))
        new = str(token_for(sec, role).rotated())
        if role == "agent":
            sec.agent_token = new
        else:
            sec.manager_token = new
        result = await proposer.propose(spb.StoreBatch(actions=[update(sec)]))
        if result.ok:
            log.info("event=token_rotated role=%s", role)
            return store.view().security[SECURITY_ID]
    raise FailedPrecondition("the security settings kept changing; retry")


def new_security(ca: CertificateAuthority, cert_lifetime: float) -> pb.ClusterSecurity:
    digest = ca.digest()
    return pb.ClusterSecurity(
        meta=pb.Meta(id=SECURITY_ID),
        ca_cert_pem=ca.cert_pem,
        ca_key_pem=ca.key_pem,
        agent_token=str(JoinToken.generate(digest, Role.AGENT)),
        manager_token=str(JoinToken.generate(digest, Role.MANAGER)),
        cert_lifetime=cert_lifetime,
    )


