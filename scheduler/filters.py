"""Feasibility filters, vectorised over nodes.

A ``GroupFilter`` answers "which nodes can take one more task of this
group?" for all nodes at once (when a group's pass starts) or for one node
(after a placement changed it). The one-node answer reuses the same filter
steps, with a scalar resource check; a property test holds it equal to the
vectorised answer on random snapshots.

Filters run in a fixed order and a rejected node is charged to the first
filter that rejects it; the resources filter comes last so that "insufficient
memory" only counts nodes that could otherwise have run the task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scheduler.config import Policy
from scheduler.constraints import Constraint, ConstraintError, parse_attribute, parse_constraint
from scheduler.nodeset import BoolArray, IntArray, NodeSet
from scheduler.resources import DIMENSIONS, MILLI
from scheduler.taskgroup import TaskGroup

Index = int | slice | IntArray


@dataclass(frozen=True, slots=True)
class DeviceNeed:
    kind: str
    whole: int  # whole devices
    shares: tuple[int, ...]  # thousandths of one device each, largest first


@dataclass(frozen=True, slots=True)
class Requirements:
    """A TaskGroup compiled into what the filters and scores use."""

    group: TaskGroup
    demand: IntArray  # (cpu millicores, memory, disk)
    constraints: tuple[Constraint, ...]
    invalid: tuple[str, ...]  # messages of constraints/spread that did not parse
    ports: tuple[int, ...]
    devices: tuple[DeviceNeed, ...]
    spread_attribute: str  # "" when the group does not spread
    policy: Policy

    @property
    def needs_exact_device_check(self) -> bool:
        # One request per kind is decided exactly by the vectorised test;
        # several requests of one kind may compete for the same device.
        return any(need.whole + len(need.shares) > 1 and need.shares for need in self.devices)


def compile_group(group: TaskGroup, default_policy: Policy) -> Requirements:
    constraints: list[Constraint] = []
    invalid: list[str] = []
    policy = default_policy
    if group.policy:
        try:
            policy = Policy(group.policy)
        except ValueError:
            invalid.append(f"invalid policy {group.policy!r} (expected binpack, spread or align)")
    for text in group.constraints:
        try:
            constraints.append(parse_constraint(text))
        except ConstraintError as error:
            invalid.append(str(error))
    spread = ""
    if group.spread:
        try:
            spread = parse_attribute(group.spread)
        except ConstraintError as error:
            invalid.append(f"spread: {error}")
    by_kind: dict[str, tuple[int, list[int]]] = {}
    for request in group.demand.devices:
        whole, shares = by_kind.get(request.kind, (0, []))
        if request.count:
            whole += request.count
        else:
            shares.append(request.milli_share)
        by_kind[request.kind] = (whole, shares)
    devices = tuple(
        DeviceNeed(kind, whole, tuple(sorted(shares, reverse=True)))
        for kind, (whole, shares) in sorted(by_kind.items())
    )
    return Requirements(
        group=group,
        demand=np.array(group.demand.milli_vector(), dtype=np.int64),
        constraints=tuple(constraints),
        invalid=tuple(invalid),
        ports=group.scheduled_ports,
        devices=devices,
        spread_attribute=spread,
        policy=policy,
    )


def assign_devices(nodes: NodeSet, i: int, devices: tuple[DeviceNeed, ...]) -> list[tuple[str, int, int]] | None:
    """Pick devices on node ``i``: [(kind, slot, thousandths)], or None if they do not fit.

    Whole devices take the lowest free ids; a share goes to the fullest
    device that still has room for it (best fit), so partly used devices are
    filled before a whole device is broken into.
    """
    free: dict[str, IntArray] = {}
    for need in devices:
        column = nodes.devices.get(need.kind)
        if column is None:
            return None
        free[need.kind] = column.shares[i]
    return assign_devices_from(free, devices)


def assign_devices_from(
    free: dict[str, IntArray], devices: tuple[DeviceNeed, ...]
) -> list[tuple[str, int, int]] | None:
    """``assign_devices`` on given free shares per kind (one node's row of
    each column); preemption passes the shares as they would be after
    evicting some tasks. The arrays are not changed."""
    takes: list[tuple[str, int, int]] = []
    for need in devices:
        row = free.get(need.kind)
        if row is None:
            return None
        left = row.copy()
        whole_slots = np.flatnonzero(left == MILLI)[: need.whole]
        if len(whole_slots) < need.whole:
            return None
        for slot in whole_slots.tolist():
            left[slot] = 0
            takes.append((need.kind, slot, MILLI))
        for share in need.shares:
            fitting = np.flatnonzero(left >= share)
            if len(fitting) == 0:
                return None
            slot = int(fitting[np.argmin(left[fitting])])  # first of the fullest: lowest id
            left[slot] -= share
            takes.append((need.kind, slot, share))
    return takes


NamedMask = tuple[str, Callable[[Index], BoolArray]]


# Factories rather than lambdas in a loop, so each step keeps its own array.
def _absent(counts: IntArray) -> Callable[[Index], BoolArray]:
    def step(idx: Index) -> BoolArray:
        result: BoolArray = counts[idx] == 0
        return result

    return step


def _free(in_use: BoolArray) -> Callable[[Index], BoolArray]:
    def step(idx: Index) -> BoolArray:
        result: BoolArray = ~in_use[idx]
        return result

    return step


class GroupFilter:
    """All filters of one group against one NodeSet."""

    def __init__(self, nodes: NodeSet, requirements: Requirements) -> None:
        self.nodes = nodes
        self.req = requirements
        self.demand_list: list[int] = requirements.demand.tolist()
        group = requirements.group
        # Static filters cannot change during a plan: evaluate them once.
        self.static_steps: list[tuple[str, BoolArray]] = [
            ("not ready", nodes.ready),
            ("drained", nodes.undrained),
        ]
        for message in requirements.invalid:
            self.static_steps.append((message, np.zeros(nodes.size, dtype=np.bool_)))
        for constraint in requirements.constraints:
            self.static_steps.append((f"constraint {constraint.text}", nodes.constraint_mask(constraint)))
        static = np.ones(nodes.size, dtype=np.bool_)
        for _, mask in self.static_steps:
            static &= mask
        self.static = static
        # Dynamic filters read state that placements change.
        self.dynamic_steps: list[NamedMask] = []
        if group.affinity:
            affinity = [nodes.job_counts(job) for job in group.affinity]
            self.dynamic_steps.append(
                (
                    f"affinity with job {' or '.join(group.affinity)}",
                    lambda idx: np.logical_or.reduce([c[idx] > 0 for c in affinity]),
                )
            )
        for job in group.anti_affinity:
            counts = nodes.job_counts(job)
            self.dynamic_steps.append((f"anti-affinity with job {job}", _absent(counts)))
        if group.max_per_node:
            own = nodes.job_counts(group.job_id)
            limit = group.max_per_node
            self.dynamic_steps.append((f"max_per_node {limit}", lambda idx: own[idx] < limit))
        # Ports come last among the dynamic steps and are kept apart, because
        # preemption may free a port by evicting the task that holds it.
        self.port_steps: list[NamedMask] = [
            (f"host port {port} in use", _free(nodes.port_in_use(port))) for port in requirements.ports
        ]
        self.dynamic_steps += self.port_steps

    def eligible(self, idx: Index, ports: bool = True) -> BoolArray:
        """Every filter except resources and devices (what preemption may
        change), and except host ports when ``ports`` is False."""
        mask = self.static[idx].copy()
        for step in self.dynamic_steps:
            if ports or step not in self.port_steps:
                mask &= step[1](idx)
        return mask

    def feasible_one(self, i: int) -> bool:
        """``feasible`` for one node, in scalar code: this runs after every
        placement, where a dozen numpy calls on one row would dominate."""
        if not self.static[i]:
            return False
        for _, step in self.dynamic_steps:
            if not step(i):
                return False
        capacity = self.nodes.capacity_of(i)
        allocated = self.nodes.allocated_of(i)
        for c, a, d in zip(capacity, allocated, self.demand_list):
            if a + d > c:
                return False
        if self.req.devices:
            return bool(self.feasible(slice(i, i + 1))[0])
        return True

    def fits(self, idx: Index) -> BoolArray:
        nodes = self.nodes
        demand = self.demand_list
        mask: BoolArray = nodes.allocated[0, idx] + demand[0] <= nodes.capacity[0, idx]
        for d in range(1, len(demand)):
            mask &= nodes.allocated[d, idx] + demand[d] <= nodes.capacity[d, idx]
        for need in self.req.devices:
            mask &= self.devices_fit(need, idx)
        return mask

    def feasible(self, idx: Index) -> BoolArray:
        mask = self.eligible(idx) & self.fits(idx)
        if self.req.needs_exact_device_check:
            positions = np.arange(self.nodes.size)[idx]
            for k in np.flatnonzero(mask).tolist():
                if assign_devices(self.nodes, int(positions[k]), self.req.devices) is None:
                    mask[k] = False
        return mask

    def devices_fit(self, need: DeviceNeed, idx: Index) -> BoolArray:
        column = self.nodes.devices.get(need.kind)
        if column is None or column.shares.shape[1] == 0:
            return np.zeros(np.arange(self.nodes.size)[idx].size, dtype=np.bool_)
        shares = column.shares[idx]
        mask: BoolArray = np.count_nonzero(shares == MILLI, axis=1) >= need.whole
        for share in need.shares:
            mask &= np.any(shares >= share, axis=1)
        return mask

    def explain_counts(self) -> tuple[dict[str, int], dict[str, int], BoolArray]:
        """(filtered, exhausted, feasible mask) over all nodes, charging each
        rejected node to the first filter that rejects it."""
        everything = slice(None)
        remaining = np.ones(self.nodes.size, dtype=np.bool_)
        filtered: dict[str, int] = {}
        steps: list[tuple[str, BoolArray]] = list(self.static_steps)
        steps += [(name, step(everything)) for name, step in self.dynamic_steps]
        for name, mask in steps:
            removed = int(np.count_nonzero(remaining & ~mask))
            if removed:
                filtered[name] = filtered.get(name, 0) + removed
            remaining &= mask
        exhausted: dict[str, int] = {}
        short = np.zeros(self.nodes.size, dtype=np.bool_)
        for d, dimension in enumerate(DIMENSIONS):
            lacking = self.nodes.allocated[d] + self.demand_list[d] > self.nodes.capacity[d]
            count = int(np.count_nonzero(remaining & lacking))
            if count:
                exhausted[dimension] = count
            short |= lacking
        for need in self.req.devices:
            missing = ~self.devices_fit(need, everything)
            count = int(np.count_nonzero(remaining & missing))
            if count:
                exhausted[need.kind] = count
            short |= missing
        remaining &= ~short
        if self.req.needs_exact_device_check:
            exact = self.feasible(everything)
            count = int(np.count_nonzero(remaining & ~exact))
            if count:
                exhausted["device combination"] = count
            remaining &= exact
        return filtered, exhausted, remaining
