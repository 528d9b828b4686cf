"""TaskGroup: identical tasks of one job version, the unit the queue orders."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.resources import Resources


@dataclass(frozen=True, slots=True)
class TaskGroup:
    job_id: str
    job_name: str
    task_ids: tuple[str, ...]  # one per task to place
    demand: Resources  # of each task
    namespace: str = "default"
    priority: int = 50  # higher is more important; preempts strictly lower
    # e.g. "node.labels.zone == east", "node.labels.zone in (east, west)"
    constraints: tuple[str, ...] = ()
    # fixed published host ports every task needs; 0 means Docker picks one
    # and is not scheduled
    host_ports: tuple[int, ...] = ()
    max_per_node: int = 0  # 0 = unlimited
    spread: str = ""  # e.g. "node.labels.zone": balance this job's tasks over its values
    policy: str = ""  # "" = the scheduler's default; "binpack" | "spread" | "align"
    # Hard rules: only nodes that run a task of one of `affinity`'s jobs, and
    # no node that runs a task of an `anti_affinity` job.
    affinity: tuple[str, ...] = ()
    anti_affinity: tuple[str, ...] = ()
    submitted_at: float = 0.0  # FIFO order

    def __post_init__(self) -> None:
        if self.demand.is_negative():
            raise ValueError(f"job {self.job_id}: demand must not be negative")
        if self.max_per_node < 0:
            raise ValueError(f"job {self.job_id}: max_per_node must be >= 0")
        if len(set(self.task_ids)) != len(self.task_ids):
            raise ValueError(f"job {self.job_id}: task ids must be unique")

    @property
    def scheduled_ports(self) -> tuple[int, ...]:
        return tuple(sorted({p for p in self.host_ports if p > 0}))
