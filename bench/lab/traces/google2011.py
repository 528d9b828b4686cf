"""Google cluster-data 2011 (clusterdata-2011-2) ``task_events`` reader.

The files have no header; columns, in order: timestamp (microseconds),
missing info, job ID, task index, machine ID, event type, user, scheduling
class, priority, CPU request, memory request, disk request, different-machine
restriction. Requests are normalised to the largest machine (1.0 = its
capacity), so the reader scales them by a machine size the user gives.

A task's arrival is its first SUBMIT (event 0). Its duration runs from its
first SCHEDULE (1) to its first terminal event after that (EVICT 2, FAIL 3,
FINISH 4, KILL 5, LOST 6); a task with no terminal event runs to the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.lab.traces.common import GiB, TraceError, cell_float, rows
from bench.lab.workload import JobSpec, NodeGroup, Workload

SUBMIT, SCHEDULE = 0, 1
TERMINAL = frozenset({2, 3, 4, 5, 6})
COLUMNS = 13
# The trace's timestamps are microseconds; 0 means "before the trace began".
_US = 1e-6


@dataclass(slots=True)
class _Task:
    submit: float = -1.0
    schedule: float = -1.0
    end: float = -1.0
    cpu: float = 0.0
    memory: float = 0.0
    disk: float = 0.0
    user: str = ""
    priority: int = 0


def read_google2011(
    paths: Iterable[str | Path],
    machines: int,
    machine_cpu: float = 32.0,
    machine_memory: int = 128 * GiB,
    machine_disk: int = 0,
) -> Workload:
    """A workload of ``machines`` identical nodes of the given size (1.0 in the
    trace's normalised units) and one job per task that has a SUBMIT event."""
    tasks: dict[tuple[str, int], _Task] = {}
    for path in map(Path, paths):
        for line, row in rows(path):
            where = f"{path.name}:{line}"
            if len(row) < COLUMNS:
                raise TraceError(f"{where}: expected {COLUMNS} columns (task_events schema), got {len(row)}")
            time = cell_float(row, 0, "timestamp", where) * _US
            event = int(cell_float(row, 5, "event type", where))
            key = (row[2], int(cell_float(row, 3, "task index", where)))
            task = tasks.get(key)
            if task is None:
                task = tasks[key] = _Task()
            if event == SUBMIT:
                if task.submit < 0:
                    task.submit = time
                    task.user = row[6] or "unknown"
                    task.priority = int(cell_float(row, 8, "priority", where, 0))
                # Requests can change on resubmission; the last one wins.
                task.cpu = cell_float(row, 9, "CPU request", where, task.cpu)
                task.memory = cell_float(row, 10, "memory request", where, task.memory)
                task.disk = cell_float(row, 11, "disk request", where, task.disk)
            elif event == SCHEDULE and task.schedule < 0:
                task.schedule = time
            elif event in TERMINAL and task.schedule >= 0 and task.end < 0:
                task.end = time
    submitted = [(key, t) for key, t in tasks.items() if t.submit >= 0]
    if not submitted:
        raise TraceError("no SUBMIT events (event type 0) found in the task_events files")
    start = min(t.submit for _, t in submitted)
    jobs: list[JobSpec] = []
    for (job_id, index), task in sorted(submitted, key=lambda item: (item[1].submit, item[0])):
        duration = task.end - task.schedule if task.end >= 0 else None
        jobs.append(
            JobSpec(
                name=f"{job_id}/{index}",
                arrival=task.submit - start,
                cpu=round(task.cpu * machine_cpu, 3),
                memory=int(task.memory * machine_memory),
                disk=int(task.disk * machine_disk),
                namespace=task.user,
                priority=task.priority,
                duration=duration,
            )
        )
    nodes = (NodeGroup("machine", machines, cpu=machine_cpu, memory=machine_memory, disk=machine_disk),)
    return Workload("google-2011", nodes, tuple(jobs))
