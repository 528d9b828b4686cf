"""The `fake` task runtime: a hollow node that runs no containers.

A first-class `TaskRuntime` (the way httpx's MockTransport is a transport), for
tests about something other than Docker and for lab clusters of hundreds of
agents on one host. It keeps its containers in memory and behaves like the
docker runtime where an agent can tell: idempotent start, host ports that
conflict, "start"/"die"/"oom" events, stdout and stderr kept apart, labels.

What happens to tasks is driven from outside: `exit()`, `oom()`, `kill_all()`,
`write_log()`, or by itself with `run_for`. Everything runs on the event loop;
nothing blocks.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from agent.runtime.base import (
    ContainerSpec,
    ContainerState,
    LogRecord,
    PortBinding,
    RuntimeEvent,
    RuntimeFailure,
)

# The labels the docker runtime puts on its containers; the fake reports the
# same ones so that code reading them works against either.
LABEL_TASK = "dockyard.task"
LABEL_JOB = "dockyard.job"
LABEL_JOB_NAME = "dockyard.job-name"
LABEL_SLOT = "dockyard.slot"

# Linux's default ephemeral range (net.ipv4.ip_local_port_range), which is where
# Docker's own picks for published port 0 come from.
EPHEMERAL_PORTS = (32768, 60999)

# How many past events a subscriber may fall behind by before it is told it
# lost some (Docker keeps a bounded ring of recent events too).
EVENT_HISTORY = 4096


@dataclass(slots=True)
class _FakeContainer:
    spec: ContainerSpec
    container_id: str
    labels: dict[str, str]
    ports: tuple[PortBinding, ...]
    running: bool = True
    exit_code: int | None = None
    error: str = ""
    output: list[LogRecord] = field(default_factory=list)
    exit_timer: asyncio.TimerHandle | None = None


class FakeRuntime:
    """`TaskRuntime` with no containers (see agent/runtime/base.py).

    start_delay: seconds each start takes (image pull and container start on a
        real node are rarely instant; schedulers and timeouts should see that).
    fail_images: starting any of these images raises RuntimeFailure.
    run_for: if set, every task exits with code 0 that many seconds after it
        started (batch simulations); None: tasks run until told otherwise.
    """

    name = "fake"

    def __init__(
        self,
        node_labels: Mapping[str, str] | None = None,
        *,
        start_delay: float = 0.0,
        fail_images: frozenset[str] = frozenset(),
        run_for: float | None = None,
    ) -> None:
        self.start_delay = start_delay
        self.fail_images = frozenset(fail_images)
        self.run_for = run_for
        self._node_labels = dict(node_labels or {})
        self._containers: dict[str, _FakeContainer] = {}
        self._used_ports: dict[tuple[int, str], str] = {}  # (host port, protocol) -> task id
        self._next_port = EPHEMERAL_PORTS[0]
        self._history: deque[tuple[int, RuntimeEvent]] = deque(maxlen=EVENT_HISTORY)
        self._seq = 0
        self._changed = asyncio.Event()
        self._closed = False

    # -- TaskRuntime ---------------------------------------------------------

    async def start(self, spec: ContainerSpec) -> ContainerState:
        self._check_open()
        if (existing := self._containers.get(spec.task_id)) is not None:
            return self._state(existing)
        if self.start_delay > 0:
            await asyncio.sleep(self.start_delay)
            self._check_open()
            # A concurrent start of the same task may have finished meanwhile;
            # from here to the end there is no await, so only one records it.
            if (existing := self._containers.get(spec.task_id)) is not None:
                return self._state(existing)
        if spec.image in self.fail_images:
            raise RuntimeFailure(f"image {spec.image} cannot be started on this node (fake runtime: a failing image)")
        container = _FakeContainer(
            spec=spec,
            container_id=secrets.token_hex(32),
            labels=self._labels_for(spec),
            ports=self._allocate_ports(spec),
        )
        self._containers[spec.task_id] = container
        command = " ".join(spec.command) or "(image default command)"
        self._log(container, "stdout", f"fake task {spec.job_name}.{spec.slot} started: {spec.image} {command}")
        self._emit(RuntimeEvent(spec.task_id, "start"))
        if self.run_for is not None:
            container.exit_timer = asyncio.get_running_loop().call_later(self.run_for, self.exit, spec.task_id, 0)
        return self._state(container)

    async def stop(self, task_id: str, timeout: float = 10.0) -> None:
        self._check_open()
        container = self._containers.get(task_id)
        if container is not None and container.running:
            # A fake task handles SIGTERM at once and cleanly, hence exit code 0.
            self._exit(container, 0)

    async def remove(self, task_id: str) -> None:
        self._check_open()
        container = self._containers.get(task_id)
        if container is None:
            return
        if container.running:  # forced, like `docker rm -f`: the task is killed
            self._exit(container, 137)
        del self._containers[task_id]
        self._changed_now()

    async def inspect(self, task_id: str) -> ContainerState | None:
        self._check_open()
        container = self._containers.get(task_id)
        return self._state(container) if container is not None else None

    async def list(self) -> builtins.list[ContainerState]:
        self._check_open()
        return [self._state(c) for c in self._containers.values()]

    def events(self) -> AsyncIterator[RuntimeEvent]:
        # From the moment of this call, like the docker runtime: events between
        # subscribing and the first read are not lost.
        return _EventSubscription(self, self._seq)

    def logs(self, task_id: str, follow: bool = False, tail: int = 0) -> AsyncIterator[LogRecord]:
        return self._logs(task_id, follow, tail)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for container in self._containers.values():
            if container.exit_timer is not None:
                container.exit_timer.cancel()
        self._changed_now()

    # -- driving the fake node -----------------------------------------------

    def exit(self, task_id: str, code: int, error: str = "") -> bool:
        """Make a running task exit with `code` (emits "die"). False if it had
        already exited; KeyError if this node has no such task."""
        container = self._containers.get(task_id)
        if container is None:
            raise KeyError(f"no task {task_id} on this fake node")
        if not container.running:
            return False
        self._exit(container, code, error)
        return True

    def oom(self, task_id: str) -> bool:
        """The task runs out of memory: "oom", then "die" with 137, error "OOM killed"."""
        container = self._containers.get(task_id)
        if container is None:
            raise KeyError(f"no task {task_id} on this fake node")
        if not container.running:
            return False
        self._emit(RuntimeEvent(task_id, "oom"))
        self._exit(container, 137, "OOM killed")
        return True

    def kill_all(self, code: int = 137) -> builtins.list[str]:
        """Every running task dies at once (as if killed); returns their ids."""
        killed = [c for c in self._containers.values() if c.running]
        for container in killed:
            self._exit(container, code)
        return [c.spec.task_id for c in killed]

    def write_log(self, task_id: str, line: str, stream: str = "stdout") -> None:
        """Append a line of output to a task (what its process would print)."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be stdout or stderr, not {stream!r}")
        container = self._containers.get(task_id)
        if container is None:
            raise KeyError(f"no task {task_id} on this fake node")
        self._log(container, stream, line)

    # -- internals -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeFailure("the fake runtime is closed")

    def _labels_for(self, spec: ContainerSpec) -> dict[str, str]:
        own = {
            **self._node_labels,
            LABEL_TASK: spec.task_id,
            LABEL_JOB: spec.job_id,
            LABEL_JOB_NAME: spec.job_name,
            LABEL_SLOT: str(spec.slot),
        }
        return {**spec.labels, **own}

    def _allocate_ports(self, spec: ContainerSpec) -> tuple[PortBinding, ...]:
        wanted = [(p, p.published) for p in spec.ports if p.published]
        for p, port in wanted:
            if (port, p.protocol) in self._used_ports:
                raise RuntimeFailure(f"host port {port}/{p.protocol} is already in use")
        if len({(port, p.protocol) for p, port in wanted}) < len(wanted):
            raise RuntimeFailure("the task asks for the same host port twice")
        bindings = []
        taken: set[tuple[int, str]] = set()
        for p in spec.ports:
            port = p.published or self._pick_port(p.protocol, taken)
            taken.add((port, p.protocol))
            bindings.append(PortBinding(container=p.container, published=port, protocol=p.protocol))
        for b in bindings:
            self._used_ports[(b.published, b.protocol)] = spec.task_id
        return tuple(bindings)

    def _pick_port(self, protocol: str, taken: set[tuple[int, str]]) -> int:
        low, high = EPHEMERAL_PORTS
        for _ in range(high - low + 1):
            port = self._next_port
            self._next_port = low if port >= high else port + 1
            if (port, protocol) not in self._used_ports and (port, protocol) not in taken:
                return port
        raise RuntimeFailure(f"no free host port left for {protocol} on this node")

    def _exit(self, container: _FakeContainer, code: int, error: str = "") -> None:
        container.running = False
        container.exit_code = code
        container.error = error
        if container.exit_timer is not None:
            container.exit_timer.cancel()
            container.exit_timer = None
        for b in container.ports:
            if self._used_ports.get((b.published, b.protocol)) == container.spec.task_id:
                del self._used_ports[(b.published, b.protocol)]
        self._log(container, "stdout" if code == 0 else "stderr", f"fake task exited with code {code}")
        self._emit(RuntimeEvent(container.spec.task_id, "die", exit_code=code))

    def _log(self, container: _FakeContainer, stream: str, line: str) -> None:
        container.output.append(LogRecord(container.spec.task_id, stream, line, time.time()))
        self._changed_now()

    def _emit(self, event: RuntimeEvent) -> None:
        self._seq += 1
        self._history.append((self._seq, event))
        self._changed_now()

    def _changed_now(self) -> None:
        # One shared signal: readers wake, look for what is new to them, and
        # wait on the next one.
        self._changed.set()
        self._changed = asyncio.Event()

    def _state(self, c: _FakeContainer) -> ContainerState:
        return ContainerState(
            task_id=c.spec.task_id,
            container_id=c.container_id,
            running=c.running,
            exit_code=c.exit_code,
            error=c.error,
            ports=c.ports if c.running else (),  # a stopped container holds no host ports
            labels=dict(c.labels),
        )

    async def _logs(self, task_id: str, follow: bool, tail: int) -> AsyncIterator[LogRecord]:
        self._check_open()
        container = self._containers.get(task_id)
        if container is None:
            raise RuntimeFailure(f"task {task_id} has no container on this node")
        start = max(0, len(container.output) - tail) if tail > 0 else 0
        cursor = start
        while True:
            while cursor < len(container.output):
                yield container.output[cursor]
                cursor += 1
            if not follow or not container.running or self._closed:
                return
            if self._containers.get(task_id) is not container:
                return  # removed
            await self._changed.wait()


class _EventSubscription:
    """Reads the runtime's event history from a position onwards."""

    def __init__(self, runtime: FakeRuntime, after_seq: int) -> None:
        self._runtime = runtime
        self._cursor = after_seq
        self._done = False

    def __aiter__(self) -> _EventSubscription:
        return self

    async def __anext__(self) -> RuntimeEvent:
        rt = self._runtime
        while True:
            if self._done or rt._closed:
                raise StopAsyncIteration
            history = rt._history
            if history and history[-1][0] > self._cursor:
                first_seq = history[0][0]
                if first_seq > self._cursor + 1:
                    self._done = True
                    raise RuntimeFailure(
                        f"event reader fell more than {EVENT_HISTORY} events behind; re-list the node's tasks"
                    )
                seq, event = history[self._cursor + 1 - first_seq]
                self._cursor = seq
                return event
            await rt._changed.wait()

    async def aclose(self) -> None:
        self._done = True
