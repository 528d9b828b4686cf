"""Samples of the simulated cluster over virtual time, taken after each pass."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.lab.cluster import SimCluster
from bench.lab.metrics import FloatArray, IntArray, dominant_shares, lower_bound_nodes, stranded
from bench.lab.tasks import RESOURCES


class Recorder:
    def __init__(self, cluster: SimCluster, reference: IntArray, weights: Mapping[str, float]) -> None:
        self.cluster = cluster
        self.reference = reference
        self.total: IntArray = cluster.capacity.sum(axis=1)
        self.weights = np.array([weights.get(ns, 1.0) for ns in cluster.namespaces])
        gpu = RESOURCES.index("gpu")
        ref_gpu = int(reference[gpu])
        # Whole GPUs when the typical task asks for >= 1 GPU, else a share of one.
        self._ref_gpu = (ref_gpu // 1000, 0) if ref_gpu >= 1000 else (0, ref_gpu)
        self.times: list[float] = []
        self.utilization: list[FloatArray] = []
        self.nodes_used: list[int] = []
        self.lower_bound: list[int] = []
        self.stranded: list[FloatArray] = []
        self.shares: list[FloatArray] = []

    def sample(self, time: float) -> None:
        cluster = self.cluster
        allocated = cluster.allocated.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.utilization.append(np.where(self.total > 0, allocated / np.maximum(self.total, 1), np.nan))
        self.nodes_used.append(cluster.nodes_used())
        self.lower_bound.append(lower_bound_nodes(allocated, cluster.capacity))
        free = cluster.free()
        lacking = free < self.reference[:, None]
        lacking[RESOURCES.index("gpu")] = ~cluster.gpu_fits(*self._ref_gpu)
        self.stranded.append(stranded(free, self.reference, lacking, self.total))
        self.shares.append(dominant_shares(cluster.namespace_usage, self.total))
        self.times.append(time)

    def arrays(self) -> dict[str, FloatArray]:
        k = len(self.times)
        r, n = len(RESOURCES), len(self.cluster.namespaces)
        return {
            "times": np.array(self.times, dtype=np.float64),
            "utilization": np.array(self.utilization).reshape(k, r),
            "nodes_used": np.array(self.nodes_used, dtype=np.float64),
            "lower_bound": np.array(self.lower_bound, dtype=np.float64),
            "stranded": np.array(self.stranded).reshape(k, r),
            "shares": np.array(self.shares).reshape(k, n),
        }
