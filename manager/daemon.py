"""The manager process: Raft store, gRPC services (mutual TLS on the API
port; the CA service alone on the join port), and the leader-only loops that
start when this manager becomes leader and stop when it stops being one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from dockyard.api.v1 import ca_pb2_grpc as cagrpc
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import FailedPrecondition
from dockyard.grpcutil import (
    SERVER_OPTIONS,
    ReloadableServerCredentials,
    host_of,
    new_server,
    secure_channel,
    set_serving,
)
from dockyard.pki import CertificateAuthority, NodeIdentity, Role
from manager.ca import SECURITY_ID, NodeCAService, new_security
from manager.config import SCHEDULER_SETTINGS, ManagerConfig
from manager.control import Control
from manager.dispatcher import Dispatcher
from manager.membership import Membership, raft_peers_of
from manager.orchestrator import Orchestrator
from manager.raft import RaftProposer
from manager.scheduling import SchedulingLoop
from manager.settings import seed_settings, stored_settings
from manager.store import Store, create

log = logging.getLogger("dockyard.manager")

STATE_FILE = "cluster.json"
CERTS_DIR = "certs"
CA_DIR = "ca"  # only on the manager that created the cluster, until it is replicated
ADMIN_DIR = "admin"
SERVICES = ("dockyard.v1.Control", "dockyard.v1.Dispatcher", "dockyard.v1.NodeCA")


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """What a manager's data dir remembers across restarts (cluster.json, 0600).
    The Raft secret is the pysyncobj password: without it the Raft port
    accepts nothing."""

    cluster_id: str
    manager_id: str
    raft_secret: str
    listen: str
    raft_addr: str
    join_listen: str
    name: str = ""
    raft_peers: tuple[str, ...] = ()
    # Lifetime of node certificates, seconds (90 days, Swarm's default).
    cert_lifetime: float = 90 * 86400.0
    # The scheduler settings `manager init` was given (manager.config.SCHEDULER_SETTINGS
    # names -> values): the seed of the replicated settings; what is not here
    # takes ManagerConfig's default.
    scheduler: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> ClusterIdentity:
        path = data_dir / STATE_FILE
        if not path.exists():
            raise FailedPrecondition(f"{data_dir} holds no Dockyard manager state; create one with `dockyard manager init`")
        raw = json.loads(path.read_text())
        raw["raft_peers"] = tuple(raw.get("raft_peers", ()))
        return cls(**raw)

    def with_scheduler(self, settings: Mapping[str, Any]) -> ClusterIdentity:
        """These settings on top of the remembered ones."""
        unknown = set(settings) - set(SCHEDULER_SETTINGS)
        if unknown:
            raise ValueError(f"unknown scheduler settings: {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, scheduler={**self.scheduler, **settings})

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        path = data_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)


def issue_local(ca: CertificateAuthority, node_id: str, role: Role, lifetime: timedelta, sans: list[str]) -> NodeIdentity:
    key_pem, csr_pem = NodeIdentity.generate_key_and_csr()
    return NodeIdentity(ca.issue(csr_pem, node_id, role, lifetime, sans), key_pem, ca.cert_pem)


def init_cluster(config: ManagerConfig, cert_lifetime: float = 90 * 86400.0) -> ClusterIdentity:
    """Create a new cluster in an empty data dir: its CA, this manager's
    certificate, an admin credential for the CLI, and the Raft secret."""
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
        join_listen=config.join_listen,
        name=config.name,
        raft_peers=tuple(config.raft_peers),
        cert_lifetime=cert_lifetime,
        scheduler={name: getattr(config, name) for name in SCHEDULER_SETTINGS},
    )
    ca = CertificateAuthority.create(identity.cluster_id)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    ca.save(config.data_dir / CA_DIR)
    lifetime = timedelta(seconds=cert_lifetime)
    sans = [host_of(config.listen)]
    issue_local(ca, identity.manager_id, Role.MANAGER, lifetime, sans).save(config.data_dir / CERTS_DIR)
    # The admin credential outlives node certificates: the CLI does not renew it.
    issue_local(ca, "admin-" + uuid.uuid4().hex[:12], Role.ADMIN, timedelta(days=365), []).save(config.data_dir / ADMIN_DIR)
    identity.save(config.data_dir)
    return identity


class Manager:
    def __init__(self, config: ManagerConfig, identity: ClusterIdentity) -> None:
        self.config = config
        self.identity = identity
        self.node_identity = NodeIdentity.load(config.data_dir / CERTS_DIR)
        self._server_creds = ReloadableServerCredentials(self.node_identity)
        self.store = Store()
        self.proposer = RaftProposer(
            self.store,
            identity.raft_addr,
            list(identity.raft_peers),
            config.data_dir / "raft",
            identity.raft_secret,
        )
        config.scheduler_config()  # refuses an invalid seed before anything starts
        # The cluster settings a new cluster starts with; once the first
        # leader has written them to the store, the store's copy rules.
        self.settings_seed = seed_settings(config)
        self.membership = Membership(self.store, self.proposer, identity.cluster_id, identity.raft_secret, self.connect)
        self.dispatcher = Dispatcher(self.store, self.proposer, config, self.settings_seed)
        self.control = Control(
            self.store, self.proposer, identity.cluster_id, identity.manager_id, self.settings_seed, self.membership, self.connect
        )
        self.ca_service = NodeCAService(self.store, self.proposer)
        self.server, self._health = new_server(SERVICES)
        cgrpc.add_ControlServicer_to_server(self.control, self.server)
        dgrpc.add_DispatcherServicer_to_server(self.dispatcher, self.server)
        cagrpc.add_NodeCAServicer_to_server(self.ca_service, self.server)
        self.bound_port = self.server.add_secure_port(identity.listen, self._server_creds.credentials)
        if self.bound_port == 0:
            raise FailedPrecondition(f"cannot listen on {identity.listen}")
        self.address = f"{identity.listen.rsplit(':', 1)[0]}:{self.bound_port}"
        # The join port serves only the CA service, without client certificates:
        # joiners have none yet (see dockyard/join.py for why that is safe).
        self.join_server = grpc.aio.server(options=list(SERVER_OPTIONS))
        cagrpc.add_NodeCAServicer_to_server(self.ca_service, self.join_server)
        join_port = self.join_server.add_insecure_port(identity.join_listen)
        if join_port == 0:
            raise FailedPrecondition(f"cannot listen on {identity.join_listen}")
        self.join_address = f"{identity.join_listen.rsplit(':', 1)[0]}:{join_port}"
        self._leader_tasks: list[asyncio.Task[None]] = []
        self._background: list[asyncio.Task[None]] = []
        self.is_leading = asyncio.Event()

    # -- TLS ---------------------------------------------------------------------

    def connect(self, address: str) -> grpc.aio.Channel:
        """A mutual-TLS channel to another manager or an agent's log service."""
        return secure_channel(address, self.node_identity)

    async def _renew_own_certificate(self) -> None:
        """Managers renew their own certificate from the replicated CA once half
        its lifetime has passed."""
        while True:
            await asyncio.sleep(self.config.cert_check_period)
            if not self.node_identity.needs_renewal(datetime.now(UTC)):
                continue
            sec = self.store.view().security.get(SECURITY_ID)
            if sec is None:
                continue
            ca = CertificateAuthority(sec.ca_cert_pem, sec.ca_key_pem)
            renewed = issue_local(
                ca, self.identity.manager_id, Role.MANAGER, timedelta(seconds=sec.cert_lifetime), [host_of(self.identity.listen)]
            )
            await asyncio.to_thread(renewed.save, self.config.data_dir / CERTS_DIR)
            self.node_identity = renewed
            self._server_creds.replace(renewed)
            log.info("event=certificate_renewed node=%s not_after=%s", self.identity.manager_id, renewed.not_after.isoformat())

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        await self.server.start()
        await self.join_server.start()
        await set_serving(self._health, SERVICES)
        self._background = [
            asyncio.create_task(self._renew_own_certificate(), name="cert-renewal"),
            asyncio.create_task(self._follow_membership(), name="membership"),
        ]
        log.info(
            "event=manager_started address=%s join=%s raft=%s cluster=%s",
            self.address, self.join_address, self.identity.raft_addr, self.identity.cluster_id,
        )

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
            # Writes do not wait for this loop (Raft forwards them as soon as
            # there is a leader); only the leader-only loops start up to this
            # much later. 0.2 s keeps an idle manager's wake-ups low.
            await asyncio.sleep(0.2)

    async def _become_leader(self) -> None:
        term = self.proposer.term()
        # A fenced no-op entry: once it is applied, everything committed by
        # earlier leaders is applied too, and older terms can no longer write.
        try:
            result = await self.proposer.propose(spb.StoreBatch(term=term))
            if not result.ok:
                return
            await self._bootstrap_security()
            await self._bootstrap_settings()
            await self.membership.record_self(
                self.identity.manager_id, self.identity.name or self.address, self.address,
                self.identity.raft_addr, self.join_address,
            )
        except Exception as e:  # noqa: BLE001 - leadership may flap; try again next tick
            log.info("event=leader_setup_failed error=%r", str(e))
            return
        log.info("event=leadership_acquired term=%d", term)
        self.dispatcher.start_leading(term)
        self._leader_tasks = [
            asyncio.create_task(Orchestrator(self.store, self.proposer, term).run(), name="orchestrator"),
            asyncio.create_task(
                SchedulingLoop(self.store, self.proposer, term, self.settings_seed, self.config.schedule_debounce).run(),
                name="scheduler",
            ),
            asyncio.create_task(self.dispatcher.monitor_heartbeats(), name="heartbeats"),
        ]
        self.is_leading.set()

    async def _bootstrap_security(self) -> None:
        """The first leader of a new cluster replicates the CA it created at
        init, with fresh join tokens, so every manager can serve joins."""
        if SECURITY_ID in self.store.view().security:
            return
        ca_dir = self.config.data_dir / CA_DIR
        if not ca_dir.exists():
            raise FailedPrecondition("no replicated CA and no CA files in this data dir")
        sec = new_security(CertificateAuthority.load(ca_dir), self.identity.cert_lifetime)
        result = await self.proposer.propose(spb.StoreBatch(actions=[create(sec)]))
        if result.ok:
            log.info("event=cluster_security_created ca_digest=%s", CertificateAuthority.load(ca_dir).digest())

    async def _bootstrap_settings(self) -> None:
        """The first leader of a cluster (or of one made by an older Dockyard
        that kept scheduler settings per manager) replicates the settings
        this manager was started with."""
        if stored_settings(self.store) is not None:
            return
        result = await self.proposer.propose(spb.StoreBatch(actions=[create(self.settings_seed)]))
        if result.ok:
            s = self.settings_seed.scheduler
            log.info("event=cluster_settings_created policy=%s queue_order=%s preemption=%s", s.policy, s.queue_order, s.preemption)

    async def _follow_membership(self) -> None:
        """Keep this manager's Raft peer list in its data dir current, so a
        restart rejoins the group as it is now."""
        view, watch = self.store.view_and_watch(("managers",))
        try:
            while True:
                peers = tuple(raft_peers_of(view.managers, self.identity.raft_addr))
                if view.managers and peers != self.identity.raft_peers:
                    self.identity = dataclasses.replace(self.identity, raft_peers=peers)
                    await asyncio.to_thread(self.identity.save, self.config.data_dir)
                    log.info("event=raft_peers_saved peers=%s", ",".join(peers))
                await watch.queue.get()
                view = self.store.view()
        finally:
            watch.close()

    async def _step_down(self) -> None:
        if self._leader_tasks:
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
        for t in self._background:
            t.cancel()
        await self.server.stop(grace=1.0)
        await self.join_server.stop(grace=0.5)
        self.proposer.close()
