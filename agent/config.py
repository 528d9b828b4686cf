"""The agent daemon's tunables, each with where its default comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class AgentConfig:
    data_dir: Path
    # A manager's join port (its CA service) and the agent join token; only
    # needed the first time: afterwards the node's certificate is in data_dir.
    join: str = ""
    token: str = ""
    # Managers' API addresses; learned at join and at each registration.
    managers: list[str] = field(default_factory=list)
    name: str = ""  # default: the host name
    labels: dict[str, str] = field(default_factory=dict)
    # Where this agent serves task logs to the managers; port 0 picks one.
    listen: str = "127.0.0.1:0"
    # Address the managers should use to reach `listen` (default: the same).
    advertise: str = ""
    runtime: str = "docker"  # docker | fake
    # Capacity overrides for lab clusters of hollow nodes; 0 = what psutil sees.
    cpu: float = 0.0
    memory: int = 0
    disk: int = 0
    # Devices the operator gives this node, kind -> ids (`--device gpu=0,1`).
    # Named, not probed: the operator knows which devices tasks may use, and
    # the ids are what the container runtime understands (e.g. GPU indexes
    # or UUIDs for NVIDIA_VISIBLE_DEVICES).
    devices: dict[str, list[str]] = field(default_factory=dict)
    # Labels put on every container besides the cluster's and node's own,
    # e.g. a test run's id so the test can clean up exactly what it made.
    container_labels: dict[str, str] = field(default_factory=dict)
    # Status updates are gathered for this long into one RPC (and one Raft entry).
    status_batch_window: float = 0.005
    # Containers are checked against what the agent believes this often, to
    # catch a missed Docker event.
    resync_period: float = 5.0
    # Reconnect back-off after losing the manager: starts here, doubles to max.
    reconnect_min: float = 0.1
    reconnect_max: float = 3.0
    # How often the agent checks whether its certificate is due for renewal.
    cert_check_period: float = 60.0
    # Fake runtime: how long a start takes.
    fake_start_delay: float = 0.0
    # Images the fake runtime refuses to start (tests of failing updates).
    fake_fail_images: frozenset[str] = frozenset()
