"""The manager process: Raft store, gRPC services, and the leader-only loops
that start when this manager becomes leader and stop when it stops being one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import scheduler as sch
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import FailedPrecondition
from dockyard.grpcutil import new_server, set_serving
from manager.config import ManagerConfig
from manager.control import Control
from manager.dispatcher import Dispatcher
from manager.orchestrator import Orchestrator
from manager.raft import RaftProposer
from manager.scheduling import SchedulingLoop
from manager.store import Store

log = logging.getLogger("dockyard.manager")

STATE_FILE = "cluster.json"
SERVICES = ("dockyard.v1.Control", "dockyard.v1.Dispatcher")


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """What a manager's data dir remembers across restarts. The Raft secret is
    the pysyncobj password: without it the Raft port accepts nothing."""

    cluster_id: str
    manager_id: str
    raft_secret: str
    listen: str
    raft_addr: str
    raft_peers: tuple[str, ...] = ()

    @classmethod
    def load(cls, data_dir: Path) -> ClusterIdentity:
        path = data_dir / STATE_FILE
        if not path.exists():
            raise FailedPrecondition(f"{data_dir} holds no Dockyard manager state; create one with `dockyard manager init`")
        raw = json.loads(path.read_text())
        raw["raft_peers"] = tuple(raw.get("raft_peers", ()))
        return cls(**raw)

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)


def init_cluster(config: ManagerConfig) -> ClusterIdentity:
    """Create a new cluster's identity in an empty data dir."""
    if (config.data_dir / STATE_FILE).exists():
        raise FailedPrecondition(
            f"{config.data_dir} already holds a Dockyard manager; start it with `dockyard manager start --data-dir {config.data_dir}`"
        )
    identity = ClusterIdentity(
        cluster_id=uuid.uuid4().hex,
        manager_id=uuid.uuid4().hex,
        raft_secret=secrets.token_urlsafe(32),
        listen=config.listen,
        raft_addr=config.raft_addr,
        raft_peers=tuple(config.raft_peers),
    )
    identity.save(config.data_dir)
    return identity


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Manager:
    def __init__(self, config: ManagerConfig, identity: ClusterIdentity) -> None:
        self.config = config
        self.identity = identity
        self.store = Store()
        self.proposer = RaftProposer(
            self.store,
            identity.raft_addr,
            list(identity.raft_peers),
            config.data_dir / "raft",
            identity.raft_secret,
        )
        self.sched_config = sch.SchedulerConfig(policy=config.default_policy)
        self.dispatcher = Dispatcher(self.store, self.proposer, config)
        self.control = Control(self.store, self.proposer, identity.cluster_id, identity.manager_id, self.sched_config)
        self.server, self._health = new_server(SERVICES)
        cgrpc.add_ControlServicer_to_server(self.control, self.server)
        dgrpc.add_DispatcherServicer_to_server(self.dispatcher, self.server)
        self.bound_port = self.server.add_insecure_port(identity.listen)
        if self.bound_port == 0:
            raise FailedPrecondition(f"cannot listen on {identity.listen}")
        host = identity.listen.rsplit(":", 1)[0]
        self.address = f"{host}:{self.bound_port}"
        self._leader_tasks: list[asyncio.Task[None]] = []
        self.is_leading = asyncio.Event()

    async def start(self) -> None:
        await self.server.start()
        await set_serving(self._health, SERVICES)
        log.info("event=manager_started address=%s raft=%s cluster=%s", self.address, self.identity.raft_addr, self.identity.cluster_id)

    async def run(self) -> None:
        await self.start()
        try:
            await self.leadership_loop()
        finally:
            await self.stop()

    async def leadership_loop(self) -> None:
        while True:
            leader = self.proposer.is_leader()
            if leader and not self._leader_tasks:
                await self._become_leader()
            elif not leader and self._leader_tasks:
                await self._step_down()
            elif self._leader_tasks and any(t.done() for t in self._leader_tasks):
                for t in self._leader_tasks:
                    if t.done() and not t.cancelled() and t.exception() is not None:
                        log.error("event=leader_loop_crashed error=%r", t.exception())
                await self._step_down()
            await asyncio.sleep(0.05)

    async def _become_leader(self) -> None:
        term = self.proposer.term()
        # A fenced no-op entry: once it is applied, everything committed by
        # earlier leaders is applied too, and older terms can no longer write.
        try:
            result = await self.proposer.propose(spb.StoreBatch(term=term))
        except Exception as e:  # noqa: BLE001 - leadership may flap; try again next tick
            log.info("event=leader_barrier_failed error=%r", str(e))
            return
        if not result.ok:
            return
        log.info("event=leadership_acquired term=%d", term)
        self.dispatcher.start_leading(term)
        self._leader_tasks = [
            asyncio.create_task(Orchestrator(self.store, self.proposer, term).run(), name="orchestrator"),
            asyncio.create_task(
                SchedulingLoop(self.store, self.proposer, term, self.sched_config, self.config.schedule_debounce).run(),
                name="scheduler",
            ),
            asyncio.create_task(self.dispatcher.monitor_heartbeats(), name="heartbeats"),
        ]
        self.is_leading.set()

    async def _step_down(self) -> None:
        log.info("event=leadership_lost")
        self.is_leading.clear()
        self.dispatcher.stop_leading()
        for t in self._leader_tasks:
            t.cancel()
        for t in self._leader_tasks:
            with contextlib.suppress(BaseException):
                await t
        self._leader_tasks = []

    async def stop(self) -> None:
        await self._step_down()
        await self.server.stop(grace=1.0)
        self.proposer.close()
