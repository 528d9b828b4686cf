"""Scheduler: snapshot + queue in, Plan out. Pure: no I/O, no clock, no globals."""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.config import Policy, QueueOrder, SchedulerConfig
from scheduler.explain import Explanation
from scheduler.filters import assign_devices, compile_group
from scheduler.grouppass import GroupPass
from scheduler.nodeset import NodeSet
from scheduler.plan import Placement, Plan, Preemption, Unplaced
from scheduler.preemption import find_preemption
from scheduler.queue import DrfQueue, ordered
from scheduler.resources import MILLI
from scheduler.snapshot import NodeInfo
from scheduler.taskgroup import TaskGroup

# Shared safely as a default: SchedulerConfig is frozen.
DEFAULT_CONFIG = SchedulerConfig()


class Scheduler:
    def __init__(self, config: SchedulerConfig = DEFAULT_CONFIG) -> None:
        self.config = config

    def plan(self, nodes: Sequence[NodeInfo], groups: Sequence[TaskGroup]) -> Plan:
        """Decide placements for ``groups`` on ``nodes``; the inputs are not changed."""
        return _PlanRun(self.config, nodes).run(groups)


class _PlanRun:
    """State of one plan() call: the mutable NodeSet and the plan so far."""

    def __init__(self, config: SchedulerConfig, nodes: Sequence[NodeInfo]) -> None:
        self.config = config
        self.default_policy = Policy(config.policy)
        self.nodes = NodeSet(nodes, config.seed)
        self.placements: list[Placement] = []
        self.preemptions: list[Preemption] = []
        self.unplaced: list[Unplaced] = []
        self.explanations: dict[str, Explanation] = {}
        # Passes whose groups still have tasks to place; every reservation is
        # pushed to all of them (several are open at once only under DRF).
        self.live: list[GroupPass] = []

    def run(self, groups: Sequence[TaskGroup]) -> Plan:
        pending = [g for g in groups if g.task_ids]
        order = QueueOrder(self.config.queue_order)
        if order is QueueOrder.DRF:
            self._run_drf(pending)
        else:
            for group in ordered(pending, order):
                self._run_group(group)
        return Plan(
            placements=tuple(self.placements),
            preemptions=tuple(self.preemptions),
            unplaced=tuple(self.unplaced),
            explanations=self.explanations,
        )

    def _run_group(self, group: TaskGroup) -> None:
        group_pass = self._open(group)
        for k, task_id in enumerate(group.task_ids):
            if not self._place_one(group_pass, task_id):
                self._give_up(group_pass, group.task_ids[k:])
                break
        self.live.remove(group_pass)

    def _run_drf(self, groups: Sequence[TaskGroup]) -> None:
        queue = DrfQueue(groups, self.config.namespace_weights, self.nodes.dominant_share)
        open_passes: dict[str, tuple[GroupPass, int]] = {}
        while (namespace := queue.next_namespace()) is not None:
            group = queue.head(namespace)
            current = open_passes.get(namespace)
            if current is None or current[0].req.group is not group:
                current = (self._open(group), 0)
            group_pass, k = current
            if self._place_one(group_pass, group.task_ids[k]):
                k += 1
                if k < len(group.task_ids):
                    open_passes[namespace] = (group_pass, k)
                    continue
            else:
                self._give_up(group_pass, group.task_ids[k:])
            # The group is finished either way; the namespace moves on to its
            # next group, or drops out of the queue when it has none.
            self.live.remove(group_pass)
            open_passes.pop(namespace, None)
            queue.pop(namespace)

    def _open(self, group: TaskGroup) -> GroupPass:
        group_pass = GroupPass(self.nodes, compile_group(group, self.default_policy))
        self.live.append(group_pass)
        if self.config.explain and group.job_id not in self.explanations:
            self.explanations[group.job_id] = group_pass.explanation(self.config.explain_top_k)
        return group_pass

    def _place_one(self, group_pass: GroupPass, task_id: str) -> bool:
        i = group_pass.best()
        if i is None:
            if not self.config.preemption:
                return False
            i = self._preempt(group_pass, task_id)
            if i is None:
                return False
        req = group_pass.req
        takes = assign_devices(self.nodes, i, req.devices) if req.devices else []
        if takes is None:  # the filters admitted the node, so this is a bug
            raise AssertionError(f"devices of node {self.nodes.ids[i]} do not fit after filtering")
        group = req.group
        self.nodes.reserve(i, group.job_id, group.namespace, req.demand, req.ports, takes)
        for live in self.live:
            live.job_moved(i, group.job_id, +1)
            live.refresh(i)
        group_pass.placed(i)
        self.placements.append(
            Placement(
                task_id=task_id,
                node_id=self.nodes.ids[i],
                job_id=group.job_id,
                device_ids=tuple(self.nodes.devices[kind].ids[i][slot] for kind, slot, _ in takes),
                device_shares=tuple(milli / MILLI for _, _, milli in takes),
            )
        )
        return True

    def _preempt(self, group_pass: GroupPass, task_id: str) -> int | None:
        group = group_pass.req.group
        choice = find_preemption(group_pass.filter, group.priority, self.config.preemption_search_budget)
        if choice is None:
            return None
        i = choice.node
        job = group.job_name or group.job_id
        for victim in choice.victims:
            self.nodes.evict(i, victim)
            for live in self.live:
                live.job_moved(i, victim.job_id, -1)
            self.preemptions.append(
                Preemption(
                    task_id=victim.task_id,
                    node_id=self.nodes.ids[i],
                    job_id=victim.job_id,
                    for_task_id=task_id,
                    reason=(
                        f"preempted by job {job} task {task_id} "
                        f"(priority {group.priority} > {victim.priority}) "
                        f"for {' and '.join(choice.lacking)}"
                    ),
                )
            )
        for live in self.live:
            live.refresh(i, grew=False)
        return i

    def _give_up(self, group_pass: GroupPass, task_ids: Sequence[str]) -> None:
        note = ""
        if self.config.preemption:
            note = f"no lower-priority tasks (below {group_pass.req.group.priority}) to preempt would make room"
        explanation = group_pass.explanation(self.config.explain_top_k, preemption=note)
        self.unplaced.append(Unplaced(group_pass.req.group.job_id, tuple(task_ids), explanation))
