"""Security is on by default: who can and cannot join, read or write."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import dispatcher_pb2 as dpb
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.client import Client
from dockyard.errors import PermissionDenied
from dockyard.join import join
from dockyard.pki import CertificateAuthority, NodeIdentity, Role
from dockyard.tokens import JoinToken
from tests.cluster import Cluster, cluster, dockyard_cmd, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("secured"), agents=2, runtime="fake") as c:
        yield c


def identity_of(ca: CertificateAuthority, node_id: str, role: Role, lifetime: timedelta, now: datetime | None = None) -> NodeIdentity:
    key, csr = NodeIdentity.generate_key_and_csr()
    return NodeIdentity(ca.issue(csr, node_id, role, lifetime, now=now), key, ca.cert_pem)


def list_jobs_with(address: str, creds: grpc.ChannelCredentials) -> grpc.StatusCode:
    channel = grpc.secure_channel(address, creds)
    try:
        cgrpc.ControlStub(channel).ListJobs(cpb.ListJobsRequest(), timeout=5)
        return grpc.StatusCode.OK
    except grpc.RpcError as e:
        return e.code()
    finally:
        channel.close()


def test_admin_credential_works(secured: Cluster) -> None:
    assert {n.node.name for n in secured.client.list_nodes()} == {"node1", "node2"}


def test_plaintext_client_is_refused(secured: Cluster) -> None:
    channel = grpc.insecure_channel(secured.address)
    with pytest.raises(grpc.RpcError) as err:
        cgrpc.ControlStub(channel).ListJobs(cpb.ListJobsRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()


def test_client_without_certificate_is_refused(secured: Cluster) -> None:
    ca_pem = (secured.credentials / "node.pem").read_bytes()
    ca_cert = NodeIdentity.load(secured.credentials).ca_pem
    assert ca_pem  # the credential file exists
    code = list_jobs_with(secured.address, grpc.ssl_channel_credentials(ca_cert))
    assert code == grpc.StatusCode.UNAVAILABLE  # the TLS handshake fails


def test_certificate_from_another_ca_is_refused(secured: Cluster) -> None:
    ours = NodeIdentity.load(secured.credentials)
    other = CertificateAuthority.create("some-other-cluster")
    stranger = identity_of(other, "intruder", Role.ADMIN, timedelta(days=1))
    code = list_jobs_with(secured.address, grpc.ssl_channel_credentials(ours.ca_pem, stranger.key_pem, stranger.cert_pem))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_is_refused(secured: Cluster) -> None:
    ca = CertificateAuthority.load(secured.managers[0].data_dir / "ca")
    expired = identity_of(ca, "admin-expired", Role.ADMIN, timedelta(seconds=2))
    wait_for(lambda: datetime.now(UTC) > expired.not_after + timedelta(seconds=1), timeout=10, what="expiry")
    code = list_jobs_with(secured.address, grpc.ssl_channel_credentials(ca.cert_pem, expired.key_pem, expired.cert_pem))
    assert code == grpc.StatusCode.UNAVAILABLE
    fresh = identity_of(ca, "admin-fresh", Role.ADMIN, timedelta(hours=1))
    assert list_jobs_with(secured.address, grpc.ssl_channel_credentials(ca.cert_pem, fresh.key_pem, fresh.cert_pem)) == grpc.StatusCode.OK


def test_agent_certificate_cannot_use_the_control_api(secured: Cluster) -> None:
    ca = CertificateAuthority.load(secured.managers[0].data_dir / "ca")
    agent = identity_of(ca, "some-agent", Role.AGENT, timedelta(hours=1))
    creds = grpc.ssl_channel_credentials(ca.cert_pem, agent.key_pem, agent.cert_pem)
    assert list_jobs_with(secured.address, creds) == grpc.StatusCode.PERMISSION_DENIED
    with Client(secured.address, agent) as c, pytest.raises(PermissionDenied):
        c.list_tokens()


def join_with(secured: Cluster, token: str) -> NodeIdentity:
    identity, _ = asyncio.run(join(secured.managers[0].join_addr, token, ["127.0.0.1"]))
    return identity


def test_wrong_token_is_refused(secured: Cluster) -> None:
    real = JoinToken.parse(secured.client.list_tokens().agent)
    forged = JoinToken(real.ca_digest, real.role, JoinToken.generate(real.ca_digest, Role.AGENT).secret)
    with pytest.raises(PermissionDenied, match="wrong or has been rotated"):
        join_with(secured, str(forged))


def test_token_pinning_another_ca_is_refused(secured: Cluster) -> None:
    other = CertificateAuthority.create("elsewhere")
    token = JoinToken.generate(other.digest(), Role.AGENT)
    with pytest.raises(PermissionDenied, match="pinned digest"):
        join_with(secured, str(token))


def test_rotated_token_is_refused_and_new_one_works(secured: Cluster, tmp_path: Path) -> None:
    old = secured.client.list_tokens().agent
    assert join_with(secured, old).role == Role.AGENT
    rotated = secured.cli("token", "rotate", "worker", check=True).stdout.strip()
    assert rotated != old and rotated == secured.client.list_tokens().agent
    with pytest.raises(PermissionDenied):
        join_with(secured, old)
    assert join_with(secured, rotated).role == Role.AGENT
    # The CLI path: an agent started with the old token exits with the reason.
    proc = subprocess.run(
        dockyard_cmd("agent", "--data-dir", str(tmp_path / "late"), "--join", secured.managers[0].join_addr,
                     "--token", old, "--runtime", "fake"),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode != 0
    assert "rotated" in proc.stderr


def test_agent_may_only_report_for_its_own_tasks(secured: Cluster) -> None:
    spec = pb.JobSpec(
        name="owned", replicas=1, task=pb.TaskSpec(image="fake"),
        placement=pb.PlacementSpec(constraints=["node.name == node2"]),
    )
    secured.client.run_job(spec)
    task = wait_for(lambda: next((t for t in secured.client.list_tasks(job="owned") if t.node_id), None), timeout=20,
                    what="the task to be placed")
    node1 = next(n.node for n in secured.client.list_nodes() if n.node.name == "node1")
    certs = secured.root / "agent-node1" / "certs"
    ident = NodeIdentity.load(certs)
    assert ident.node_id == node1.meta.id
    channel = grpc.secure_channel(secured.address, grpc.ssl_channel_credentials(ident.ca_pem, ident.key_pem, ident.cert_pem))
    stub = dgrpc.DispatcherStub(channel)
    try:
        # Speaking for another node is refused outright.
        with pytest.raises(grpc.RpcError) as err:
            stub.Heartbeat(dpb.HeartbeatRequest(node_id=task.node_id, session_id="x"), timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # With its own session, reporting on node2's task is refused too.
        reg = stub.Register(dpb.RegisterRequest(node_id=ident.node_id, name="node1", address=node1.address,
                                                capacity=node1.capacity, runtime="fake"), timeout=5)
        fake = pb.TaskStatus(state=pb.TASK_STATE_FAILED, message="forged")
        with pytest.raises(grpc.RpcError) as err:
            stub.UpdateTaskStatus(dpb.UpdateTaskStatusRequest(
                node_id=ident.node_id, session_id=reg.session_id,
                updates=[dpb.TaskStatusUpdate(task_id=task.meta.id, status=fake)]), timeout=5)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()
    after = next(t for t in secured.client.list_tasks(job="owned") if t.meta.id == task.meta.id)
    assert after.status.message != "forged"
    secured.client.stop_job("owned")


def test_registration_is_rate_limited(secured: Cluster) -> None:
    ca = CertificateAuthority.load(secured.managers[0].data_dir / "ca")
    ident = identity_of(ca, "flooder", Role.AGENT, timedelta(hours=1))
    channel = grpc.secure_channel(secured.address, grpc.ssl_channel_credentials(ca.cert_pem, ident.key_pem, ident.cert_pem))
    stub = dgrpc.DispatcherStub(channel)
    codes = []
    for _ in range(30):
        try:
            stub.Register(dpb.RegisterRequest(node_id="flooder", name="flooder", runtime="fake"), timeout=5)
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
    channel.close()
    assert grpc.StatusCode.OK in codes
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    assert codes.index(grpc.StatusCode.RESOURCE_EXHAUSTED) >= 5


def test_certificates_are_renewed_while_running(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1, runtime="fake", cert_lifetime="20s", cert_check_period=0.5) as c:
        agent_certs = c.root / "agent-node1" / "certs"
        manager_certs = c.managers[0].data_dir / "certs"
        first_agent = NodeIdentity.load(agent_certs)
        first_manager = NodeIdentity.load(manager_certs)
        assert first_agent.not_after - first_agent.not_before <= timedelta(seconds=25)

        def renewed() -> bool:
            return (NodeIdentity.load(agent_certs).not_after > first_agent.not_after
                    and NodeIdentity.load(manager_certs).not_after > first_manager.not_after)

        wait_for(renewed, timeout=30, interval=0.5, what="both certificates to be renewed")
        assert NodeIdentity.load(agent_certs).node_id == first_agent.node_id
        # Past the first certificates' expiry the node is still connected and ready.
        wait_for(lambda: datetime.now(UTC) > first_agent.not_after + timedelta(seconds=2), timeout=40, interval=0.5,
                 what="the first certificate to expire")
        c.reset_client()
        nodes = c.client.list_nodes()
        assert [n.node.state for n in nodes] == [pb.NODE_STATE_READY]
        info = json.loads(c.cli("-o", "json", "node", "ls", check=True).stdout)
        assert info[0]["node"]["state"] == "NODE_STATE_READY"
