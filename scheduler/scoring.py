"""Placement policies: a score in [0, 1] per node, higher is better.

Every dimension a node declares (capacity > 0) counts, whether or not the
task asks for it: a node whose disk is full is "fuller" for binpack even if
this task needs no disk.
"""

from __future__ import annotations

import numpy as np

from scheduler.config import Policy
from scheduler.nodeset import FloatArray, IntArray


def _fraction(amount: IntArray, capacity: IntArray) -> FloatArray:
    declared = capacity > 0
    return np.where(declared, amount / np.where(declared, capacity, 1), 0.0)


def binpack(capacity: IntArray, allocated: IntArray, demand: IntArray) -> FloatArray:
    """Mean utilisation after placement: the fullest node that fits wins."""
    used = _fraction(allocated + demand, capacity)
    declared = np.maximum(np.count_nonzero(capacity > 0, axis=1), 1)
    result: FloatArray = used.sum(axis=1) / declared
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
    need = _fraction(np.broadcast_to(demand, capacity.shape), capacity)
    free = _fraction(capacity - allocated, capacity)
    dot = np.einsum("ij,ij->i", need, free)
    norms = np.sqrt(np.einsum("ij,ij->i", need, need) * np.einsum("ij,ij->i", free, free))
    result: FloatArray = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)
    return result


_POLICIES = {Policy.BINPACK: binpack, Policy.SPREAD: spread, Policy.ALIGN: align}


def policy_scores(
    policy: Policy, capacity: IntArray, allocated: IntArray, demand: IntArray
) -> FloatArray:
    return _POLICIES[policy](capacity, allocated, demand)
