"""The workload compiled for simulation: one row per task, numpy columns.

Jobs expand into tasks; identical tasks (same namespace, priority, demand and
constraints) share a *shape*, and the simulator offers all pending tasks of a
shape to the scheduler as one TaskGroup. Identical tasks are interchangeable,
so this changes no placement, and it is what keeps a pass over a backlog of
200,000 tasks to a few hundred groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.lab.workload import GPU_MODEL_LABEL, JobSpec, Workload
from scheduler import DeviceRequest, Resources

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

GPU = "gpu"  # the device kind the lab gives GPUs
# Resource dimensions every lab array uses, in this order; cpu is in
# millicores, memory and disk in bytes, gpu in thousandths of a GPU.
RESOURCES: tuple[str, ...] = ("cpu", "memory", "disk", "gpu")


@dataclass(frozen=True, slots=True)
class Shape:
    """What the scheduler needs to place one task of a kind."""

    key: str  # "s17": the TaskGroup's job id
    namespace: str
    priority: int
    demand: Resources
    constraints: tuple[str, ...]
    vector: tuple[int, int, int, int]  # RESOURCES, integer units


def job_constraints(job: JobSpec) -> tuple[str, ...]:
    if not job.gpu_models:
        return job.constraints
    models = ", ".join(job.gpu_models)
    return (*job.constraints, f"node.labels.{GPU_MODEL_LABEL} in ({models})")


def job_resources(job: JobSpec) -> Resources:
    devices: tuple[DeviceRequest, ...] = ()
    if job.gpus:
        devices = (DeviceRequest(GPU, count=job.gpus),)
    elif job.gpu_share:
        devices = (DeviceRequest(GPU, share=job.gpu_share),)
    return Resources(cpu=job.cpu, memory=job.memory, disk=job.disk, devices=devices)


class TaskTable:
    """Tasks of a workload in arrival order (ties: file order)."""

    def __init__(self, workload: Workload) -> None:
        shapes: dict[tuple[object, ...], Shape] = {}
        job_shape: list[int] = []
        shape_list: list[Shape] = []
        for job in workload.jobs:
            demand = job_resources(job)
            constraints = job_constraints(job)
            gpu_milli = job.gpus * 1000 if job.gpus else round(job.gpu_share * 1000)
            vector = (round(job.cpu * 1000), job.memory, job.disk, gpu_milli)
            key = (job.namespace, job.priority, vector, job.gpus > 0, constraints)
            shape = shapes.get(key)
            if shape is None:
                shape = Shape(f"s{len(shapes)}", job.namespace, job.priority, demand, constraints, vector)
                shapes[key] = shape
                shape_list.append(shape)
            job_shape.append(int(shape.key[1:]))
        self.shapes: list[Shape] = shape_list
        replicas = np.array([j.replicas for j in workload.jobs], dtype=np.int64)
        job_of_task = np.repeat(np.arange(len(workload.jobs), dtype=np.int64), replicas)
        arrival = np.array([j.arrival for j in workload.jobs], dtype=np.float64)[job_of_task]
        order = np.argsort(arrival, kind="stable")
        self.size = int(replicas.sum())
        self.job: IntArray = job_of_task[order]
        self.arrival: FloatArray = arrival[order]
        durations = np.array([np.inf if j.duration is None else j.duration for j in workload.jobs])
        self.duration: FloatArray = durations[job_of_task][order] if self.size else np.zeros(0)
        self.shape: IntArray = np.array(job_shape, dtype=np.int64)[self.job] if self.size else np.zeros(0, np.int64)
        vectors = np.array([s.vector for s in shape_list], dtype=np.int64).reshape(len(shape_list), len(RESOURCES))
        # (task, resource) demand in integer units.
        self.demand: IntArray = vectors[self.shape] if self.size else np.zeros((0, len(RESOURCES)), np.int64)
        namespaces = sorted({s.namespace for s in shape_list})
        self.namespaces: list[str] = namespaces
        ns_index = {ns: k for k, ns in enumerate(namespaces)}
        shape_ns = np.array([ns_index[s.namespace] for s in shape_list], dtype=np.int64)
        self.namespace: IntArray = shape_ns[self.shape] if self.size else np.zeros(0, np.int64)

    def typical_demand(self) -> IntArray:
        """Per-resource median task demand: the reference task for stranding."""
        if not self.size:
            return np.zeros(len(RESOURCES), dtype=np.int64)
        median: IntArray = np.median(self.demand, axis=0).astype(np.int64)
        return median
