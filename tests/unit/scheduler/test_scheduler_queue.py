"""Queue order: FIFO, priority, and weighted DRF across namespaces."""

from __future__ import annotations

from collections import Counter

import pytest

from scheduler import Device, DeviceRequest, NodeInfo, Resources, RunningTask, Scheduler, SchedulerConfig
from tests.unit.scheduler.builders import GiB, group, node, running


def test_fifo_places_the_oldest_group_first() -> None:
    groups = [group("new", priority=90, submitted_at=2.0), group("old", priority=10, submitted_at=1.0)]
    plan = Scheduler(SchedulerConfig(queue_order="fifo", preemption=False)).plan([node("a", cpu=1)], groups)
    assert [p.job_id for p in plan.placements] == ["old"]
    assert [u.job_id for u in plan.unplaced] == ["new"]


def test_priority_places_the_highest_first_then_oldest() -> None:
    groups = [
        group("low", priority=10, submitted_at=0.0),
        group("high-late", priority=90, submitted_at=5.0),
        group("high-early", priority=90, submitted_at=1.0),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="priority", preemption=False)).plan([node("a", cpu=2)], groups)
    assert [p.job_id for p in plan.placements] == ["high-early", "high-late"]
    assert [u.job_id for u in plan.unplaced] == ["low"]


def _drf_paper(nodes_count: int) -> tuple[Counter[str], dict[str, float]]:
    # Ghodsi et al., "Dominant Resource Fairness", NSDI 2011, section 4:
    # <9 CPU, 18 GB>; A's tasks <1 CPU, 4 GB>, B's tasks <3 CPU, 1 GB>.
    per_node_cpu = 9 / nodes_count
    per_node_memory = 18 * GiB // nodes_count
    nodes = [node(f"n{k}", cpu=per_node_cpu, memory=per_node_memory) for k in range(nodes_count)]
    groups = [
        group("a", count=20, cpu=1, memory=4 * GiB, namespace="A"),
        group("b", count=20, cpu=3, memory=1 * GiB, namespace="B"),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf")).plan(nodes, groups)
    placed = Counter(p.job_id for p in plan.placements)
    demand = {"a": (1, 4), "b": (3, 1)}
    shares = {ns: max(placed[ns] * demand[ns][0] / 9, placed[ns] * demand[ns][1] / 18) for ns in ("a", "b")}
    assert plan.preemptions == ()  # equal priority never preempts
    return placed, shares


def test_drf_reproduces_the_paper_example() -> None:
    placed, shares = _drf_paper(1)
    assert placed == {"a": 3, "b": 2}
    assert shares["a"] == pytest.approx(2 / 3)
    assert shares["b"] == pytest.approx(2 / 3)


def test_drf_interleaves_tasks_in_dominant_share_order() -> None:
    nodes = [node("n", cpu=9, memory=18 * GiB)]
    groups = [
        group("a", count=20, cpu=1, memory=4 * GiB, namespace="A"),
        group("b", count=20, cpu=3, memory=1 * GiB, namespace="B"),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf")).plan(nodes, groups)
    # Shares after each pick: A 2/9, B 1/3, A 4/9, B 2/3, A 2/3.
    assert [p.job_id for p in plan.placements] == ["a", "b", "a", "b", "a"]


def test_drf_counts_running_tasks_by_namespace() -> None:
    # B already runs two tasks (dominant share 2/3): A goes first until it catches up.
    nodes = [
        node(
            "n",
            cpu=18,
            memory=36 * GiB,
            tasks=[running(f"b{k}", "old-b", 50, 3, 1 * GiB, namespace="B") for k in range(2)],
        ),
    ]
    groups = [
        group("a", count=3, cpu=1, memory=4 * GiB, namespace="A"),
        group("b", count=1, cpu=3, memory=1 * GiB, namespace="B"),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf")).plan(nodes, groups)
    assert [p.job_id for p in plan.placements] == ["a", "a", "a", "b"]


def test_drf_weights_give_a_namespace_a_bigger_share() -> None:
    nodes = [node("n", cpu=12, memory=12 * GiB)]
    groups = [
        group("a", count=20, cpu=1, memory=0, namespace="A"),
        group("b", count=20, cpu=1, memory=0, namespace="B"),
    ]
    config = SchedulerConfig(queue_order="drf", namespace_weights={"A": 2.0}, preemption=False)
    placed = Counter(p.job_id for p in Scheduler(config).plan(nodes, groups).placements)
    assert placed == {"a": 8, "b": 4}


def test_drf_namespace_with_nothing_placeable_drops_out() -> None:
    nodes = [node("n", cpu=4, memory=4 * GiB)]
    groups = [
        group("huge", count=2, cpu=64, memory=0, namespace="A"),
        group("small", count=3, cpu=1, memory=0, namespace="B"),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf")).plan(nodes, groups)
    assert Counter(p.job_id for p in plan.placements) == {"small": 3}
    assert [(u.job_id, u.task_ids) for u in plan.unplaced] == [("huge", ("huge-0", "huge-1"))]
    assert plan.unplaced[0].explanation.exhausted == {"cpu": 1}


def test_drf_moves_on_to_the_next_group_of_a_namespace() -> None:
    nodes = [node("n", cpu=4, memory=4 * GiB)]
    groups = [
        group("first", count=1, cpu=64, memory=0, namespace="A", priority=90),
        group("second", count=2, cpu=1, memory=0, namespace="A", priority=10),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf")).plan(nodes, groups)
    assert [p.job_id for p in plan.placements] == ["second", "second"]


def test_resources_arithmetic() -> None:
    total = Resources(1.5, 10, 2) + Resources(0.5, 5, 1)
    assert total == Resources(2.0, 15, 3)
    assert total - Resources(2.0, 15, 3) == Resources(0.0, 0, 0)
    assert Resources(1, 10).fits_in(Resources(1, 10))
    assert Resources(1, 11).lacking(Resources(2, 10)) == ("memory",)


def _gpu_node(node_id: str, cpu: float, gpu_count: int) -> NodeInfo:
    return node(
        node_id, cpu=cpu, memory=64 * GiB, devices=[Device(f"{node_id}-gpu{k}", "gpu") for k in range(gpu_count)]
    )


def _drf_gpu_plan(
    gpu_request: DeviceRequest, running_tasks: tuple[RunningTask, ...] = (), g_cpu: float = 1
) -> Counter[str]:
    # 16 cores and 8 GPUs. G's tasks take g_cpu cores and GPUs, C's 1 core only.
    nodes = [_gpu_node("n0", 8, 4), _gpu_node("n1", 8, 4)]
    if running_tasks:  # they hold n0's GPUs
        held = [Device(f"n0-gpu{k}", "gpu", share_free=0.0) for k in range(4)]
        nodes[0] = node("n0", cpu=8, memory=64 * GiB, devices=held, tasks=running_tasks)
    groups = [
        group("g", count=16, cpu=1, memory=0, namespace="G", demand=Resources(g_cpu, 0, 0, (gpu_request,))),
        group("c", count=16, cpu=1, memory=0, namespace="C"),
    ]
    plan = Scheduler(SchedulerConfig(queue_order="drf", preemption=False)).plan(nodes, groups)
    return Counter(p.job_id for p in plan.placements)


def test_drf_counts_whole_gpus_in_the_dominant_share() -> None:
    # Each G task holds 1/8 of the GPUs and 1/16 of the cores; C's hold 1/16
    # of the cores. Counting only cpu/memory/disk, both look alike and split
    # the cores 8/8, giving G every GPU. DRF on GPUs equalises x/8 = y/16:
    # G 5 (share 5/8), C 10 (5/8), and the last core to C (name order wins
    # the tie), after which G's next task finds no core.
    assert _drf_gpu_plan(DeviceRequest("gpu", count=1)) == {"g": 5, "c": 11}


def test_drf_counts_fractional_gpu_shares() -> None:
    # G's tasks: half a core (1/32 of the cores) and half a GPU (1/16 of the
    # GPUs). Counting cores only, G would place two tasks per C task (G 16,
    # C 8). With the shares counted both hold 1/16 per task and alternate:
    # 10 pairs use 15 cores and C wins the tie for the 16th.
    assert _drf_gpu_plan(DeviceRequest("gpu", share=0.5), g_cpu=0.5) == {"g": 10, "c": 11}


def test_drf_counts_gpus_of_running_tasks() -> None:
    # G already runs a task holding 4 of the 8 GPUs on 1 core: share 1/2.
    # C places 8 tasks to catch up, wins the tie at 1/2 (name order), then
    # they alternate: C 9, G 1 (5/8), C 11, G 2 (6/8), C 13: 15 cores full.
    held = RunningTask("old", "g-old", 50, Resources(1, 0, 0, (DeviceRequest("gpu", count=4),)), namespace="G")
    assert _drf_gpu_plan(DeviceRequest("gpu", count=1), (held,)) == {"g": 2, "c": 13}
