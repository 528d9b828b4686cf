"""SchedulerConfig: every tunable of the scheduler in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Policy(StrEnum):
    BINPACK = "binpack"  # fill the fullest node that fits: keeps whole nodes free
    SPREAD = "spread"  # least allocated node: smallest blast radius per node
    ALIGN = "align"  # binpack plus free space left shaped like the demand: less stranding


class QueueOrder(StrEnum):
    FIFO = "fifo"
    PRIORITY = "priority"
    DRF = "drf"


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    # binpack is Nomad's default too: it keeps large nodes free for large tasks.
    policy: str = Policy.BINPACK
    # priority then FIFO, as Swarm and Nomad order their queues.
    queue_order: str = QueueOrder.PRIORITY
    # DRF weight per namespace; a namespace not listed weighs 1.0.
    namespace_weights: Mapping[str, float] = field(default_factory=dict)
    # None: ties go to the smallest node_id. An int: ties follow a permutation
    # of the nodes drawn from this seed (same seed, same plan).
    seed: int | None = None
    preemption: bool = True
    # Eviction sets a node's exact search may try before it falls back to
    # greedy-then-prune (see scheduler/preemption.py). 20,000 covers every
    # set of up to 3 victims among 50 candidates (19,600) and costs a few
    # tens of milliseconds on the one node where it is spent.
    preemption_search_budget: int = 20_000
    # Explanations for every group (what `dockyard job plan` shows), not only
    # for unplaced ones. Costs one extra pass per group.
    explain: bool = True
    # How many best candidates an Explanation lists: enough to see the runner-up.
    explain_top_k: int = 3

    def __post_init__(self) -> None:
        Policy(self.policy)
        QueueOrder(self.queue_order)
        for namespace, weight in self.namespace_weights.items():
            if weight <= 0:
                raise ValueError(f"namespace weight for {namespace!r} must be > 0")
        if self.preemption_search_budget < 0:
            raise ValueError("preemption_search_budget must be >= 0")
        if self.explain_top_k < 0:
            raise ValueError("explain_top_k must be >= 0")
