"""NodeSet: the snapshot as numpy columns, mutated as the plan reserves.

One NodeSet lives for one ``Scheduler.plan`` call. Node order is fixed at
construction (by node_id, or a seeded permutation of it) and every array of
the package is indexed in that order, so ``np.argmax`` returning the first
maximum is the tie-break rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scheduler.constraints import Constraint, Op, attribute_value
from scheduler.resources import DIMENSIONS, MILLI, DeviceRequest, to_milli
from scheduler.scoring import CapacityView, capacity_view
from scheduler.snapshot import NodeInfo, RunningTask

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

_ABSENT = -1  # code of "node has no such label"
_UNKNOWN = -2  # code of a value no node has: matches nothing


class DeviceColumn:
    """Free share (in thousandths) of every device of one kind, per node.

    ``shares[i, k]`` is the free share of the k-th device (by id) of node i,
    -1 where node i has fewer devices; ``ids[i][k]`` is its id.
    """

    __slots__ = ("ids", "kind", "shares")

    def __init__(self, kind: str, nodes: Sequence[NodeInfo]) -> None:
        per_node = [sorted((d for d in n.devices if d.kind == kind), key=lambda d: d.id) for n in nodes]
        width = max((len(devices) for devices in per_node), default=0)
        self.kind = kind
        self.shares: IntArray = np.full((len(nodes), width), -1, dtype=np.int64)
        self.ids: list[list[str]] = []
        for i, devices in enumerate(per_node):
            for k, device in enumerate(devices):
                self.shares[i, k] = min(MILLI, max(0, to_milli(device.share_free)))
            self.ids.append([d.id for d in devices])


class NodeSet:
    def __init__(self, nodes: Sequence[NodeInfo], seed: int | None = None) -> None:
        ordered = sorted(nodes, key=lambda n: n.node_id)
        if seed is not None:
            permutation = np.random.default_rng(seed).permutation(len(ordered))
            ordered = [ordered[int(k)] for k in permutation]
        self.nodes: list[NodeInfo] = ordered
        self.size = len(ordered)
        self.ids: list[str] = [n.node_id for n in ordered]
        self.names: list[str] = [n.name for n in ordered]
        self.index: dict[str, int] = {node_id: i for i, node_id in enumerate(self.ids)}
        if len(self.index) != self.size:
            raise ValueError("node ids in the snapshot must be unique")
        # Shape (dimension, node): each dimension is one contiguous row, so
        # the filters and scores run 1-D operations over all nodes. With
        # (node, dimension) every "all dimensions fit" is a reduction along
        # a 3-long axis, which numpy does ~10x slower.
        self.capacity: IntArray = (
            np.array([n.capacity.milli_vector() for n in ordered], dtype=np.int64)
            .reshape(self.size, len(DIMENSIONS))
            .T.copy()
        )
        self.allocated: IntArray = (
            np.array([n.allocated.milli_vector() for n in ordered], dtype=np.int64)
            .reshape(self.size, len(DIMENSIONS))
            .T.copy()
        )
        # Per-node Python copies for the scalar code that re-checks one node
        # after each placement (reading a numpy column costs more than the
        # check itself). reserve() and evict() keep them equal to the arrays.
        self._capacity_rows: list[list[int]] = self.capacity.T.tolist()
        self._allocated_rows: list[list[int]] = self.allocated.T.tolist()
        self.ready: BoolArray = np.array([n.ready for n in ordered], dtype=np.bool_)
        self.undrained: BoolArray = np.array([not n.drained for n in ordered], dtype=np.bool_)
        self.total_capacity: list[int] = self.capacity.sum(axis=1).tolist()
        self.capacity_view: CapacityView = capacity_view(self.capacity)

        self.running: list[list[RunningTask]] = [list(n.tasks) for n in ordered]
        self.used_ports: list[set[int]] = [set(n.used_ports) for n in ordered]
        self.namespace_usage: dict[str, list[int]] = {}
        # Thousandths of devices of each kind a namespace holds: 1000 per
        # whole device plus every fractional share.
        self.namespace_device_usage: dict[str, dict[str, int]] = {}
        self._dominant: dict[str, float] = {}
        self._job_nodes: dict[str, dict[int, int]] = {}
        for i, node in enumerate(ordered):
            for task in node.tasks:
                self.used_ports[i].update(task.host_ports)
                per_node = self._job_nodes.setdefault(task.job_id, {})
                per_node[i] = per_node.get(i, 0) + 1
                self._charge(task.namespace, task.demand.milli_vector(), +1, _device_milli(task.demand.devices))

        kinds = sorted({d.kind for n in ordered for d in n.devices})
        self.devices: dict[str, DeviceColumn] = {k: DeviceColumn(k, ordered) for k in kinds}
        # The cluster's devices of each kind, in thousandths: what DRF divides
        # a namespace's device usage by.
        self.device_totals: dict[str, int] = {
            kind: int(np.count_nonzero(column.shares >= 0)) * MILLI for kind, column in self.devices.items()
        }

        # Built on first use and then kept current by reserve/evict: a plan
        # asks about a few label keys, ports and jobs out of many.
        self._codes: dict[str, tuple[npt.NDArray[np.int32], dict[str, int]]] = {}
        self._constraint_masks: dict[Constraint, BoolArray] = {}
        self._port_masks: dict[int, BoolArray] = {}
        self._job_counts: dict[str, IntArray] = {}

    # -- read side ---------------------------------------------------------

    def capacity_of(self, i: int) -> list[int]:
        return self._capacity_rows[i]

    def allocated_of(self, i: int) -> list[int]:
        return self._allocated_rows[i]

    def attribute_codes(self, attribute: str) -> tuple[npt.NDArray[np.int32], dict[str, int]]:
        """Each node's value of ``attribute`` as an integer code (-1 = absent)."""
        cached = self._codes.get(attribute)
        if cached is not None:
            return cached
        vocabulary: dict[str, int] = {}
        codes = np.empty(self.size, dtype=np.int32)
        for i, node in enumerate(self.nodes):
            value = attribute_value(attribute, node.node_id, node.name, node.labels)
            codes[i] = _ABSENT if value is None else vocabulary.setdefault(value, len(vocabulary))
        self._codes[attribute] = (codes, vocabulary)
        return codes, vocabulary

    def constraint_mask(self, constraint: Constraint) -> BoolArray:
        """Nodes satisfying ``constraint``; computed once per plan call."""
        cached = self._constraint_masks.get(constraint)
        if cached is not None:
            return cached
        codes, vocabulary = self.attribute_codes(constraint.attribute)
        wanted = [vocabulary.get(v, _UNKNOWN) for v in constraint.values]
        op = constraint.op
        mask: BoolArray
        if op is Op.EXISTS:
            mask = codes != _ABSENT
        elif op is Op.NOT_EXISTS:
            mask = codes == _ABSENT
        elif op is Op.EQ:
            mask = codes == wanted[0]
        elif op is Op.NE:
            mask = codes != wanted[0]
        elif op is Op.IN:
            mask = np.isin(codes, wanted)
        else:
            mask = ~np.isin(codes, wanted)
        self._constraint_masks[constraint] = mask
        return mask

    def port_in_use(self, port: int) -> BoolArray:
        """Nodes on which ``port`` is taken (snapshot plus this plan)."""
        mask = self._port_masks.get(port)
        if mask is None:
            mask = np.fromiter((port in used for used in self.used_ports), dtype=np.bool_, count=self.size)
            self._port_masks[port] = mask
        return mask

    def job_counts(self, job_id: str) -> IntArray:
        """Tasks of ``job_id`` per node (snapshot plus this plan); live array."""
        counts = self._job_counts.get(job_id)
        if counts is None:
            counts = np.zeros(self.size, dtype=np.int64)
            for i, count in self._job_nodes.get(job_id, {}).items():
                counts[i] = count
            self._job_counts[job_id] = counts
        return counts

    def dominant_share(self, namespace: str) -> float:
        """Largest fraction of any cluster-wide dimension used by ``namespace``:
        cpu, memory, disk, and each kind of device (a namespace holding 6 of
        the cluster's 8 GPUs has a dominant share of at least 0.75, however
        little CPU it uses). Devices of a kind no node has do not count."""
        # DRF asks for every namespace before each task but only one changes
        # per placement: cache until _charge touches the namespace.
        cached = self._dominant.get(namespace)
        if cached is not None:
            return cached
        usage = self.namespace_usage.get(namespace, ())
        share = max((u / t for u, t in zip(usage, self.total_capacity) if t > 0), default=0.0)
        for kind, used in self.namespace_device_usage.get(namespace, {}).items():
            total = self.device_totals.get(kind, 0)
            if total > 0:
                share = max(share, used / total)
        self._dominant[namespace] = share
        return share

    # -- write side --------------------------------------------------------

    def reserve(
        self,
        i: int,
        job_id: str,
        namespace: str,
        demand: IntArray,
        ports: Sequence[int],
        device_takes: Sequence[tuple[str, int, int]] = (),
    ) -> None:
        """Account one task placed on node ``i`` so later choices see it."""
        amounts: list[int] = demand.tolist()
        self.allocated[:, i] += demand
        row = self._allocated_rows[i]
        for d, amount in enumerate(amounts):
            row[d] += amount
        device_milli: dict[str, int] = {}
        for kind, _, milli in device_takes:
            device_milli[kind] = device_milli.get(kind, 0) + milli
        self._charge(namespace, amounts, +1, device_milli)
        for port in ports:
            self.used_ports[i].add(port)
            mask = self._port_masks.get(port)
            if mask is not None:
                mask[i] = True
        self._count_job(i, job_id, +1)
        for kind, slot, milli in device_takes:
            self.devices[kind].shares[i, slot] -= milli

    def evict(self, i: int, task: RunningTask) -> None:
        """Release a running task of node ``i`` (preemption)."""
        self.running[i].remove(task)
        demand = task.demand.milli_vector()
        self.allocated[:, i] -= demand
        row = self._allocated_rows[i]
        for d, amount in enumerate(demand):
            row[d] -= amount
        self._charge(task.namespace, demand, -1, _device_milli(task.demand.devices))
        still_used = {p for t in self.running[i] for p in t.host_ports}
        for port in task.host_ports:
            if port not in still_used:
                self.used_ports[i].discard(port)
                mask = self._port_masks.get(port)
                if mask is not None:
                    mask[i] = False
        self._count_job(i, task.job_id, -1)
        for kind, slot, milli in self.device_slots(i, task):
            shares = self.devices[kind].shares
            shares[i, slot] = min(MILLI, int(shares[i, slot]) + milli)

    def device_slots(self, i: int, task: RunningTask) -> list[tuple[str, int, int]]:
        """[(kind, slot, thousandths)] of the devices of node ``i`` that
        ``task`` holds; ids the node does not have are skipped (a device
        that went away has nothing to give back)."""
        out: list[tuple[str, int, int]] = []
        for device_id, share in zip(task.device_ids, task.device_shares):
            for kind, column in self.devices.items():
                ids = column.ids[i]
                if device_id in ids:
                    out.append((kind, ids.index(device_id), to_milli(share)))
                    break
        return out

    def _count_job(self, i: int, job_id: str, delta: int) -> None:
        per_node = self._job_nodes.setdefault(job_id, {})
        per_node[i] = per_node.get(i, 0) + delta
        counts = self._job_counts.get(job_id)
        if counts is not None:
            counts[i] += delta

    def _charge(self, namespace: str, demand: Sequence[int], sign: int, devices: dict[str, int]) -> None:
        self._dominant.pop(namespace, None)
        usage = self.namespace_usage.setdefault(namespace, [0] * len(DIMENSIONS))
        for d, amount in enumerate(demand):
            usage[d] += sign * amount
        if devices:
            held = self.namespace_device_usage.setdefault(namespace, {})
            for kind, milli in devices.items():
                held[kind] = held.get(kind, 0) + sign * milli


def _device_milli(requests: Sequence[DeviceRequest]) -> dict[str, int]:
    """Thousandths of devices per kind that ``requests`` hold."""
    out: dict[str, int] = {}
    for request in requests:
        out[request.kind] = out.get(request.kind, 0) + request.count * MILLI + request.milli_share
    return out
