"""The simulated cluster: node capacity and allocation as numpy arrays, kept
current one placement or completion at a time, and the NodeInfo snapshot the
real scheduler reads, rebuilt only for nodes that changed since the last pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bench.lab.tasks import GPU, RESOURCES, IntArray
from bench.lab.workload import Workload
from scheduler import Device, DeviceRequest, NodeInfo, Resources, RunningTask

# A pseudo task per (node, namespace) carries the namespace's usage into the
# snapshot, so the scheduler's DRF sees what is already running without the
# lab listing every task each pass. The lab runs without preemption, so
# nothing ever tries to evict one of these.
_USAGE_PRIORITY = 1 << 30


def _gpu_requests(milli: int) -> tuple[DeviceRequest, ...]:
    """Thousandths of GPUs held, as the device requests DRF counts: whole
    GPUs and the remaining share."""
    whole, share = divmod(milli, 1000)
    requests = []
    if whole:
        requests.append(DeviceRequest(GPU, count=whole))
    if share:
        requests.append(DeviceRequest(GPU, share=share / 1000))
    return tuple(requests)


def device_id(slot: int) -> str:
    return f"gpu{slot:03d}"  # zero-padded: the scheduler orders devices by id


class SimCluster:
    def __init__(self, workload: Workload, namespaces: Sequence[str]) -> None:
        ids: list[str] = []
        capacity: list[tuple[int, int, int, int]] = []
        labels: list[dict[str, str]] = []
        for group in workload.nodes:
            group_labels = group.all_labels()
            for k in range(group.count):
                ids.append(f"{group.name}-{k:05d}")
                capacity.append((round(group.cpu * 1000), group.memory, group.disk, group.gpus * 1000))
                labels.append(group_labels)
        self.size = len(ids)
        self.ids = ids
        self.index = {node_id: i for i, node_id in enumerate(ids)}
        # (resource, node) so each resource is one contiguous row.
        self.capacity: IntArray = np.array(capacity, dtype=np.int64).reshape(self.size, len(RESOURCES)).T.copy()
        self.allocated: IntArray = np.zeros_like(self.capacity)
        self.gpus: IntArray = self.capacity[RESOURCES.index("gpu")] // 1000
        width = int(self.gpus.max(initial=0))
        # Free thousandths of each GPU; -1 pads nodes with fewer GPUs.
        self.gpu_free: IntArray = np.where(np.arange(width)[None, :] < self.gpus[:, None], 1000, -1).astype(np.int64)
        self.tasks_on: IntArray = np.zeros(self.size, dtype=np.int64)
        self.namespaces = list(namespaces)
        # (namespace, resource) totals, and per node the (namespace -> usage)
        # the DRF pseudo tasks report.
        self.namespace_usage: IntArray = np.zeros((len(namespaces), len(RESOURCES)), dtype=np.int64)
        self._node_usage: list[dict[int, list[int]]] = [{} for _ in range(self.size)]
        self._labels = labels
        self._capacity_resources = [Resources(cpu=c[0] / 1000, memory=c[1], disk=c[2]) for c in capacity]
        self._snapshot: list[NodeInfo | None] = [None] * self.size
        self._dirty: set[int] = set(range(self.size))
        self._with_usage = False

    # -- the scheduler's view ---------------------------------------------

    def snapshot(self, with_usage: bool) -> list[NodeInfo]:
        """NodeInfo per node; ``with_usage`` adds the per-namespace pseudo
        tasks DRF needs (skipped otherwise: they cost time and change nothing)."""
        if with_usage != self._with_usage:
            self._dirty = set(range(self.size))
            self._with_usage = with_usage
        snapshot = self._snapshot
        for i in self._dirty:
            snapshot[i] = self._node_info(i, with_usage)
        self._dirty.clear()
        return snapshot  # type: ignore[return-value]  # no None left once all were dirty

    def _node_info(self, i: int, with_usage: bool) -> NodeInfo:
        cpu, memory, disk, _ = self.allocated[:, i].tolist()
        devices: tuple[Device, ...] = ()
        if self.gpus[i]:
            devices = tuple(
                Device(device_id(slot), GPU, share / 1000)
                for slot, share in enumerate(self.gpu_free[i, : self.gpus[i]].tolist())
            )
        tasks: tuple[RunningTask, ...] = ()
        if with_usage:
            tasks = tuple(
                RunningTask(
                    task_id=f"usage-{self.namespaces[ns]}",
                    job_id=f"usage-{self.namespaces[ns]}",
                    priority=_USAGE_PRIORITY,
                    demand=Resources(cpu=u[0] / 1000, memory=u[1], disk=u[2], devices=_gpu_requests(u[3])),
                    namespace=self.namespaces[ns],
                )
                for ns, u in self._node_usage[i].items()
            )
        return NodeInfo(
            node_id=self.ids[i],
            name=self.ids[i],
            capacity=self._capacity_resources[i],
            allocated=Resources(cpu=cpu / 1000, memory=memory, disk=disk),
            labels=self._labels[i],
            tasks=tasks,
            devices=devices,
        )

    # -- changes -----------------------------------------------------------

    def allocate(self, i: int, namespace: int, demand: IntArray, gpu_takes: Sequence[tuple[int, int]]) -> None:
        """Account a task placed on node ``i``; ``gpu_takes`` are (slot, thousandths)."""
        self._change(i, namespace, demand, +1)
        for slot, milli in gpu_takes:
            self.gpu_free[i, slot] -= milli
            if self.gpu_free[i, slot] < 0:
                raise AssertionError(f"GPU {slot} of node {self.ids[i]} over-committed by the plan")
        if (self.allocated[:, i] > self.capacity[:, i]).any():
            raise AssertionError(f"node {self.ids[i]} over-committed by the plan: {self.allocated[:, i]}")

    def release(self, i: int, namespace: int, demand: IntArray, gpu_takes: Sequence[tuple[int, int]]) -> None:
        self._change(i, namespace, demand, -1)
        for slot, milli in gpu_takes:
            self.gpu_free[i, slot] += milli

    def _change(self, i: int, namespace: int, demand: IntArray, sign: int) -> None:
        self.allocated[:, i] += sign * demand
        self.tasks_on[i] += sign
        self.namespace_usage[namespace] += sign * demand
        usage = self._node_usage[i].setdefault(namespace, [0, 0, 0, 0])
        for d, amount in enumerate(demand.tolist()):
            usage[d] += sign * amount
        if self.tasks_on[i] == 0 or not any(usage):
            self._node_usage[i].pop(namespace, None)
        self._dirty.add(i)

    # -- questions the metrics ask --------------------------------------------

    def free(self) -> IntArray:
        """(resource, node) free capacity; for gpu the sum of free shares."""
        return self.capacity - self.allocated

    def nodes_used(self) -> int:
        return int(np.count_nonzero(self.tasks_on))

    def gpu_fits(self, count: int, share: int) -> npt.NDArray[np.bool_]:
        """Nodes with ``count`` whole free GPUs, or one GPU with ``share`` free."""
        if self.gpu_free.shape[1] == 0:
            return np.full(self.size, count == 0 and share == 0)
        fits: npt.NDArray[np.bool_]
        if count:
            fits = (self.gpu_free == 1000).sum(axis=1) >= count
            return fits
        if share:
            fits = self.gpu_free.max(axis=1) >= share
            return fits
        return np.ones(self.size, dtype=np.bool_)
