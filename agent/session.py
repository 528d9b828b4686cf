"""The agent's session with the leader's dispatcher: register, heartbeat,
follow assignments, report task status in batches; reconnect with back-off
when the manager goes away (the containers keep running meanwhile)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import grpc

from agent.config import AgentConfig
from agent.identity import save_managers
from agent.resources import probe
from agent.worker import Worker
from dockyard import __version__
from dockyard.api.v1 import dispatcher_pb2 as dpb
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.grpcutil import secure_channel
from dockyard.pki import NodeIdentity

log = logging.getLogger("dockyard.session")


class StatusReporter:
    """Gathers task status updates and sends them in one RPC per window.
    The newest status of a task wins; nothing is dropped on a failed send."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.pending: dict[str, pb.TaskStatus] = {}
        self.wakeup = asyncio.Event()

    def add(self, task_id: str, status: pb.TaskStatus) -> None:
        self.pending[task_id] = status
        self.wakeup.set()

    async def run(self, stub: dgrpc.DispatcherStub, node_id: str, session_id: str) -> None:
        while True:
            await self.wakeup.wait()
            await asyncio.sleep(self.window)
            self.wakeup.clear()
            batch, self.pending = self.pending, {}
            if not batch:
                continue
            req = dpb.UpdateTaskStatusRequest(node_id=node_id, session_id=session_id)
            for task_id, st in batch.items():
                req.updates.append(dpb.TaskStatusUpdate(task_id=task_id, status=st))
            try:
                await stub.UpdateTaskStatus(req, timeout=15)
            except grpc.aio.AioRpcError:
                # Put them back unless something newer came meanwhile.
                for task_id, st in batch.items():
                    self.pending.setdefault(task_id, st)
                self.wakeup.set()
                raise


class AgentSession:
    def __init__(
        self,
        config: AgentConfig,
        worker: Worker,
        reporter: StatusReporter,
        advertise: str,
        identity: Callable[[], NodeIdentity],
    ) -> None:
        self.config = config
        self.worker = worker
        self.reporter = reporter
        self.advertise = advertise
        self.identity = identity
        self.registered = asyncio.Event()
        self._current: asyncio.Task[None] | None = None

    def reconnect(self) -> None:
        """Drop the current session (e.g. to use a renewed certificate)."""
        if self._current is not None:
            self._current.cancel()

    async def run(self) -> None:
        backoff = self.config.reconnect_min
        index = 0
        while True:
            managers = self.config.managers
            address = managers[index % len(managers)]
            try:
                async with secure_channel(address, self.identity()) as channel:
                    self._current = asyncio.create_task(self._session(dgrpc.DispatcherStub(channel)))
                    await self._current
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    raise  # the agent is shutting down
                log.info("event=session_reconnect manager=%s", address)
                backoff = self.config.reconnect_min
                continue
            except (grpc.aio.AioRpcError, ConnectionError) as e:
                leader = _leader_hint(e)
                if leader:
                    # A follower named the leader: go there at once.
                    if leader not in self.config.managers:
                        self.config.managers = [*self.config.managers, leader]
                    index = self.config.managers.index(leader)
                    self.registered.clear()
                    await asyncio.sleep(self.config.reconnect_min)
                    backoff = self.config.reconnect_min
                    continue
                details = e.details() if isinstance(e, grpc.aio.AioRpcError) else str(e)
                log.info("event=session_lost manager=%s error=%r retry_in=%.1fs", address, details, backoff)
            else:
                backoff = self.config.reconnect_min
            finally:
                self._current = None
            self.registered.clear()
            index += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.reconnect_max)

    async def _session(self, stub: dgrpc.DispatcherStub) -> None:
        capacity = await asyncio.to_thread(probe, self.config.data_dir, self.config.cpu, self.config.memory, self.config.disk)
        reg = await stub.Register(
            dpb.RegisterRequest(
                node_id=self.identity().node_id,
                name=self.config.name or socket.gethostname(),
                hostname=socket.gethostname(),
                address=self.advertise,
                labels=self.config.labels,
                capacity=capacity,
                devices=[pb.Device(id=i, kind=kind) for kind, ids in sorted(self.config.devices.items()) for i in ids],
                runtime=self.config.runtime,
                version=__version__,
            ),
            timeout=15,
        )
        if reg.managers and sorted(reg.managers) != sorted(self.config.managers):
            self.config.managers = list(reg.managers)
            await asyncio.to_thread(save_managers, self.config.data_dir, list(reg.managers))
        self.registered.set()
        log.info("event=registered node=%s session=%s period=%.1fs", reg.node_id, reg.session_id[:8], reg.heartbeat_period)
        tasks = [
            asyncio.create_task(self._heartbeats(stub, reg)),
            asyncio.create_task(self._assignments(stub, reg)),
            asyncio.create_task(self.reporter.run(stub, reg.node_id, reg.session_id)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        finally:
            for t in tasks:
                t.cancel()

    async def _heartbeats(self, stub: dgrpc.DispatcherStub, reg: dpb.RegisterResponse) -> None:
        period = reg.heartbeat_period
        while True:
            await asyncio.sleep(period)
            resp = await stub.Heartbeat(dpb.HeartbeatRequest(node_id=reg.node_id, session_id=reg.session_id), timeout=period * 2)
            period = resp.period or period

    async def _assignments(self, stub: dgrpc.DispatcherStub, reg: dpb.RegisterResponse) -> None:
        call = stub.Assignments(dpb.AssignmentsRequest(node_id=reg.node_id, session_id=reg.session_id))
        async for msg in call:
            if msg.full:
                await self.worker.assign_full(msg.tasks)
            else:
                await self.worker.assign_changes(msg.tasks, msg.removed)
        raise ConnectionError("the assignment stream ended")



def _leader_hint(error: Exception) -> str:
    if not isinstance(error, grpc.aio.AioRpcError) or error.code() != grpc.StatusCode.UNAVAILABLE:
        return ""
    for key, value in error.trailing_metadata() or ():
        if key == "dockyard-leader":
            return str(value)
    return ""
