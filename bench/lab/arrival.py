"""Arrival-only mode, as in GPU-fragmentation studies (e.g. Weng et al.,
"Beware of Fragmentation", USENIX ATC 2023): shuffle the workload's tasks
with a seed, place them one at a time in that order with no departures, and
stop once the demand that has arrived reaches ``multiple`` x the cluster's
capacity of one resource. A task that does not fit is dropped and the next
one tries. The result is the allocation ratio of every resource as a function
of arrived demand.

"One at a time" is one ``Scheduler.plan`` call over single-task groups in
FIFO order: the scheduler reserves each placement in its snapshot before the
next task, which is the same as calling it once per task, minus a snapshot
per task.
"""

from __future__ import annotations

import time

import numpy as np

from bench.lab.recorder import Recorder
from bench.lab.result import ArrivalCurve, LabConfig, RunResult
from bench.lab.simulator import Replay, cluster_resources, scheduler_for
from bench.lab.tasks import RESOURCES
from bench.lab.workload import Workload
from scheduler import QueueOrder, TaskGroup


def default_resource(workload: Workload) -> str:
    """GPU when the cluster has GPUs (what these studies measure), else CPU."""
    return "gpu" if any(g.gpus for g in workload.nodes) else "cpu"


def arrival_only(
    workload: Workload,
    config: LabConfig,
    multiple: float = 1.0,
    resource: str | None = None,
    seed: int = 0,
    checkpoints: int = 200,
) -> RunResult:
    if multiple <= 0:
        raise ValueError(f"multiple must be > 0, got {multiple}")
    resource = resource or default_resource(workload)
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {', '.join(RESOURCES)}, got {resource!r}")
    began = time.perf_counter()
    # Replay's state (cluster, task table, placement bookkeeping) serves here
    # too; only the order and the stopping rule differ.
    sim = Replay(workload, config)
    table, cluster = sim.table, sim.cluster
    r = RESOURCES.index(resource)
    capacity = cluster.capacity.sum(axis=1)
    if capacity[r] <= 0:
        raise ValueError(f"the cluster has no {resource} capacity to measure arrivals against")
    order = np.random.default_rng(seed).permutation(table.size)
    arrived = np.cumsum(table.demand[order], axis=0)
    # The first task whose arrival reaches the target is the last one offered.
    stop = int(np.searchsorted(arrived[:, r], multiple * capacity[r], side="left")) + 1
    order = order[: min(stop, table.size)]
    groups = [
        TaskGroup(
            job_id=sim.task_ids[task],
            job_name=table.shapes[int(table.shape[task])].key,
            task_ids=(sim.task_ids[task],),
            demand=table.shapes[int(table.shape[task])].demand,
            namespace=table.shapes[int(table.shape[task])].namespace,
            priority=table.shapes[int(table.shape[task])].priority,
            constraints=table.shapes[int(table.shape[task])].constraints,
            submitted_at=float(position),
        )
        for position, task in enumerate(order.tolist())
    ]
    scheduler = scheduler_for(config, queue=QueueOrder.FIFO)
    t0 = time.perf_counter()
    nodes = cluster.snapshot(with_usage=False)
    t1 = time.perf_counter()
    plan = scheduler.plan(nodes, groups)
    t2 = time.perf_counter()
    sim.apply_plan(plan, 0.0)
    placed_mask = ~np.isnan(sim.start[order])
    placed_cum = np.cumsum(table.demand[order] * placed_mask[:, None], axis=0)
    picks = np.unique(np.linspace(0, order.size - 1, min(checkpoints, order.size)).astype(np.int64))
    with np.errstate(invalid="ignore", divide="ignore"):
        allocated = np.where(capacity > 0, placed_cum[picks] / np.maximum(capacity, 1), np.nan)
    curve = ArrivalCurve(
        resource=resource,
        multiple=multiple,
        arrived=arrived[picks, r] / capacity[r],
        allocated=allocated,
        seed=seed,
    )
    recorder: Recorder = sim.recorder
    recorder.sample(0.0)
    placed = int(placed_mask.sum())
    return RunResult(
        config=config,
        mode="arrival",
        resources=cluster_resources(cluster),
        namespaces=table.namespaces,
        tasks=int(order.size),
        placed=placed,
        passes=1,
        wall_seconds=time.perf_counter() - began,
        plan_seconds=t2 - t1,
        snapshot_seconds=t1 - t0,
        pass_latency=np.array([t2 - t1]),
        pending_times=np.zeros(placed),
        samples=recorder.arrays(),
        end_time=0.0,
        window_end=0.0,
        curve=curve,
    )
