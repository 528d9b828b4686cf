# The generated gRPC stubs are untyped: their results are the declared messages.
# mypy: disable-error-code="no-any-return, no-untyped-call"
"""The Python client for Dockyard's control API. The CLI is built on it.

    from dockyard import Client
    c = Client("127.0.0.1:7460")
    c.run_job(load_job_file("web.yaml"))
    for t in c.list_tasks(job="web"): print(t.slot, t.status.state)

gRPC errors come back as the exceptions of `dockyard.errors` (InvalidArgument
keeps its field errors).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import FailedPrecondition, from_status
from dockyard.grpcutil import CHANNEL_OPTIONS
from dockyard.pki import NodeIdentity

DEFAULT_ADDRESS = "127.0.0.1:7460"
T = TypeVar("T")


def default_address() -> str:
    return os.environ.get("DOCKYARD_ADDR", DEFAULT_ADDRESS)


def default_credentials_dir() -> Path:
    env = os.environ.get("DOCKYARD_CREDENTIALS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dockyard" / "credentials"


def load_credentials(path: str | Path | None = None) -> NodeIdentity:
    directory = Path(path) if path else default_credentials_dir()
    if directory.is_file():
        directory = directory.parent
    if not (directory / "node.pem").exists():
        raise FailedPrecondition(
            f"no Dockyard credentials in {directory}: `dockyard manager init` and `dockyard dev` write an admin "
            "credential; point DOCKYARD_CREDENTIALS (or --credentials) at its directory"
        )
    return NodeIdentity.load(directory)


class Client:
    def __init__(
        self, address: str | None = None, credentials: NodeIdentity | str | Path | None = None, timeout: float = 30.0
    ) -> None:
        """`credentials`: an admin NodeIdentity, or the directory holding its
        node.pem (default: DOCKYARD_CREDENTIALS, else ~/.config/dockyard/credentials)."""
        self.address = address or default_address()
        self.timeout = timeout
        identity = credentials if isinstance(credentials, NodeIdentity) else load_credentials(credentials)
        creds = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
        self._channel = grpc.secure_channel(self.address, creds, options=list(CHANNEL_OPTIONS))
        self._stub = cgrpc.ControlStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, timeout: float | None = None) -> T:
        try:
            return method(request, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise from_status(e.code(), e.details() or "") from None

    # -- jobs -------------------------------------------------------------------

    def run_job(self, spec: pb.JobSpec) -> cpb.RunJobResponse:
        return self._call(self._stub.RunJob, cpb.RunJobRequest(spec=spec))

    def plan_job(self, spec: pb.JobSpec) -> cpb.PlanJobResponse:
        return self._call(self._stub.PlanJob, cpb.PlanJobRequest(spec=spec))

    def list_jobs(self, namespace: str = "") -> list[cpb.JobSummary]:
        return list(self._call(self._stub.ListJobs, cpb.ListJobsRequest(namespace=namespace)).jobs)

    def get_job(self, name: str) -> cpb.JobStatusResponse:
        return self._call(self._stub.GetJob, cpb.GetJobRequest(name=name))

    def scale_job(self, name: str, replicas: int) -> cpb.JobStatusResponse:
        return self._call(self._stub.ScaleJob, cpb.ScaleJobRequest(name=name, replicas=replicas))

    def rollback_job(self, name: str) -> cpb.JobStatusResponse:
        """Run the job's previous version again (as a new version)."""
        return self._call(self._stub.RollbackJob, cpb.RollbackJobRequest(name=name))

    def stop_job(self, name: str) -> cpb.JobStatusResponse:
        return self._call(self._stub.StopJob, cpb.StopJobRequest(name=name))

    # -- tasks and nodes ------------------------------------------------------------

    def list_tasks(self, job: str = "", all: bool = False) -> list[pb.Task]:
        return list(self._call(self._stub.ListTasks, cpb.ListTasksRequest(job=job, all=all)).tasks)

    def list_nodes(self) -> list[cpb.NodeSummary]:
        return list(self._call(self._stub.ListNodes, cpb.ListNodesRequest()).nodes)

    def update_node(
        self,
        node: str,
        availability: int | None = None,
        add_labels: dict[str, str] | None = None,
        remove_labels: list[str] | None = None,
    ) -> pb.Node:
        req = cpb.UpdateNodeRequest(node=node, add_labels=add_labels or {}, remove_labels=remove_labels or [])
        if availability is not None:
            req.set_availability = True
            req.availability = availability  # type: ignore[assignment]
        return self._call(self._stub.UpdateNode, req)

    def logs(self, job: str, follow: bool = False, tail: int = 0) -> Iterator[cpb.LogLine]:
        return _stream(lambda: self._stub.Logs(cpb.LogsRequest(job=job, follow=follow, tail=tail)))

    def events(self, kinds: Sequence[str] = ()) -> Iterator[cpb.Event]:
        """Cluster events from now on (job, task, node, manager, settings,
        security; all when `kinds` is empty), until the caller stops iterating."""
        return _stream(lambda: self._stub.Events(cpb.EventsRequest(kinds=list(kinds))))

    def cluster_info(self) -> cpb.ClusterInfoResponse:
        return self._call(self._stub.ClusterInfo, cpb.ClusterInfoRequest())

    # -- managers and tokens ---------------------------------------------------------

    def list_managers(self) -> list[cpb.ManagerStatus]:
        return list(self._call(self._stub.ListManagers, cpb.ListManagersRequest()).managers)

    def remove_manager(self, ref: str) -> None:
        self._call(self._stub.RemoveManager, cpb.RemoveManagerRequest(manager=ref))

    def list_tokens(self) -> cpb.ListTokensResponse:
        return self._call(self._stub.ListTokens, cpb.ListTokensRequest())

    def rotate_token(self, role: str) -> cpb.ListTokensResponse:
        return self._call(self._stub.RotateToken, cpb.RotateTokenRequest(role=role))

    def save_snapshot(self) -> cpb.ClusterSnapshot:
        """A backup of the cluster's jobs, tasks and settings."""
        return self._call(self._stub.SaveSnapshot, cpb.SaveSnapshotRequest())

    def restore_snapshot(self, snapshot: cpb.ClusterSnapshot) -> cpb.RestoreSnapshotResponse:
        """Make the cluster's jobs, tasks and settings those of `snapshot`
        (taken of this cluster); nodes, managers and tokens stay."""
        return self._call(self._stub.RestoreSnapshot, cpb.RestoreSnapshotRequest(snapshot=snapshot))

    def cluster_settings(self) -> pb.ClusterSettings:
        """The cluster-wide settings every leader acts on."""
        return self._call(self._stub.GetClusterSettings, cpb.GetClusterSettingsRequest())

    def update_cluster_settings(
        self,
        *,
        scheduler_policy: str | None = None,
        queue_order: str | None = None,
        namespace_weights: Mapping[str, float] | None = None,
        preemption: bool | None = None,
        heartbeat_period: float | None = None,
    ) -> pb.ClusterSettings:
        """Change the settings given (None leaves a setting as it is); a
        namespace weight of 1 removes that namespace's entry."""
        request = settings_update_request(
            scheduler_policy=scheduler_policy, queue_order=queue_order, namespace_weights=namespace_weights,
            preemption=preemption, heartbeat_period=heartbeat_period,
        )
        return self._call(self._stub.UpdateClusterSettings, request)


def settings_update_request(
    *,
    scheduler_policy: str | None = None,
    queue_order: str | None = None,
    namespace_weights: Mapping[str, float] | None = None,
    preemption: bool | None = None,
    heartbeat_period: float | None = None,
) -> cpb.UpdateClusterSettingsRequest:
    """An UpdateClusterSettingsRequest setting only what is given."""
    request = cpb.UpdateClusterSettingsRequest(namespace_weights=dict(namespace_weights or {}))
    if scheduler_policy is not None:
        request.scheduler_policy = scheduler_policy
    if queue_order is not None:
        request.queue_order = queue_order
    if preemption is not None:
        request.preemption = preemption
    if heartbeat_period is not None:
        request.heartbeat_period = heartbeat_period
    return request


def _stream(start: Callable[[], Any]) -> Iterator[Any]:
    """The messages of a server-streaming call, started at the first
    iteration, with gRPC errors as Dockyard errors; the call is cancelled
    when the caller stops iterating."""
    call = start()
    try:
        yield from call
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED:
            return
        raise from_status(e.code(), e.details() or "") from None
    finally:
        call.cancel()
