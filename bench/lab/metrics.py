"""The lab's yardsticks as pure functions over numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def jain_index(values: Sequence[float] | FloatArray) -> float:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when all are equal,
    1/n when one has everything. No values, or all zero, count as fair."""
    x = np.asarray(values, dtype=np.float64)
    square_sum = float((x * x).sum())
    if x.size == 0 or square_sum == 0:
        return 1.0
    return float(x.sum() ** 2 / (x.size * square_sum))


def lower_bound_nodes(demand: IntArray, capacity: IntArray) -> int:
    """Fewest nodes whose capacity could hold ``demand`` (per resource), for
    each resource separately, maximised over resources: with identical nodes
    this is max_k ceil(sum demand_k / node capacity_k). With mixed nodes it
    counts the largest nodes first, so it stays a lower bound.

    ``demand`` has one entry per resource; ``capacity`` is (resource, node).
    """
    bound = 0
    for k, need in enumerate(np.asarray(demand).tolist()):
        if need <= 0:
            continue
        row = np.sort(capacity[k])[::-1]
        covered = np.cumsum(row)
        nodes = int(np.searchsorted(covered, need, side="left")) + 1
        bound = max(bound, min(nodes, row.size))
    return bound


def dominant_shares(usage: IntArray, total: IntArray) -> FloatArray:
    """Each row's (namespace's) largest fraction of any resource's total."""
    usable = total > 0
    if not usable.any() or usage.shape[0] == 0:
        return np.zeros(usage.shape[0])
    shares: FloatArray = usage[:, usable] / total[usable]
    result: FloatArray = shares.max(axis=1)
    return result


def stranded(free: IntArray, reference: IntArray, lacking: BoolArray, total: IntArray) -> FloatArray:
    """Fraction of each resource's total capacity that is free but stranded.

    ``lacking[k, n]``: node n has too little of resource k for the reference
    task. Resource k's free capacity on node n is stranded when n cannot run
    the reference task for lack of *another* resource while k itself would
    suffice. Resources the reference task does not use give NaN: "stranded"
    means nothing for them.
    """
    out = np.full(free.shape[0], np.nan)
    any_lacking = lacking.any(axis=0)
    for k in range(free.shape[0]):
        if reference[k] <= 0 or total[k] <= 0:
            continue
        stuck = any_lacking & ~lacking[k]
        out[k] = float(free[k, stuck].sum()) / float(total[k])
    return out


def percentile(values: FloatArray | Sequence[float], q: float) -> float | None:
    x = np.asarray(values, dtype=np.float64)
    return float(np.percentile(x, q)) if x.size else None


def time_weighted_mean(times: FloatArray, values: FloatArray, end: float) -> FloatArray:
    """Mean of a step function (value i holds from times[i] to times[i+1],
    the last one to ``end``) over [times[0], end]; plain mean if no time passes.

    ``values`` may be 2-D (sample, series)."""
    if times.size == 0:
        return np.zeros(values.shape[1:]) if values.ndim > 1 else np.zeros(0)
    spans = np.diff(np.append(times, max(end, times[-1])))
    if spans.sum() <= 0:
        return np.asarray(values.mean(axis=0))
    return np.asarray((values * spans.reshape(-1, *([1] * (values.ndim - 1)))).sum(axis=0) / spans.sum())
