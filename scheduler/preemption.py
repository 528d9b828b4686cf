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
    lacking: tuple[str, ...]  # what was short before eviction: "memory", "host port 80", ...


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


def _port_holders(
    running: list[RunningTask], used: set[int], wanted: tuple[int, ...], priority: int
) -> tuple[list[RunningTask], tuple[str, ...]] | None:
    """Tasks that must go to free the host ports the task needs, or None when
    a port is held by something that may not be evicted (an equal or higher
    priority task, a task placed earlier in this plan, or not a task)."""
    conflicts = used.intersection(wanted)
    if not conflicts:
        return [], ()
    holders = [t for t in running if conflicts.intersection(t.host_ports)]
    if any(t.priority >= priority for t in holders):
        return None
    if conflicts - {p for t in holders for p in t.host_ports}:
        return None
    return holders, tuple(f"host port {p}" for p in sorted(conflicts))


def find_preemption(group_filter: GroupFilter, priority: int) -> PreemptionChoice | None:
    nodes = group_filter.nodes
    demand = group_filter.req.demand
    wanted_ports = group_filter.req.ports
    # Evicting frees resources and host ports, never devices (running tasks
    # do not say which devices they hold), so devices must already fit.
    eligible = group_filter.eligible(slice(None), ports=False)
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
        if not any(t.priority < priority for t in nodes.running[i]):
            continue  # nothing here may be evicted: the common case, keep it cheap
        holders = _port_holders(nodes.running[i], nodes.used_ports[i], wanted_ports, priority)
        if holders is None:
            continue
        required, port_reasons = holders
        short = np.maximum(nodes.allocated[:, i] + demand - nodes.capacity[:, i], 0)
        need = short.copy()
        for task in required:
            need -= task.demand.milli_vector()
        need = np.maximum(need, 0)
        extra: tuple[RunningTask, ...] = ()
        if need.any():
            others = [t for t in nodes.running[i] if t.priority < priority and t not in required]
            found = _smallest_set(others, need)
            if found is None:
                continue
            extra = found
        chosen = tuple(sorted((*required, *extra), key=lambda t: t.task_id))
        if not chosen:
            continue  # fits already; only an exact device conflict kept it out
        key = (len(chosen), sum(t.priority for t in chosen), i)
        if best_key is None or key < best_key:
            lacking = tuple(d for d, s in zip(DIMENSIONS, (short > 0).tolist()) if s) + port_reasons
            best, best_key = PreemptionChoice(i, chosen, lacking), key
    return best
