"""Joining a cluster and keeping a node certificate fresh: the joiner's side
of the CA service (manager/ca.py). Used by agents, by `manager join` and by
tests.

1. Fetch the CA certificate from a manager's join port and check it against
   the digest the join token pins; refuse to go on if it differs (someone
   else's manager, or a man in the middle).
2. Make a key (it never leaves this host) and a CSR; prove knowledge of the
   token's secret with an HMAC of the CSR; receive a certificate naming the
   node id and role the CA chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import grpc

from dockyard.api.v1 import ca_pb2 as capb
from dockyard.api.v1 import ca_pb2_grpc as cagrpc
from dockyard.errors import FailedPrecondition, PermissionDenied, from_status
from dockyard.grpcutil import insecure_channel, secure_channel
from dockyard.pki import NodeIdentity, verify_chain
from dockyard.tokens import JoinToken, join_proof, pin_matches


async def join(join_address: str, token_text: str, sans: Sequence[str] = ()) -> tuple[NodeIdentity, list[str]]:
    """A node identity for this host, and the managers' API addresses."""
    token = JoinToken.parse(token_text)
    async with insecure_channel(join_address) as channel:
        stub = cagrpc.NodeCAStub(channel)
        try:
            root = await stub.GetRootCA(capb.GetRootCARequest(), timeout=10)
            if not pin_matches(root.ca_cert_pem, token):
                raise PermissionDenied(
                    f"the CA certificate served at {join_address} does not match the join token's pinned digest; refusing to join"
                )
            key_pem, csr_pem = NodeIdentity.generate_key_and_csr()
            resp = await stub.IssueCertificate(
                capb.IssueCertificateRequest(
                    role=token.role.value, csr_pem=csr_pem, proof=join_proof(token.secret, csr_pem), sans=list(sans)
                ),
                timeout=10,
            )
        except grpc.aio.AioRpcError as e:
            raise from_status(e.code(), e.details() or "") from None
    if resp.ca_cert_pem != root.ca_cert_pem:
        raise FailedPrecondition("the manager answered with a different CA certificate than the one pinned")
    verify_chain(resp.cert_pem, root.ca_cert_pem, datetime.now(UTC))
    return NodeIdentity(resp.cert_pem, key_pem, root.ca_cert_pem), list(resp.managers)


async def renew(api_address: str, identity: NodeIdentity, sans: Sequence[str] = ()) -> NodeIdentity:
    """A fresh certificate for the same node id and role, asked for over
    mutual TLS with the current one."""
    key_pem, csr_pem = NodeIdentity.generate_key_and_csr()
    async with secure_channel(api_address, identity) as channel:
        try:
            resp = await cagrpc.NodeCAStub(channel).RenewCertificate(
                capb.RenewCertificateRequest(csr_pem=csr_pem, sans=list(sans)), timeout=10
            )
        except grpc.aio.AioRpcError as e:
            raise from_status(e.code(), e.details() or "") from None
    verify_chain(resp.cert_pem, identity.ca_pem, datetime.now(UTC))
    return NodeIdentity(resp.cert_pem, key_pem, identity.ca_pem)
