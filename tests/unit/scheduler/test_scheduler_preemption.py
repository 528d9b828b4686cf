"""Preemption: evict the fewest, lowest-priority tasks, never equal or higher."""

from __future__ import annotations

from scheduler import Scheduler, SchedulerConfig
from tests.unit.scheduler.builders import GiB, group, node, nodes_of, running


def test_high_priority_task_evicts_a_low_priority_one() -> None:
    nodes = [node("a", cpu=4, memory=4 * GiB, tasks=[running("batch-0", "batch", 10, 1, 3 * GiB)])]
    plan = Scheduler().plan(nodes, [group("web", cpu=1, memory=2 * GiB, priority=90, job_name="web")])
    assert nodes_of(plan) == {"web-0": "a"}
    (preemption,) = plan.preemptions
    assert (preemption.task_id, preemption.node_id, preemption.job_id, preemption.for_task_id) == (
        "batch-0",
        "a",
        "batch",
        "web-0",
    )
    assert preemption.reason == "preempted by job web task web-0 (priority 90 > 10) for memory"


def test_never_evicts_equal_or_higher_priority() -> None:
    nodes = [
        node("a", cpu=2, memory=0, tasks=[running("same", "x", 50, 2, 0)]),
        node("b", cpu=2, memory=0, tasks=[running("higher", "y", 80, 2, 0)]),
    ]
    plan = Scheduler().plan(nodes, [group("j", cpu=1, memory=0, priority=50)])
    assert plan.placements == () and plan.preemptions == ()
    assert "no lower-priority tasks" in plan.unplaced[0].explanation.summary()


def test_preemption_off_by_config() -> None:
    nodes = [node("a", cpu=1, memory=0, tasks=[running("low", "x", 1, 1, 0)])]
    plan = Scheduler(SchedulerConfig(preemption=False)).plan(nodes, [group("j", cpu=1, memory=0, priority=99)])
    assert plan.placements == () and plan.preemptions == ()


def test_chooses_fewest_evictions_then_lowest_priority_sum() -> None:
    nodes = [
        # Two small victims needed here.
        node("a", cpu=4, memory=0, tasks=[running(f"a{k}", "x", 1, 1, 0) for k in range(4)]),
        # One victim suffices here, but its priority is higher.
        node("b", cpu=4, memory=0, tasks=[running("b0", "y", 30, 2, 0), running("b1", "y", 30, 2, 0)]),
        # One victim suffices and it is the cheapest.
        node("c", cpu=4, memory=0, tasks=[running("c0", "z", 20, 2, 0), running("c1", "z", 40, 2, 0)]),
    ]
    plan = Scheduler().plan(nodes, [group("j", cpu=2, memory=0, priority=90)])
    assert [(p.task_id, p.node_id) for p in plan.preemptions] == [("c0", "c")]
    assert nodes_of(plan) == {"j-0": "c"}


def test_evicts_several_when_one_is_not_enough() -> None:
    nodes = [node("a", cpu=4, memory=0, tasks=[running(f"t{k}", "x", 10 + k, 1, 0) for k in range(4)])]
    plan = Scheduler().plan(nodes, [group("j", cpu=3, memory=0, priority=90)])
    assert sorted(p.task_id for p in plan.preemptions) == ["t0", "t1", "t2"]


def test_does_not_preempt_when_a_node_is_free() -> None:
    nodes = [node("a", cpu=1, memory=0, tasks=[running("low", "x", 1, 1, 0)]), node("b", cpu=1, memory=0)]
    plan = Scheduler().plan(nodes, [group("j", cpu=1, memory=0, priority=99)])
    assert plan.preemptions == () and nodes_of(plan) == {"j-0": "b"}


def test_preemption_respects_constraints() -> None:
    nodes = [
        node("a", cpu=1, memory=0, labels={"zone": "east"}, tasks=[running("east-low", "x", 1, 1, 0)]),
        node("b", cpu=1, memory=0, labels={"zone": "west"}, tasks=[running("west-low", "x", 1, 1, 0)]),
    ]
    plan = Scheduler().plan(
        nodes, [group("j", cpu=1, memory=0, priority=99, constraints=("node.labels.zone == west",))]
    )
    assert [p.task_id for p in plan.preemptions] == ["west-low"]


def test_a_task_bigger_than_any_node_preempts_nothing() -> None:
    nodes = [node("a", cpu=2, memory=0, tasks=[running("low", "x", 1, 2, 0)])]
    plan = Scheduler().plan(nodes, [group("j", cpu=3, memory=0, priority=99)])
    assert plan.preemptions == ()


def test_does_not_evict_for_a_node_whose_devices_cannot_fit_the_task() -> None:
    # Found by the property test: one GPU cannot hold one whole GPU plus a
    # quarter of another, so evicting the memory hog would not help.
    from scheduler import Device, DeviceRequest, Resources

    hog = running("hog", "x", 0, 0, 1 * GiB)
    nodes = [node("a", cpu=1, memory=1 * GiB, tasks=[hog], devices=[Device("g0", "gpu")])]
    demand = Resources(0, 1 * GiB, 0, (DeviceRequest("gpu", count=1), DeviceRequest("gpu", share=0.25)))
    plan = Scheduler().plan(nodes, [group("j", demand=demand, priority=90)])
    assert plan.preemptions == () and plan.placements == ()
    assert plan.unplaced[0].explanation.exhausted == {"memory": 1}


def test_evicts_the_lower_priority_holder_of_a_host_port() -> None:
    nodes = [
        node("a", tasks=[running("old-web", "old", 10, 0.1, 0, host_ports=(80,))]),
        node("b", tasks=[running("vip-web", "vip", 95, 0.1, 0, host_ports=(80,))]),
    ]
    plan = Scheduler().plan(nodes, [group("web", cpu=0.1, memory=0, priority=90, host_ports=(80,))])
    assert nodes_of(plan) == {"web-0": "a"}
    (preemption,) = plan.preemptions
    assert preemption.task_id == "old-web"
    assert preemption.reason == "preempted by job web task web-0 (priority 90 > 10) for host port 80"


def test_a_port_held_outside_any_task_is_never_freed() -> None:
    nodes = [node("a", ports=[80], tasks=[running("low", "x", 1, 0.1, 0)])]
    plan = Scheduler().plan(nodes, [group("web", cpu=0.1, memory=0, priority=90, host_ports=(80,))])
    assert plan.preemptions == () and plan.placements == ()
    assert plan.unplaced[0].explanation.filtered == {"host port 80 in use": 1}


def test_port_and_resources_together() -> None:
    nodes = [
        node(
            "a",
            cpu=2,
            memory=0,
            tasks=[running("holder", "x", 10, 0.5, 0, host_ports=(80,)), running("big", "y", 20, 1.5, 0)],
        )
    ]
    plan = Scheduler().plan(nodes, [group("web", cpu=1, memory=0, priority=90, host_ports=(80,))])
    assert sorted(p.task_id for p in plan.preemptions) == ["big", "holder"]
    assert plan.preemptions[0].reason.endswith("for cpu and host port 80")
