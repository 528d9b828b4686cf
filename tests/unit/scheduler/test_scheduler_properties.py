"""Invariants of every plan, on random snapshots and queues (hypothesis).

The checks recompute everything from the inputs with plain Python (scalar
constraint matching, integer sums), independent of the scheduler's arrays.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import (
    Device,
    DeviceRequest,
    NodeInfo,
    Plan,
    Resources,
    RunningTask,
    Scheduler,
    SchedulerConfig,
    TaskGroup,
    parse_constraint,
)
from scheduler.resources import to_milli

MiB = 1 << 20
JOBS = ["j0", "j1", "j2", "j3", "j4"]
PORTS = [80, 443, 8080]
RULES = [
    "node.labels.zone == a",
    "node.labels.zone != b",
    "node.labels.zone in (a, c)",
    "node.labels.zone not in (a)",
    "node.labels.ssd exists",
    "node.name != node-1",
]

cpus = st.integers(0, 8).map(lambda k: k * 0.25)
memories = st.integers(0, 8).map(lambda k: k * 256 * MiB)


@st.composite
def running_tasks(draw: st.DrawFn, node_index: int) -> tuple[RunningTask, ...]:
    count = draw(st.integers(0, 3))
    return tuple(
        RunningTask(
            task_id=f"r{node_index}-{k}",
            job_id=draw(st.sampled_from(JOBS)),
            priority=draw(st.integers(0, 100)),
            demand=Resources(draw(cpus), draw(memories), draw(st.integers(0, 3))),
            host_ports=tuple(draw(st.sets(st.sampled_from(PORTS), max_size=1))),
            namespace=draw(st.sampled_from(["A", "B"])),
        )
        for k in range(count)
    )


@st.composite
def snapshot_nodes(draw: st.DrawFn) -> list[NodeInfo]:
    nodes = []
    for i in range(draw(st.integers(0, 6))):
        tasks = draw(running_tasks(i))
        used = Resources()
        for task in tasks:
            used = used + task.demand
        spare = Resources(draw(cpus), draw(memories), draw(st.integers(0, 4)))
        labels = {}
        zone = draw(st.sampled_from(["a", "b", "c", None]))
        if zone:
            labels["zone"] = zone
        if draw(st.booleans()):
            labels["ssd"] = "yes"
        task_ports = {p for t in tasks for p in t.host_ports}
        extra_ports = draw(st.sets(st.sampled_from(PORTS), max_size=1))
        devices = tuple(
            Device(f"g{i}-{k}", "gpu", draw(st.sampled_from([0.0, 0.25, 0.5, 1.0])))
            for k in range(draw(st.integers(0, 3)))
        )
        nodes.append(
            NodeInfo(
                node_id=f"id-{i}",
                name=f"node-{i}",
                capacity=Resources(used.cpu + spare.cpu, used.memory + spare.memory, used.disk + spare.disk),
                allocated=Resources(used.cpu, used.memory, used.disk),
                labels=labels,
                ready=draw(st.booleans()) or draw(st.booleans()),
                drained=not draw(st.integers(0, 4)),
                used_ports=frozenset(task_ports | extra_ports),
                tasks=tasks,
                devices=devices,
            )
        )
    return nodes


@st.composite
def task_groups(draw: st.DrawFn) -> list[TaskGroup]:
    groups = []
    for g, job in enumerate(draw(st.lists(st.sampled_from(JOBS), unique=True, max_size=5))):
        devices: tuple[DeviceRequest, ...] = ()
        if draw(st.integers(0, 3)) == 0:
            devices = tuple(
                draw(
                    st.lists(
                        st.one_of(
                            st.integers(1, 2).map(lambda c: DeviceRequest("gpu", count=c)),
                            st.sampled_from([0.25, 0.5, 0.75]).map(lambda s: DeviceRequest("gpu", share=s)),
                        ),
                        min_size=1,
                        max_size=2,
                    )
                )
            )
        groups.append(
            TaskGroup(
                job_id=job,
                job_name=job,
                task_ids=tuple(f"{job}-t{k}" for k in range(draw(st.integers(1, 6)))),
                demand=Resources(draw(cpus), draw(memories), draw(st.integers(0, 2)), devices),
                namespace=draw(st.sampled_from(["A", "B"])),
                priority=draw(st.integers(0, 100)),
                constraints=tuple(draw(st.lists(st.sampled_from(RULES), max_size=2, unique=True))),
                host_ports=tuple(draw(st.sets(st.sampled_from(PORTS + [0]), max_size=2))),
                max_per_node=draw(st.integers(0, 3)),
                spread=draw(st.sampled_from(["", "node.labels.zone"])),
                policy=draw(st.sampled_from(["", "binpack", "spread", "align"])),
                submitted_at=float(g),
            )
        )
    return groups


configs = st.builds(
    SchedulerConfig,
    policy=st.sampled_from(["binpack", "spread", "align"]),
    queue_order=st.sampled_from(["fifo", "priority", "drf"]),
    seed=st.one_of(st.none(), st.integers(0, 3)),
    preemption=st.booleans(),
)


def check_plan(nodes: list[NodeInfo], groups: list[TaskGroup], plan: Plan) -> None:
    by_id = {n.node_id: n for n in nodes}
    group_of = {t: g for g in groups for t in g.task_ids}
    running_of = {t.task_id: (n, t) for n in nodes for t in n.tasks}

    # Every task is either placed once or unplaced once.
    placed_ids = [p.task_id for p in plan.placements]
    unplaced_ids = [t for u in plan.unplaced for t in u.task_ids]
    assert Counter(placed_ids + unplaced_ids) == Counter(list(group_of))

    # Preemptions evict running tasks of strictly lower priority, once each.
    evicted = set()
    for preemption in plan.preemptions:
        node, task = running_of[preemption.task_id]
        assert node.node_id == preemption.node_id
        assert task.priority < group_of[preemption.for_task_id].priority
        assert preemption.task_id not in evicted
        evicted.add(preemption.task_id)

    usage = {n.node_id: list(n.allocated.milli_vector()) for n in nodes}
    ports = {n.node_id: set(n.used_ports) - {p for t in n.tasks for p in t.host_ports} for n in nodes}
    jobs: dict[str, Counter[str]] = {n.node_id: Counter() for n in nodes}
    for n in nodes:
        for task in n.tasks:
            if task.task_id in evicted:
                usage[n.node_id] = [u - d for u, d in zip(usage[n.node_id], task.demand.milli_vector())]
            else:
                ports[n.node_id].update(task.host_ports)
                jobs[n.node_id][task.job_id] += 1
    device_left = {d.id: to_milli(d.share_free) for n in nodes for d in n.devices}
    for placement in plan.placements:
        node = by_id[placement.node_id]
        group = group_of[placement.task_id]
        assert node.ready and not node.drained
        for rule in group.constraints:
            assert parse_constraint(rule).matches(node.node_id, node.name, node.labels), (rule, node)
        usage[node.node_id] = [u + d for u, d in zip(usage[node.node_id], group.demand.milli_vector())]
        for port in group.scheduled_ports:
            assert port not in ports[node.node_id], f"port {port} double-booked on {node.node_id}"
            ports[node.node_id].add(port)
        jobs[node.node_id][group.job_id] += 1
        if group.max_per_node:
            assert jobs[node.node_id][group.job_id] <= max(
                group.max_per_node, sum(1 for t in node.tasks if t.job_id == group.job_id)
            )
        # Devices: whole requests get distinct, fully free devices; shares
        # never exceed what is left of a device.
        node_devices = {d.id for d in node.devices}
        expected = sum(r.count for r in group.demand.devices) + sum(1 for r in group.demand.devices if r.share)
        assert len(placement.device_ids) == expected
        for device_id, share in zip(placement.device_ids, placement.device_shares):
            assert device_id in node_devices
            device_left[device_id] -= to_milli(share)
            assert device_left[device_id] >= 0, f"device {device_id} over-committed"
    for node in nodes:
        assert all(u <= c for u, c in zip(usage[node.node_id], node.capacity.milli_vector())), node.node_id


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=snapshot_nodes(), groups=task_groups(), config=configs)
def test_plans_respect_every_invariant(nodes: list[NodeInfo], groups: list[TaskGroup], config: SchedulerConfig) -> None:
    plan = Scheduler(config).plan(nodes, groups)
    check_plan(nodes, groups, plan)
    # Same inputs, same plan.
    assert Scheduler(config).plan(nodes, groups) == plan


@settings(max_examples=100, deadline=None)
@given(nodes=snapshot_nodes(), groups=task_groups(), config=configs)
def test_unplaced_explanations_add_up(nodes: list[NodeInfo], groups: list[TaskGroup], config: SchedulerConfig) -> None:
    plan = Scheduler(config).plan(nodes, groups)
    for unplaced in plan.unplaced:
        explanation = unplaced.explanation
        assert explanation.nodes_evaluated == len(nodes)
        assert explanation.feasible == 0
        # Filtered nodes plus nodes short of something cover every node.
        short = explanation.nodes_evaluated - sum(explanation.filtered.values())
        assert short == 0 or explanation.exhausted, explanation
        assert f"0/{len(nodes)} nodes" in explanation.summary()


def test_device_and_constraint_checks_can_fail() -> None:
    # The invariant checker is itself tested: a plan that over-commits a
    # device or breaks a constraint must be rejected.
    import pytest

    from scheduler import Placement

    node = NodeInfo("id-0", "node-0", Resources(1, 0), Resources(), labels={"zone": "b"}, devices=(Device("g", "gpu"),))
    group = TaskGroup("j0", "j0", ("t0", "t1"), Resources(0, 0, 0, (DeviceRequest("gpu", count=1),)), constraints=())
    both = Plan((Placement("t0", "id-0", "j0", ("g",), (1.0,)), Placement("t1", "id-0", "j0", ("g",), (1.0,))), (), ())
    with pytest.raises(AssertionError, match="over-committed"):
        check_plan([node], [group], both)
    constrained = TaskGroup("j1", "j1", ("u0",), Resources(), constraints=("node.labels.zone == a",))
    with pytest.raises(AssertionError):
        check_plan([node], [constrained], Plan((Placement("u0", "id-0", "j1"),), (), ()))


@settings(max_examples=150, deadline=None)
@given(nodes=snapshot_nodes(), groups=task_groups(), config=configs)
def test_binpack_shortcut_changes_nothing(
    nodes: list[NodeInfo], groups: list[TaskGroup], config: SchedulerConfig
) -> None:
    # GroupPass skips the argmax while binpack's last node still fits; the
    # plan must equal the one made with a full search for every task.
    from unittest.mock import patch

    from scheduler.grouppass import GroupPass

    with_shortcut = Scheduler(config).plan(nodes, groups)
    with patch.object(GroupPass, "placed", lambda self, i: None):
        without = Scheduler(config).plan(nodes, groups)
    assert with_shortcut == without
