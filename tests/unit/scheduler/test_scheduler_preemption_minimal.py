"""Preemption picks the smallest eviction set exactly (within its budget),
breaks ties deterministically, and frees the devices its victims hold."""

from __future__ import annotations

import random
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import Device, DeviceRequest, NodeInfo, Resources, RunningTask, Scheduler, SchedulerConfig
from scheduler.preemption import _greedy_set, smallest_set
from tests.unit.scheduler.builders import group, node, nodes_of, running


def cpu_need(cores: float) -> list[int]:
    return [round(cores * 1000), 0, 0]


def preempted(plan_preemptions: object) -> list[str]:
    return sorted(p.task_id for p in plan_preemptions)  # type: ignore[attr-defined]


# -- exactness ---------------------------------------------------------------


def test_two_victims_where_greedy_takes_three() -> None:
    tasks = [
        running("t1", "x", 1, 1, 0),
        running("t2", "x", 1, 1, 0),
        running("t3", "x", 2, 2, 0),
        running("t4", "x", 3, 2, 0),
    ]
    # Greedy (lowest priority first) takes t1, t2, t3 and none can be dropped.
    assert sorted(t.task_id for t in _greedy_set(tasks, cpu_need(4), None)) == ["t1", "t2", "t3"]
    assert sorted(t.task_id for t in smallest_set(tasks, cpu_need(4)) or ()) == ["t3", "t4"]
    plan = Scheduler().plan([node("a", cpu=6, memory=0, tasks=tasks)], [group("j", cpu=4, memory=0, priority=90)])
    assert preempted(plan.preemptions) == ["t3", "t4"]
    assert nodes_of(plan) == {"j-0": "a"}


def test_three_victims_where_greedy_takes_five() -> None:
    # Beyond pairs: the previous search tried only sets of 1 and 2 exactly.
    small = [running(f"s{k}", "x", 1, 1, 0) for k in range(4)]
    big = [running(f"b{k}", "y", 2, 2, 0) for k in range(3)]
    assert len(_greedy_set(small + big, cpu_need(6), None)) == 5
    plan = Scheduler().plan(
        [node("a", cpu=10, memory=0, tasks=small + big)], [group("j", cpu=6, memory=0, priority=90)]
    )
    assert preempted(plan.preemptions) == ["b0", "b1", "b2"]


def test_needs_every_dimension_covered() -> None:
    GiB = 1 << 30
    tasks = [
        running("cpu-heavy", "x", 1, 3, 0),
        running("mem-heavy", "x", 1, 0, 3 * GiB),
        running("both", "x", 5, 2, 2 * GiB),
    ]
    # One task covers both dimensions; the two cheap ones would need a pair.
    found = smallest_set(tasks, [2000, 2 * GiB, 0])
    assert [t.task_id for t in found or ()] == ["both"]


def brute_force(tasks: list[RunningTask], need: list[int]) -> tuple[int, int, tuple[str, ...]] | None:
    best = None
    for size in range(1, len(tasks) + 1):
        for combo in combinations(tasks, size):
            freed = [sum(t.demand.milli_vector()[d] for t in combo) for d in range(3)]
            if all(f >= n for f, n in zip(freed, need)):
                cost = (size, sum(t.priority for t in combo), tuple(sorted(t.task_id for t in combo)))
                best = cost if best is None or cost < best else best
        if best is not None:
            return best
    return None


@st.composite
def candidate_sets(draw: st.DrawFn) -> tuple[list[RunningTask], list[int]]:
    count = draw(st.integers(0, 8))
    tasks = [
        RunningTask(
            f"t{k}",
            "x",
            draw(st.integers(0, 5)),
            Resources(draw(st.integers(0, 4)) * 0.5, draw(st.integers(0, 4)), draw(st.integers(0, 2))),
        )
        for k in range(count)
    ]
    need = [draw(st.integers(0, 6)) * 500, draw(st.integers(0, 8)), draw(st.integers(0, 3))]
    return tasks, need


@settings(max_examples=300, deadline=None)
@given(case=candidate_sets())
def test_search_matches_brute_force(case: tuple[list[RunningTask], list[int]]) -> None:
    tasks, need = case
    expected = brute_force(tasks, need) if any(need) else None
    found = smallest_set(tasks, need) if any(need) else None
    got = None if found is None else (len(found), sum(t.priority for t in found), tuple(t.task_id for t in found))
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(case=candidate_sets(), budget=st.integers(0, 30))
def test_past_the_budget_the_set_still_works(case: tuple[list[RunningTask], list[int]], budget: int) -> None:
    tasks, need = case
    if not any(need):
        return
    expected = brute_force(tasks, need)
    found = smallest_set(tasks, need, budget=budget)
    assert (found is None) == (expected is None)
    if found is not None and expected is not None:
        freed = [sum(t.demand.milli_vector()[d] for t in found) for d in range(3)]
        assert all(f >= n for f, n in zip(freed, need))
        assert len(found) >= expected[0]


def test_budget_is_a_config_tunable() -> None:
    small = [running(f"s{k}", "x", 1, 1, 0) for k in range(4)]
    big = [running(f"b{k}", "y", 2, 2, 0) for k in range(3)]
    nodes = [node("a", cpu=10, memory=0, tasks=small + big)]
    # With no budget the node falls back to greedy-then-prune: still a valid
    # eviction, but not the smallest one.
    plan = Scheduler(SchedulerConfig(preemption_search_budget=0)).plan(
        nodes, [group("j", cpu=6, memory=0, priority=90)]
    )
    assert len(plan.preemptions) == 5 and nodes_of(plan) == {"j-0": "a"}


# -- tie-breaking ------------------------------------------------------------


def test_equal_cost_sets_go_to_the_smallest_ids_whatever_the_input_order() -> None:
    cases = [
        # Every pair costs 2: the smallest ids win.
        ([running(name, "x", 1, 1, 0) for name in ("c", "e", "a", "d", "b")], ("a", "b")),
        # {b, d} and {c, d} both cost 3 (d is the cheapest, then b and c).
        (
            [
                running("d", "x", 1, 1, 0),
                running("a", "x", 3, 1, 0),
                running("c", "x", 2, 1, 0),
                running("b", "x", 2, 1, 0),
            ],
            ("b", "d"),
        ),
    ]
    for tasks, expected in cases:
        results = set()
        for seed in range(6):
            shuffled = list(tasks)
            random.Random(seed).shuffle(shuffled)
            nodes = [node("n", cpu=len(tasks), memory=0, tasks=shuffled)]
            plan = Scheduler().plan(nodes, [group("j", cpu=2, memory=0, priority=90)])
            results.add(tuple(preempted(plan.preemptions)))
        assert results == {expected}


def test_equal_cost_on_two_nodes_goes_to_the_first_node() -> None:
    nodes = [
        node("n2", cpu=2, memory=0, tasks=[running("a", "x", 5, 2, 0)]),
        node("n1", cpu=2, memory=0, tasks=[running("z", "x", 5, 2, 0)]),
    ]
    plan = Scheduler().plan(nodes, [group("j", cpu=2, memory=0, priority=90)])
    assert [(p.task_id, p.node_id) for p in plan.preemptions] == [("z", "n1")]


# -- devices -----------------------------------------------------------------


def gpu_task(task_id: str, priority: int, device: str, share: float = 1.0, cpu: float = 1) -> RunningTask:
    return RunningTask(
        task_id,
        "train-" + task_id,
        priority,
        Resources(cpu, 0, 0, (DeviceRequest("gpu", count=1) if share == 1.0 else DeviceRequest("gpu", share=share),)),
        device_ids=(device,),
        device_shares=(share,),
    )


def gpu_node(node_id: str, tasks: list[RunningTask], free: dict[str, float], cpu: float = 8) -> NodeInfo:
    return node(node_id, cpu=cpu, memory=0, tasks=tasks, devices=[Device(d, "gpu", f) for d, f in sorted(free.items())])


def gpu_group(job_id: str, priority: int, count: int = 0, share: float = 0.0) -> object:
    request = DeviceRequest("gpu", count=count) if count else DeviceRequest("gpu", share=share)
    return group(job_id, demand=Resources(1, 0, 0, (request,)), priority=priority, job_name=job_id)


def test_gpu_task_evicts_a_lower_priority_gpu_task_and_gets_its_device() -> None:
    nodes = [gpu_node("a", [gpu_task("low", 10, "GPU-1")], {"GPU-0": 0.0, "GPU-1": 0.0})]
    # GPU-0 is held by something that is not a task of the snapshot.
    plan = Scheduler().plan(nodes, [gpu_group("urgent", 90, count=1)])  # type: ignore[list-item]
    (preemption,) = plan.preemptions
    assert preemption.task_id == "low"
    assert preemption.reason == "preempted by job urgent task urgent-0 (priority 90 > 10) for gpu"
    (placement,) = plan.placements
    assert (placement.node_id, placement.device_ids, placement.device_shares) == ("a", ("GPU-1",), (1.0,))


def test_fractional_gpu_evicts_the_cheapest_holder_that_frees_enough() -> None:
    tasks = [gpu_task("p10", 10, "GPU-0", 0.4), gpu_task("p20", 20, "GPU-0", 0.4), gpu_task("p5", 5, "GPU-0", 0.1)]
    nodes = [gpu_node("a", tasks, {"GPU-0": 0.1})]
    plan = Scheduler().plan(nodes, [gpu_group("infer", 90, share=0.5)])  # type: ignore[list-item]
    # p5 alone frees 0.2 of 0.5; p10 alone frees 0.5: one victim suffices.
    assert preempted(plan.preemptions) == ["p10"]
    assert plan.placements[0].device_ids == ("GPU-0",)
    assert plan.placements[0].device_shares == (0.5,)


def test_gpu_and_cpu_shortfall_are_covered_together() -> None:
    tasks = [
        RunningTask("cpu-hog", "x", 1, Resources(6, 0, 0)),
        gpu_task("gpu-user", 20, "GPU-0", cpu=1),
    ]
    nodes = [gpu_node("a", tasks, {"GPU-0": 0.0}, cpu=8)]
    # Needs 2 cores (1 free) and the GPU: the GPU holder frees both.
    plan = Scheduler().plan(
        nodes, [group("j", demand=Resources(2, 0, 0, (DeviceRequest("gpu", count=1),)), priority=90)]
    )
    assert preempted(plan.preemptions) == ["gpu-user"]
    assert plan.placements[0].device_ids == ("GPU-0",)


def test_never_evicts_an_equal_or_higher_priority_gpu_task() -> None:
    for holder_priority in (50, 80):
        nodes = [gpu_node("a", [gpu_task("holder", holder_priority, "GPU-0")], {"GPU-0": 0.0})]
        plan = Scheduler().plan(nodes, [gpu_group("j", 50, count=1)])  # type: ignore[list-item]
        assert plan.placements == () and plan.preemptions == ()
        assert "no lower-priority tasks" in plan.unplaced[0].explanation.summary()


def test_a_task_that_holds_no_device_is_not_evicted_for_one() -> None:
    tasks = [RunningTask("cpu-only", "x", 1, Resources(1, 0, 0)), gpu_task("holder", 80, "GPU-0")]
    nodes = [gpu_node("a", tasks, {"GPU-0": 0.0})]
    plan = Scheduler().plan(nodes, [gpu_group("j", 50, count=1)])  # type: ignore[list-item]
    assert plan.placements == () and plan.preemptions == ()


@st.composite
def gpu_cluster(draw: st.DrawFn) -> list[NodeInfo]:
    nodes = []
    for n in range(draw(st.integers(1, 3))):
        devices = [f"GPU-{k}" for k in range(draw(st.integers(1, 3)))]
        free = {d: 1000 for d in devices}
        tasks = []
        for k in range(draw(st.integers(0, 5))):
            device = draw(st.sampled_from(devices))
            milli = draw(st.sampled_from([250, 500, 1000]))
            if free[device] < milli:
                continue
            free[device] -= milli
            tasks.append(gpu_task(f"r{n}-{k}", draw(st.integers(0, 100)), device, milli / 1000, cpu=0.5))
        nodes.append(gpu_node(f"n{n}", tasks, {d: f / 1000 for d, f in free.items()}, cpu=4))
    return nodes


@settings(max_examples=200, deadline=None)
@given(
    nodes=gpu_cluster(), priority=st.integers(0, 100), count=st.integers(0, 2), share=st.sampled_from([0.25, 0.5, 1.0])
)
def test_gpu_preemption_never_overcommits_a_device(
    nodes: list[NodeInfo], priority: int, count: int, share: float
) -> None:
    request = DeviceRequest("gpu", count=count) if count else DeviceRequest("gpu", share=share)
    groups = [group("j", count=3, demand=Resources(0.5, 0, 0, (request,)), priority=priority)]
    plan = Scheduler().plan(nodes, groups)
    by_id = {t.task_id: (n.node_id, t) for n in nodes for t in n.tasks}
    free = {(n.node_id, d.id): round(d.share_free * 1000) for n in nodes for d in n.devices}
    for pre in plan.preemptions:
        node_id, victim = by_id[pre.task_id]
        assert victim.priority < priority
        for device, victim_share in zip(victim.device_ids, victim.device_shares):
            free[(node_id, device)] += round(victim_share * 1000)
    for placement in plan.placements:
        assert len(set(placement.device_ids)) == len(placement.device_ids)
        for device, placed_share in zip(placement.device_ids, placement.device_shares):
            free[(placement.node_id, device)] -= round(placed_share * 1000)
    assert all(0 <= f <= 1000 for f in free.values())
