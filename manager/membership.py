"""Managers joining and leaving the Raft group, and the list of managers.

Each manager is recorded in the replicated `managers` table (its API and Raft
addresses), so any manager can list the others, agents learn every manager's
address at registration, and each manager keeps its Raft peer list in its
data dir up to date for restarts. Membership changes go one at a time through
pysyncobj's dynamic membership.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import grpc

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import FailedPrecondition, NotFound, Unavailable
from manager.raft import Proposer
from manager.store import Store, View, create, delete, update

log = logging.getLogger("dockyard.membership")


class Membership:
    def __init__(
        self,
        store: Store,
        proposer: Proposer,
        cluster_id: str,
        raft_secret: str,
        connect: Callable[[str], grpc.aio.Channel],
    ) -> None:
        self.store = store
        self.proposer = proposer
        self.cluster_id = cluster_id
        self.raft_secret = raft_secret
        self.connect = connect
        self._lock = asyncio.Lock()  # one membership change at a time
        self._pending: asyncio.Task[None] | None = None

    async def record_self(self, manager_id: str, name: str, api_address: str, raft_address: str, join_address: str) -> None:
        """The leader makes sure its own record is current."""
        view = self.store.view()
        current = view.managers.get(manager_id)
        want = pb.ManagerNode(
            meta=pb.Meta(id=manager_id), name=name, api_address=api_address, raft_address=raft_address, join_address=join_address
        )
        if current is None:
            action = create(want)
        elif (current.name, current.api_address, current.raft_address, current.join_address) != (
            name, api_address, raft_address, join_address
        ):
            want.meta.version = current.meta.version
            action = update(want)
        else:
            return
        await self.proposer.propose(spb.StoreBatch(actions=[action]))

    async def join(self, manager_id: str, request: cpb.JoinManagerRequest) -> cpb.JoinManagerResponse:
        """Start adding the joiner as a Raft member and answer at once: the
        change (and anything after it in the log) commits only once the new
        member runs and has caught up, which it cannot do before it has this
        answer. Further membership changes wait until this one is done."""
        await self._lock.acquire()
        try:
            view = self.store.view()
            self._require_leader(view)
            for m in view.managers.values():
                if m.raft_address == request.raft_address or m.api_address == request.api_address:
                    raise FailedPrecondition(
                        f"a manager with address {request.api_address} / {request.raft_address} is already a member ({m.name}); remove it first"
                    )
            peers = sorted(m.raft_address for m in view.managers.values())
            manager = pb.ManagerNode(
                meta=pb.Meta(id=manager_id),
                name=request.name or request.api_address,
                api_address=request.api_address,
                raft_address=request.raft_address,
                join_address=request.join_address,
            )
            self._pending = asyncio.create_task(self._finish_join(manager))
        except BaseException:
            self._lock.release()
            raise
        log.info("event=manager_joining manager=%s api=%s raft=%s", manager_id, request.api_address, request.raft_address)
        return cpb.JoinManagerResponse(
            cluster_id=self.cluster_id, manager_id=manager_id, raft_secret=self.raft_secret, raft_peers=peers
        )

    def leader_api_address(self, view: View | None = None) -> str | None:
        """The API address of the current Raft leader, when it is known."""
        leader = self.proposer.status().leader
        managers = (view or self.store.view()).managers.values()
        return next((m.api_address for m in managers if m.raft_address == leader), None)

    def _require_leader(self, view: View) -> None:
        """Only the leader adds or removes members: a follower may not have
        applied the latest members yet and would hand a joiner an incomplete
        peer list (with none at all, the joiner would start a Raft group of
        its own). The leader's own record must be in its store too."""
        status = self.proposer.status()
        if not status.is_leader:
            leader = self.leader_api_address(view)
            hint = f"; the leader is {leader}" if leader is not None else ""
            raise Unavailable(f"this manager is not the Raft leader, which alone changes membership{hint}")
        if not any(m.raft_address == status.address for m in view.managers.values()):
            raise Unavailable("this manager has just become leader and has not recorded itself yet; retry")

    async def _finish_join(self, manager: pb.ManagerNode) -> None:
        try:
            await self.proposer.add_member(manager.raft_address)
            await self.proposer.propose(spb.StoreBatch(actions=[create(manager)]))
            log.info("event=manager_joined manager=%s raft=%s", manager.meta.id, manager.raft_address)
        except Exception as e:  # noqa: BLE001 - logged; the operator can retry or remove the member
            log.error("event=manager_join_failed manager=%s raft=%s error=%r", manager.meta.id, manager.raft_address, str(e))
        finally:
            self._lock.release()

    def find(self, ref: str) -> pb.ManagerNode:
        view = self.store.view()
        matches = [
            m for m in view.managers.values()
            if ref in (m.meta.id, m.name, m.api_address, m.raft_address) or m.meta.id.startswith(ref)
        ]
        if len(matches) != 1:
            raise NotFound(f"no single manager matches {ref!r}")
        return matches[0]

    async def remove(self, ref: str) -> None:
        async with self._lock:
            view = self.store.view()
            self._require_leader(view)
            manager = self.find(ref)
            if len(view.managers) <= 1:
                raise FailedPrecondition("cannot remove the last manager of a cluster")
            await self.proposer.remove_member(manager.raft_address)
            await self.proposer.propose(spb.StoreBatch(actions=[delete(manager)]))
            log.info("event=manager_removed manager=%s raft=%s", manager.meta.id, manager.raft_address)

    async def list(self) -> cpb.ListManagersResponse:
        view = self.store.view()

        async def probe(m: pb.ManagerNode) -> cpb.ManagerStatus:
            st = cpb.ManagerStatus(manager=m)
            try:
                async with self.connect(m.api_address) as channel:
                    info = await cgrpc.ControlStub(channel).ClusterInfo(cpb.ClusterInfoRequest(), timeout=1.5)
                st.reachable = True
                st.leader = info.leader
                st.raft_term = info.raft_term
                st.raft_commit_index = info.raft_commit_index
            except grpc.aio.AioRpcError as e:
                st.error = e.details() or e.code().name
            return st

        managers = sorted(view.managers.values(), key=lambda m: m.name)
        return cpb.ListManagersResponse(managers=await asyncio.gather(*(probe(m) for m in managers)))


def raft_peers_of(view_managers: dict[str, pb.ManagerNode], self_raft: str) -> list[str]:
    return sorted(m.raft_address for m in view_managers.values() if m.raft_address != self_raft)

