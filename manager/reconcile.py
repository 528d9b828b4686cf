"""What a job's tasks should become: the replicated and batch orchestrators'
decision, as a pure function from (job, its tasks, nodes, now) to store
actions. The leader's orchestrator loop feeds it and commits what it returns.

Model (as in SwarmKit): a job has `replicas` slots; each slot has a chain of
tasks, one per attempt. Tasks are never restarted in place: a task that ends
while it should run is replaced by a new task for its slot after the restart
delay, if the restart policy allows. Old tasks stay as history (their
containers too, for logs) until pruned.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from manager.store import clone, create, delete, update
from manager.taskstate import FAILURES, TS, is_terminal, state_name

# Terminal tasks kept per slot besides its latest (their containers stay for
# `dockyard logs`); Swarm's default task history is 5 per slot in all.
HISTORY_PER_SLOT = 4


@dataclass(slots=True)
class Decision:
    actions: list[spb.StoreAction] = field(default_factory=list)
    # When to look at this job again even if nothing changes (restart delays).
    wake_at: float | None = None

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)


def new_task(job: pb.Job, slot: int, attempt: int, not_before: float = 0.0) -> pb.Task:
    return pb.Task(
        meta=pb.Meta(id=uuid.uuid4().hex),
        job_id=job.meta.id,
        job_name=job.spec.name,
        namespace=job.spec.namespace,
        slot=slot,
        spec_version=job.spec_version,
        spec=job.spec.task,
        priority=job.spec.priority,
        placement=job.spec.placement,
        desired_state=TS.TASK_STATE_RUNNING,
        status=pb.TaskStatus(state=TS.TASK_STATE_PENDING, message="waiting for a node"),
        attempt=attempt,
        not_before=not_before,
    )


def _shutdown(task: pb.Task, message: str) -> spb.StoreAction:
    t = clone(task)
    t.desired_state = TS.TASK_STATE_SHUTDOWN
    if not t.node_id and not is_terminal(t):
        # Never placed: nobody runs it, so it ends here.
        t.status.state = TS.TASK_STATE_SHUTDOWN
        t.status.message = message
        t.pending_reason = ""
    return update(t)


def _should_restart(job: pb.Job, task: pb.Task) -> bool:
    condition = job.spec.task.restart.condition or "any"
    if condition == "none":
        return False
    failed = task.status.state in FAILURES or (task.status.exited and task.status.exit_code != 0)
    if condition == "on-failure" and not failed:
        return False
    max_attempts = job.spec.task.restart.max_attempts
    return not (max_attempts and task.attempt >= max_attempts)


def slot_done(job: pb.Job, task: pb.Task) -> bool:
    """A batch slot whose task exited 0 is finished for good."""
    return job.spec.type == "batch" and task.status.state == TS.TASK_STATE_COMPLETE


def slot_gave_up(job: pb.Job, task: pb.Task) -> bool:
    return is_terminal(task) and task.desired_state == TS.TASK_STATE_RUNNING and not slot_done(job, task) and not _should_restart(job, task)


def orphan_lost_tasks(tasks: Iterable[pb.Task], nodes: Mapping[str, pb.Node], now: float) -> list[spb.StoreAction]:
    """Tasks on a node that is down are lost: record that on their behalf."""
    actions = []
    for task in tasks:
        node = nodes.get(task.node_id) if task.node_id else None
        if node is None and task.node_id:
            lost = True
        else:
            lost = node is not None and node.state == pb.NODE_STATE_DOWN
        if lost and not is_terminal(task):
            t = clone(task)
            t.status.state = TS.TASK_STATE_ORPHANED
            t.status.message = "its node is down"
            t.status.timestamp = now
            actions.append(update(t))
    return actions


def rolled_back(job: pb.Job) -> pb.Job:
    """The job with its previous version's spec as the next version (the
    replica count stays, as with `kubectl rollout undo`); the spec it
    replaces becomes the previous one. The job must have a previous_spec."""
    j = clone(job)
    target = clone(job.previous_spec)
    target.replicas = job.spec.replicas
    j.previous_spec.CopyFrom(job.spec)
    j.spec.CopyFrom(target)
    j.spec_version += 1
    j.stopped = False
    return j


PAUSED, ROLLED_BACK = "paused", "rolled_back"


def update_paused(job: pb.Job) -> bool:
    return job.update_status.state == PAUSED and job.update_status.spec_version == job.spec_version


def update_failure(job: pb.Job, by_slot: Mapping[int, list[pb.Task]]) -> pb.Task | None:
    """The first task of the job's version that failed as part of a rolling
    update: it took the place of an older version's task in its slot (the
    slot's first attempt at this version; later attempts are restarts, for
    the restart policy), and it failed or was rejected before it ran or
    within `update.monitor` seconds of starting. None once the orchestrator
    acted on this version. A new job, or a slot added by scaling, has no
    older task to replace: its failures are not an update's."""
    status = job.update_status
    if status.state and status.spec_version == job.spec_version:
        return None
    monitor = job.spec.update.monitor
    for _, chain in sorted(by_slot.items()):
        for before, t in pairwise(chain):
            if before.spec_version >= job.spec_version or t.spec_version != job.spec_version:
                continue
            if t.status.state not in (TS.TASK_STATE_FAILED, TS.TASK_STATE_REJECTED):
                continue
            if t.started_at and t.status.timestamp - t.started_at > monitor:
                continue  # it ran past the monitor window: a crash, for the restart policy
            return t
    return None


def on_update_failure(job: pb.Job, failed: pb.Task) -> pb.Job:
    """The job after `update.failure_action` (pause or rollback) acted on a
    failed task of its version. A version that is itself a rollback is
    paused rather than rolled back again."""
    version = job.spec_version
    why = failed.status.error or failed.status.message or state_name(failed.status.state)
    what = f"task {failed.job_name}.{failed.slot} {state_name(failed.status.state)}: {why}"
    was_rollback = job.update_status.state == ROLLED_BACK and job.update_status.spec_version == version - 1
    if job.spec.update.failure_action == "rollback" and job.HasField("previous_spec") and not was_rollback:
        j = rolled_back(job)
        j.update_status.CopyFrom(pb.UpdateStatus(
            state=ROLLED_BACK, spec_version=version,
            message=f"version {version} failed ({what}); rolled back to the previous spec as version {version + 1}",
        ))
        return j
    j = clone(job)
    note = " (it is the rollback of a failed update)" if was_rollback else ""
    j.update_status.CopyFrom(pb.UpdateStatus(
        state=PAUSED, spec_version=version, message=f"update to version {version} paused{note}: {what}",
    ))
    return j


def reconcile_job(job: pb.Job, tasks: Iterable[pb.Task], now: float, nodes: Mapping[str, pb.Node] | None = None) -> Decision:
    """Service and batch jobs: keep `replicas` slots running (service) or run
    each slot to completion (batch). With `nodes`, tasks on drained nodes are
    moved (replaced elsewhere). A rolling update whose new version fails is
    paused or rolled back as `update.failure_action` says."""
    d = Decision()
    drained = {nid for nid, n in (nodes or {}).items() if n.availability == pb.NODE_AVAILABILITY_DRAIN}
    by_slot: dict[int, list[pb.Task]] = defaultdict(list)
    for task in tasks:
        by_slot[task.slot].append(task)
    for chain in by_slot.values():
        chain.sort(key=lambda t: (t.attempt, t.meta.created_index))

    if not job.stopped and job.spec.update.failure_action in ("pause", "rollback"):
        failed = update_failure(job, by_slot)
        if failed is not None:
            # Only the job changes in this pass: the next one reconciles the
            # paused update, or the rolled-back version.
            d.actions.append(update(on_update_failure(job, failed)))
            return d

    wanted = 0 if job.stopped else job.spec.replicas
    update_budget = _update_budget(job, by_slot, wanted)
    for slot, chain in by_slot.items():
        if slot > wanted:
            for task in chain:
                if task.desired_state == TS.TASK_STATE_RUNNING:
                    d.actions.append(_shutdown(task, "job scaled down" if not job.stopped else "job stopped"))
                elif is_terminal(task):
                    # Its container is gone or going; forget the slot entirely.
                    d.actions.append(delete(task))

    for slot in range(1, wanted + 1):
        chain = by_slot.get(slot, [])
        latest = chain[-1] if chain else None
        if latest is None:
            d.actions.append(create(new_task(job, slot, 0)))
            continue
        # Older tasks of the slot that still want to run (e.g. left by a
        # failover mid-replacement) are stopped: one task per slot.
        for old in chain[:-1]:
            if old.desired_state == TS.TASK_STATE_RUNNING:
                d.actions.append(_shutdown(old, "replaced"))
        _prune_history(chain, d)
        if latest.desired_state != TS.TASK_STATE_RUNNING:
            if is_terminal(latest) or not latest.node_id:
                d.actions.append(create(new_task(job, slot, latest.attempt + 1)))
            continue
        if not is_terminal(latest):
            if latest.node_id in drained:
                d.actions.append(_shutdown(latest, "its node is drained"))
                d.actions.append(create(new_task(job, slot, latest.attempt)))
                continue
            # Rolling update, stop-first, `update.parallelism` slots at a
            # time: the replacement is placed once the old task has released
            # its node; the next slot goes when one is running.
            if latest.spec_version != job.spec_version and not slot_done(job, latest) and update_budget > 0:
                update_budget -= 1
                d.actions.append(_shutdown(latest, "replaced by a newer job version"))
                d.actions.append(create(new_task(job, slot, latest.attempt + 1)))
            continue
        if slot_done(job, latest):
            continue
        if not _should_restart(job, latest) and latest.spec_version == job.spec_version:
            continue  # the slot has given up; the job status says so
        delay = job.spec.task.restart.delay
        if latest.status.state == TS.TASK_STATE_ORPHANED:
            delay = 0.0  # a lost node is not the task's fault: replace at once
        ended = latest.status.timestamp or now
        not_before = ended + delay
        d.actions.append(_shutdown(latest, "replaced after it ended"))
        d.actions.append(create(new_task(job, slot, latest.attempt + 1, not_before)))
        if not_before > now:
            d.wake(not_before)
    return d


def _update_budget(job: pb.Job, by_slot: Mapping[int, list[pb.Task]], wanted: int) -> int:
    """How many more slots may start replacing a stale task now: the update
    parallelism (0 = all at once) less the slots whose replacement is not
    running yet."""
    if update_paused(job):
        return 0
    parallelism = job.spec.update.parallelism or wanted
    in_flight = 0
    for slot in range(1, wanted + 1):
        chain = by_slot.get(slot, [])
        if len(chain) < 2:
            continue
        latest = chain[-1]
        replacing = any(t.spec_version != job.spec_version for t in chain[:-1])
        if replacing and latest.spec_version == job.spec_version and latest.status.state < TS.TASK_STATE_RUNNING and not is_terminal(latest):
            in_flight += 1
    return max(0, parallelism - in_flight)


def _prune_history(chain: list[pb.Task], d: Decision) -> None:
    done = [t for t in chain[:-1] if is_terminal(t) and t.desired_state != TS.TASK_STATE_RUNNING]
    for task in done[: max(0, len(done) - HISTORY_PER_SLOT)]:
        d.actions.append(delete(task))


def stopped_job_finished(job: pb.Job, tasks: Iterable[pb.Task]) -> bool:
    return job.stopped and all(is_terminal(t) for t in tasks)
