"""Pure facts about task states, shared by the orchestrators, the scheduling
loop, the dispatcher and the status views. No I/O."""

from __future__ import annotations

from dockyard.api.v1 import objects_pb2 as pb

TS = pb.TaskState

TERMINAL = frozenset(
    {TS.TASK_STATE_COMPLETE, TS.TASK_STATE_SHUTDOWN, TS.TASK_STATE_FAILED, TS.TASK_STATE_REJECTED, TS.TASK_STATE_ORPHANED}
)
FAILURES = frozenset({TS.TASK_STATE_FAILED, TS.TASK_STATE_REJECTED, TS.TASK_STATE_ORPHANED})


def state_name(state: int) -> str:
    return pb.TaskState.Name(state).removeprefix("TASK_STATE_").lower()


def is_terminal(task: pb.Task) -> bool:
    return task.status.state in TERMINAL


def is_pending(task: pb.Task) -> bool:
    return task.status.state <= TS.TASK_STATE_PENDING and not task.node_id


def holds_resources(task: pb.Task) -> bool:
    """A placed task that has not ended holds its node's resources."""
    return bool(task.node_id) and not is_terminal(task)


def wants_running(task: pb.Task) -> bool:
    return task.desired_state == TS.TASK_STATE_RUNNING


def can_advance(current: int, new: int) -> bool:
    """Observed states only move forward; a terminal state is final."""
    if current in TERMINAL:
        return False
    return new >= current
