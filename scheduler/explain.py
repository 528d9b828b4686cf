"""Explanations: why a task was or was not placed, in numbers and in one line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Filters whose key already reads as a reason ("1 not ready"); the others are
# rules and read as "2 filtered by constraint node.labels.zone == east".
_SELF_DESCRIBING = frozenset({"not ready", "drained"})


@dataclass(frozen=True, slots=True)
class CandidateScore:
    node_id: str
    node_name: str
    score: float  # what the choice maximised
    policy: str
    policy_score: float  # 0..1 from the policy alone
    spread_count: int = 0  # tasks of this job already in the node's spread bucket


def _nodes(count: int) -> str:
    return f"{count} node" if count == 1 else f"{count} nodes"


@dataclass(frozen=True, slots=True)
class Explanation:
    nodes_evaluated: int
    # filter -> nodes it removed; each node is charged to the first filter
    # that rejects it, so these plus the exhausted nodes add up.
    filtered: Mapping[str, int]
    # dimension -> nodes lacking it among those that passed every other
    # filter; a node short of cpu and memory counts in both.
    exhausted: Mapping[str, int]
    candidates: tuple[CandidateScore, ...] = ()
    feasible: int = 0  # nodes that passed every filter
    preemption: str = ""  # why preemption did not help, when it was tried

    def summary(self) -> str:
        """One line a person can act on."""
        head = f"{self.feasible}/{self.nodes_evaluated} nodes can run this task"
        if self.nodes_evaluated == 0:
            return f"{head}: no nodes in the cluster"
        reasons: list[tuple[int, str]] = []
        for name, count in self.filtered.items():
            if count:
                text = name if name in _SELF_DESCRIBING else f"filtered by {name}"
                reasons.append((count, f"{count} {text}"))
        for dimension, count in self.exhausted.items():
            if count:
                reasons.append((count, f"insufficient {dimension} on {_nodes(count)}"))
        # Biggest obstacle first; sorted() is stable so ties keep pipeline order.
        reasons.sort(key=lambda item: -item[0])
        parts = [text for _, text in reasons]
        if self.feasible and self.candidates:
            best = self.candidates[0]
            parts.insert(0, f"best {best.node_name} ({best.policy} {best.score:.3f})")
        if self.preemption:
            parts.append(self.preemption)
        return f"{head}: {', '.join(parts)}" if parts else head
