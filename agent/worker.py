"""The agent's worker: makes the node's containers match its assignments.

Each task is driven by its desired state (from the managers) and its observed
state (from the runtime); what the worker sees is reported through the
`report` callback, which batches updates to the dispatcher. Operations on one
task are serialised by a per-task lock; different tasks proceed concurrently
(20 assignments start 20 containers at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from agent.runtime import ContainerSpec, ContainerState, PortRequest, RuntimeFailure, TaskRuntime
from dockyard.api.v1 import objects_pb2 as pb

log = logging.getLogger("dockyard.worker")
TS = pb.TaskState
TERMINAL = {TS.TASK_STATE_COMPLETE, TS.TASK_STATE_SHUTDOWN, TS.TASK_STATE_FAILED, TS.TASK_STATE_REJECTED, TS.TASK_STATE_ORPHANED}

# Docker's own default between SIGTERM and SIGKILL.
DEFAULT_STOP_GRACE = 10.0

Report = Callable[[str, pb.TaskStatus], None]


def device_env(task: pb.Task) -> dict[str, str]:
    """What tells a container which devices it may use: DOCKYARD_DEVICE_IDS
    (every assigned id, in request order) and, for GPUs,
    NVIDIA_VISIBLE_DEVICES, which NVIDIA's container runtime reads."""
    if not task.devices:
        return {}
    ids = list(dict.fromkeys(d.id for d in task.devices))
    env = {"DOCKYARD_DEVICE_IDS": ",".join(ids)}
    gpus = list(dict.fromkeys(d.id for d in task.devices if d.kind == "gpu"))
    if gpus:
        env["NVIDIA_VISIBLE_DEVICES"] = ",".join(gpus)
    return env


def container_spec(task: pb.Task) -> ContainerSpec:
    s = task.spec
    return ContainerSpec(
        task_id=task.meta.id,
        job_id=task.job_id,
        job_name=task.job_name,
        slot=task.slot,
        image=s.image,
        command=tuple(s.command),
        # The scheduler's assignment wins over the job's own env.
        env={**s.env, **device_env(task)},
        cpu=s.resources.cpu,
        memory=s.resources.memory,
        ports=tuple(PortRequest(p.container, p.published, p.protocol or "tcp") for p in s.ports),
    )


def _status(state: int, message: str, container: ContainerState | None = None, error: str = "") -> pb.TaskStatus:
    st = pb.TaskStatus(state=state, message=message, error=error, timestamp=time.time())  # type: ignore[arg-type]
    if container is not None:
        st.container_id = container.container_id
        for p in container.ports:
            st.ports.append(pb.PortBinding(container=p.container, published=p.published, host_ip=p.host_ip, protocol=p.protocol))
        if container.exit_code is not None:
            st.exited = True
            st.exit_code = container.exit_code
        if container.error and not error:
            st.error = container.error
    return st


def exited_status(task: pb.Task, c: ContainerState) -> pb.TaskStatus:
    if task.desired_state != TS.TASK_STATE_RUNNING:
        return _status(TS.TASK_STATE_SHUTDOWN, "stopped", c)
    if c.exit_code == 0:
        return _status(TS.TASK_STATE_COMPLETE, "exited with code 0", c)
    return _status(TS.TASK_STATE_FAILED, f"exited with code {c.exit_code}", c, c.error or f"task exited with code {c.exit_code}")


class Worker:
    def __init__(self, runtime: TaskRuntime, report: Report) -> None:
        self.runtime = runtime
        self.report = report
        self.tasks: dict[str, pb.Task] = {}
        self.observed: dict[str, int] = {}  # task id -> last state we reported
        self._locks: dict[str, asyncio.Lock] = {}
        self._ops: set[asyncio.Task[None]] = set()

    def _lock(self, task_id: str) -> asyncio.Lock:
        return self._locks.setdefault(task_id, asyncio.Lock())

    def _emit(self, task_id: str, status: pb.TaskStatus) -> None:
        self.observed[task_id] = status.state
        self.report(task_id, status)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        t = asyncio.create_task(coro)
        self._ops.add(t)
        t.add_done_callback(self._ops.discard)

    # -- assignments ---------------------------------------------------------

    async def assign_full(self, tasks: Iterable[pb.Task]) -> None:
        """The complete set: adopt what matches, remove what is not in it."""
        wanted = {t.meta.id: t for t in tasks}
        for task_id in list(self.tasks):
            if task_id not in wanted:
                self._forget(task_id)
        existing = await self.runtime.list()
        for c in existing:
            if c.task_id not in wanted:
                log.info("event=container_unassigned task=%s container=%s action=remove", c.task_id, c.container_id[:12])
                self._spawn(self._remove(c.task_id))
        for task in wanted.values():
            self.tasks[task.meta.id] = task
            self._spawn(self._drive(task.meta.id))

    async def assign_changes(self, tasks: Iterable[pb.Task], removed: Iterable[str]) -> None:
        for task in tasks:
            self.tasks[task.meta.id] = task
            self._spawn(self._drive(task.meta.id))
        for task_id in removed:
            self._forget(task_id)
            self._spawn(self._remove(task_id))

    def _forget(self, task_id: str) -> None:
        self.tasks.pop(task_id, None)
        self.observed.pop(task_id, None)

    async def _remove(self, task_id: str) -> None:
        async with self._lock(task_id):
            if task_id in self.tasks:
                return  # assigned again meanwhile
            try:
                await self.runtime.remove(task_id)
            except RuntimeFailure as e:
                log.warning("event=remove_failed task=%s error=%r", task_id, str(e))
        self._locks.pop(task_id, None)

    # -- driving one task ----------------------------------------------------

    async def _drive(self, task_id: str) -> None:
        async with self._lock(task_id):
            task = self.tasks.get(task_id)
            if task is None:
                return
            known = max(self.observed.get(task_id, 0), task.status.state)
            if task.desired_state != TS.TASK_STATE_RUNNING:
                # Even a task the managers already count as ended (e.g. orphaned
                # while this node was cut off) may still have a live container.
                await self._stop(task)
                return
            if known in TERMINAL:
                return
            if known >= TS.TASK_STATE_RUNNING:
                await self._check(task)  # e.g. adopted after an agent restart
            else:
                await self._start(task)

    async def _start(self, task: pb.Task) -> None:
        task_id = task.meta.id
        log.info("event=task_starting task=%s job=%s slot=%d image=%s", task_id, task.job_name, task.slot, task.spec.image)
        self._emit(task_id, _status(TS.TASK_STATE_STARTING, "starting container"))
        try:
            c = await self.runtime.start(container_spec(task))
        except RuntimeFailure as e:
            log.warning("event=task_start_failed task=%s error=%r", task_id, str(e))
            self._emit(task_id, _status(TS.TASK_STATE_FAILED, "could not start", error=str(e)))
            return
        if c.running:
            log.info("event=task_running task=%s container=%s", task_id, c.container_id[:12])
            self._emit(task_id, _status(TS.TASK_STATE_RUNNING, "running", c))
        else:
            self._emit(task_id, exited_status(task, c))

    async def _check(self, task: pb.Task) -> None:
        c = await self.runtime.inspect(task.meta.id)
        if c is None:
            self._emit(task.meta.id, _status(TS.TASK_STATE_FAILED, "container disappeared", error="the task's container no longer exists"))
        elif not c.running:
            self._emit(task.meta.id, exited_status(task, c))
        elif self.observed.get(task.meta.id, 0) < TS.TASK_STATE_RUNNING:
            self.observed[task.meta.id] = TS.TASK_STATE_RUNNING  # adopted: already reported before the restart

    async def _stop(self, task: pb.Task) -> None:
        c = await self.runtime.inspect(task.meta.id)
        if c is None or not c.running:
            if self.observed.get(task.meta.id, task.status.state) not in TERMINAL:
                self._emit(task.meta.id, _status(TS.TASK_STATE_SHUTDOWN, task.status.message or "stopped", c))
            return
        log.info("event=task_stopping task=%s container=%s", task.meta.id, c.container_id[:12])
        try:
            await self.runtime.stop(task.meta.id, task.spec.stop_grace_period or DEFAULT_STOP_GRACE)
        except RuntimeFailure as e:
            log.warning("event=task_stop_failed task=%s error=%r", task.meta.id, str(e))
        c = await self.runtime.inspect(task.meta.id)
        self._emit(task.meta.id, _status(TS.TASK_STATE_SHUTDOWN, task.status.message or "stopped", c))

    # -- what happens by itself ------------------------------------------------

    async def on_exit(self, task_id: str) -> None:
        """A container exited without being asked (or while being stopped)."""
        self._spawn(self._exited(task_id))

    async def _exited(self, task_id: str) -> None:
        async with self._lock(task_id):
            task = self.tasks.get(task_id)
            if task is None or self.observed.get(task_id, 0) in TERMINAL:
                return
            c = await self.runtime.inspect(task_id)
            if c is None:
                self._emit(task_id, _status(TS.TASK_STATE_FAILED, "container disappeared", error="the task's container no longer exists"))
                return
            if c.running:
                return
            log.info("event=task_exited task=%s exit_code=%s", task_id, c.exit_code)
            self._emit(task_id, exited_status(task, c))

    async def resync(self) -> None:
        """Catch what events missed: running tasks whose container is gone or exited."""
        for task_id, state in list(self.observed.items()):
            if state == TS.TASK_STATE_RUNNING:
                await self._exited(task_id)

    async def close(self) -> None:
        for t in list(self._ops):
            t.cancel()
