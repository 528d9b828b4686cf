"""The scheduler's view of the cluster: nodes and the tasks already on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.resources import Device, Resources


@dataclass(frozen=True, slots=True)
class RunningTask:
    """A task already placed on a node (input to preemption, affinity, DRF)."""

    task_id: str
    job_id: str
    priority: int
    demand: Resources
    host_ports: tuple[int, ...] = ()
    namespace: str = "default"  # DRF charges the task to this namespace
    # Devices the task holds, aligned: device_ids[k] holds device_shares[k]
    # of one device (1.0 for a whole device). Ids are those of the node's
    # ``NodeInfo.devices``; evicting the task gives these shares back.
    device_ids: tuple[str, ...] = ()
    device_shares: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.device_ids) != len(self.device_shares):
            raise ValueError(
                f"task {self.task_id}: device_ids and device_shares must be aligned "
                f"({len(self.device_ids)} ids, {len(self.device_shares)} shares)"
            )


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node of the snapshot.

    ``allocated`` is the sum of the demands of the tasks on the node; it is
    given separately from ``tasks`` because the manager may know the sum
    without listing every task. ``devices`` carry their own free share.
    """

    node_id: str
    name: str
    capacity: Resources
    allocated: Resources
    labels: Mapping[str, str] = field(default_factory=dict)
    ready: bool = True
    drained: bool = False
    used_ports: frozenset[int] = frozenset()
    tasks: tuple[RunningTask, ...] = ()
    devices: tuple[Device, ...] = ()
