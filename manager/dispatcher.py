"""The dispatcher: agents' sessions with the leader.

An agent registers (gets a node id and a session), heartbeats at the period
the leader chooses, receives its assignments (the full set of its tasks
first, then changes) and reports task status in batches. Heartbeats are kept
in memory on the leader, not written to Raft: only a node's change of state
(ready / down) is replicated.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc

from dockyard.api.v1 import dispatcher_pb2 as dpb
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import FailedPrecondition, PermissionDenied, ResourceExhausted, Unavailable, status_code
from dockyard.grpcutil import require_role, rpc
from dockyard.pki import Role
from manager.config import ManagerConfig
from manager.raft import Proposer
from manager.ratelimit import RateLimiter
from manager.settings import current_settings, heartbeat_period
from manager.store import Store, clone, create, update
from manager.taskstate import can_advance

log = logging.getLogger("dockyard.dispatcher")

# Trailing metadata a follower sets to tell an agent where the leader is.
LEADER_METADATA = "dockyard-leader"


@dataclass(slots=True)
class Session:
    node_id: str
    session_id: str
    deadline: float


class Dispatcher(dgrpc.DispatcherServicer):
    """Every call must come from an agent certificate, and an agent may only
    speak for its own node (its certificate's node id)."""

    allowed_roles = (Role.AGENT,)

    def __init__(self, store: Store, proposer: Proposer, config: ManagerConfig, settings_seed: pb.ClusterSettings) -> None:
        self.limiter = RateLimiter()
        self.store = store
        self.proposer = proposer
        self.config = config
        self.settings_seed = settings_seed
        self.sessions: dict[str, Session] = {}
        self.leading = False
        self.term = 0

    # -- leadership ----------------------------------------------------------

    def start_leading(self, term: int) -> None:
        """A new leader does not know when nodes last heartbeat: give every
        node a long grace so a failover does not look like mass node failure."""
        self.leading = True
        self.term = term
        grace = max(self._period() * self.config.failover_grace_factor, self.config.failover_grace_min)
        deadline = time.time() + grace
        for node in self.store.view().nodes.values():
            if node.state == pb.NODE_STATE_READY:
                self.sessions.setdefault(node.meta.id, Session(node.meta.id, "", deadline)).deadline = deadline

    def stop_leading(self) -> None:
        self.leading = False
        self.sessions.clear()

    async def monitor_heartbeats(self) -> None:
        """Leader loop: mark nodes down when their grace expires."""
        while True:
            await asyncio.sleep(min(1.0, self._period() / 2))
            now = time.time()
            view = self.store.view()
            actions = []
            for node in view.nodes.values():
                if node.state != pb.NODE_STATE_READY:
                    continue
                session = self.sessions.get(node.meta.id)
                if session is None or session.deadline < now:
                    n = clone(node)
                    n.state = pb.NODE_STATE_DOWN
                    n.state_message = "heartbeat not received in time"
                    actions.append(update(n))
                    self.sessions.pop(node.meta.id, None)
                    log.warning("event=node_down node=%s name=%s", node.meta.id, node.name)
            if actions:
                try:
                    await self.proposer.propose(spb.StoreBatch(term=self.term, actions=actions))
                except Unavailable as e:
                    log.warning("event=node_down_commit_failed error=%r", str(e))

    def _not_leader(self, context: grpc.aio.ServicerContext) -> None:
        """Point the agent at the leader (trailing metadata `dockyard-leader`),
        so it does not have to try every manager in turn."""
        leader_raft = self.proposer.status().leader
        leader = next((m.api_address for m in self.store.view().managers.values() if m.raft_address == leader_raft), "")
        if leader:
            context.set_trailing_metadata(((LEADER_METADATA, leader),))
            raise Unavailable(f"this manager is not the leader; the leader is at {leader}")
        raise Unavailable("this manager is not the leader, and no leader is known yet")

    def _period(self) -> float:
        """The cluster's heartbeat period (replicated, `cluster update`). An
        agent learns a change at its next heartbeat; each session's deadline
        was set from the period the agent last heard, so a shorter period
        never marks a node down before the agent knew of it."""
        return heartbeat_period(current_settings(self.store, self.settings_seed), self.settings_seed)

    def _grace(self) -> float:
        return self._period() * self.config.heartbeat_grace_factor

    def _check(self, context: grpc.aio.ServicerContext, node_id: str, session_id: str) -> Session:
        own_node(context, node_id)
        if not self.leading:
            self._not_leader(context)
        session = self.sessions.get(node_id)
        if session is None or session.session_id != session_id:
            raise FailedPrecondition("session expired or unknown: register again")
        return session

    # -- RPCs ----------------------------------------------------------------

    @rpc
    async def Register(self, request: dpb.RegisterRequest, context: grpc.aio.ServicerContext) -> dpb.RegisterResponse:
        node_id = own_node(context, request.node_id or None)
        if not self.limiter.allow(node_id):
            raise ResourceExhausted("this node registers too often; wait a few seconds")
        if not self.leading:
            self._not_leader(context)
        view = self.store.view()
        existing = view.nodes.get(node_id)
        if existing is not None:
            node = clone(existing)
        else:
            node = pb.Node(meta=pb.Meta(id=node_id))
        node.name = request.name or node.name or request.hostname
        node.hostname = request.hostname
        node.address = request.address
        node.capacity.CopyFrom(request.capacity)
        # The operator's list as the agent has it now: a device taken out of
        # the list is no longer offered (tasks holding it keep running).
        del node.devices[:]
        node.devices.extend(request.devices)
        for k, v in request.labels.items():
            node.labels[k] = v
        node.runtime = request.runtime
        node.version = request.version
        node.state = pb.NODE_STATE_READY
        node.state_message = ""
        action = update(node) if existing is not None else create(node)
        result = await self.proposer.propose(spb.StoreBatch(actions=[action]))
        if not result.ok:
            raise Unavailable("registration conflicted with another write; retry: " + "; ".join(result.errors))
        session = Session(node.meta.id, uuid.uuid4().hex, time.time() + self._grace())
        self.sessions[node.meta.id] = session
        log.info("event=node_registered node=%s name=%s address=%s", node.meta.id, node.name, node.address)
        return dpb.RegisterResponse(
            node_id=node.meta.id,
            session_id=session.session_id,
            heartbeat_period=self._period(),
            managers=sorted(m.api_address for m in view.managers.values()),
        )

    @rpc
    async def Heartbeat(self, request: dpb.HeartbeatRequest, context: grpc.aio.ServicerContext) -> dpb.HeartbeatResponse:
        session = self._check(context, request.node_id, request.session_id)
        session.deadline = time.time() + self._grace()
        return dpb.HeartbeatResponse(period=self._period())

    async def Assignments(
        self, request: dpb.AssignmentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[dpb.AssignmentsMessage]:
        try:
            self._check(context, request.node_id, request.session_id)
        except (Unavailable, FailedPrecondition, PermissionDenied) as e:
            await context.abort(status_code(e), str(e))
        node_id = request.node_id
        view, watch = self.store.view_and_watch(("tasks",))
        try:
            mine = [t for t in view.tasks.values() if t.node_id == node_id]
            yield dpb.AssignmentsMessage(full=True, tasks=mine)
            while True:
                changes = [await watch.queue.get()]
                while not watch.queue.empty():
                    changes.append(watch.queue.get_nowait())
                msg = dpb.AssignmentsMessage()
                for batch in changes:
                    for ch in batch:
                        task: pb.Task = ch.obj  # type: ignore[assignment]
                        old: pb.Task | None = ch.old  # type: ignore[assignment]
                        if ch.kind.value == "deleted" or task.node_id != node_id:
                            if (old is not None and old.node_id == node_id) or task.node_id == node_id:
                                msg.removed.append(task.meta.id)
                        elif task.node_id == node_id:
                            msg.tasks.append(task)
                if msg.tasks or msg.removed:
                    yield msg
                if request.session_id != self.sessions.get(node_id, Session("", "", 0)).session_id:
                    return  # the session was replaced or expired: the agent re-registers
        finally:
            watch.close()

    @rpc
    async def UpdateTaskStatus(
        self, request: dpb.UpdateTaskStatusRequest, context: grpc.aio.ServicerContext
    ) -> dpb.UpdateTaskStatusResponse:
        self._check(context, request.node_id, request.session_id)
        for _ in range(5):
            view = self.store.view()
            actions = []
            for u in request.updates:
                task = view.tasks.get(u.task_id)
                if task is None:
                    continue  # deleted meanwhile: nothing to record
                if task.node_id != request.node_id:
                    raise PermissionDenied(f"task {u.task_id} is not assigned to node {request.node_id}")
                if not can_advance(task.status.state, u.status.state):
                    continue
                if task.status == u.status:
                    continue
                t = clone(task)
                t.status.CopyFrom(u.status)
                if u.status.state == pb.TASK_STATE_RUNNING and not t.started_at:
                    # For update.monitor: how long a new version ran before it failed.
                    t.started_at = u.status.timestamp or time.time()
                actions.append(update(t))
            if not actions:
                return dpb.UpdateTaskStatusResponse()
            result = await self.proposer.propose(spb.StoreBatch(actions=actions))
            if result.ok:
                return dpb.UpdateTaskStatusResponse()
            # Someone updated a task meanwhile (e.g. its desired state):
            # re-read and apply what still advances.
        raise Unavailable("task status kept conflicting with other writes; retry")



def own_node(context: grpc.aio.ServicerContext, node_id: str | None) -> str:
    """The caller's node id from its certificate; it must match what it claims."""
    peer = require_role(context, (Role.AGENT,))
    if node_id is not None and node_id != peer.node_id:
        raise PermissionDenied(f"node {peer.node_id} may not act for node {node_id}")
    return peer.node_id
