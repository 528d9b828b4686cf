"""Placement policies: a score in [0, 1] per node, higher is better.

Every dimension a node declares (capacity > 0) counts, whether or not the
task asks for it: a node whose disk is full is "fuller" for binpack even if
this task needs no disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scheduler.config import Policy

# The same aliases as scheduler.nodeset's, spelled out here because the
# NodeSet derives its CapacityView from this module.
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CapacityView:
    """What the scores need of the capacity matrix, derived once per plan:
    capacity does not change while a plan runs, and re-deriving this for
    every group cost more than the scores themselves (~60% of a binpack
    score at 10,000 nodes)."""

    safe: FloatArray  # capacity, 1 where a node does not declare the dimension
    declared: FloatArray  # 1.0 where declared, 0.0 elsewhere: multiplies terms away exactly
    declared_count: FloatArray  # dimensions each node declares, at least 1
    inverse: FloatArray  # 1 / capacity where declared, 0 elsewhere (align: tolerance, not exactness)
    dimensions: tuple[int, ...]  # dimensions declared by at least one node


def capacity_view(capacity: IntArray) -> CapacityView:
    has = capacity > 0
    return CapacityView(
        safe=np.where(has, capacity, 1).astype(np.float64),
        declared=has.astype(np.float64),
        declared_count=np.maximum(has.sum(axis=0), 1).astype(np.float64),
        inverse=np.where(has, 1.0 / np.where(has, capacity, 1), 0.0),
        dimensions=tuple(d for d in range(capacity.shape[0]) if has[d].any()),
    )


def binpack(capacity: IntArray, allocated: IntArray, demand: IntArray, view: CapacityView | None = None) -> FloatArray:
    """Mean utilisation after placement: the fullest node that fits wins.

    Arrays are (dimension, node); dimensions are summed one row at a time,
    in the same order as ``binpack_one``, so both give identical floats
    (an undeclared dimension adds an exact 0.0).
    """
    view = view or capacity_view(capacity)
    total = np.zeros(capacity.shape[1])
    for d in view.dimensions:
        term = (allocated[d] + demand[d]) / view.safe[d]
        term *= view.declared[d]
        total += term
    result: FloatArray = total / view.declared_count
    return result


def spread(capacity: IntArray, allocated: IntArray, demand: IntArray, view: CapacityView | None = None) -> FloatArray:
    """The emptiest node wins (1 - binpack)."""
    return 1.0 - binpack(capacity, allocated, demand, view)


# Weight of the alignment term in align; the packing term gets the rest.
# Why a weighted sum of "most allocated" and alignment: alignment alone does
# not care how much is free, so an empty node (whose free space has the
# node's shape) matches as well as a half-full one and align spread tasks
# over every node (1.60-1.66 x the lower bound of nodes on the lab's
# heavy-tailed workload). The packing term keeps tasks on nodes already in
# use; the alignment term chooses among them the one whose remainder keeps
# the task's shape, which mixes CPU-heavy and memory-heavy tasks on a node
# instead of filling one resource and stranding the other. We preferred the
# sum to "best-aligned among the most allocated" because the latter needs a
# band width (how much less allocated may still count) and two argmaxes per
# task. The lab's packing benchmark (3 seeds) swept the weight: 0.3 packs
# like binpack and strands about as much; 0.5 uses 1.02-1.04 x the lower
# bound (binpack 1.03-1.05) and strands less; 0.6 is better still, but from
# 0.7 alignment outweighs packing and align opens empty nodes again (1.06-
# 1.19 x at 0.7, 1.3-1.5 x at 0.75). 0.5, equal weights, keeps a margin
# below that cliff for workloads shaped differently from the lab's.
ALIGN_WEIGHT = 0.5


def align(capacity: IntArray, allocated: IntArray, demand: IntArray, view: CapacityView | None = None) -> FloatArray:
    """Packing plus alignment, Tetris-style (Grandl et al., SIGCOMM 2014):
    ``(1 - ALIGN_WEIGHT) * binpack + ALIGN_WEIGHT * cosine(demand, free
    space left after placement)``, both vectors as fractions of the node's
    capacity. A remainder shaped like the task (cosine 1) can take more of
    the same shape; a remainder of plenty of CPU and no memory cannot, and
    its CPU is stranded. A task that fills a node exactly, or asks for
    nothing, aligns perfectly (1)."""
    view = view or capacity_view(capacity)
    size = capacity.shape[1]
    dot, need_norm, left_norm, left_sum = np.zeros(size), np.zeros(size), np.zeros(size), np.zeros(size)
    # ~10 array operations per dimension, in place where numpy allows: at
    # 10,000 nodes align is computed once per group and is its main cost.
    for d in view.dimensions:
        inverse = view.inverse[d]
        need = demand[d] * inverse
        left = (capacity[d] - allocated[d] - demand[d]) * inverse
        dot += need * left
        need *= need
        need_norm += need
        left_sum += left
        left *= left
        left_norm += left
    norms = np.sqrt(need_norm * left_norm)
    cosine = np.divide(dot, norms, out=np.ones_like(dot), where=norms > 0)
    # Mean utilisation after placement (binpack), from the same fractions.
    packing = (view.declared_count - left_sum) / view.declared_count
    packing *= 1.0 - ALIGN_WEIGHT
    cosine *= ALIGN_WEIGHT
    result: FloatArray = packing + cosine
    return result


# Scalar twins of the policies, for re-scoring the single node a placement
# changed: a dozen numpy calls on a 3-element row cost ~15 us, these ~2 us,
# and that difference is most of the per-task cost. Integer-to-float
# division is correctly rounded in both, and sums run in the same order, so
# the twins agree with the arrays (tests/unit/scheduler checks it).
def binpack_one(capacity: list[int], allocated: list[int], demand: list[int]) -> float:
    total = 0.0
    declared = 0
    for c, a, d in zip(capacity, allocated, demand):
        if c > 0:
            total += (a + d) / c
            declared += 1
    return total / max(declared, 1)


def spread_one(capacity: list[int], allocated: list[int], demand: list[int]) -> float:
    return 1.0 - binpack_one(capacity, allocated, demand)


def align_one(capacity: list[int], allocated: list[int], demand: list[int]) -> float:
    dot = need_norm = left_norm = left_sum = 0.0
    declared = 0
    for c, a, d in zip(capacity, allocated, demand):
        if c > 0:
            inverse = 1.0 / c
            need, left = d * inverse, (c - a - d) * inverse
            dot += need * left
            need_norm += need * need
            left_norm += left * left
            left_sum += left
            declared += 1
    norms = math.sqrt(need_norm * left_norm)
    cosine = dot / norms if norms > 0 else 1.0
    count = max(declared, 1)
    return (1.0 - ALIGN_WEIGHT) * ((count - left_sum) / count) + ALIGN_WEIGHT * cosine


_POLICIES_ONE = {Policy.BINPACK: binpack_one, Policy.SPREAD: spread_one, Policy.ALIGN: align_one}


def policy_score_one(policy: Policy, capacity: list[int], allocated: list[int], demand: list[int]) -> float:
    return _POLICIES_ONE[policy](capacity, allocated, demand)


_POLICIES = {Policy.BINPACK: binpack, Policy.SPREAD: spread, Policy.ALIGN: align}


def policy_scores(
    policy: Policy, capacity: IntArray, allocated: IntArray, demand: IntArray, view: CapacityView | None = None
) -> FloatArray:
    """Scores of every node; pass the plan's ``view`` of ``capacity`` to skip re-deriving it."""
    return _POLICIES[policy](capacity, allocated, demand, view)
