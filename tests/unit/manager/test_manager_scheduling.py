"""The scheduling loop's translation between the store and the scheduler:
devices (what is free, what a placement records), preemption notes, and
tasks already shutting down. Real Store, real Scheduler, no Raft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scheduler as sch
from dockyard.api.v1 import objects_pb2 as pb
from manager.config import ManagerConfig
from manager.scheduling import SchedulingLoop, node_infos, pending_groups
from manager.settings import seed_settings
from manager.store import Store, clone, create, update
from manager.taskstate import TS
from tests.unit.manager.builders import T0, commit, store_with, task


def gpu_node(node_id: str = "n1", ids: tuple[str, ...] = ("0", "1"), cpu: float = 4, memory: int = 8 << 30) -> pb.Node:
    return pb.Node(
        meta=pb.Meta(id=node_id),
        name=f"name-{node_id}",
        state=pb.NODE_STATE_READY,
        capacity=pb.Resources(cpu=cpu, memory=memory),
        devices=[pb.Device(id=i, kind="gpu") for i in ids],
    )


def spec(cpu: float = 0.1, memory: int = 1 << 20, **device: Any) -> pb.TaskSpec:
    resources = pb.Resources(cpu=cpu, memory=memory)
    if device:
        resources.devices.append(pb.DeviceRequest(kind="gpu", **device))
    return pb.TaskSpec(image="x", resources=resources)


def pending(task_id: str, job: str = "train", priority: int = 50, **device: Any) -> pb.Task:
    return task(
        task_id, job_id=job, job_name=job, namespace="default", slot=int(task_id[-1]), spec_version=1,
        spec=spec(**device), priority=priority, desired_state=TS.TASK_STATE_RUNNING,
        status=pb.TaskStatus(state=TS.TASK_STATE_PENDING),
    )


def running(task_id: str, node_id: str, devices: list[pb.TaskDevice], **fields: Any) -> pb.Task:
    t = pending(task_id, **fields)
    t.node_id = node_id
    t.status.state = TS.TASK_STATE_RUNNING
    t.devices.extend(devices)
    return t


def plan_and_commit(store: Store) -> sch.Plan:
    """One pass of the scheduling loop (default settings), committed directly to the store."""
    seed = seed_settings(ManagerConfig(data_dir=Path("/nonexistent")))
    loop = SchedulingLoop(store, proposer=None, term=1, seed=seed, debounce=0)  # type: ignore[arg-type]
    view = store.view()
    groups, _ = pending_groups(view.tasks.values(), T0)
    plan = loop.scheduler.plan(node_infos(view), groups)
    actions = loop._plan_actions(view, plan, T0)
    if actions:
        commit(store, actions)
    return plan


def test_node_devices_carry_what_running_tasks_leave_free() -> None:
    store = store_with(
        gpu_node(ids=("0", "1", "2")),
        running("a1", "n1", [pb.TaskDevice(kind="gpu", id="0", share=1.0)]),
        running("b1", "n1", [pb.TaskDevice(kind="gpu", id="1", share=0.3)], job="other"),
        running("c1", "n1", [pb.TaskDevice(kind="gpu", id="1", share=0.2)], job="third"),
    )
    done = running("d1", "n1", [pb.TaskDevice(kind="gpu", id="2", share=1.0)], job="done")
    done.status.state = TS.TASK_STATE_COMPLETE  # ended: holds nothing
    commit(store, [create(done)])
    (info,) = node_infos(store.view())
    free = {d.id: round(d.share_free, 6) for d in info.devices}
    assert free == {"gpu/0": 0.0, "gpu/1": 0.5, "gpu/2": 1.0}


def test_placement_records_distinct_device_ids_on_the_task() -> None:
    store = store_with(gpu_node(ids=("0", "1", "2", "3")), pending("t1", count=2), pending("t2", job="infer", share=0.3))
    plan = plan_and_commit(store)
    assert len(plan.placements) == 2
    tasks = store.view().tasks
    whole = [(d.kind, d.id, d.share) for d in tasks["t1"].devices]
    assert len(whole) == 2 and len({d[1] for d in whole}) == 2
    assert all(kind == "gpu" and share == 1.0 for kind, _, share in whole)
    (shared,) = tasks["t2"].devices
    assert shared.kind == "gpu" and shared.share == 0.3 and shared.id not in {d[1] for d in whole}


def test_one_gpu_is_never_given_twice() -> None:
    store = store_with(gpu_node(ids=("0",)), pending("t1", count=1), pending("t2", count=1))
    plan_and_commit(store)
    tasks = store.view().tasks
    placed = [t for t in tasks.values() if t.node_id]
    waiting = [t for t in tasks.values() if not t.node_id]
    assert len(placed) == 1 and len(waiting) == 1
    assert "gpu" in waiting[0].pending_reason
    # A later pass still sees the device as taken.
    plan = plan_and_commit(store)
    assert not plan.placements


def test_preemption_says_what_was_evicted_on_both_sides() -> None:
    store = store_with(
        gpu_node(cpu=1, ids=()),
        running("low1", "n1", [], job="low", priority=10),
    )
    low = clone(store.view().tasks["low1"])
    low.spec.resources.cpu = 1.0
    hi = pending("hi1", job="urgent", priority=90)
    hi.spec.resources.cpu = 1.0
    commit(store, [update(low), create(hi)])
    plan_and_commit(store)
    tasks = store.view().tasks
    assert tasks["low1"].desired_state == TS.TASK_STATE_SHUTDOWN
    assert "preempted by job urgent" in tasks["low1"].status.message
    assert tasks["hi1"].node_id == "n1"
    assert "preempting 1 task of job low (priority 10)" in tasks["hi1"].status.message


def test_a_task_already_shutting_down_is_not_preempted_again() -> None:
    """Its resources are still held until the agent reports it ended; evicting
    it a second time would free nothing and over-commit the node."""
    victim = running("low1", "n1", [], job="low", priority=10)
    victim.spec.resources.cpu = 1.0
    victim.desired_state = TS.TASK_STATE_SHUTDOWN
    hi = pending("hi1", job="urgent", priority=90)
    hi.spec.resources.cpu = 1.0
    store = store_with(gpu_node(cpu=1, ids=()), victim, hi)
    plan = plan_and_commit(store)
    assert not plan.placements and not plan.preemptions
    assert store.view().tasks["hi1"].pending_reason
