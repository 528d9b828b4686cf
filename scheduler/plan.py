"""Plan: the scheduler's only output, committed by the manager as one entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scheduler.explain import Explanation


@dataclass(frozen=True, slots=True)
class Placement:
    task_id: str
    node_id: str
    job_id: str
    device_ids: tuple[str, ...] = ()  # one per device share taken, in request order
    device_shares: tuple[float, ...] = ()  # share of each device in device_ids (1.0 = whole)


@dataclass(frozen=True, slots=True)
class Preemption:
    task_id: str  # the running task to stop
    node_id: str
    job_id: str
    for_task_id: str  # the task that takes its place
    reason: str  # e.g. "preempted by job X task T (priority 90 > 10) for memory"


@dataclass(frozen=True, slots=True)
class Unplaced:
    job_id: str
    task_ids: tuple[str, ...]
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Plan:
    placements: tuple[Placement, ...]
    preemptions: tuple[Preemption, ...]
    unplaced: tuple[Unplaced, ...]
    # job_id -> explanation of the group's first placement (the dry-run view);
    # filled when SchedulerConfig.explain is on.
    explanations: Mapping[str, Explanation] = field(default_factory=dict)
