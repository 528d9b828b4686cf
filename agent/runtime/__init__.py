"""Task runtimes: one small interface (`TaskRuntime`), two drivers.

`docker` runs real containers through the docker SDK; `fake` runs nothing and
stands in for Docker where a test or a lab cluster is about something else.
"""

from agent.runtime.base import (
    ContainerSpec,
    ContainerState,
    LogRecord,
    PortBinding,
    PortRequest,
    RuntimeEvent,
    RuntimeFailure,
    TaskRuntime,
)

__all__ = [
    "ContainerSpec",
    "ContainerState",
    "LogRecord",
    "PortBinding",
    "PortRequest",
    "RuntimeEvent",
    "RuntimeFailure",
    "TaskRuntime",
]
