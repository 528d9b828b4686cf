"""The agent process: runtime, worker, log service and the manager session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from agent.config import AgentConfig
from agent.identity import CERTS_DIR, obtain_identity
from agent.logs import AgentLogs
from agent.runtime import RuntimeFailure, TaskRuntime
from agent.session import AgentSession, StatusReporter
from agent.worker import Worker
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.errors import DockyardError, FailedPrecondition
from dockyard.grpcutil import ReloadableServerCredentials, host_of, new_server, set_serving
from dockyard.join import renew
from dockyard.pki import NodeIdentity

log = logging.getLogger("dockyard.agent")
SERVICES = ("dockyard.v1.AgentLogs",)


def make_runtime(config: AgentConfig, node_id: str) -> TaskRuntime:
    labels = {"dockyard.node": node_id, **config.container_labels}
    if config.runtime == "docker":
        from agent.runtime.docker import DockerRuntime

        return DockerRuntime(labels)
    if config.runtime == "fake":
        from agent.runtime.fake import FakeRuntime

        return FakeRuntime(labels, start_delay=config.fake_start_delay, fail_images=config.fake_fail_images)
    raise FailedPrecondition(f"unknown runtime {config.runtime!r} (use docker or fake)")


class Agent:
    """Create with `await Agent.create(config)`: the first start joins the
    cluster (gets a certificate, and with it a node id)."""

    def __init__(self, config: AgentConfig, identity: NodeIdentity, managers: list[str]) -> None:
        self.config = config
        self.identity = identity
        self._server_creds = ReloadableServerCredentials(identity)
        config.managers = managers
        # The node's id is its certificate's: a restarted agent is the same
        # node and finds its containers by it.
        self.node_id = identity.node_id
        self.runtime = make_runtime(config, self.node_id)
        self.reporter = StatusReporter(config.status_batch_window)
        self.worker = Worker(self.runtime, self.reporter.add)
        self.server, self._health = new_server(SERVICES)
        dgrpc.add_AgentLogsServicer_to_server(AgentLogs(self.runtime), self.server)
        port = self.server.add_secure_port(config.listen, self._server_creds.credentials)
        if port == 0:
            raise FailedPrecondition(f"cannot listen on {config.listen}")
        host = (config.advertise or config.listen).rsplit(":", 1)[0]
        self.address = f"{host}:{port}"
        self.session = AgentSession(config, self.worker, self.reporter, self.address, lambda: self.identity)

    @classmethod
    async def create(cls, config: AgentConfig) -> Agent:
        identity, managers = await obtain_identity(config)
        return cls(config, identity, managers)

    async def _renew_certificate(self) -> None:
        """Renew once half the certificate's lifetime has passed, over mutual
        TLS with the current one; then reconnect with the new one."""
        while True:
            await asyncio.sleep(self.config.cert_check_period)
            if not self.identity.needs_renewal(datetime.now(UTC)):
                continue
            host = host_of(self.config.advertise or self.config.listen)
            for address in self.config.managers:
                try:
                    renewed = await renew(address, self.identity, [host])
                except DockyardError as e:
                    log.warning("event=certificate_renewal_failed manager=%s error=%r", address, str(e))
                    continue
                await asyncio.to_thread(renewed.save, self.config.data_dir / CERTS_DIR)
                self.identity = renewed
                self._server_creds.replace(renewed)
                self.session.reconnect()
                log.info("event=certificate_renewed node=%s not_after=%s", self.node_id, renewed.not_after.isoformat())
                break

    async def run(self) -> None:
        await self.server.start()
        await set_serving(self._health, SERVICES)
        log.info("event=agent_started node=%s logs=%s runtime=%s", self.node_id, self.address, self.config.runtime)
        loops = [
            asyncio.create_task(self.session.run(), name="session"),
            asyncio.create_task(self._events(), name="events"),
            asyncio.create_task(self._resync(), name="resync"),
            asyncio.create_task(self._renew_certificate(), name="cert-renewal"),
        ]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        finally:
            for t in loops:
                t.cancel()
            for t in loops:
                with contextlib.suppress(BaseException):
                    await t
            await self.worker.close()
            await self.server.stop(grace=0.5)
            await self.runtime.close()

    async def _events(self) -> None:
        """Follow the runtime's events; when the stream breaks (the Docker
        engine restarted), subscribe again and look at every task, since
        events may have been missed in between."""
        while True:
            try:
                async for ev in self.runtime.events():
                    if ev.kind in ("die", "oom"):
                        await self.worker.on_exit(ev.task_id)
            except RuntimeFailure as e:
                log.warning("event=runtime_events_lost error=%r", str(e))
            await asyncio.sleep(1.0)
            await self.worker.resync()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.config.resync_period)
            await self.worker.resync()
