"""Replay: a discrete-event simulation on a virtual clock that asks the real
``scheduler.Scheduler`` for a plan at every pass.

Events are task arrivals and task completions. Events up to the next pass
time (the next event, rounded up to the pass interval) form one batch: their
completions free resources, their arrivals join the pending queue, then one
``Scheduler.plan`` call places what it can. A placed task with a duration
completes that long after the pass that placed it. Nothing is preempted.
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np

from bench.lab.cluster import SimCluster
from bench.lab.recorder import Recorder
from bench.lab.result import LabConfig, RunResult
from bench.lab.tasks import RESOURCES, TaskTable
from bench.lab.workload import Workload
from scheduler import Plan, QueueOrder, Scheduler, SchedulerConfig, TaskGroup


def scheduler_for(config: LabConfig, queue: str | None = None) -> Scheduler:
    return Scheduler(
        SchedulerConfig(
            policy=config.policy,
            queue_order=queue or config.queue,
            namespace_weights=dict(config.namespace_weights),
            seed=config.seed,
            preemption=False,
            explain=config.explain,
        )
    )


def cluster_resources(cluster: SimCluster) -> tuple[str, ...]:
    has_gpu = bool(cluster.capacity[RESOURCES.index("gpu")].any())
    has_disk = bool(cluster.capacity[RESOURCES.index("disk")].any())
    return tuple(r for r in RESOURCES if (r != "gpu" or has_gpu) and (r != "disk" or has_disk))


class Replay:
    def __init__(self, workload: Workload, config: LabConfig, table: TaskTable | None = None) -> None:
        self.config = config
        self.table = table or TaskTable(workload)
        self.cluster = SimCluster(workload, self.table.namespaces)
        self.scheduler = scheduler_for(config)
        self.recorder = Recorder(self.cluster, self.table.typical_demand(), config.namespace_weights)
        n = self.table.size
        self.task_ids = [f"t{k}" for k in range(n)]
        self.start = np.full(n, np.nan)
        self.node = np.full(n, -1, dtype=np.int64)
        self.gpu_takes: dict[int, list[tuple[int, int]]] = {}
        self.pending: dict[int, list[int]] = {}  # shape -> tasks, oldest first
        self.completions: list[tuple[float, int]] = []
        self.latencies: list[float] = []
        self.plan_seconds = 0.0
        self.snapshot_seconds = 0.0
        self.unplaced_reasons: dict[str, str] = {}
        self.window_end = 0.0
        self._drf = QueueOrder(config.queue) is QueueOrder.DRF

    def run(self) -> RunResult:
        began = time.perf_counter()
        table, interval = self.table, self.config.interval
        arrivals = table.arrival
        next_task = 0
        now = 0.0
        while True:
            upcoming = min(
                float(arrivals[next_task]) if next_task < table.size else math.inf,
                self.completions[0][0] if self.completions else math.inf,
            )
            if upcoming == math.inf:
                break
            now = math.ceil(upcoming / interval) * interval if interval > 0 else upcoming
            while self.completions and self.completions[0][0] <= now:
                self._complete(heapq.heappop(self.completions)[1])
            last = int(np.searchsorted(arrivals, now, side="right"))
            for task in range(next_task, last):
                self.pending.setdefault(int(table.shape[task]), []).append(task)
            if last == table.size and next_task < last:
                self.window_end = now  # the pass that saw the last arrival
            next_task = last
            if self.pending:
                self._pass(now)
            self.recorder.sample(now)
        placed = ~np.isnan(self.start)
        return RunResult(
            config=self.config,
            mode="replay",
            resources=cluster_resources(self.cluster),
            namespaces=self.table.namespaces,
            tasks=table.size,
            placed=int(placed.sum()),
            passes=len(self.latencies),
            wall_seconds=time.perf_counter() - began,
            plan_seconds=self.plan_seconds,
            snapshot_seconds=self.snapshot_seconds,
            pass_latency=np.array(self.latencies),
            pending_times=self.start[placed] - table.arrival[placed],
            samples=self.recorder.arrays(),
            end_time=now,
            window_end=self.window_end,
            unplaced_reasons={k: v for k, v in self.unplaced_reasons.items() if k in self._pending_keys()},
        )

    def _pending_keys(self) -> set[str]:
        return {self.table.shapes[shape].key for shape in self.pending}

    def _pass(self, now: float) -> None:
        table, cluster = self.table, self.cluster
        free_total = cluster.free().sum(axis=1)
        groups: list[TaskGroup] = []
        for shape_index, tasks in self.pending.items():
            shape = table.shapes[shape_index]
            # No plan can place more tasks than the cluster's free total holds;
            # the rest stay pending without costing a task id each.
            offer = len(tasks)
            for need, free in zip(shape.vector, free_total.tolist()):
                if need > 0:
                    offer = min(offer, free // need)
            if offer <= 0:
                continue
            groups.append(
                TaskGroup(
                    job_id=shape.key,
                    job_name=shape.key,
                    task_ids=tuple(self.task_ids[t] for t in tasks[:offer]),
                    demand=shape.demand,
                    namespace=shape.namespace,
                    priority=shape.priority,
                    constraints=shape.constraints,
                    submitted_at=float(table.arrival[tasks[0]]),
                )
            )
        if not groups:
            return
        t0 = time.perf_counter()
        nodes = cluster.snapshot(with_usage=self._drf)
        t1 = time.perf_counter()
        plan = self.scheduler.plan(nodes, groups)
        t2 = time.perf_counter()
        self.snapshot_seconds += t1 - t0
        self.plan_seconds += t2 - t1
        self.latencies.append(t2 - t1)
        self.apply_plan(plan, now)

    def apply_plan(self, plan: Plan, now: float) -> None:
        """Account the plan's placements at virtual time ``now``."""
        table, cluster = self.table, self.cluster
        placed_shapes: set[int] = set()
        for placement in plan.placements:
            task = int(placement.task_id[1:])
            i = cluster.index[placement.node_id]
            takes = [(int(d[3:]), round(s * 1000)) for d, s in zip(placement.device_ids, placement.device_shares)]
            cluster.allocate(i, int(table.namespace[task]), table.demand[task], takes)
            self.start[task] = now
            self.node[task] = i
            if takes:
                self.gpu_takes[task] = takes
            duration = float(table.duration[task])
            if duration != math.inf:
                heapq.heappush(self.completions, (now + duration, task))
            placed_shapes.add(int(table.shape[task]))
        started = self.start
        for shape in placed_shapes & self.pending.keys():
            remaining = [t for t in self.pending[shape] if np.isnan(started[t])]
            if remaining:
                self.pending[shape] = remaining
            else:
                del self.pending[shape]
        for unplaced in plan.unplaced:
            self.unplaced_reasons[unplaced.job_id] = unplaced.explanation.summary()

    def _complete(self, task: int) -> None:
        self.cluster.release(
            int(self.node[task]),
            int(self.table.namespace[task]),
            self.table.demand[task],
            self.gpu_takes.pop(task, ()),
        )


def replay(workload: Workload, config: LabConfig) -> RunResult:
    return Replay(workload, config).run()
