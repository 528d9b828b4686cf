"""The scalar re-check of one node agrees with the vectorised evaluation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import NodeInfo, Policy, TaskGroup
from scheduler.filters import GroupFilter, compile_group
from scheduler.nodeset import NodeSet
from scheduler.scoring import policy_score_one, policy_scores
from tests.unit.scheduler.test_scheduler_properties import snapshot_nodes, task_groups

amounts = st.integers(0, 10**12)


@st.composite
def node_rows(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    capacity = [draw(st.one_of(st.just(0), amounts)) for _ in range(3)]
    allocated = [draw(st.integers(0, c)) for c in capacity]
    demand = [draw(st.integers(0, c - a)) for c, a in zip(capacity, allocated)]
    return capacity, allocated, demand


@settings(max_examples=300)
@given(rows=st.lists(node_rows(), min_size=1, max_size=8), policy=st.sampled_from(list(Policy)))
def test_scalar_scores_equal_vectorised_scores(
    rows: list[tuple[list[int], list[int], list[int]]], policy: Policy
) -> None:
    demand = rows[0][2]
    capacity = np.array([r[0] for r in rows], dtype=np.int64).T
    allocated = np.array([r[1] for r in rows], dtype=np.int64).T
    vectorised = policy_scores(policy, capacity, allocated, np.array(demand, dtype=np.int64))
    for k, (cap, alloc, _) in enumerate(rows):
        one = policy_score_one(policy, cap, alloc, demand)
        if policy is Policy.ALIGN:
            assert abs(one - vectorised[k]) <= 1e-12  # sqrt of a product: allow the last bit
        else:
            assert one == vectorised[k]


def test_policies_rank_as_documented() -> None:
    capacity = np.array([[4000, 4000], [100, 100], [0, 0]], dtype=np.int64)  # (dimension, node)
    allocated = np.array([[3000, 0], [50, 0], [0, 0]], dtype=np.int64)
    demand = np.array([1000, 10, 0], dtype=np.int64)
    binpack = policy_scores(Policy.BINPACK, capacity, allocated, demand)
    spread = policy_scores(Policy.SPREAD, capacity, allocated, demand)
    assert binpack[0] > binpack[1] and spread[1] > spread[0]
    assert binpack[0] == (4000 / 4000 + 60 / 100) / 2  # disk undeclared: not averaged in


@settings(max_examples=150, deadline=None)
@given(nodes=snapshot_nodes(), groups=task_groups())
def test_scalar_feasibility_equals_vectorised_feasibility(nodes: list[NodeInfo], groups: list[TaskGroup]) -> None:
    node_set = NodeSet(nodes)
    for group in groups:
        group_filter = GroupFilter(node_set, compile_group(group, Policy.BINPACK))
        vectorised = group_filter.feasible(slice(None)).tolist()
        assert vectorised == [group_filter.feasible_one(i) for i in range(node_set.size)]
