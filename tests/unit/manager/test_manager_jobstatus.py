"""summarize: the phase word and message users see in `job ls`, `job status`
and what `job run` waits on, over states the orchestrator really produces."""

from __future__ import annotations

from manager.jobstatus import summarize
from manager.store import clone, update
from manager.taskstate import TS
from tests.unit.manager.builders import (
    T0,
    commit,
    converge,
    current_job,
    job,
    node,
    reconcile_and_commit,
    report,
    run_all,
    store_with,
    tasks_of,
)


def summary(store):  # type: ignore[no-untyped-def]
    return summarize(current_job(store), tasks_of(store))


def set_pending_reason(store, t, reason: str) -> None:  # type: ignore[no-untyped-def]
    cur = clone(store.view().tasks[t.meta.id])
    cur.pending_reason = reason
    commit(store, [update(cur)])


def edit_job(store, **changes: object) -> None:  # type: ignore[no-untyped-def]
    j = clone(current_job(store))
    for k, v in changes.items():
        if k in ("stopped", "spec_version"):
            setattr(j, k, v)
        else:
            setattr(j.spec, k, v)
    commit(store, [update(j)])


def test_a_new_job_is_converging_and_says_why_tasks_are_pending() -> None:
    store = store_with(node("n1"), job(replicas=3))
    reconcile_and_commit(store)
    t1, t2, t3 = tasks_of(store)
    set_pending_reason(store, t1, "insufficient cpu on 2 nodes")
    set_pending_reason(store, t2, "insufficient cpu on 2 nodes")
    set_pending_reason(store, t3, "constraint node.labels.zone == east matched 0 nodes")
    s = summary(store)
    assert s.phase == "converging"
    assert (s.desired, s.running, s.pending, s.failed, s.complete) == (3, 0, 3, 0, 0)
    assert s.message == "0/3 running; 2 pending: insufficient cpu on 2 nodes"
    assert s.job.meta.id == "job1"


def test_all_slots_running_is_converged() -> None:
    store = store_with(node("n1"), job(replicas=3))
    reconcile_and_commit(store)
    run_all(store)
    s = summary(store)
    assert (s.phase, s.running, s.pending) == ("converged", 3, 0)
    assert s.message == "3/3 running"


def test_partially_running_is_converging() -> None:
    store = store_with(node("n1"), job(replicas=2))
    reconcile_and_commit(store)
    t1, _ = tasks_of(store)
    report(store, t1, TS.TASK_STATE_RUNNING, node_id="n1")
    s = summary(store)
    assert (s.phase, s.running, s.pending) == ("converging", 1, 1)
    assert s.message.startswith("1/2 running")


def test_a_rolling_update_is_converging_until_every_task_has_the_new_spec() -> None:
    store = store_with(node("n1"), job(replicas=2))
    reconcile_and_commit(store)
    run_all(store)
    edit_job(store, spec_version=2)
    s = summary(store)
    assert s.phase == "converging" and s.running == 0  # running, but the old spec
    reconcile_and_commit(store)  # stop-first: old ones asked to stop, new ones pending
    for t in tasks_of(store):
        if t.spec_version == 1:
            report(store, t, TS.TASK_STATE_SHUTDOWN)
    run_all(store)
    s = summary(store)
    assert (s.phase, s.running) == ("converged", 2)


def test_scale_down_is_converging_until_the_extra_tasks_stopped() -> None:
    store = store_with(node("n1"), job(replicas=3))
    reconcile_and_commit(store)
    run_all(store)
    edit_job(store, replicas=1)
    reconcile_and_commit(store)
    s = summary(store)
    assert (s.desired, s.running, s.phase) == (1, 1, "converging")
    for t in tasks_of(store):
        if t.slot > 1:
            report(store, t, TS.TASK_STATE_SHUTDOWN)
    s = summary(store)
    assert (s.phase, s.message) == ("converged", "1/1 running")


def test_a_failing_task_being_restarted_shows_its_last_error() -> None:
    store = store_with(node("n1"), job(replicas=2, delay=10.0))
    reconcile_and_commit(store)
    t1, _ = run_all(store)
    report(store, t1, TS.TASK_STATE_FAILED, exit_code=1, error="exec: not found")
    s = summary(store)
    assert (s.phase, s.failed, s.running) == ("converging", 1, 1)
    assert "last error: exec: not found" in s.message


def test_a_crash_looping_job_keeps_showing_its_last_error_while_the_replacement_waits() -> None:
    """The orchestrator replaces a failed task at once (the replacement waits
    out the restart delay): the error must still reach `job status` and the
    "did not converge" message of `job run`."""
    store = store_with(node("n1"), job(replicas=2, delay=10.0))
    reconcile_and_commit(store)
    t1, _ = run_all(store)
    report(store, t1, TS.TASK_STATE_FAILED, exit_code=1, error="exec: not found", at=T0)
    reconcile_and_commit(store, now=T0)  # slot 1: a new pending task, not before T0 + 10
    s = summary(store)
    assert (s.phase, s.running, s.pending) == ("converging", 1, 1)
    assert "last error: exec: not found" in s.message
    # Once the replacement runs, the old error is no longer news.
    new = [t for t in tasks_of(store) if t.slot == 1][-1]
    report(store, new, TS.TASK_STATE_RUNNING, node_id="n1", at=T0 + 11)
    s = summary(store)
    assert (s.phase, s.message) == ("converged", "2/2 running")


def test_a_slot_that_gave_up_makes_the_job_failed_with_the_reason() -> None:
    store = store_with(node("n1"), job(replicas=2, condition="on-failure", max_attempts=1))
    reconcile_and_commit(store)
    for i in range(2):
        t = [t for t in tasks_of(store) if t.slot == 1][-1]
        report(store, t, TS.TASK_STATE_RUNNING, node_id="n1", at=T0 + i)
        report(store, t, TS.TASK_STATE_FAILED, exit_code=127, error="exec: nope: not found", at=T0 + i)
        converge(store, now=T0 + i)
    s = summary(store)
    assert s.phase == "failed"
    assert s.message == "slot 1 gave up after 2 attempt(s) (exit code 127): exec: nope: not found"


def test_restart_condition_none_fails_the_job_at_the_first_failure() -> None:
    store = store_with(node("n1"), job(replicas=1, condition="none"))
    reconcile_and_commit(store)
    (t,) = run_all(store)
    report(store, t, TS.TASK_STATE_REJECTED)
    s = summary(store)
    assert s.phase == "failed"
    assert "slot 1 gave up after 1 attempt(s)" in s.message
    assert "exit code" not in s.message  # it never ran


def test_a_batch_job_completes_when_every_slot_exited_zero() -> None:
    store = store_with(node("n1"), job(type="batch", replicas=2, condition="on-failure"))
    reconcile_and_commit(store)
    t1, t2 = run_all(store)
    report(store, t1, TS.TASK_STATE_COMPLETE, exit_code=0)
    s = summary(store)
    assert (s.phase, s.message) == ("converging", "1/2 completed, 1 running")
    report(store, t2, TS.TASK_STATE_COMPLETE, exit_code=0)
    s = summary(store)
    assert (s.phase, s.complete, s.message) == ("complete", 2, "2/2 tasks completed")
    assert not reconcile_and_commit(store).actions


def test_a_batch_job_whose_slot_exhausted_its_attempts_is_failed_not_complete() -> None:
    store = store_with(node("n1"), job(type="batch", replicas=2, condition="on-failure", max_attempts=1))
    reconcile_and_commit(store)
    _, t2 = run_all(store)
    report(store, t2, TS.TASK_STATE_COMPLETE, exit_code=0)
    for i in range(2):
        t = [t for t in tasks_of(store) if t.slot == 1][-1]
        report(store, t, TS.TASK_STATE_RUNNING, node_id="n1", at=T0 + i)
        report(store, t, TS.TASK_STATE_FAILED, exit_code=1, at=T0 + i)
        s = summary(store)
        assert s.phase == ("converging" if i == 0 else "failed")
        converge(store, now=T0 + i)
    s = summary(store)
    assert (s.phase, s.complete, s.failed) == ("failed", 1, 1)
    assert s.message.startswith("slot 1 gave up after 2 attempt(s) (exit code 1)")


def test_a_stopped_job_is_stopping_then_stopped() -> None:
    store = store_with(node("n1"), job(replicas=2))
    reconcile_and_commit(store)
    run_all(store)
    edit_job(store, stopped=True)
    reconcile_and_commit(store)
    s = summary(store)
    assert (s.desired, s.phase, s.message) == (0, "stopping", "2 task(s) still stopping")
    for t in tasks_of(store):
        report(store, t, TS.TASK_STATE_SHUTDOWN)
    s = summary(store)
    assert (s.phase, s.message) == ("stopped", "all tasks stopped")
