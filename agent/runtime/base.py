"""The task runtime interface the agent drives.

Plain data in and out, no protobuf: the agent's worker translates tasks into
`ContainerSpec`s. Every call is async; drivers that wrap blocking libraries run
them off the event loop (the loop also serves heartbeats).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class RuntimeFailure(Exception):
    """A runtime could not do what was asked; the message is shown to users
    as the task's error (e.g. "image dockyard-test/nope:1 not found")."""


@dataclass(frozen=True, slots=True)
class PortRequest:
    container: int
    published: int = 0  # 0: the runtime picks a free host port
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class PortBinding:
    container: int
    published: int
    host_ip: str = "0.0.0.0"
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything needed to run one task's container."""

    task_id: str
    job_id: str
    job_name: str
    slot: int
    image: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cpu: float = 0.0  # cores; 0 = no limit
    memory: int = 0  # bytes; 0 = no limit
    ports: tuple[PortRequest, ...] = ()
    # Extra labels for this container (the runtime adds its own node labels).
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContainerState:
    """What the runtime observes of one task's container."""

    task_id: str
    container_id: str
    running: bool
    exit_code: int | None = None  # set once the container has exited
    error: str = ""
    ports: tuple[PortBinding, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuntimeEvent:
    """A container of this node changed by itself (exited, was killed, OOM)."""

    task_id: str
    kind: str  # "die" | "start" | "oom"
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class LogRecord:
    task_id: str
    stream: str  # stdout | stderr
    line: str
    timestamp: float


class TaskRuntime(Protocol):
    name: str

    async def start(self, spec: ContainerSpec) -> ContainerState:
        """Create and start the task's container; raise RuntimeFailure with a
        message a person can act on when that is impossible. Starting a task
        whose container already exists returns its state (idempotent)."""
        ...

    async def stop(self, task_id: str, timeout: float = 10.0) -> None:
        """Stop the container (SIGTERM, then SIGKILL after `timeout`). No-op if gone."""
        ...

    async def remove(self, task_id: str) -> None:
        """Remove the container (force). No-op if gone."""
        ...

    async def inspect(self, task_id: str) -> ContainerState | None: ...

    async def list(self) -> list[ContainerState]:
        """Every container this runtime manages on this node (found by label),
        so that a restarted agent adopts or removes what it finds."""
        ...

    def events(self) -> AsyncIterator[RuntimeEvent]:
        """Changes that happen to containers without being asked (die, oom)."""
        ...

    def logs(self, task_id: str, follow: bool = False, tail: int = 0) -> AsyncIterator[LogRecord]:
        """The task's output; `tail` > 0 limits to the last lines; `follow`
        keeps streaming until the container stops or the caller stops reading."""
        ...

    async def close(self) -> None: ...
