"""reconcile_job and orphan_lost_tasks: what the orchestrator decides, applied
to a real Store (atomic, fenced batches, as the orchestrator commits them)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.api.v1 import objects_pb2 as pb
from manager.reconcile import HISTORY_PER_SLOT, orphan_lost_tasks, reconcile_job, stopped_job_finished
from manager.store import Store, clone, delete, update
from manager.taskstate import TS, is_terminal
from tests.unit.manager.builders import (
    T0,
    commit,
    converge,
    current_job,
    job,
    node,
    orphan,
    reconcile,
    reconcile_and_commit,
    report,
    run_all,
    store_with,
    task,
    tasks_of,
    wanting_to_run,
)


def set_job(store, **changes: object) -> pb.Job:  # type: ignore[no-untyped-def]
    j = clone(current_job(store))
    for k, v in changes.items():
        if k in ("stopped", "spec_version"):
            setattr(j, k, v)
        else:
            setattr(j.spec, k, v)
    commit(store, [update(j)])
    return current_job(store)


def started_service(replicas: int = 3, **spec: Any) -> Store:
    """A service job whose tasks were all created, placed on n1 and are running."""
    store = store_with(node("n1"), job(replicas=replicas, **spec))
    reconcile_and_commit(store)
    run_all(store)
    return store


# -- creating slots ---------------------------------------------------------------


def test_a_service_job_without_tasks_gets_one_task_per_slot() -> None:
    store = store_with(job(replicas=3, spec_version=4))
    d = reconcile(store)
    assert d.wake_at is None
    commit(store, d.actions)
    tasks = tasks_of(store)
    assert [t.slot for t in tasks] == [1, 2, 3]
    for t in tasks:
        assert t.job_id == "job1" and t.job_name == "web" and t.namespace == "default"
        assert t.attempt == 0 and t.not_before == 0.0
        assert t.spec_version == 4
        assert t.spec.image == "dockyard-test/busybox:1"
        assert t.desired_state == TS.TASK_STATE_RUNNING
        assert t.status.state == TS.TASK_STATE_PENDING and not t.node_id
    assert len({t.meta.id for t in tasks}) == 3
    # A second pass has nothing to do: the orchestrator's loop is idempotent.
    assert reconcile(store).actions == []


def test_a_job_with_zero_replicas_gets_no_tasks() -> None:
    store = store_with(job(replicas=0))
    assert reconcile(store).actions == []


def test_a_missing_slot_is_refilled_without_touching_the_others() -> None:
    store = started_service(3)
    before = {t.slot: t for t in tasks_of(store)}
    gone = before[2]
    commit(store, [delete(gone)])
    reconcile_and_commit(store)
    after = {t.slot: t for t in tasks_of(store)}
    assert after[1] == before[1] and after[3] == before[3]
    assert after[2].meta.id != gone.meta.id and after[2].attempt == 0


# -- scaling ---------------------------------------------------------------------------


def test_scale_up_adds_the_new_slots_only() -> None:
    store = started_service(2)
    before = tasks_of(store)
    set_job(store, replicas=4)
    d = reconcile_and_commit(store)
    assert len(d.actions) == 2
    tasks = tasks_of(store)
    assert [t.slot for t in tasks] == [1, 2, 3, 4]
    assert tasks[:2] == before


def test_scale_down_shuts_the_extra_slots_and_deletes_them_once_they_ended() -> None:
    store = started_service(3)
    set_job(store, replicas=1)
    reconcile_and_commit(store)
    by_slot = {t.slot: t for t in tasks_of(store)}
    assert by_slot[1].desired_state == TS.TASK_STATE_RUNNING
    for s in (2, 3):
        assert by_slot[s].desired_state == TS.TASK_STATE_SHUTDOWN
        assert by_slot[s].status.state == TS.TASK_STATE_RUNNING  # still running until its agent stops it
    # Nothing more to do while the containers are stopping.
    assert reconcile(store).actions == []
    report(store, by_slot[2], TS.TASK_STATE_SHUTDOWN)
    reconcile_and_commit(store)
    assert [t.slot for t in tasks_of(store)] == [1, 3]
    report(store, by_slot[3], TS.TASK_STATE_SHUTDOWN)
    converge(store)
    assert [t.slot for t in tasks_of(store)] == [1]


def test_scale_down_ends_never_placed_tasks_at_once() -> None:
    store = store_with(job(replicas=3))
    reconcile_and_commit(store)  # three pending, unplaced tasks
    set_job(store, replicas=1)
    reconcile_and_commit(store)
    by_slot = {t.slot: t for t in tasks_of(store)}
    for s in (2, 3):
        assert by_slot[s].status.state == TS.TASK_STATE_SHUTDOWN  # nobody runs it: it ends here
        assert by_slot[s].desired_state == TS.TASK_STATE_SHUTDOWN
        assert by_slot[s].status.message == "job scaled down"
    converge(store)
    assert [t.slot for t in tasks_of(store)] == [1]


# -- restarts -------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", ["any", "on-failure"])
def test_a_failed_task_is_replaced_after_the_restart_delay(condition: str) -> None:
    store = started_service(2, condition=condition, delay=5.0)
    t1 = tasks_of(store)[0]
    report(store, t1, TS.TASK_STATE_FAILED, exit_code=3, error="boom", at=T0 + 10)
    d = reconcile(store, now=T0 + 11)
    assert d.wake_at == T0 + 15  # look again when the delay is over
    commit(store, d.actions, T0 + 11)
    chain = [t for t in tasks_of(store) if t.slot == 1]
    old, new = chain
    assert old.meta.id == t1.meta.id
    assert old.desired_state == TS.TASK_STATE_SHUTDOWN and old.status.state == TS.TASK_STATE_FAILED
    assert new.attempt == 1 and new.not_before == T0 + 15
    assert new.desired_state == TS.TASK_STATE_RUNNING and new.status.state == TS.TASK_STATE_PENDING
    assert not new.node_id
    # The other slot is untouched; a second pass is a no-op.
    assert [t.attempt for t in tasks_of(store) if t.slot == 2] == [0]
    assert reconcile(store, now=T0 + 11).actions == []


def test_no_wake_up_when_the_delay_is_already_over() -> None:
    store = started_service(1, delay=5.0)
    report(store, tasks_of(store)[0], TS.TASK_STATE_FAILED, exit_code=1, at=T0)
    d = reconcile(store, now=T0 + 60)
    assert d.wake_at is None
    commit(store, d.actions)
    assert tasks_of(store)[-1].not_before == T0 + 5


def test_an_exited_task_of_a_service_is_restarted_under_any_but_not_on_failure() -> None:
    for condition, replaced in (("any", True), ("on-failure", False)):
        store = started_service(1, condition=condition)
        report(store, tasks_of(store)[0], TS.TASK_STATE_COMPLETE, exit_code=0)
        d = reconcile(store)
        assert bool(d.actions) is replaced, condition


def test_restart_condition_none_never_replaces() -> None:
    store = started_service(1, condition="none")
    report(store, tasks_of(store)[0], TS.TASK_STATE_FAILED, exit_code=1)
    d = reconcile(store)
    assert d.actions == [] and d.wake_at is None


def test_max_attempts_bounds_the_restarts_of_a_slot() -> None:
    """max_attempts counts restarts (as in Swarm): 2 allows 3 runs in all."""
    store = started_service(1, condition="on-failure", max_attempts=2)
    runs = 0
    for i in range(10):
        live = [t for t in tasks_of(store) if not is_terminal(t)]
        if not live:
            break
        (t,) = live
        runs += 1
        report(store, t, TS.TASK_STATE_RUNNING, node_id="n1", at=T0 + i)
        report(store, t, TS.TASK_STATE_FAILED, exit_code=2, at=T0 + i)
        converge(store, now=T0 + i)
    assert runs == 3
    assert [t.attempt for t in tasks_of(store)] == [0, 1, 2]
    assert reconcile(store, now=T0 + 100).actions == []


def test_a_batch_task_that_completed_is_never_replaced() -> None:
    for condition in ("any", "on-failure"):
        store = store_with(node("n1"), job(type="batch", replicas=2, condition=condition))
        reconcile_and_commit(store)
        for t in run_all(store):
            report(store, t, TS.TASK_STATE_COMPLETE, exit_code=0)
        d = reconcile(store, now=T0 + 1000)
        assert d.actions == [] and d.wake_at is None
        # even after a spec change: a finished slot stays finished
        set_job(store, spec_version=2)
        assert reconcile(store).actions == []


def test_a_failed_batch_task_is_replaced_under_on_failure() -> None:
    store = store_with(node("n1"), job(type="batch", replicas=2, condition="on-failure", delay=1.0))
    reconcile_and_commit(store)
    t1, t2 = run_all(store)
    report(store, t1, TS.TASK_STATE_FAILED, exit_code=1, at=T0)
    report(store, t2, TS.TASK_STATE_COMPLETE, exit_code=0, at=T0)
    d = reconcile_and_commit(store, now=T0)
    assert d.wake_at == T0 + 1
    by_slot = defaultdict(list)
    for t in tasks_of(store):
        by_slot[t.slot].append(t)
    assert [t.attempt for t in by_slot[1]] == [0, 1]
    assert by_slot[1][1].not_before == T0 + 1
    assert [t.attempt for t in by_slot[2]] == [0]


# -- lost nodes ---------------------------------------------------------------------------------


def test_tasks_on_a_down_node_are_orphaned_and_replaced_without_delay() -> None:
    store = store_with(node("n1"), node("n2"), job(replicas=2, delay=30.0))
    reconcile_and_commit(store)
    t1, t2 = tasks_of(store)
    report(store, t1, TS.TASK_STATE_RUNNING, node_id="n1")
    report(store, t2, TS.TASK_STATE_RUNNING, node_id="n2")
    n2 = clone(store.view().nodes["n2"])
    n2.state = pb.NODE_STATE_DOWN
    commit(store, [update(n2)])
    orphan(store, now=T0 + 50)
    t2 = store.view().tasks[t2.meta.id]
    assert t2.status.state == TS.TASK_STATE_ORPHANED and t2.status.timestamp == T0 + 50
    assert store.view().tasks[t1.meta.id].status.state == TS.TASK_STATE_RUNNING
    d = reconcile(store, now=T0 + 50)
    assert d.wake_at is None
    commit(store, d.actions)
    new = [t for t in tasks_of(store) if t.slot == 2][-1]
    assert new.attempt == 1 and new.not_before == T0 + 50  # no restart delay
    assert new.desired_state == TS.TASK_STATE_RUNNING and not new.node_id


def test_orphan_lost_tasks_covers_missing_nodes_and_spares_ended_tasks() -> None:
    nodes = {"up": node("up"), "down": node("down", down=True)}
    tasks = [
        task("on-up", node_id="up", status=pb.TaskStatus(state=TS.TASK_STATE_RUNNING)),
        task("on-down", node_id="down", status=pb.TaskStatus(state=TS.TASK_STATE_STARTING)),
        task("on-removed", node_id="removed", status=pb.TaskStatus(state=TS.TASK_STATE_ASSIGNED)),
        task("ended", node_id="down", status=pb.TaskStatus(state=TS.TASK_STATE_COMPLETE)),
        task("unplaced", status=pb.TaskStatus(state=TS.TASK_STATE_PENDING)),
    ]
    actions = orphan_lost_tasks(tasks, nodes, now=42.0)
    lost = {a.object.task.meta.id: a.object.task for a in actions}
    assert set(lost) == {"on-down", "on-removed"}
    for t in lost.values():
        assert t.status.state == TS.TASK_STATE_ORPHANED
        assert t.status.message == "its node is down"
        assert t.status.timestamp == 42.0


# -- rolling update ---------------------------------------------------------------------------


def test_a_task_of_an_older_spec_version_is_replaced() -> None:
    store = started_service(2)
    old = tasks_of(store)
    set_job(store, spec_version=2, replicas=2)
    reconcile_and_commit(store)
    for slot in (1, 2):
        chain = [t for t in tasks_of(store) if t.slot == slot]
        assert [t.spec_version for t in chain] == [1, 2]
        assert chain[0].meta.id == old[slot - 1].meta.id
        assert chain[0].desired_state == TS.TASK_STATE_SHUTDOWN
        assert chain[1].desired_state == TS.TASK_STATE_RUNNING and chain[1].attempt == 1
    assert len(wanting_to_run(tasks_of(store))) == 2


def test_an_ended_task_of_an_older_spec_version_is_replaced_even_when_it_gave_up() -> None:
    store = started_service(1, condition="none")
    report(store, tasks_of(store)[0], TS.TASK_STATE_FAILED, exit_code=1)
    assert reconcile(store).actions == []  # gave up
    set_job(store, spec_version=2)  # the user fixed the spec
    reconcile_and_commit(store)
    assert [(t.spec_version, t.desired_state) for t in tasks_of(store)] == [
        (1, TS.TASK_STATE_SHUTDOWN),
        (2, TS.TASK_STATE_RUNNING),
    ]


# -- stopping ---------------------------------------------------------------------------------


def test_a_stopped_job_shuts_everything_down_and_creates_nothing() -> None:
    store = started_service(3)
    reconcile_and_commit(store)
    extra = tasks_of(store)[0]
    report(store, extra, TS.TASK_STATE_FAILED, exit_code=1)  # ended while the job was live
    set_job(store, stopped=True)
    reconcile_and_commit(store)
    tasks = tasks_of(store)
    assert wanting_to_run(tasks) == []
    assert not stopped_job_finished(current_job(store), tasks)
    for t in tasks:
        if not is_terminal(t):
            report(store, t, TS.TASK_STATE_SHUTDOWN)
    assert stopped_job_finished(current_job(store), tasks_of(store))
    converge(store)
    assert tasks_of(store) == []  # every slot forgotten, nothing recreated


def test_a_stopped_job_with_unplaced_tasks_ends_them_at_once() -> None:
    store = store_with(job(replicas=2))
    reconcile_and_commit(store)
    set_job(store, stopped=True)
    reconcile_and_commit(store)
    tasks = tasks_of(store)
    assert all(t.status.state == TS.TASK_STATE_SHUTDOWN for t in tasks)
    assert all(t.status.message == "job stopped" for t in tasks)
    assert stopped_job_finished(current_job(store), tasks)


# -- history ----------------------------------------------------------------------------------


def test_history_keeps_at_most_a_bounded_number_of_ended_tasks_per_slot() -> None:
    store = started_service(2)
    for i in range(HISTORY_PER_SLOT + 6):
        for t in tasks_of(store):
            if t.slot == 1 and not is_terminal(t):
                report(store, t, TS.TASK_STATE_RUNNING, node_id="n1", at=T0 + i)
                report(store, t, TS.TASK_STATE_FAILED, exit_code=1, at=T0 + i)
        converge(store, now=T0 + i)
        chain = [t for t in tasks_of(store) if t.slot == 1]
        history = chain[:-1]
        assert all(is_terminal(t) for t in history)
        assert len(history) <= HISTORY_PER_SLOT
    # The newest history is kept, the oldest pruned; the latest attempt runs.
    attempts = [t.attempt for t in tasks_of(store) if t.slot == 1]
    last = HISTORY_PER_SLOT + 6
    assert attempts == list(range(last - HISTORY_PER_SLOT, last + 1))
    assert [t.attempt for t in tasks_of(store) if t.slot == 2] == [0]


# -- invariants over arbitrary task sets (property) ----------------------------------------------

STATES = [
    TS.TASK_STATE_PENDING,
    TS.TASK_STATE_ASSIGNED,
    TS.TASK_STATE_RUNNING,
    *sorted(
        {
            TS.TASK_STATE_COMPLETE,
            TS.TASK_STATE_SHUTDOWN,
            TS.TASK_STATE_FAILED,
            TS.TASK_STATE_REJECTED,
            TS.TASK_STATE_ORPHANED,
        }
    ),
]


@st.composite
def job_and_tasks(draw: st.DrawFn) -> tuple[pb.Job, list[pb.Task]]:
    j = job(
        replicas=draw(st.integers(0, 4)),
        type=draw(st.sampled_from(["service", "batch"])),
        condition=draw(st.sampled_from(["any", "on-failure", "none", ""])),
        delay=draw(st.sampled_from([0.0, 5.0])),
        max_attempts=draw(st.integers(0, 3)),
        spec_version=draw(st.integers(1, 2)),
        stopped=draw(st.booleans()),
    )
    tasks = []
    for i in range(draw(st.integers(0, 10))):
        state = draw(st.sampled_from(STATES))
        placed = (
            state != TS.TASK_STATE_PENDING
            and draw(st.booleans())
            or state
            in (
                TS.TASK_STATE_ASSIGNED,
                TS.TASK_STATE_RUNNING,
            )
        )
        tasks.append(
            task(
                f"t{i}",
                job_id="job1",
                slot=draw(st.integers(1, 5)),
                attempt=draw(st.integers(0, 4)),
                spec_version=draw(st.integers(1, 2)),
                node_id="n1" if placed else "",
                desired_state=draw(st.sampled_from([TS.TASK_STATE_RUNNING, TS.TASK_STATE_SHUTDOWN])),
                status=pb.TaskStatus(state=state, timestamp=T0 - draw(st.sampled_from([0.0, 3.0, 100.0]))),
            )
        )
    return j, tasks


@settings(max_examples=100, deadline=None)
@given(job_and_tasks())
def test_a_decision_always_commits_and_leaves_at_most_one_task_per_slot_wanting_to_run(
    case: tuple[pb.Job, list[pb.Task]],
) -> None:
    j, tasks = case
    store = store_with(j, *tasks)
    j, tasks = current_job(store), tasks_of(store)
    d = reconcile_job(j, tasks, T0)
    commit(store, d.actions)  # never conflicts with itself: one action per task
    if d.wake_at is not None:
        assert d.wake_at > T0
    after = tasks_of(store)
    wanted = 0 if j.stopped else j.spec.replicas
    per_slot: dict[int, int] = defaultdict(int)
    for t in wanting_to_run(after):
        per_slot[t.slot] += 1
    assert all(slot <= wanted for slot in per_slot), per_slot
    # Old tasks still wanting to run are stopped as soon as a slot has a newer one.
    assert all(n == 1 for n in per_slot.values()), per_slot
    # Every new task is for a wanted slot, at a higher attempt than its slot had.
    before_ids = {t.meta.id for t in tasks}
    for t in after:
        if t.meta.id not in before_ids:
            assert 1 <= t.slot <= wanted
            assert t.spec_version == j.spec_version
            assert all(t.attempt > o.attempt for o in tasks if o.slot == t.slot)


@settings(max_examples=75, deadline=None)
@given(job_and_tasks())
def test_repeated_passes_reach_a_fixed_point_with_bounded_history(case: tuple[pb.Job, list[pb.Task]]) -> None:
    j, tasks = case
    store = store_with(j, *tasks)
    converge(store, passes=5)
    j = current_job(store)
    wanted = 0 if j.stopped else j.spec.replicas
    by_slot: dict[int, list[pb.Task]] = defaultdict(list)
    for t in tasks_of(store):
        by_slot[t.slot].append(t)
    for slot, chain in by_slot.items():
        if slot > wanted:
            # Extra slots only keep tasks whose containers are still stopping.
            assert all(not is_terminal(t) and t.desired_state == TS.TASK_STATE_SHUTDOWN for t in chain)
            continue
        ended_history = [t for t in chain[:-1] if is_terminal(t)]
        assert len(ended_history) <= HISTORY_PER_SLOT
    for slot in range(1, wanted + 1):
        assert by_slot[slot], f"slot {slot} has no task"



def test_rolling_update_replaces_parallelism_slots_at_a_time() -> None:
    from dockyard.api.v1 import objects_pb2 as pb
    from dockyard.api.v1 import store_pb2 as spb
    from manager.reconcile import reconcile_job
    from manager.store import Store, clone, update

    store = Store()
    job = pb.Job(
        meta=pb.Meta(id="j", version=1), spec_version=1,
        spec=pb.JobSpec(name="web", type="service", replicas=4, task=pb.TaskSpec(image="a"),
                        update=pb.UpdatePolicy(parallelism=2)),
    )

    def apply(actions: list[spb.StoreAction]) -> None:
        assert store.apply(spb.StoreBatch(atomic=True, actions=actions, timestamp=1.0).SerializeToString()).ok

    def tasks() -> list[pb.Task]:
        return list(store.view().tasks.values())

    def run(ts: list[pb.Task]) -> None:
        for t in ts:
            t2 = clone(t)
            t2.node_id, t2.status.state = "n", pb.TASK_STATE_RUNNING
            apply([update(t2)])

    apply(reconcile_job(job, tasks(), 1.0).actions)
    run(tasks())
    job.spec.task.image, job.spec_version = "b", 2
    apply(reconcile_job(job, tasks(), 2.0).actions)
    new = [t for t in tasks() if t.spec_version == 2]
    assert len(new) == 2  # two slots at a time
    creates = [a for a in reconcile_job(job, tasks(), 3.0).actions if a.kind == spb.StoreAction.KIND_CREATE]
    assert creates == []  # nothing more while those two are not running
    run(new)
    apply(reconcile_job(job, tasks(), 4.0).actions)
    assert len([t for t in tasks() if t.spec_version == 2]) == 4
