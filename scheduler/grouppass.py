"""GroupPass: place the tasks of one group, one argmax per task.

The pass evaluates every node once when it starts (vectorised filters and
scores), then after each placement re-evaluates only the node that changed.
Choosing a node is one ``np.argmax`` over the scores, so every feasible node
is considered for every task without sampling.
"""

from __future__ import annotations

import numpy as np

from scheduler.config import Policy
from scheduler.explain import CandidateScore, Explanation
from scheduler.filters import GroupFilter, Requirements
from scheduler.nodeset import FloatArray, IntArray, NodeSet
from scheduler.scoring import policy_score_one, policy_scores

# Policy scores lie in [0, 1]; weighing each task already in a node's spread
# bucket by 2 makes balance over the label values decide before the policy
# does (Swarm's spread semantics), and the policy only orders nodes within
# the least loaded bucket.
SPREAD_WEIGHT = 2.0


class GroupPass:
    def __init__(self, nodes: NodeSet, requirements: Requirements) -> None:
        self.nodes = nodes
        self.req = requirements
        self.policy = policy = requirements.policy
        self.filter = GroupFilter(nodes, requirements)
        everything = slice(None)
        feasible = self.filter.feasible(everything)
        scores = policy_scores(policy, nodes.capacity, nodes.allocated, requirements.demand, nodes.capacity_view)
        self.scores: FloatArray = np.where(feasible, scores, -np.inf)
        self.bucket_codes: IntArray | None = None
        self.bucket_counts: IntArray = np.zeros(0, dtype=np.int64)
        if requirements.spread_attribute:
            codes, vocabulary = nodes.attribute_codes(requirements.spread_attribute)
            # Nodes without the label form one more bucket of their own.
            self.bucket_codes = np.where(codes < 0, len(vocabulary), codes).astype(np.int64)
            self.bucket_counts = np.bincount(
                self.bucket_codes,
                weights=nodes.job_counts(requirements.group.job_id),
                minlength=len(vocabulary) + 1,
            ).astype(np.int64)
        # Binpack only raises the chosen node's score, so while that node
        # stays feasible it stays the argmax: skip the search (same result).
        self._sticky = policy is Policy.BINPACK and self.bucket_codes is None
        self._last: int | None = None

    def totals(self) -> FloatArray:
        if self.bucket_codes is None:
            return self.scores
        penalty = SPREAD_WEIGHT * self.bucket_counts[self.bucket_codes]
        result: FloatArray = self.scores - penalty
        return result

    def best(self) -> int | None:
        """Index of the node for the next task, or None if no node can take it."""
        last = self._last
        if last is not None and self.scores[last] != -np.inf:
            return last
        totals = self.totals()
        if len(totals) == 0:
            return None
        i = int(totals.argmax())
        if totals[i] == -np.inf:
            return None
        return i

    def placed(self, i: int) -> None:
        """Called after this pass's task was reserved on node ``i``."""
        if self._sticky:
            self._last = i

    def refresh(self, i: int, grew: bool = True) -> None:
        """Node ``i`` changed: re-evaluate it. ``grew`` is False after an
        eviction, which lowers the node's binpack score."""
        if self._last is not None and (self._last != i or not grew):
            self._last = None  # the sticky shortcut no longer holds
        nodes = self.nodes
        if self.filter.feasible_one(i):
            self.scores[i] = policy_score_one(
                self.policy, nodes.capacity_of(i), nodes.allocated_of(i), self.filter.demand_list
            )
        else:
            self.scores[i] = -np.inf

    def job_moved(self, i: int, job_id: str, delta: int) -> None:
        """A task of ``job_id`` arrived at (+1) or left (-1) node ``i``."""
        if self.bucket_codes is not None and job_id == self.req.group.job_id:
            self.bucket_counts[self.bucket_codes[i]] += delta

    def explanation(self, top_k: int, preemption: str = "") -> Explanation:
        filtered, exhausted, feasible = self.filter.explain_counts()
        totals = self.totals()
        candidates: list[CandidateScore] = []
        count = int(np.count_nonzero(feasible))
        k = min(top_k, count)
        if k:
            finite = np.flatnonzero(feasible)
            values = totals[finite]
            # The k best in O(n): everything strictly better than the k-th
            # value, then ties at the k-th value in node order, which is the
            # same tie-break as the choice itself.
            kth = -np.partition(-values, k - 1)[k - 1]
            better = np.flatnonzero(values > kth)
            ties = np.flatnonzero(values == kth)[: k - len(better)]
            top = np.concatenate((better, ties))
            order = np.lexsort((finite[top], -values[top]))
            for i in finite[top][order].tolist():
                spread_count = int(self.bucket_counts[self.bucket_codes[i]]) if self.bucket_codes is not None else 0
                candidates.append(
                    CandidateScore(
                        node_id=self.nodes.ids[i],
                        node_name=self.nodes.names[i],
                        score=float(totals[i]),
                        policy=str(self.policy),
                        policy_score=float(self.scores[i]),
                        spread_count=spread_count,
                    )
                )
        return Explanation(
            nodes_evaluated=self.nodes.size,
            filtered=filtered,
            exhausted=exhausted,
            candidates=tuple(candidates),
            feasible=count,
            preemption=preemption,
        )
