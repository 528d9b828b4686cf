"""Queue order: which group (and, under DRF, which namespace) goes next."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from scheduler.config import QueueOrder
from scheduler.taskgroup import TaskGroup


def _fifo_key(group: TaskGroup) -> tuple[float, str]:
    return (group.submitted_at, group.job_id)


def _priority_key(group: TaskGroup) -> tuple[int, float, str]:
    return (-group.priority, group.submitted_at, group.job_id)


def ordered(groups: Iterable[TaskGroup], order: QueueOrder) -> list[TaskGroup]:
    """FIFO: oldest first. PRIORITY (and within a DRF namespace): highest
    priority first, then oldest. Job id breaks ties so the order never
    depends on the order the manager listed the groups in."""
    key = _fifo_key if order is QueueOrder.FIFO else _priority_key
    return sorted(groups, key=key)


class DrfQueue:
    """Weighted Dominant Resource Fairness across namespaces (Ghodsi et al.,
    NSDI 2011): the namespace with the lowest dominant share divided by its
    weight places the next task. Shares are read live through
    ``dominant_share`` so running tasks, placements and evictions all count.
    """

    def __init__(
        self,
        groups: Sequence[TaskGroup],
        weights: Mapping[str, float],
        dominant_share: Callable[[str], float],
    ) -> None:
        self._weights = weights
        self._dominant_share = dominant_share
        self._queues: dict[str, deque[TaskGroup]] = {}
        for group in ordered(groups, QueueOrder.PRIORITY):
            self._queues.setdefault(group.namespace, deque()).append(group)

    def weighted_share(self, namespace: str) -> float:
        return self._dominant_share(namespace) / self._weights.get(namespace, 1.0)

    def next_namespace(self) -> str | None:
        if not self._queues:
            return None
        return min(self._queues, key=lambda ns: (self.weighted_share(ns), ns))

    def head(self, namespace: str) -> TaskGroup:
        return self._queues[namespace][0]

    def pop(self, namespace: str) -> None:
        """The head group is done (all placed, or the rest cannot be placed);
        a namespace with no group left drops out."""
        queue = self._queues[namespace]
        queue.popleft()
        if not queue:
            del self._queues[namespace]
