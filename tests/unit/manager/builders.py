"""Small constructors for manager unit tests: jobs, tasks and nodes as protobuf
objects, and a helper that commits store actions to a real `Store` the way the
orchestrator does (one atomic, fenced batch)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from manager.reconcile import Decision, orphan_lost_tasks, reconcile_job
from manager.store import ApplyResult, Store, clone, create, update
from manager.taskstate import TS, is_terminal

T0 = 1_000.0  # a fixed "now" for tests: nothing in these modules reads a clock


def job_spec(
    name: str = "web",
    *,
    type: str = "service",
    replicas: int = 3,
    condition: str = "any",
    delay: float = 0.0,
    max_attempts: int = 0,
) -> pb.JobSpec:
    return pb.JobSpec(
        name=name,
        namespace="default",
        type=type,
        replicas=replicas,
        task=pb.TaskSpec(
            image="dockyard-test/busybox:1",
            command=["sleep", "3600"],
            restart=pb.RestartPolicy(condition=condition, delay=delay, max_attempts=max_attempts),
        ),
    )


def job(job_id: str = "job1", *, spec_version: int = 1, stopped: bool = False, **spec: object) -> pb.Job:
    return pb.Job(meta=pb.Meta(id=job_id), spec=job_spec(**spec), spec_version=spec_version, stopped=stopped)  # type: ignore[arg-type]


def node(node_id: str = "n1", *, down: bool = False) -> pb.Node:
    return pb.Node(
        meta=pb.Meta(id=node_id),
        name=f"name-{node_id}",
        state=pb.NODE_STATE_DOWN if down else pb.NODE_STATE_READY,
        capacity=pb.Resources(cpu=4, memory=8 << 30),
    )


def task(task_id: str, **fields: object) -> pb.Task:
    return pb.Task(meta=pb.Meta(id=task_id), **fields)  # type: ignore[arg-type]


def batch(actions: Iterable[spb.StoreAction], *, term: int = 0, atomic: bool = False, ts: float = T0) -> bytes:
    return spb.StoreBatch(term=term, atomic=atomic, actions=list(actions), timestamp=ts).SerializeToString()


def commit(store: Store, actions: Sequence[spb.StoreAction], now: float = T0) -> ApplyResult:
    """Apply actions as the orchestrator does (atomic, fenced) and require success."""
    result = store.apply(batch(actions, term=1, atomic=True, ts=now))
    assert result.ok, result.errors
    return result


def store_with(*objs: pb.Job | pb.Node | pb.Task) -> Store:
    store = Store()
    if objs:
        commit(store, [create(o) for o in objs])
    return store


def tasks_of(store: Store, job_id: str = "job1") -> list[pb.Task]:
    return sorted(store.view().tasks_of_job(job_id), key=lambda t: (t.slot, t.attempt, t.meta.created_index))


def current_job(store: Store, job_id: str = "job1") -> pb.Job:
    j = store.view().jobs[job_id]
    return j


def reconcile(store: Store, now: float = T0, job_id: str = "job1") -> Decision:
    return reconcile_job(current_job(store, job_id), tasks_of(store, job_id), now)


def reconcile_and_commit(store: Store, now: float = T0, job_id: str = "job1") -> Decision:
    d = reconcile(store, now, job_id)
    if d.actions:
        commit(store, d.actions, now)
    return d


def converge(store: Store, now: float = T0, job_id: str = "job1", passes: int = 10) -> None:
    """Run the orchestrator's passes until it has nothing more to do."""
    for _ in range(passes):
        if not reconcile_and_commit(store, now, job_id).actions:
            return
    raise AssertionError(f"reconcile did not reach a fixed point in {passes} passes")


def report(
    store: Store,
    t: pb.Task,
    state: int,
    *,
    node_id: str | None = None,
    exit_code: int | None = None,
    error: str = "",
    at: float = T0,
) -> pb.Task:
    """What the scheduler (node_id) and an agent (status) write for a task."""
    cur = clone(store.view().tasks[t.meta.id])
    if node_id is not None:
        cur.node_id = node_id
        cur.pending_reason = ""
    cur.status.state = state  # type: ignore[assignment]
    cur.status.timestamp = at
    cur.status.error = error
    if exit_code is not None:
        cur.status.exited = True
        cur.status.exit_code = exit_code
    commit(store, [update(cur)], at)
    return store.view().tasks[t.meta.id]


def run_all(store: Store, job_id: str = "job1", node_id: str = "n1", at: float = T0) -> list[pb.Task]:
    """Place and start every task of the job that wants to run and has not ended."""
    for t in tasks_of(store, job_id):
        if t.desired_state == TS.TASK_STATE_RUNNING and not is_terminal(t):
            report(store, t, TS.TASK_STATE_RUNNING, node_id=node_id, at=at)
    return tasks_of(store, job_id)


def orphan(store: Store, now: float = T0) -> None:
    view = store.view()
    actions = orphan_lost_tasks(view.tasks.values(), view.nodes, now)
    if actions:
        commit(store, actions, now)


def wanting_to_run(tasks: Iterable[pb.Task]) -> list[pb.Task]:
    return [t for t in tasks if t.desired_state == TS.TASK_STATE_RUNNING]
