"""A workload: the nodes of a simulated cluster and the jobs that arrive on it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# Label the lab gives every node with GPUs so jobs can ask for a model.
GPU_MODEL_LABEL = "gpu_model"


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """``count`` identical nodes named ``{name}-{k:05d}``."""

    name: str
    count: int
    cpu: float  # cores
    memory: int  # bytes
    disk: int = 0  # bytes
    gpus: int = 0
    gpu_model: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def all_labels(self) -> dict[str, str]:
        labels = dict(self.labels)
        if self.gpu_model:
            labels.setdefault(GPU_MODEL_LABEL, self.gpu_model)
        return labels


@dataclass(frozen=True, slots=True)
class JobSpec:
    """``replicas`` identical tasks arriving together.

    A task asks for ``gpus`` whole GPUs or ``gpu_share`` of one GPU (0 < share
    <= 1), not both. ``duration`` None is a service: it runs until the end.
    """

    name: str
    arrival: float  # seconds from the start of the workload
    cpu: float  # cores per task
    memory: int  # bytes per task
    disk: int = 0
    gpus: int = 0
    gpu_share: float = 0.0
    gpu_models: tuple[str, ...] = ()  # any of these models; () = any GPU
    replicas: int = 1
    namespace: str = "default"
    priority: int = 50
    duration: float | None = None
    constraints: tuple[str, ...] = ()

    @property
    def gpu_demand(self) -> float:
        """GPUs per task, whole or fractional."""
        return float(self.gpus) if self.gpus else self.gpu_share


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    nodes: tuple[NodeGroup, ...]
    jobs: tuple[JobSpec, ...]

    @property
    def node_count(self) -> int:
        return sum(g.count for g in self.nodes)

    @property
    def task_count(self) -> int:
        return sum(j.replicas for j in self.jobs)

    def describe(self) -> dict[str, object]:
        """Figures a report shows about the workload itself."""
        ends = [j.arrival + j.duration for j in self.jobs if j.duration is not None]
        return {
            "name": self.name,
            "nodes": self.node_count,
            "jobs": len(self.jobs),
            "tasks": self.task_count,
            "namespaces": sorted({j.namespace for j in self.jobs}),
            "last_arrival": max((j.arrival for j in self.jobs), default=0.0),
            "last_planned_end": max(ends, default=math.nan) if ends else None,
        }
