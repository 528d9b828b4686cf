"""The agent's log service: the managers fetch task output from here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from agent.runtime import LogRecord, TaskRuntime
from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import dispatcher_pb2 as dpb
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.errors import PermissionDenied, status_code
from dockyard.grpcutil import require_role
from dockyard.pki import Role


class AgentLogs(dgrpc.AgentLogsServicer):
    """Only managers read task output from agents (they relay it to users)."""

    def __init__(self, runtime: TaskRuntime) -> None:
        self.runtime = runtime

    async def TaskLogs(self, request: dpb.TaskLogsRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[cpb.LogLine]:
        try:
            require_role(context, (Role.MANAGER,))
        except PermissionDenied as e:
            await context.abort(status_code(e), str(e))
        queue: asyncio.Queue[LogRecord | None] = asyncio.Queue(maxsize=1000)

        async def pump(task_id: str) -> None:
            try:
                async for rec in self.runtime.logs(task_id, follow=request.follow, tail=request.tail):
                    await queue.put(rec)
            finally:
                await queue.put(None)

        pumps = [asyncio.create_task(pump(t)) for t in request.task_ids]
        try:
            left = len(pumps)
            while left:
                rec = await queue.get()
                if rec is None:
                    left -= 1
                    continue
                yield cpb.LogLine(task_id=rec.task_id, stream=rec.stream, line=rec.line, timestamp=rec.timestamp)
        finally:
            for p in pumps:
                p.cancel()
