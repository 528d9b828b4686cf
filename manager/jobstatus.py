"""A job's summary as users see it (`job ls`, `job status`, and what `job
run` waits on): counts per state and one phase word with a message."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from manager.reconcile import ROLLED_BACK, slot_done, slot_gave_up, update_paused
from manager.taskstate import TS, is_terminal


def summarize(job: pb.Job, tasks: Iterable[pb.Task]) -> cpb.JobSummary:
    tasks = list(tasks)
    s = cpb.JobSummary(job=job, desired=0 if job.stopped else job.spec.replicas)
    latest: dict[int, pb.Task] = {}
    last_ended: dict[int, pb.Task] = {}
    for t in sorted(tasks, key=lambda t: (t.slot, t.attempt, t.meta.created_index)):
        latest[t.slot] = t
        if is_terminal(t):
            last_ended[t.slot] = t
    current = [t for t in latest.values() if t.slot <= s.desired]
    reasons: dict[str, int] = defaultdict(int)
    for t in current:
        state = t.status.state
        if state == TS.TASK_STATE_RUNNING and t.spec_version == job.spec_version:
            s.running += 1
        elif state == TS.TASK_STATE_COMPLETE:
            s.complete += 1
        elif is_terminal(t):
            s.failed += 1
        elif not t.node_id:
            s.pending += 1
            if t.pending_reason:
                reasons[t.pending_reason] += 1
    gave_up = [t for t in current if slot_gave_up(job, t)]
    active = [t for t in tasks if not is_terminal(t)]
    if job.stopped:
        s.phase = "stopped" if not active else "stopping"
        s.message = f"{len(active)} task(s) still stopping" if active else "all tasks stopped"
    elif gave_up:
        t = gave_up[0]
        s.phase = "failed"
        why = t.status.error or t.status.message or TS.Name(t.status.state)
        exit_part = f" (exit code {t.status.exit_code})" if t.status.exited else ""
        s.message = f"slot {t.slot} gave up after {t.attempt + 1} attempt(s){exit_part}: {why}"
    elif job.spec.type == "batch":
        done = sum(1 for t in current if slot_done(job, t))
        if done == s.desired:
            s.phase = "complete"
            s.message = f"{done}/{s.desired} tasks completed"
        else:
            s.phase = "converging"
            s.message = f"{done}/{s.desired} completed, {s.running} running"
    else:
        stale = [t for t in tasks if not is_terminal(t) and (t.slot > s.desired or t.spec_version != job.spec_version)]
        if s.running == s.desired and not stale:
            s.phase = "converged"
            s.message = f"{s.running}/{s.desired} running"
        else:
            s.phase = "converging"
            s.message = f"{s.running}/{s.desired} running"
    if not job.stopped and s.phase != "failed" and update_paused(job):
        s.phase = "paused"
        s.message = f"{job.update_status.message} ({s.running}/{s.desired} running the new version)"
    update = job.update_status
    if update.state == ROLLED_BACK and update.spec_version == job.spec_version - 1:
        s.message += f"; {update.message}"
    if reasons:
        reason, n = max(reasons.items(), key=lambda kv: kv[1])
        s.message += f"; {n} pending: {reason}"
    # A failed task is replaced at once (its replacement waits out the restart
    # delay), so look at each slot's last ended task until the slot runs again.
    failing = [
        t
        for slot, t in sorted(last_ended.items())
        if slot <= s.desired
        and latest[slot].status.state != TS.TASK_STATE_RUNNING
        and t.status.state in (TS.TASK_STATE_FAILED, TS.TASK_STATE_REJECTED)
        and t.status.error
    ]
    if failing and s.phase == "converging":
        s.message += f"; last error: {failing[0].status.error}"
    return s
