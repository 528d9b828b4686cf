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
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import from_status
from dockyard.grpcutil import CHANNEL_OPTIONS

DEFAULT_ADDRESS = "127.0.0.1:7460"
T = TypeVar("T")


def default_address() -> str:
    return os.environ.get("DOCKYARD_ADDR", DEFAULT_ADDRESS)


class Client:
    def __init__(self, address: str | None = None, timeout: float = 30.0) -> None:
        self.address = address or default_address()
        self.timeout = timeout
        self._channel = grpc.insecure_channel(self.address, options=list(CHANNEL_OPTIONS))
        self._stub = cgrpc.ControlStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
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
        call = self._stub.Logs(cpb.LogsRequest(job=job, follow=follow, tail=tail))
        try:
            yield from call
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_status(e.code(), e.details() or "") from None
        finally:
            call.cancel()

    def cluster_info(self) -> cpb.ClusterInfoResponse:
        return self._call(self._stub.ClusterInfo, cpb.ClusterInfoRequest())
