"""Placement policies: a score in [0, 1] per node, higher is better.

Every dimension a node declares (capacity > 0) counts, whether or not the
task asks for it: a node whose disk is full is "fuller" for binpack even if
this task needs no disk.
"""

from __future__ import annotations

import math

import numpy as np

from scheduler.config import Policy
from scheduler.nodeset import FloatArray, IntArray


def binpack(capacity: IntArray, allocated: IntArray, demand: IntArray) -> FloatArray:
    """Mean utilisation after placement: the fullest node that fits wins.

    Arrays are (dimension, node); dimensions are summed one row at a time,
    in the same order as ``binpack_one``, so both give identical floats.
    """
    total = np.zeros(capacity.shape[1])
    declared = np.zeros(capacity.shape[1])
    for d in range(capacity.shape[0]):
        has = capacity[d] > 0
        total += np.where(has, (allocated[d] + demand[d]) / np.where(has, capacity[d], 1), 0.0)
        declared += has
    result: FloatArray = total / np.maximum(declared, 1)
    return result


def spread(capacity: IntArray, allocated: IntArray, demand: IntArray) -> FloatArray:
    """The emptiest node wins (1 - binpack)."""
    return 1.0 - binpack(capacity, allocated, demand)


def align(capacity: IntArray, allocated: IntArray, demand: IntArray) -> FloatArray:
    """Cosine of the task's demand with the node's free space, both as
    fractions of the node's capacity. A node whose free space has the
    task's shape is left with a remainder of the same shape, instead of
    plenty of CPU and no memory (stranded CPU). Tetris (Grandl et al.,
    SIGCOMM 2014) uses the dot product; the cosine ignores how much is free
    so that alignment, not size, decides."""
    size = capacity.shape[1]
    dot, need_norm, free_norm = np.zeros(size), np.zeros(size), np.zeros(size)
    for d in range(capacity.shape[0]):
        has = capacity[d] > 0
        safe = np.where(has, capacity[d], 1)
        need = np.where(has, demand[d] / safe, 0.0)
        free = np.where(has, (capacity[d] - allocated[d]) / safe, 0.0)
        dot += need * free
        need_norm += need * need
        free_norm += free * free
    norms = np.sqrt(need_norm * free_norm)
    result: FloatArray = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)
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
    dot = need_norm = free_norm = 0.0
    for c, a, d in zip(capacity, allocated, demand):
        if c > 0:
            need, free = d / c, (c - a) / c
            dot += need * free
            need_norm += need * need
            free_norm += free * free
    norms = math.sqrt(need_norm * free_norm)
    return dot / norms if norms > 0 else 0.0


_POLICIES_ONE = {Policy.BINPACK: binpack_one, Policy.SPREAD: spread_one, Policy.ALIGN: align_one}


def policy_score_one(policy: Policy, capacity: list[int], allocated: list[int], demand: list[int]) -> float:
    return _POLICIES_ONE[policy](capacity, allocated, demand)


_POLICIES = {Policy.BINPACK: binpack, Policy.SPREAD: spread, Policy.ALIGN: align}


def policy_scores(policy: Policy, capacity: IntArray, allocated: IntArray, demand: IntArray) -> FloatArray:
    return _POLICIES[policy](capacity, allocated, demand)
