"""Preemption: free room for a task by evicting lower-priority running tasks.

Tried only when no node can take the task as it is. Among the nodes that
pass every filter except resources, pick the node and eviction set with the
fewest evictions, then the lowest sum of evicted priorities, then node
order. Only tasks of strictly lower priority are ever evicted, so two jobs
of equal priority never evict each other back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from scheduler.filters import GroupFilter, assign_devices
from scheduler.nodeset import IntArray
from scheduler.resources import DIMENSIONS
from scheduler.snapshot import RunningTask

# Exhaustive search over pairs stays cheap up to this many victims per node;
# beyond it a greedy choice is used (the exact minimum is a knapsack problem).
_PAIR_SEARCH_LIMIT = 64


@dataclass(frozen=True, slots=True)
class PreemptionChoice:
    node: int
    victims: tuple[RunningTask, ...]
    lacking: tuple[str, ...]  # dimensions that were short before eviction


def _covers(victims: tuple[RunningTask, ...], need: IntArray) -> bool:
    freed = np.zeros(len(DIMENSIONS), dtype=np.int64)
    for task in victims:
        freed += task.demand.milli_vector()
    return bool(np.all(freed >= need))


def _cost(victims: tuple[RunningTask, ...]) -> tuple[int, int, tuple[str, ...]]:
    return (len(victims), sum(t.priority for t in victims), tuple(t.task_id for t in victims))


def _smallest_set(candidates: list[RunningTask], need: IntArray) -> tuple[RunningTask, ...] | None:
    if not _covers(tuple(candidates), need):
        return None
    for size in (1, 2):
        if size == 2 and len(candidates) > _PAIR_SEARCH_LIMIT:
            break
        sets = [c for c in combinations(candidates, size) if _covers(c, need)]
        if sets:
            return min(sets, key=_cost)
    # Greedy: lowest priority first, biggest first within a priority; then
    # drop any victim the others already make unnecessary, dearest first.
    ordered = sorted(candidates, key=lambda t: (t.priority, -sum(t.demand.milli_vector()), t.task_id))
    chosen: list[RunningTask] = []
    for task in ordered:
        chosen.append(task)
        if _covers(tuple(chosen), need):
            break
    for task in sorted(chosen, key=lambda t: (-t.priority, t.task_id)):
        rest = tuple(t for t in chosen if t is not task)
        if _covers(rest, need):
            chosen = list(rest)
    return tuple(sorted(chosen, key=lambda t: t.task_id))


def find_preemption(group_filter: GroupFilter, priority: int) -> PreemptionChoice | None:
    nodes = group_filter.nodes
    demand = group_filter.req.demand
    # Evicting never frees devices or ports we know of, so those must already fit.
    eligible = group_filter.eligible(slice(None))
    for need in group_filter.req.devices:
        eligible &= group_filter.devices_fit(need, slice(None))
    # Nodes that could hold the task at all once emptied.
    eligible &= np.all(demand[:, None] <= nodes.capacity, axis=0)
    best: PreemptionChoice | None = None
    best_key: tuple[int, int, int] | None = None
    exact_devices = group_filter.req.needs_exact_device_check
    for i in np.flatnonzero(eligible).tolist():
        if exact_devices and assign_devices(nodes, i, group_filter.req.devices) is None:
            continue
        victims = [t for t in nodes.running[i] if t.priority < priority]
        if not victims:
            continue
        need = np.maximum(nodes.allocated[:, i] + demand - nodes.capacity[:, i], 0)
        if not need.any():
            continue  # fits already; only an exact device conflict kept it out
        chosen = _smallest_set(victims, need)
        if chosen is None:
            continue
        key = (len(chosen), sum(t.priority for t in chosen), i)
        if best_key is None or key < best_key:
            lacking = tuple(d for d, short in zip(DIMENSIONS, (need > 0).tolist()) if short)
            best, best_key = PreemptionChoice(i, chosen, lacking), key
    return best
