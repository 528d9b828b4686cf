"""The lab's formulas on cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.lab.metrics import dominant_shares, jain_index, lower_bound_nodes, stranded, time_weighted_mean


@given(st.floats(min_value=1e-6, max_value=1e6), st.integers(min_value=1, max_value=50))
def test_jain_of_equal_shares_is_one(share: float, n: int) -> None:
    assert jain_index([share] * n) == pytest.approx(1.0)


def test_jain_extremes_and_a_worked_case() -> None:
    assert jain_index([1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)  # 1/n: one has everything
    assert jain_index([1.0, 3.0]) == pytest.approx(16 / 20)
    assert jain_index([]) == 1.0 and jain_index([0.0, 0.0]) == 1.0


@given(
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=3, max_size=3),
    st.lists(st.integers(min_value=1, max_value=10**4), min_size=3, max_size=3),
    st.integers(min_value=1, max_value=200),
)
def test_identical_nodes_bound_is_max_of_ceilings(demand: list[int], node: list[int], count: int) -> None:
    capacity = np.array([[c] * count for c in node], dtype=np.int64)
    expected = max(math.ceil(d / c) for d, c in zip(demand, node))
    assert lower_bound_nodes(np.array(demand), capacity) == min(expected, count)


def test_mixed_nodes_bound_counts_the_largest_first() -> None:
    capacity = np.array([[64, 8, 8, 8], [100, 100, 100, 100]], dtype=np.int64)
    assert lower_bound_nodes(np.array([70, 150]), capacity) == 2
    assert lower_bound_nodes(np.array([0, 0]), capacity) == 0


def test_dominant_shares() -> None:
    usage = np.array([[3, 12], [6, 2]], dtype=np.int64)  # the DRF paper's allocation
    shares = dominant_shares(usage, np.array([9, 18], dtype=np.int64))
    assert shares.tolist() == pytest.approx([2 / 3, 2 / 3])


def test_stranded_counts_free_capacity_blocked_by_another_resource() -> None:
    # Reference task <2 cpu, 2 mem>. Node 0 has cpu but no memory: its 10
    # free cpu are stranded. Node 1 fits the task: nothing stranded. Node 2
    # lacks both: too fragmented, but not stranded by another resource.
    free = np.array([[10, 4, 1], [0, 4, 1], [0, 0, 0]], dtype=np.int64)
    reference = np.array([2, 2, 0], dtype=np.int64)
    lacking = free < reference[:, None]
    total = np.array([40, 40, 40], dtype=np.int64)
    out = stranded(free, reference, lacking, total)
    assert out[0] == pytest.approx(10 / 40)
    assert out[1] == 0.0
    assert math.isnan(out[2])  # the reference task asks for none of it


def test_time_weighted_mean() -> None:
    times = np.array([0.0, 1.0, 4.0])
    values = np.array([1.0, 0.0, 1.0])
    assert time_weighted_mean(times, values, 5.0) == pytest.approx((1 * 1 + 0 * 3 + 1 * 1) / 5)
    assert time_weighted_mean(np.array([0.0]), np.array([0.3]), 0.0) == pytest.approx(0.3)
