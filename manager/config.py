"""The manager daemon's tunables, each with where its default comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import scheduler as sch


@dataclass(slots=True)
class ManagerConfig:
    data_dir: Path
    # gRPC API for clients and agents. 7460 is Dockyard's registered-nowhere
    # default; loopback unless the operator says otherwise.
    listen: str = "127.0.0.1:7460"
    # Raft peer traffic (pysyncobj's own TCP protocol, encrypted with the
    # cluster secret).
    raft_addr: str = "127.0.0.1:7461"
    raft_peers: list[str] = field(default_factory=list)
    # The CA service for joiners (no client certificate needed there).
    join_listen: str = "127.0.0.1:7462"
    name: str = ""
    # How often a manager checks whether its certificate is due for renewal.
    cert_check_period: float = 60.0
    # Agents heartbeat at this period; a node is down after period x
    # heartbeat_grace_factor without one (DESIGN.md section 4: x 3).
    heartbeat_period: float = 5.0
    heartbeat_grace_factor: float = 3.0
    # After a leader change every node gets this many periods before it can
    # be marked down, so a failover never triggers mass rescheduling.
    failover_grace_factor: float = 6.0
    # ... and never less than this: agents reconnect with back-off and must
    # find the new leader first, which short lab heartbeat periods (1 s) do
    # not leave time for.
    failover_grace_min: float = 10.0
    # The scheduling loop gathers pending tasks for this long before a pass,
    # so a 20-replica job is placed in one plan (one Raft entry).
    schedule_debounce: float = 0.002
    # The seed of the cluster-wide scheduler settings (`--scheduler-policy`,
    # `--queue-order`, `--namespace-weight`, `--no-preemption` of `manager
    # init`); the first leader replicates it (manager/settings.py) and from
    # then on the replicated copy rules. A job's placement.policy overrides
    # the policy.
    # binpack, as in Nomad: it keeps whole nodes free for large tasks.
    scheduler_policy: str = "binpack"
    # priority then FIFO, as Swarm and Nomad order their queues; "drf" shares
    # a contended cluster fairly between namespaces.
    queue_order: str = "priority"
    # DRF weight per namespace; a namespace not listed weighs 1.0.
    namespace_weights: dict[str, float] = field(default_factory=dict)
    # A task that fits nowhere may evict strictly lower-priority tasks.
    preemption: bool = True

    def scheduler_config(self) -> sch.SchedulerConfig:
        """Raises ValueError for an unknown policy or order, or a weight <= 0."""
        return sch.SchedulerConfig(
            policy=self.scheduler_policy,
            queue_order=self.queue_order,
            namespace_weights=dict(self.namespace_weights),
            preemption=self.preemption,
        )


# The ManagerConfig fields that cluster.json remembers (ClusterIdentity.scheduler)
# as the seed of the replicated settings: set at `manager init` (or `dev`).
SCHEDULER_SETTINGS = ("scheduler_policy", "queue_order", "namespace_weights", "preemption")
