"""The leader's orchestrator loop: follows the store and applies
`reconcile_job` to every job whose tasks or nodes changed."""

from __future__ import annotations

import asyncio
import logging
import time

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import Unavailable
from manager.raft import Proposer
from manager.reconcile import orphan_lost_tasks, reconcile_job, stopped_job_finished
from manager.store import Store, View, delete

log = logging.getLogger("dockyard.orchestrator")


class Orchestrator:
    def __init__(self, store: Store, proposer: Proposer, term: int) -> None:
        self.store = store
        self.proposer = proposer
        self.term = term
        self._dirty: set[str] = set()
        self._wake_at: dict[str, float] = {}

    async def run(self) -> None:
        view, watch = self.store.view_and_watch(("jobs", "tasks", "nodes"))
        try:
            self._dirty.update(view.jobs)
            await self._lost_nodes(view)
            while True:
                await self._pass()
                timeout = None
                if self._wake_at:
                    timeout = max(0.0, min(self._wake_at.values()) - time.time())
                try:
                    changes = await asyncio.wait_for(watch.queue.get(), timeout)
                except TimeoutError:
                    now = time.time()
                    due = [j for j, at in self._wake_at.items() if at <= now]
                    for j in due:
                        del self._wake_at[j]
                    self._dirty.update(due)
                    continue
                batches = [changes]
                while not watch.queue.empty():
                    batches.append(watch.queue.get_nowait())
                changed_nodes: set[str] = set()
                for batch in batches:
                    for ch in batch:
                        if ch.table == "jobs":
                            self._dirty.add(ch.obj.meta.id)  # type: ignore[attr-defined]
                        elif ch.table == "tasks":
                            self._dirty.add(ch.obj.job_id)  # type: ignore[attr-defined]
                        elif ch.table == "nodes":
                            changed_nodes.add(ch.obj.meta.id)  # type: ignore[attr-defined]
                if changed_nodes:
                    view = self.store.view()
                    self._dirty.update(t.job_id for t in view.tasks.values() if t.node_id in changed_nodes)
                    await self._lost_nodes(view)
        finally:
            watch.close()

    async def _lost_nodes(self, view: View) -> None:
        actions = orphan_lost_tasks(view.tasks.values(), view.nodes, time.time())
        if actions:
            await self._commit(actions)

    async def _pass(self) -> None:
        if not self._dirty:
            return
        view = self.store.view()
        now = time.time()
        dirty, self._dirty = self._dirty, set()
        # One pass over the tasks for all dirty jobs (not one per job).
        tasks_of: dict[str, list[pb.Task]] = {job_id: [] for job_id in dirty}
        for t in view.tasks.values():
            held = tasks_of.get(t.job_id)
            if held is not None:
                held.append(t)
        actions: list[spb.StoreAction] = []
        for job_id in sorted(dirty):
            job = view.jobs.get(job_id)
            tasks = tasks_of[job_id]
            if job is None:
                actions.extend(delete(t) for t in tasks)  # tasks of a deleted job
                continue
            if job.spec.type not in ("service", "batch"):
                continue
            if stopped_job_finished(job, tasks) and not tasks:
                continue
            decision = reconcile_job(job, tasks, now, view.nodes)
            actions.extend(decision.actions)
            if decision.wake_at is not None:
                self._wake_at[job_id] = decision.wake_at
        if actions:
            ok = await self._commit(actions)
            if not ok:
                self._dirty |= dirty  # conflicting with a concurrent write: look again

    async def _commit(self, actions: list[spb.StoreAction]) -> bool:
        batch = spb.StoreBatch(term=self.term, atomic=True, actions=actions)
        try:
            result = await self.proposer.propose(batch)
        except Unavailable as e:
            log.warning("event=orchestrator_commit_failed error=%r", str(e))
            await asyncio.sleep(0.2)
            return False
        if not result.ok:
            log.info("event=orchestrator_conflict errors=%r", result.errors[:3])
        return result.ok

