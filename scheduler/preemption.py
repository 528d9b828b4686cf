"""Preemption: free room for a task by evicting lower-priority running tasks.

Tried only when no node can take the task as it is. Among the nodes that
pass every filter except resources and devices, pick the node and eviction
set with the fewest evictions, then the lowest sum of evicted priorities,
then node order; within a node, equally cheap sets go to the smallest
sorted victim ids. Only tasks of strictly lower priority are ever evicted,
so two jobs of equal priority never evict each other back and forth.

Evicting a task frees its scalar resources, its host ports and the device
shares it holds (``RunningTask.device_ids``), so a GPU task can take the
GPU of a lower-priority one.

Exactness and its budget: the smallest set is a multi-dimensional knapsack
problem, so each node's search is exact only within
``SchedulerConfig.preemption_search_budget`` sets examined (partial or
complete, default 20,000). The search tries sizes k = 1, 2, 3, ... over the
candidates sorted by (priority, id), skips a size outright when even the k
largest candidates of some dimension cannot cover that dimension's
shortfall, and prunes a partial set the same way and when it cannot beat
the cheapest set already found. Within the budget the result is the exact
minimum; past it the node falls back to greedy-then-prune (lowest priority
first, then drop victims the others make unnecessary), keeping a same-size
set found before the budget ran out when it is cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.filters import DeviceNeed, GroupFilter, assign_devices, assign_devices_from
from scheduler.nodeset import IntArray, NodeSet
from scheduler.resources import DIMENSIONS, MILLI
from scheduler.snapshot import RunningTask

# Default of SchedulerConfig.preemption_search_budget, for direct callers.
DEFAULT_SEARCH_BUDGET = 20_000

# Does a set of victims free the devices the task needs? None: the task
# needs no devices, or no candidate holds one it could use.
DeviceCheck = Callable[[Sequence[RunningTask]], bool]

Cost = tuple[int, int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PreemptionChoice:
    node: int
    victims: tuple[RunningTask, ...]
    lacking: tuple[str, ...]  # what was short before eviction: "memory", "gpu", "host port 80", ...


def _cost(victims: Sequence[RunningTask]) -> Cost:
    return (len(victims), sum(t.priority for t in victims), tuple(sorted(t.task_id for t in victims)))


def _covers(victims: Sequence[RunningTask], need: Sequence[int]) -> bool:
    freed = [0] * len(need)
    for task in victims:
        for d, amount in enumerate(task.demand.milli_vector()):
            freed[d] += amount
    return all(f >= n for f, n in zip(freed, need))


def _works(victims: Sequence[RunningTask], need: Sequence[int], devices_ok: DeviceCheck | None) -> bool:
    return _covers(victims, need) and (devices_ok is None or devices_ok(victims))


def _greedy_set(
    candidates: Sequence[RunningTask], need: Sequence[int], devices_ok: DeviceCheck | None
) -> tuple[RunningTask, ...]:
    """Lowest priority first, biggest first within a priority; then drop any
    victim the others already make unnecessary, dearest first. The caller
    has checked that all candidates together work."""
    ordered = sorted(candidates, key=lambda t: (t.priority, -sum(t.demand.milli_vector()), t.task_id))
    chosen: list[RunningTask] = []
    for task in ordered:
        chosen.append(task)
        if _works(chosen, need, devices_ok):
            break
    for task in sorted(chosen, key=lambda t: (-t.priority, t.task_id)):
        rest = [t for t in chosen if t is not task]
        if _works(rest, need, devices_ok):
            chosen = rest
    return tuple(sorted(chosen, key=lambda t: t.task_id))


def smallest_set(
    candidates: Sequence[RunningTask],
    need: Sequence[int],
    devices_ok: DeviceCheck | None = None,
    max_size: int | None = None,
    budget: int = DEFAULT_SEARCH_BUDGET,
) -> tuple[RunningTask, ...] | None:
    """The cheapest set of ``candidates`` that frees ``need`` (per
    dimension, in milli units) and passes ``devices_ok``: fewest tasks, then
    lowest priority sum, then smallest sorted ids. Exact within ``budget``
    (see the module docstring). None when no set of at most ``max_size``
    tasks works."""
    pool = sorted(candidates, key=lambda t: (t.priority, t.task_id))
    n = len(pool)
    limit = n if max_size is None else min(n, max_size)
    if limit <= 0 or not _works(pool, need, devices_ok):
        return None
    vectors = [t.demand.milli_vector() for t in pool]
    dims = range(len(need))
    # top[d][k]: sum of the k largest amounts of dimension d (the bound).
    top: list[list[int]] = []
    for d in dims:
        largest = sorted((v[d] for v in vectors), reverse=True)
        sums = [0]
        for amount in largest:
            sums.append(sums[-1] + amount)
        top.append(sums)
    priorities = [t.priority for t in pool]
    # prio_prefix[j]: sum of the j cheapest priorities; the cheapest r more
    # victims from position j on cost prio_prefix[j + r] - prio_prefix[j].
    prio_prefix = [0]
    for p in priorities:
        prio_prefix.append(prio_prefix[-1] + p)

    search = _SizeSearch(pool, vectors, top, priorities, prio_prefix, need, devices_ok, budget)
    for size in range(1, limit + 1):
        if any(top[d][size] < need[d] for d in dims):
            continue  # even the largest `size` candidates fall short
        found = search.run(size)
        if search.exhausted:
            greedy = _greedy_set(pool, need, devices_ok)
            if found is not None and _cost(found) <= _cost(greedy):
                return found
            return greedy if max_size is None or len(greedy) <= max_size else found
        if found is not None:
            return found
    return None


class _SizeSearch:
    """Depth-first search for the cheapest working set of one size, over
    candidates in (priority, id) order; ``spent`` counts the sets examined
    across sizes, ``exhausted`` turns True once it passes the budget."""

    def __init__(
        self,
        pool: list[RunningTask],
        vectors: list[tuple[int, int, int]],
        top: list[list[int]],
        priorities: list[int],
        prio_prefix: list[int],
        need: Sequence[int],
        devices_ok: DeviceCheck | None,
        budget: int,
    ) -> None:
        self.pool = pool
        self.vectors = vectors
        self.top = top
        self.priorities = priorities
        self.prio_prefix = prio_prefix
        self.need = need
        self.devices_ok = devices_ok
        self.budget = budget
        self.spent = 0
        self.exhausted = False
        self.size = 0
        self.chosen: list[int] = []
        self.best_cost: Cost | None = None
        self.best: list[int] | None = None

    def run(self, size: int) -> tuple[RunningTask, ...] | None:
        self.size, self.chosen, self.best, self.best_cost = size, [], None, None
        self._extend(0, [0] * len(self.need), 0)
        if self.best is None:
            return None
        return tuple(sorted((self.pool[k] for k in self.best), key=lambda t: t.task_id))

    def _extend(self, start: int, freed: list[int], prio: int) -> None:
        left = self.size - len(self.chosen)
        if left == 0:
            victims = [self.pool[k] for k in self.chosen]
            if self.devices_ok is not None and not self.devices_ok(victims):
                return
            cost = _cost(victims)
            if self.best_cost is None or cost < self.best_cost:
                self.best, self.best_cost = list(self.chosen), cost
            return
        dims = range(len(self.need))
        for j in range(start, len(self.pool) - left + 1):
            self.spent += 1
            if self.spent > self.budget:
                self.exhausted = True
                return
            # Candidates are in priority order: the cheapest completion from
            # j on is the next `left` ones; when that is dearer, stop here.
            cheapest = prio + self.prio_prefix[j + left] - self.prio_prefix[j]
            if self.best_cost is not None and cheapest > self.best_cost[1]:
                return
            vector = self.vectors[j]
            after = [freed[d] + vector[d] for d in dims]
            if any(after[d] + self.top[d][left - 1] < self.need[d] for d in dims):
                continue
            self.chosen.append(j)
            self._extend(j + 1, after, prio + self.priorities[j])
            self.chosen.pop()
            if self.exhausted:
                return


def _device_check(
    nodes: NodeSet, i: int, devices: tuple[DeviceNeed, ...], candidates: Sequence[RunningTask]
) -> DeviceCheck | None:
    """Whether evicting a set of ``candidates`` lets ``devices`` fit on node
    ``i``, replaying ``NodeSet.evict`` on a copy of the node's device rows."""
    kinds = {need.kind for need in devices}
    if not kinds or any(kind not in nodes.devices for kind in kinds):
        return None
    held = {id(t): [s for s in nodes.device_slots(i, t) if s[0] in kinds] for t in candidates}
    rows = {kind: nodes.devices[kind].shares[i] for kind in kinds}

    def check(victims: Sequence[RunningTask]) -> bool:
        free: dict[str, IntArray] = rows
        copied = False
        for task in victims:
            for kind, slot, milli in held.get(id(task), ()):
                if not copied:
                    free = {kind: row.copy() for kind, row in rows.items()}
                    copied = True
                free[kind][slot] = min(MILLI, int(free[kind][slot]) + milli)
        return assign_devices_from(free, devices) is not None

    return check


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


def _with_required(check: DeviceCheck, required: Sequence[RunningTask]) -> DeviceCheck:
    """``check`` of a set of extra victims plus the port holders that go anyway."""
    return lambda victims: check([*required, *victims])


def _device_lacking(group_filter: GroupFilter, i: int) -> tuple[str, ...]:
    req = group_filter.req
    if not req.devices or assign_devices(group_filter.nodes, i, req.devices) is not None:
        return ()
    short = tuple(need.kind for need in req.devices if not group_filter.devices_fit(need, slice(i, i + 1))[0])
    return short or tuple(need.kind for need in req.devices)


def find_preemption(
    group_filter: GroupFilter, priority: int, budget: int = DEFAULT_SEARCH_BUDGET
) -> PreemptionChoice | None:
    nodes = group_filter.nodes
    req = group_filter.req
    demand = req.demand
    eligible = group_filter.eligible(slice(None), ports=False)
    # Nodes that could hold the task at all once emptied: scalar capacity,
    # and at least as many devices of each kind as the task asks for.
    eligible &= np.all(demand[:, None] <= nodes.capacity, axis=0)
    for need in req.devices:
        column = nodes.devices.get(need.kind)
        if column is None:
            return None
        eligible &= np.count_nonzero(column.shares >= 0, axis=1) >= need.whole + (1 if need.shares else 0)
    best: PreemptionChoice | None = None
    best_key: tuple[int, int, int] | None = None
    for i in np.flatnonzero(eligible).tolist():
        lower = [t for t in nodes.running[i] if t.priority < priority]
        if not lower:
            continue  # nothing here may be evicted: the common case, keep it cheap
        holders = _port_holders(nodes.running[i], nodes.used_ports[i], req.ports, priority)
        if holders is None:
            continue
        required, port_reasons = holders
        room = len(lower) if best_key is None else best_key[0] - len(required)
        if room < 0:
            continue  # the ports alone cost more evictions than the best node
        short = np.maximum(nodes.allocated[:, i] + demand - nodes.capacity[:, i], 0)
        need = short.copy()
        for task in required:
            need -= task.demand.milli_vector()
        need_list: list[int] = np.maximum(need, 0).tolist()
        device_check = _device_check(nodes, i, req.devices, lower) if req.devices else None
        devices_ok = None if device_check is None else _with_required(device_check, required)
        if device_check is None and req.devices and assign_devices(nodes, i, req.devices) is None:
            continue  # the cluster has no device of a kind the task needs
        extra: tuple[RunningTask, ...] = ()
        if any(need_list) or (devices_ok is not None and not devices_ok(())):
            others = [t for t in lower if t not in required]
            found = smallest_set(others, need_list, devices_ok, room, budget)
            if found is None:
                continue
            extra = found
        chosen = tuple(sorted((*required, *extra), key=lambda t: t.task_id))
        if not chosen:
            continue  # fits already; only an exact device conflict kept it out
        key = (len(chosen), sum(t.priority for t in chosen), i)
        if best_key is None or key < best_key:
            lacking = tuple(d for d, s in zip(DIMENSIONS, (short > 0).tolist()) if s)
            lacking += _device_lacking(group_filter, i) + port_reasons
            best, best_key = PreemptionChoice(i, chosen, lacking), key
    return best
