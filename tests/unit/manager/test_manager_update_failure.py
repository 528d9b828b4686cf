"""A rolling update whose new version fails: `update.failure_action` pauses
it, rolls it back, or lets it continue; `update.monitor` bounds how long
after starting a failure still counts against the update."""

from __future__ import annotations

import pytest

from dockyard.api.v1 import objects_pb2 as pb
from manager.jobstatus import summarize
from manager.reconcile import ROLLED_BACK, reconcile_job
from manager.store import Store, clone, create, update
from manager.taskstate import TS, is_terminal
from tests.unit.manager.builders import (
    T0,
    commit,
    converge,
    current_job,
    job_spec,
    reconcile,
    reconcile_and_commit,
    report,
    tasks_of,
)


def v1_running(failure_action: str, monitor: float = 5.0) -> Store:
    spec = job_spec(replicas=3)
    spec.update.CopyFrom(pb.UpdatePolicy(parallelism=1, monitor=monitor, failure_action=failure_action))
    store = Store()
    commit(store, [create(pb.Job(meta=pb.Meta(id="job1"), spec=spec, spec_version=1))])
    converge(store)
    for t in tasks_of(store):
        started(store, t, at=T0)
    return store


def started(store: Store, t: pb.Task, at: float) -> pb.Task:
    """What the dispatcher records when an agent reports a task running."""
    cur = report(store, t, TS.TASK_STATE_RUNNING, node_id="n1", at=at)
    cur = clone(cur)
    cur.started_at = at
    commit(store, [update(cur)], at)
    return store.view().tasks[t.meta.id]


def update_to(store: Store, image: str) -> None:
    """What RunJob does with a changed spec."""
    j = clone(current_job(store))
    j.previous_spec.CopyFrom(j.spec)
    j.spec.task.image = image
    j.spec_version += 1
    j.ClearField("update_status")
    commit(store, [update(j)])


def new_version_tasks(store: Store) -> list[pb.Task]:
    version = current_job(store).spec_version
    return [t for t in tasks_of(store) if t.spec_version == version and not is_terminal(t)]


def fail_first_replacement(store: Store, at: float = T0 + 1) -> pb.Task:
    reconcile_and_commit(store)  # the update replaces slot 1 (parallelism 1)
    (fresh,) = new_version_tasks(store)
    return report(store, fresh, TS.TASK_STATE_FAILED, node_id="n1", error="image bad:2 cannot be started", at=at)


def test_rollback_puts_the_previous_spec_back_as_a_new_version() -> None:
    store = v1_running("rollback")
    update_to(store, "bad:2")
    fail_first_replacement(store)
    d = reconcile(store)
    assert len(d.actions) == 1  # only the job changes in this pass
    commit(store, d.actions)
    job = current_job(store)
    assert (job.spec_version, job.spec.task.image, job.previous_spec.task.image) == (3, "dockyard-test/busybox:1", "bad:2")
    assert job.update_status.state == ROLLED_BACK and job.update_status.spec_version == 2
    assert "version 2 failed (task web.1 failed: image bad:2 cannot be started)" in job.update_status.message
    # The next passes bring every slot to version 3, one at a time.
    for _ in range(4):  # parallelism 1: a slot goes when the previous one runs
        converge(store)
        for t in new_version_tasks(store):
            if t.status.state != TS.TASK_STATE_RUNNING:
                started(store, t, at=T0 + 2)
    wanted = [t for t in tasks_of(store) if t.desired_state == TS.TASK_STATE_RUNNING]
    assert sorted((t.slot, t.spec_version) for t in wanted) == [(1, 3), (2, 3), (3, 3)]
    summary = summarize(current_job(store), tasks_of(store))
    assert "rolled back to the previous spec as version 3" in summary.message


def test_pause_stops_replacing_slots_and_the_job_says_why() -> None:
    store = v1_running("pause")
    update_to(store, "bad:2")
    fail_first_replacement(store)
    commit(store, reconcile(store).actions)
    job = current_job(store)
    assert job.spec_version == 2 and job.update_status.state == "paused"
    converge(store)
    # Slots 2 and 3 still run version 1; slot 1 keeps trying version 2 under its restart policy.
    live = {t.slot: t.spec_version for t in tasks_of(store) if t.desired_state == TS.TASK_STATE_RUNNING}
    assert live == {1: 2, 2: 1, 3: 1}
    summary = summarize(current_job(store), tasks_of(store))
    assert summary.phase == "paused"
    assert "update to version 2 paused: task web.1 failed: image bad:2 cannot be started" in summary.message
    # A new version starts a new update.
    update_to(store, "good:3")
    reconcile_and_commit(store)
    assert current_job(store).update_status.state == ""
    assert any(t.spec_version == 3 for t in new_version_tasks(store))


def test_continue_lets_the_update_go_on() -> None:
    store = v1_running("continue")
    update_to(store, "bad:2")
    fail_first_replacement(store)
    d = reconcile(store)
    assert all(a.object.WhichOneof("kind") == "task" for a in d.actions)
    assert current_job(store).update_status.state == ""


@pytest.mark.parametrize(("ran_for", "counts"), [(3.0, True), (60.0, False)])
def test_a_failure_counts_against_the_update_only_within_the_monitor_window(ran_for: float, counts: bool) -> None:
    store = v1_running("rollback", monitor=5.0)
    update_to(store, "flaky:2")
    reconcile_and_commit(store)
    (fresh,) = new_version_tasks(store)
    fresh = started(store, fresh, at=T0 + 10)
    report(store, fresh, TS.TASK_STATE_FAILED, error="exit code 1", at=T0 + 10 + ran_for)
    job_actions = [a for a in reconcile(store).actions if a.object.WhichOneof("kind") == "job"]
    assert bool(job_actions) == counts


def test_a_failing_rollback_is_paused_not_rolled_back_again() -> None:
    store = v1_running("rollback")
    update_to(store, "bad:2")
    fail_first_replacement(store)
    commit(store, reconcile(store).actions)  # rolled back: version 3 has version 1's spec
    assert current_job(store).spec_version == 3
    reconcile_and_commit(store)
    replacement = next(t for t in new_version_tasks(store) if t.spec_version == 3 and t.status.state == TS.TASK_STATE_PENDING)
    report(store, replacement, TS.TASK_STATE_FAILED, node_id="n1", error="node out of disk", at=T0 + 3)
    commit(store, reconcile(store).actions)
    job = current_job(store)
    assert (job.spec_version, job.update_status.state, job.update_status.spec_version) == (3, "paused", 3)
    assert "it is the rollback of a failed update" in job.update_status.message


def test_a_new_job_that_fails_is_not_an_update_failure() -> None:
    spec = job_spec(replicas=1)
    spec.update.CopyFrom(pb.UpdatePolicy(failure_action="rollback", monitor=5.0))
    job = pb.Job(meta=pb.Meta(id="job1"), spec=spec, spec_version=1)
    store = Store()
    commit(store, [create(job)])
    reconcile_and_commit(store)
    (t,) = tasks_of(store)
    report(store, t, TS.TASK_STATE_FAILED, node_id="n1", error="boom")
    d = reconcile_job(current_job(store), tasks_of(store), T0)
    assert not any(a.object.WhichOneof("kind") == "job" for a in d.actions)


def test_a_restart_of_the_new_version_long_after_the_update_is_not_an_update_failure() -> None:
    """Only a slot's first attempt at the new version counts: a later
    attempt that cannot start (a full disk an hour on) is for the restart
    policy, not a reason to roll a good version back."""
    store = v1_running("rollback")
    update_to(store, "good:2")
    for _ in range(4):
        converge(store)
        for t in new_version_tasks(store):
            if t.status.state != TS.TASK_STATE_RUNNING:
                started(store, t, at=T0 + 2)
    first = next(t for t in new_version_tasks(store) if t.slot == 1)
    report(store, first, TS.TASK_STATE_FAILED, error="exit code 137", at=T0 + 3600)  # crashed long after the monitor
    reconcile_and_commit(store)  # its slot restarts version 2
    restart = next(t for t in new_version_tasks(store) if t.slot == 1 and t.status.state != TS.TASK_STATE_FAILED)
    report(store, restart, TS.TASK_STATE_REJECTED, node_id="n1", error="no space left on device", at=T0 + 3601)
    assert not any(a.object.WhichOneof("kind") == "job" for a in reconcile(store).actions)
    assert current_job(store).spec_version == 2
