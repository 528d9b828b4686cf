"""The leader's scheduling loop: turns the store into the `scheduler`
library's plain inputs, asks for a Plan, and commits it as one Raft entry
(compare-and-set on every task it touches, fenced by the leader's term). A
conflict means somebody else changed those tasks: plan again from a fresh view.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

import scheduler as sch
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import Unavailable
from manager.raft import Proposer
from manager.settings import current_settings, format_weights, scheduler_config, view_settings
from manager.store import Store, View, clone, update
from manager.taskstate import TS, holds_resources, is_pending, wants_running

log = logging.getLogger("dockyard.scheduling")

_UNPREEMPTABLE = 2**31 - 1  # above any job priority (job files allow 0-100)


def resources_of(spec: pb.TaskSpec) -> sch.Resources:
    r = spec.resources
    devices = tuple(sch.DeviceRequest(kind=d.kind, count=d.count, share=d.share) for d in r.devices)
    return sch.Resources(cpu=r.cpu, memory=r.memory, disk=r.disk, devices=devices)


# The scheduler sees device ids qualified by kind ("gpu/0"): ids are unique
# only per kind on a node, and a Placement names ids without their kind.
def _qualified(kind: str, device_id: str) -> str:
    return f"{kind}/{device_id}"


def _unqualified(qualified: str) -> tuple[str, str]:
    kind, _, device_id = qualified.partition("/")
    return kind, device_id


def node_devices(node: pb.Node, tasks: Iterable[pb.Task]) -> tuple[sch.Device, ...]:
    """The node's devices with their free share: 1 less the shares held by
    `tasks` (the node's tasks that hold resources)."""
    held: dict[tuple[str, str], float] = defaultdict(float)
    for t in tasks:
        for d in t.devices:
            held[(d.kind, d.id)] += d.share
    return tuple(
        sch.Device(_qualified(d.kind, d.id), d.kind, max(0.0, 1.0 - held.get((d.kind, d.id), 0.0)))
        for d in node.devices
    )


def task_devices(placement: sch.Placement) -> list[pb.TaskDevice]:
    out = []
    for qualified, share in zip(placement.device_ids, placement.device_shares, strict=True):
        kind, device_id = _unqualified(qualified)
        out.append(pb.TaskDevice(kind=kind, id=device_id, share=share))
    return out


def fixed_ports(spec: pb.TaskSpec) -> tuple[int, ...]:
    return tuple(p.published for p in spec.ports if p.published)


def node_infos(view: View, exclude_job: str = "") -> list[sch.NodeInfo]:
    """Every node with what its tasks hold. `exclude_job` leaves one job's
    tasks out, so a dry run plans the job as if it were new."""
    running: dict[str, list[pb.Task]] = defaultdict(list)
    for task in view.tasks.values():
        if holds_resources(task) and task.job_id != exclude_job:
            running[task.node_id].append(task)
    infos = []
    for node in sorted(view.nodes.values(), key=lambda n: n.meta.id):
        tasks = running.get(node.meta.id, [])
        allocated = sch.Resources()
        ports: set[int] = set()
        for t in tasks:
            allocated = allocated + resources_of(t.spec)
            ports.update(fixed_ports(t.spec))
        cap = node.capacity
        infos.append(
            sch.NodeInfo(
                node_id=node.meta.id,
                name=node.name,
                capacity=sch.Resources(cpu=cap.cpu, memory=cap.memory, disk=cap.disk),
                allocated=allocated,
                labels=dict(node.labels),
                ready=node.state == pb.NODE_STATE_READY,
                drained=node.availability == pb.NODE_AVAILABILITY_DRAIN,
                used_ports=frozenset(ports),
                devices=node_devices(node, tasks),
                tasks=tuple(
                    sch.RunningTask(
                        task_id=t.meta.id,
                        job_id=t.job_id,
                        # A task already told to shut down still holds its
                        # resources until its agent reports it ended, but
                        # evicting it again would free nothing: make it
                        # unpreemptable (the scheduler never evicts equal or
                        # higher priority).
                        priority=t.priority if wants_running(t) else _UNPREEMPTABLE,
                        demand=resources_of(t.spec),
                        host_ports=fixed_ports(t.spec),
                        namespace=t.namespace or "default",
                        # Same qualified ids as node_devices, so evicting the
                        # task gives its devices back to the plan.
                        device_ids=tuple(_qualified(d.kind, d.id) for d in t.devices),
                        device_shares=tuple(d.share for d in t.devices),
                    )
                    for t in tasks
                ),
            )
        )
    return infos


def task_group(job_id: str, job_name: str, sample: pb.Task | pb.JobSpec, task_ids: Sequence[str], submitted_at: float) -> sch.TaskGroup:
    if isinstance(sample, pb.JobSpec):
        spec, placement, namespace, priority = sample.task, sample.placement, sample.namespace, sample.priority
    else:
        spec, placement, namespace, priority = sample.spec, sample.placement, sample.namespace, sample.priority
    return sch.TaskGroup(
        job_id=job_id,
        job_name=job_name,
        task_ids=tuple(task_ids),
        demand=resources_of(spec),
        namespace=namespace or "default",
        priority=priority,
        constraints=tuple(placement.constraints),
        host_ports=fixed_ports(spec),
        max_per_node=placement.max_per_node,
        spread=placement.spread,
        policy=placement.policy,
        submitted_at=submitted_at,
    )


def pending_groups(tasks: Iterable[pb.Task], now: float) -> tuple[list[sch.TaskGroup], float | None]:
    """Pending tasks grouped by job version; also when the earliest task that
    is still inside its restart delay becomes schedulable."""
    groups: dict[tuple[str, int], list[pb.Task]] = defaultdict(list)
    wake: float | None = None
    for task in tasks:
        if not (is_pending(task) and wants_running(task)):
            continue
        if task.not_before > now:
            wake = task.not_before if wake is None else min(wake, task.not_before)
            continue
        groups[(task.job_id, task.spec_version)].append(task)
    out = []
    for (job_id, _), members in sorted(groups.items(), key=lambda kv: min(t.meta.created_index for t in kv[1])):
        members.sort(key=lambda t: (t.slot, t.meta.created_index))
        first = members[0]
        out.append(task_group(job_id, first.job_name, first, [t.meta.id for t in members], first.meta.created_at))
    return out, wake


def preempted_summary(view: View, preemptions: Sequence[sch.Preemption]) -> str:
    """'2 tasks of job batch (priority 10): a1b2c3d4e5f6, ...' for a placement's evictions."""
    by_job: dict[str, list[pb.Task]] = defaultdict(list)
    for pre in preemptions:
        victim = view.tasks.get(pre.task_id)
        if victim is not None:
            by_job[victim.job_name].append(victim)
    parts = []
    for job_name, victims in sorted(by_job.items()):
        noun = "task" if len(victims) == 1 else "tasks"
        ids = ", ".join(v.meta.id[:12] for v in victims)
        parts.append(f"{len(victims)} {noun} of job {job_name} (priority {victims[0].priority}): {ids}")
    return "; ".join(parts)


class SchedulingLoop:
    """The leader's scheduler. It acts on the replicated cluster settings
    (`seed` until the first leader has written them) and follows changes to
    them from one pass to the next."""

    def __init__(self, store: Store, proposer: Proposer, term: int, seed: pb.ClusterSettings, debounce: float) -> None:
        self.store = store
        self.proposer = proposer
        self.term = term
        self.seed = seed
        self.debounce = debounce
        self._settings: pb.ClusterSettings | None = None
        self.scheduler = self._scheduler_for(current_settings(store, seed))

    def _scheduler_for(self, settings: pb.ClusterSettings) -> sch.Scheduler:
        if self._settings is None or settings != self._settings:
            config = scheduler_config(settings)
            log.info(
                "event=scheduler_config policy=%s queue_order=%s preemption=%s namespace_weights=%s",
                config.policy, config.queue_order, config.preemption,
                format_weights(config.namespace_weights),
            )
            self._settings = settings
            self.scheduler = sch.Scheduler(config)
        return self.scheduler

    async def run(self) -> None:
        _, watch = self.store.view_and_watch(("tasks", "nodes", "settings"))
        try:
            wake: float | None = None
            while True:
                wake = await self.schedule_once()
                timeout = None if wake is None else max(0.0, wake - time.time())
                try:
                    await asyncio.wait_for(watch.queue.get(), timeout)
                except TimeoutError:
                    continue
                await asyncio.sleep(self.debounce)
                while not watch.queue.empty():
                    watch.queue.get_nowait()
        finally:
            watch.close()

    async def schedule_once(self) -> float | None:
        """One pass; replans on conflicts. Returns when to look again."""
        for _ in range(5):
            view = self.store.view()
            now = time.time()
            groups, wake = pending_groups(view.tasks.values(), now)
            if not groups:
                return wake
            plan = self._scheduler_for(view_settings(view, self.seed)).plan(node_infos(view), groups)
            actions = self._plan_actions(view, plan, now)
            if not actions:
                return wake
            try:
                result = await self.proposer.propose(spb.StoreBatch(term=self.term, atomic=True, actions=actions))
            except Unavailable as e:
                log.warning("event=schedule_commit_failed error=%r", str(e))
                await asyncio.sleep(0.2)
                continue
            if result.ok:
                log.info(
                    "event=plan_committed placed=%d unplaced=%d preempted=%d",
                    len(plan.placements),
                    sum(len(u.task_ids) for u in plan.unplaced),
                    len(plan.preemptions),
                )
                return wake
            log.info("event=plan_conflict errors=%r", result.errors[:3])
        return time.time() + 0.5

    def _plan_actions(self, view: View, plan: sch.Plan, now: float) -> list[spb.StoreAction]:
        actions = []
        names = {n.meta.id: n.name for n in view.nodes.values()}
        evicted: dict[str, list[sch.Preemption]] = defaultdict(list)
        for pre in plan.preemptions:
            evicted[pre.for_task_id].append(pre)
        for p in plan.placements:
            t = clone(view.tasks[p.task_id])
            t.node_id = p.node_id
            t.pending_reason = ""
            del t.devices[:]
            t.devices.extend(task_devices(p))
            t.status.state = TS.TASK_STATE_ASSIGNED
            t.status.message = f"assigned to {names.get(p.node_id, p.node_id)}"
            if p.task_id in evicted:
                t.status.message += ", preempting " + preempted_summary(view, evicted[p.task_id])
            t.status.timestamp = now
            actions.append(update(t))
        for pre in plan.preemptions:
            victim = view.tasks.get(pre.task_id)
            if victim is None:
                continue
            t = clone(victim)
            t.desired_state = TS.TASK_STATE_SHUTDOWN
            t.status.message = pre.reason
            actions.append(update(t))
            log.info("event=task_preempted task=%s job=%s node=%s for_task=%s reason=%r",
                     pre.task_id, victim.job_name, pre.node_id, pre.for_task_id, pre.reason)
        for u in plan.unplaced:
            reason = u.explanation.summary()
            for task_id in u.task_ids:
                task = view.tasks[task_id]
                if task.pending_reason != reason:
                    t = clone(task)
                    t.pending_reason = reason
                    t.status.message = "pending: " + reason
                    actions.append(update(t))
        return actions
