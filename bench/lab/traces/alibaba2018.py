"""Alibaba cluster-trace-v2018 ``batch_task`` reader.

Columns, in order (the published file has no header; a header row is
skipped if present): task_name, instance_num, job_name, task_type, status,
start_time, end_time, plan_cpu, plan_mem. ``plan_cpu`` is in hundredths of a
core (100 = 1 core); ``plan_mem`` is a percentage of one machine's memory.

Each row becomes a job of ``instance_num`` tasks arriving at start_time and
running for end_time - start_time (to the end of the trace when end_time is
missing or not after start_time). The DAG encoded in task_name is not
followed: a task arrives when the trace says it started.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.lab.traces.common import GiB, TraceError, cell_float, rows
from bench.lab.workload import JobSpec, NodeGroup, Workload

COLUMNS = 9


def read_alibaba2018(
    paths: Iterable[str | Path],
    machines: int,
    machine_cpu: float = 96.0,  # the 2018 trace's machines have 96 cores
    machine_memory: int = 512 * GiB,
) -> Workload:
    raw: list[tuple[float, JobSpec]] = []
    for path in map(Path, paths):
        for line, row in rows(path):
            where = f"{path.name}:{line}"
            if row[0].strip() == "task_name":
                continue
            if len(row) < COLUMNS:
                raise TraceError(f"{where}: expected {COLUMNS} columns (batch_task schema), got {len(row)}")
            start = cell_float(row, 5, "start_time", where, -1.0)
            if start <= 0:
                continue  # never started inside the trace window
            end = cell_float(row, 6, "end_time", where, -1.0)
            plan_cpu = cell_float(row, 7, "plan_cpu", where, -1.0)
            plan_mem = cell_float(row, 8, "plan_mem", where, -1.0)
            if plan_cpu < 0 or plan_mem < 0:
                continue  # the trace leaves requests empty for some tasks
            job = JobSpec(
                name=f"{row[2]}/{row[0]}",
                arrival=start,
                cpu=round(plan_cpu / 100.0, 3),
                memory=int(plan_mem / 100.0 * machine_memory),
                replicas=max(1, int(cell_float(row, 1, "instance_num", where, 1))),
                namespace=f"type{row[3].strip() or '0'}",
                duration=end - start if end > start else None,
            )
            raw.append((start, job))
    if not raw:
        raise TraceError("no started task with plan_cpu and plan_mem found in the batch_task files")
    origin = min(start for start, _ in raw)
    jobs = tuple(
        JobSpec(
            name=j.name,
            arrival=j.arrival - origin,
            cpu=j.cpu,
            memory=j.memory,
            replicas=j.replicas,
            namespace=j.namespace,
            duration=j.duration,
        )
        for _, j in sorted(raw, key=lambda item: (item[0], item[1].name))
    )
    nodes = (NodeGroup("machine", machines, cpu=machine_cpu, memory=machine_memory),)
    return Workload("alibaba-2018", nodes, jobs)
