"""Each filter keeps tasks off the nodes it should, and says so."""

from __future__ import annotations

from scheduler import Resources, Scheduler, SchedulerConfig
from tests.unit.scheduler.builders import GiB, group, node, nodes_of, per_node, running

NO_PREEMPTION = Scheduler(SchedulerConfig(preemption=False))


def test_not_ready_and_drained_nodes_get_nothing() -> None:
    nodes = [node("a", ready=False), node("b", drained=True), node("c")]
    plan = NO_PREEMPTION.plan(nodes, [group("j", count=3)])
    assert set(nodes_of(plan).values()) == {"c"}


def test_insufficient_memory_is_explained() -> None:
    plan = NO_PREEMPTION.plan([node("a", memory=2 * GiB)], [group("j", memory=4 * GiB)])
    assert plan.placements == ()
    (unplaced,) = plan.unplaced
    assert unplaced.task_ids == ("j-0",)
    explanation = unplaced.explanation
    assert explanation.nodes_evaluated == 1
    assert explanation.exhausted == {"memory": 1}
    assert "0/1 nodes can run this task: insufficient memory on 1 node" in explanation.summary()


def test_every_lacking_dimension_is_counted() -> None:
    nodes = [node("a", cpu=1, memory=1 * GiB), node("b", cpu=8, memory=1 * GiB), node("c", cpu=1, memory=16 * GiB)]
    plan = NO_PREEMPTION.plan(nodes, [group("j", cpu=2, memory=2 * GiB)])
    assert plan.unplaced[0].explanation.exhausted == {"cpu": 2, "memory": 2}


def test_never_overcommits_within_one_plan() -> None:
    # 4 cores: four 1-core tasks fit, the fifth does not.
    plan = NO_PREEMPTION.plan([node("a", cpu=4)], [group("j", count=5, cpu=1, memory=1)])
    assert len(plan.placements) == 4
    assert plan.unplaced[0].task_ids == ("j-4",)


def test_fractional_cpu_sums_exactly() -> None:
    # 0.1 + 0.2 + ... in floats exceeds 0.3; millicores do not.
    plan = NO_PREEMPTION.plan([node("a", cpu=0.3)], [group("j", count=3, cpu=0.1, memory=0)])
    assert len(plan.placements) == 3


def test_constraint_filters_and_summary_names_the_rule() -> None:
    nodes = [
        node("a", labels={"zone": "west"}),
        node("b", labels={"zone": "west"}),
        node("c", ready=False, labels={"zone": "east"}),
    ]
    plan = NO_PREEMPTION.plan(nodes, [group("j", constraints=("node.labels.zone == east",))])
    explanation = plan.unplaced[0].explanation
    assert explanation.filtered == {"constraint node.labels.zone == east": 2, "not ready": 1}
    assert explanation.summary() == (
        "0/3 nodes can run this task: 2 filtered by constraint node.labels.zone == east, 1 not ready"
    )


def test_each_constraint_operator() -> None:
    nodes = [
        node("a", labels={"zone": "east", "gpu": "yes"}),
        node("b", labels={"zone": "west"}),
        node("c", labels={"zone": "north"}),
        node("d"),
    ]
    cases = {
        "node.labels.zone == east": {"a"},
        "node.labels.zone != east": {"b", "c", "d"},
        "node.labels.zone in (east, west)": {"a", "b"},
        "node.labels.zone not in (east, west)": {"c", "d"},
        "node.labels.gpu exists": {"a"},
        "node.labels.gpu not exists": {"b", "c", "d"},
        "node.name == name-c": {"c"},
        "node.id != a": {"b", "c", "d"},
        "node.labels.zone == nowhere": set(),
    }
    for rule, allowed in cases.items():
        plan = NO_PREEMPTION.plan(nodes, [group("j", count=8, cpu=0.5, memory=0, constraints=(rule,), policy="spread")])
        assert set(nodes_of(plan).values()) == allowed, rule


def test_several_constraints_all_apply() -> None:
    nodes = [node("a", labels={"zone": "east", "rack": "1"}), node("b", labels={"zone": "east", "rack": "2"})]
    rules = ("node.labels.zone == east", "node.labels.rack != 1")
    plan = NO_PREEMPTION.plan(nodes, [group("j", count=3, cpu=0.1, constraints=rules)])
    assert set(nodes_of(plan).values()) == {"b"}


def test_invalid_constraint_leaves_group_unplaced_instead_of_crashing() -> None:
    plan = NO_PREEMPTION.plan([node("a")], [group("j", constraints=("zone = east",))])
    assert plan.placements == ()
    assert "invalid constraint 'zone = east'" in plan.unplaced[0].explanation.summary()


def test_max_per_node_counts_running_and_planned_tasks() -> None:
    nodes = [node("a", tasks=[running("old", "j", 50, 0.1, 0)]), node("b"), node("c")]
    plan = NO_PREEMPTION.plan(nodes, [group("j", count=6, cpu=0.1, memory=0, max_per_node=2)])
    counts = {n: len(ps) for n, ps in per_node(plan).items()}
    assert counts == {"a": 1, "b": 2, "c": 2}
    assert plan.unplaced[0].task_ids == ("j-5",)
    assert plan.unplaced[0].explanation.filtered == {"max_per_node 2": 3}


def test_host_ports_used_and_reserved_in_the_plan() -> None:
    nodes = [node("a", ports=[8080]), node("b"), node("c")]
    plan = NO_PREEMPTION.plan(nodes, [group("web", count=3, cpu=0.1, host_ports=(8080, 0))])
    assert sorted(nodes_of(plan).values()) == ["b", "c"]
    explanation = plan.unplaced[0].explanation
    assert explanation.filtered == {"host port 8080 in use": 3}
    assert "3 filtered by host port 8080 in use" in explanation.summary()


def test_host_ports_of_running_tasks_count() -> None:
    nodes = [node("a", tasks=[running("t", "other", 50, 0.1, 0, host_ports=(53,))]), node("b")]
    plan = NO_PREEMPTION.plan(nodes, [group("dns", count=1, cpu=0.1, host_ports=(53,))])
    assert nodes_of(plan) == {"dns-0": "b"}


def test_affinity_requires_a_task_of_the_job_on_the_node() -> None:
    nodes = [node("a"), node("b", tasks=[running("db-0", "db", 50, 1, 0)]), node("c")]
    plan = NO_PREEMPTION.plan(nodes, [group("app", count=2, cpu=0.1, memory=0, affinity=("db",))])
    assert set(nodes_of(plan).values()) == {"b"}


def test_affinity_sees_tasks_placed_earlier_in_the_plan() -> None:
    nodes = [node("a"), node("b"), node("c")]
    groups = [
        group("db", priority=90, cpu=0.1, memory=0, constraints=("node.id == c",)),
        group("app", priority=10, cpu=0.1, memory=0, affinity=("db",)),
    ]
    assert nodes_of(NO_PREEMPTION.plan(nodes, groups)) == {"db-0": "c", "app-0": "c"}


def test_anti_affinity_avoids_nodes_with_the_job() -> None:
    nodes = [node("a", tasks=[running("noisy-0", "noisy", 50, 0.1, 0)]), node("b")]
    plan = NO_PREEMPTION.plan(nodes, [group("quiet", count=3, cpu=0.1, memory=0, anti_affinity=("noisy",))])
    assert set(nodes_of(plan).values()) == {"b"}
    plan = NO_PREEMPTION.plan(nodes[:1], [group("quiet", cpu=0.1, memory=0, anti_affinity=("noisy",))])
    assert plan.unplaced[0].explanation.filtered == {"anti-affinity with job noisy": 1}


def test_no_nodes_at_all() -> None:
    plan = NO_PREEMPTION.plan([], [group("j")])
    assert plan.unplaced[0].explanation.summary() == "0/0 nodes can run this task: no nodes in the cluster"


def test_explanations_for_placed_groups_list_candidates_in_order() -> None:
    nodes = [node("a", used=Resources(3, 0)), node("b", used=Resources(1, 0)), node("c", ready=False)]
    plan = Scheduler().plan(nodes, [group("j", cpu=1, memory=0)])
    explanation = plan.explanations["j"]
    assert explanation.feasible == 2
    assert [c.node_id for c in explanation.candidates] == ["a", "b"]
    assert explanation.candidates[0].score > explanation.candidates[1].score
    assert explanation.summary().startswith("2/3 nodes can run this task: best name-a (binpack")


def test_inputs_are_not_mutated() -> None:
    nodes = [node("a")]
    before = repr(nodes)
    Scheduler().plan(nodes, [group("j", count=3)])
    assert repr(nodes) == before


def test_explanations_of_placed_groups_can_be_turned_off() -> None:
    config = SchedulerConfig(explain=False, preemption=False)
    plan = Scheduler(config).plan([node("a", cpu=1)], [group("j", count=2, memory=0)])
    assert plan.explanations == {}
    # Unplaced tasks are always explained.
    assert plan.unplaced[0].explanation.summary() == "0/1 nodes can run this task: insufficient cpu on 1 node"


def test_summary_orders_reasons_by_count_and_pluralises() -> None:
    from scheduler import Explanation

    explanation = Explanation(
        nodes_evaluated=6,
        filtered={"not ready": 1, "constraint node.labels.zone == east": 2},
        exhausted={"cpu": 3, "memory": 1},
    )
    assert explanation.summary() == (
        "0/6 nodes can run this task: insufficient cpu on 3 nodes, 2 filtered by constraint "
        "node.labels.zone == east, 1 not ready, insufficient memory on 1 node"
    )
