"""Dockyard's face: the CLI, the Python client, job-file loading and validation,
security helpers and the generated wire contract (dockyard.api.v1).

Must not import `manager`, `agent` or `scheduler` (except the CLI's small
daemon entry points, which import them lazily).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> object:
    # The client pulls in grpc; keep `import dockyard` cheap for the daemons.
    if name == "Client":
        from dockyard.client import Client

        return Client
    raise AttributeError(name)
