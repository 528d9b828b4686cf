"""Dockyard's placement library: given a snapshot of nodes and a queue of
task groups, decide where each task runs (a Plan), what to preempt, and
explain every task it could not place.

It is pure: it imports only the standard library, numpy and its own
modules. It must not import grpc, docker, pysyncobj, or any other Dockyard
package (manager, agent, dockyard, netoverlay); the manager calls it and
commits the Plan it returns.
"""

from __future__ import annotations

from scheduler.config import Policy, QueueOrder, SchedulerConfig
from scheduler.constraints import Constraint, ConstraintError, Op, parse_attribute, parse_constraint
from scheduler.explain import CandidateScore, Explanation
from scheduler.plan import Placement, Plan, Preemption, Unplaced
from scheduler.resources import DIMENSIONS, Device, DeviceRequest, Resources
from scheduler.scheduler import Scheduler
from scheduler.snapshot import NodeInfo, RunningTask
from scheduler.taskgroup import TaskGroup

__all__ = [
    "DIMENSIONS",
    "CandidateScore",
    "Constraint",
    "ConstraintError",
    "Device",
    "DeviceRequest",
    "Explanation",
    "NodeInfo",
    "Op",
    "Placement",
    "Plan",
    "Policy",
    "Preemption",
    "QueueOrder",
    "Resources",
    "RunningTask",
    "Scheduler",
    "SchedulerConfig",
    "TaskGroup",
    "Unplaced",
    "parse_attribute",
    "parse_constraint",
]
