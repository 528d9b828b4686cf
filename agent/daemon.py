"""The agent process: runtime, worker, log service and the manager session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path

from agent.config import AgentConfig
from agent.logs import AgentLogs
from agent.runtime import RuntimeFailure, TaskRuntime
from agent.session import AgentSession, StatusReporter, _write_atomic
from agent.worker import Worker
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.errors import FailedPrecondition
from dockyard.grpcutil import new_server, set_serving

log = logging.getLogger("dockyard.agent")
SERVICES = ("dockyard.v1.AgentLogs",)


def node_id_for(data_dir: Path) -> str:
    """The node's id is made once and kept in the data dir: a restarted agent
    is the same node and finds its containers by it."""
    path = data_dir / "node_id"
    if path.exists():
        return path.read_text().strip()
    node_id = uuid.uuid4().hex
    _write_atomic(path, node_id)
    return node_id


def make_runtime(config: AgentConfig, node_id: str) -> TaskRuntime:
    labels = {"dockyard.node": node_id, **config.container_labels}
    if config.runtime == "docker":
        from agent.runtime.docker import DockerRuntime

        return DockerRuntime(labels)
    if config.runtime == "fake":
        from agent.runtime.fake import FakeRuntime

        return FakeRuntime(labels, start_delay=config.fake_start_delay)
    raise FailedPrecondition(f"unknown runtime {config.runtime!r} (use docker or fake)")


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.node_id = node_id_for(config.data_dir)
        self.runtime = make_runtime(config, self.node_id)
        self.reporter = StatusReporter(config.status_batch_window)
        self.worker = Worker(self.runtime, self.reporter.add)
        self.server, self._health = new_server(SERVICES)
        dgrpc.add_AgentLogsServicer_to_server(AgentLogs(self.runtime), self.server)
        port = self.server.add_insecure_port(config.listen)
        if port == 0:
            raise FailedPrecondition(f"cannot listen on {config.listen}")
        host = (config.advertise or config.listen).rsplit(":", 1)[0]
        self.address = f"{host}:{port}"
        self.session = AgentSession(config, self.worker, self.reporter, self.address)

    async def run(self) -> None:
        await self.server.start()
        await set_serving(self._health, SERVICES)
        log.info("event=agent_started node=%s logs=%s runtime=%s", self.node_id, self.address, self.config.runtime)
        loops = [
            asyncio.create_task(self.session.run(), name="session"),
            asyncio.create_task(self._events(), name="events"),
            asyncio.create_task(self._resync(), name="resync"),
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
