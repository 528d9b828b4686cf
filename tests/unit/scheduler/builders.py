"""Small constructors for scheduler tests: nodes and groups in one line each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler import (
    Device,
    NodeInfo,
    Placement,
    Plan,
    Resources,
    RunningTask,
    TaskGroup,
)

GiB = 1 << 30


def node(
    node_id: str,
    cpu: float = 4.0,
    memory: int = 8 * GiB,
    disk: int = 0,
    *,
    used: Resources | None = None,
    labels: Mapping[str, str] | None = None,
    ready: bool = True,
    drained: bool = False,
    ports: Sequence[int] = (),
    tasks: Sequence[RunningTask] = (),
    devices: Sequence[Device] = (),
) -> NodeInfo:
    allocated = used or Resources()
    for task in tasks:
        allocated = allocated + task.demand
    return NodeInfo(
        node_id=node_id,
        name=f"name-{node_id}",
        capacity=Resources(cpu, memory, disk),
        allocated=Resources(allocated.cpu, allocated.memory, allocated.disk),
        labels=dict(labels or {}),
        ready=ready,
        drained=drained,
        used_ports=frozenset(ports),
        tasks=tuple(tasks),
        devices=tuple(devices),
    )


def group(
    job_id: str,
    count: int = 1,
    cpu: float = 1.0,
    memory: int = 1 * GiB,
    disk: int = 0,
    **fields: object,
) -> TaskGroup:
    demand = fields.pop("demand", None)
    if demand is None:
        demand = Resources(cpu, memory, disk)
    return TaskGroup(
        job_id=job_id,
        job_name=str(fields.pop("job_name", job_id)),
        task_ids=tuple(f"{job_id}-{k}" for k in range(count)),
        demand=demand,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def running(task_id: str, job_id: str, priority: int, cpu: float, memory: int, **fields: object) -> RunningTask:
    return RunningTask(task_id, job_id, priority, Resources(cpu, memory), **fields)  # type: ignore[arg-type]


def nodes_of(plan: Plan) -> dict[str, str]:
    """task_id -> node_id."""
    return {p.task_id: p.node_id for p in plan.placements}


def per_node(plan: Plan) -> dict[str, list[Placement]]:
    result: dict[str, list[Placement]] = {}
    for placement in plan.placements:
        result.setdefault(placement.node_id, []).append(placement)
    return result
