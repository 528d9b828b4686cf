"""Scoring policies, label spreading, tie-breaks and determinism."""

from __future__ import annotations

from collections import Counter

from scheduler import NodeInfo, Resources, Scheduler, SchedulerConfig
from tests.unit.scheduler.builders import GiB, group, node, nodes_of


def test_binpack_fills_the_fullest_node_first() -> None:
    nodes = [node("a", used=Resources(1, 0)), node("b", used=Resources(2, 0)), node("c")]
    plan = Scheduler(SchedulerConfig(policy="binpack")).plan(nodes, [group("j", count=3, cpu=1, memory=0)])
    # b has 2 free cores: two tasks there, then a (fuller than c).
    assert list(nodes_of(plan).values()) == ["b", "b", "a"]


def test_spread_uses_the_emptiest_node() -> None:
    nodes = [node("a", used=Resources(1, 0)), node("b", used=Resources(2, 0)), node("c")]
    plan = Scheduler(SchedulerConfig(policy="spread")).plan(nodes, [group("j", count=3, cpu=1, memory=0)])
    assert list(nodes_of(plan).values()) == ["c", "a", "c"]


def test_group_policy_overrides_the_default() -> None:
    nodes = [node("a", used=Resources(2, 0)), node("b")]
    plan = Scheduler(SchedulerConfig(policy="binpack")).plan(nodes, [group("j", cpu=1, memory=0, policy="spread")])
    assert nodes_of(plan) == {"j-0": "b"}


def test_align_prefers_free_space_shaped_like_the_task() -> None:
    # A memory-heavy task: node "cpu-left" has mostly CPU free, "mem-left"
    # mostly memory. Binpack or spread would not care about the shape.
    nodes = [
        node("cpu-left", cpu=8, memory=8 * GiB, used=Resources(1, 7 * GiB)),
        node("mem-left", cpu=8, memory=8 * GiB, used=Resources(7, 1 * GiB)),
    ]
    plan = Scheduler(SchedulerConfig(policy="align")).plan(nodes, [group("j", cpu=0.5, memory=4 * GiB)])
    assert nodes_of(plan) == {"j-0": "mem-left"}
    plan = Scheduler(SchedulerConfig(policy="align")).plan(nodes, [group("k", cpu=4, memory=256 << 20)])
    assert nodes_of(plan) == {"k-0": "cpu-left"}


def test_align_packs_instead_of_spreading_over_empty_nodes() -> None:
    # Pure alignment rated an empty node (free space of the node's shape)
    # above a used node whose free space is slightly off the task's shape,
    # and spread the group over the empty nodes. Align must fill n0 first.
    nodes = [node("n0", cpu=4, memory=8 * GiB, used=Resources(1, 0))]
    nodes += [node(f"n{k}", cpu=4, memory=8 * GiB) for k in range(1, 4)]
    plan = Scheduler(SchedulerConfig(policy="align")).plan(nodes, [group("j", count=3, cpu=1, memory=2 * GiB)])
    assert list(nodes_of(plan).values()) == ["n0", "n0", "n0"]


def test_align_puts_a_task_where_its_complement_is_free() -> None:
    # Two equally allocated nodes (binpack ties): one has CPU left, the other
    # memory. A memory-heavy task goes where memory is left, so the other
    # node keeps its CPU for a CPU-heavy task instead of stranding it.
    nodes = [
        node("cpu-left", cpu=8, memory=32 * GiB, used=Resources(2, 24 * GiB)),
        node("mem-left", cpu=8, memory=32 * GiB, used=Resources(6, 8 * GiB)),
    ]
    scheduler = Scheduler(SchedulerConfig(policy="align"))
    assert nodes_of(scheduler.plan(nodes, [group("m", cpu=1, memory=8 * GiB)])) == {"m-0": "mem-left"}
    assert nodes_of(scheduler.plan(nodes, [group("c", cpu=2, memory=2 * GiB)])) == {"c-0": "cpu-left"}
    # binpack cannot tell them apart for the memory-heavy task: the tie goes
    # to the first node by id.
    assert nodes_of(Scheduler().plan(nodes, [group("m", cpu=1, memory=8 * GiB)])) == {"m-0": "cpu-left"}


def test_spread_over_a_label_balances_values() -> None:
    nodes = [
        node("e1", labels={"zone": "east"}),
        node("e2", labels={"zone": "east"}),
        node("e3", labels={"zone": "east"}),
        node("w1", labels={"zone": "west"}),
    ]
    plan = Scheduler().plan(nodes, [group("j", count=4, cpu=0.5, memory=0, spread="node.labels.zone")])
    zones = Counter("west" if n == "w1" else "east" for n in nodes_of(plan).values())
    assert zones == {"east": 2, "west": 2}


def test_spread_counts_tasks_already_running() -> None:
    from tests.unit.scheduler.builders import running

    nodes = [
        node(
            "e1", labels={"zone": "east"}, tasks=[running("old-0", "j", 50, 0.5, 0), running("old-1", "j", 50, 0.5, 0)]
        ),
        node("w1", labels={"zone": "west"}),
    ]
    plan = Scheduler().plan(nodes, [group("j", count=2, cpu=0.5, memory=0, spread="node.labels.zone")])
    assert list(nodes_of(plan).values()) == ["w1", "w1"]


def test_ties_go_to_the_smallest_node_id() -> None:
    nodes = [node("c"), node("a"), node("b")]
    plan = Scheduler(SchedulerConfig(policy="spread")).plan(nodes, [group("j", cpu=1, memory=0)])
    assert nodes_of(plan) == {"j-0": "a"}


def _cluster(size: int) -> list[NodeInfo]:
    return [node(f"n{k:03d}", labels={"zone": f"z{k % 3}"}) for k in range(size)]


def test_same_snapshot_queue_and_seed_give_the_same_plan() -> None:
    groups = [
        group("a", count=20, cpu=0.5, memory=GiB // 2, policy="spread"),
        group("b", count=10, cpu=0.25, memory=GiB, spread="node.labels.zone", priority=70),
        group("c", count=15, cpu=1, memory=0, policy="align", constraints=("node.labels.zone != z1",)),
    ]
    for seed in (None, 7):
        config = SchedulerConfig(seed=seed)
        first = Scheduler(config).plan(_cluster(30), groups)
        second = Scheduler(config).plan(list(reversed(_cluster(30))), list(reversed(groups)))
        assert first == second


def test_the_seed_changes_tie_breaks_only() -> None:
    groups = [group("j", count=1, cpu=1, memory=0, policy="spread")]
    chosen = {nodes_of(Scheduler(SchedulerConfig(seed=s)).plan(_cluster(30), groups))["j-0"] for s in range(10)}
    assert len(chosen) > 1  # identical nodes: the seed picks among them
    unequal = _cluster(30)
    unequal[5] = node("n005", used=Resources(-0.0, 0))
    busy = [n if n.node_id == "n005" else node(n.node_id, used=Resources(1, 0)) for n in unequal]
    for s in range(5):
        assert nodes_of(Scheduler(SchedulerConfig(seed=s)).plan(busy, groups)) == {"j-0": "n005"}


def test_nodes_without_the_spread_label_form_their_own_bucket() -> None:
    nodes = [node("e1", labels={"zone": "east"}), node("e2", labels={"zone": "east"}), node("x1"), node("x2")]
    plan = Scheduler().plan(nodes, [group("j", count=2, cpu=0.5, memory=0, spread="node.labels.zone")])
    placed = sorted(nodes_of(plan).values())
    assert placed[0].startswith("e") and placed[1].startswith("x")


def test_explanation_candidates_show_the_spread_count() -> None:
    nodes = [node("e1", labels={"zone": "east"}), node("w1", labels={"zone": "west"})]
    from tests.unit.scheduler.builders import running

    nodes[0] = node("e1", labels={"zone": "east"}, tasks=[running("old", "j", 50, 0.5, 0)])
    plan = Scheduler().plan(nodes, [group("j", cpu=0.5, memory=0, spread="node.labels.zone")])
    best, second = plan.explanations["j"].candidates
    assert (best.node_id, best.spread_count) == ("w1", 0)
    assert (second.node_id, second.spread_count) == ("e1", 1)
    assert best.score > second.score
