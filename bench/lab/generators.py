"""Synthetic workloads, seeded and deterministic: same kind + options + seed,
same workload, on any machine (numpy's PCG64 stream is stable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bench.lab.workload import JobSpec, NodeGroup, Workload

GiB = 1 << 30
MiB = 1 << 20

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    nodes: int = 100
    node_cpu: float = 32.0
    node_memory: int = 128 * GiB  # 4 GiB per core, a common cloud shape
    jobs: int = 1000
    seed: int = 0
    # "at-once" (all at t=0), "poisson" or "bursty"
    arrivals: str = "poisson"
    # Mean seconds between job arrivals (poisson; bursty averages to it too).
    mean_interarrival: float = 1.0
    # Mean task duration in seconds; 0 = services that never finish.
    mean_duration: float = 300.0
    namespaces: int = 3


ARRIVALS = ("at-once", "poisson", "bursty")


def _arrival_times(rng: np.random.Generator, options: GeneratorOptions) -> FloatArray:
    n = options.jobs
    if options.arrivals == "at-once":
        return np.zeros(n)
    if options.arrivals == "poisson":
        return np.cumsum(rng.exponential(options.mean_interarrival, n)) - 0.0
    if options.arrivals == "bursty":
        # On/off source: bursts of ~20 jobs 0.05 mean gap apart, separated by
        # quiet periods sized so the long-run rate equals the Poisson one.
        burst = 20
        gaps = rng.exponential(options.mean_interarrival * 0.05, n)
        starts = np.arange(n) % burst == 0
        quiet = options.mean_interarrival * burst * 0.95
        gaps[starts] = rng.exponential(quiet, int(starts.sum()))
        return np.cumsum(gaps)
    raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}, got {options.arrivals!r}")


def _durations(rng: np.random.Generator, options: GeneratorOptions) -> list[float | None]:
    if options.mean_duration <= 0:
        return [None] * options.jobs
    # Lognormal with sigma 1: most tasks short, a few long, as in batch traces.
    sigma = 1.0
    mu = np.log(options.mean_duration) - sigma**2 / 2
    return [round(float(d), 3) for d in rng.lognormal(mu, sigma, options.jobs)]


def _nodes(options: GeneratorOptions) -> tuple[NodeGroup, ...]:
    return (NodeGroup(name="node", count=options.nodes, cpu=options.node_cpu, memory=options.node_memory),)


def _jobs(
    options: GeneratorOptions,
    rng: np.random.Generator,
    cpu: FloatArray,
    memory: FloatArray,
    replicas: npt.NDArray[np.int64],
) -> tuple[JobSpec, ...]:
    arrivals = _arrival_times(rng, options)
    durations = _durations(rng, options)
    namespaces = rng.integers(0, max(1, options.namespaces), options.jobs)
    # Quantise like people write requests: 50 millicores, 64 MiB; never above a node.
    cpu = np.clip(np.round(cpu / 0.05) * 0.05, 0.05, options.node_cpu)
    mem = np.clip(np.round(memory / (64 * MiB)) * 64 * MiB, 64 * MiB, options.node_memory)
    return tuple(
        JobSpec(
            name=f"job{k:06d}",
            arrival=round(float(arrivals[k]), 3),
            cpu=round(float(cpu[k]), 3),
            memory=int(mem[k]),
            replicas=int(replicas[k]),
            namespace=f"ns{int(namespaces[k])}",
            duration=durations[k],
        )
        for k in range(options.jobs)
    )


def uniform(options: GeneratorOptions) -> Workload:
    """Sizes uniform in [0.25, 4] cores and [0.25, 16] GiB, independent; 1-4 replicas."""
    rng = np.random.default_rng(options.seed)
    n = options.jobs
    cpu = rng.uniform(0.25, 4.0, n)
    memory = rng.uniform(0.25, 16.0, n) * GiB
    replicas = rng.integers(1, 5, n)
    return Workload(f"uniform-seed{options.seed}", _nodes(options), _jobs(options, rng, cpu, memory, replicas))


def heavy_tailed(options: GeneratorOptions) -> Workload:
    """Lognormal task sizes (median 1 core, a few tasks of a whole node) with a
    memory-per-core ratio that is itself lognormal around the node's ratio,
    so some tasks are CPU-heavy and some memory-heavy; Pareto replica counts."""
    rng = np.random.default_rng(options.seed)
    n = options.jobs
    cpu = rng.lognormal(0.0, 1.0, n)
    node_ratio = options.node_memory / options.node_cpu
    memory = cpu * node_ratio * rng.lognormal(0.0, 0.8, n)
    replicas = np.minimum(1 + np.floor(rng.pareto(1.5, n)), 50).astype(np.int64)
    return Workload(f"heavy-tailed-seed{options.seed}", _nodes(options), _jobs(options, rng, cpu, memory, replicas))


def bursty(options: GeneratorOptions) -> Workload:
    """The heavy-tailed sizes arriving in bursts (on/off arrivals)."""
    workload = heavy_tailed(_replace_arrivals(options, "bursty"))
    return Workload(f"bursty-seed{options.seed}", workload.nodes, workload.jobs)


def gpu(options: GeneratorOptions) -> Workload:
    """A GPU cluster in the shape of Alibaba's 2023 GPU trace: 8-GPU nodes of
    two models; most tasks ask for a fraction of one GPU, some for 1-8 GPUs."""
    rng = np.random.default_rng(options.seed)
    half = options.nodes // 2
    nodes = (
        NodeGroup("v100", half, cpu=96.0, memory=384 * GiB, gpus=8, gpu_model="V100"),
        NodeGroup("a10", options.nodes - half, cpu=128.0, memory=512 * GiB, gpus=8, gpu_model="A10"),
    )
    arrivals = _arrival_times(rng, options)
    durations = _durations(rng, options)
    jobs: list[JobSpec] = []
    for k in range(options.jobs):
        kind = rng.random()
        gpus, share = 0, 0.0
        if kind < 0.55:
            share = float(rng.choice([0.1, 0.2, 0.25, 0.3, 0.5, 0.6]))
        elif kind < 0.9:
            gpus = int(rng.choice([1, 1, 1, 2, 4, 8]))
        cores = float(np.clip(np.round(rng.lognormal(1.5, 0.8) / 0.5) * 0.5, 0.5, 64))
        models: tuple[str, ...] = ()
        if (gpus or share) and rng.random() < 0.2:
            models = ("V100",) if rng.random() < 0.5 else ("A10",)
        jobs.append(
            JobSpec(
                name=f"job{k:06d}",
                arrival=round(float(arrivals[k]), 3),
                cpu=cores,
                memory=int(cores * 4) * GiB,
                gpus=gpus,
                gpu_share=share,
                gpu_models=models,
                namespace=f"ns{int(rng.integers(0, max(1, options.namespaces)))}",
                duration=durations[k],
            )
        )
    return Workload(f"gpu-seed{options.seed}", nodes, tuple(jobs))


def drf_example(options: GeneratorOptions) -> Workload:
    """The example of Ghodsi et al. (NSDI 2011): 9 CPUs / 18 GB; namespace a
    runs <1 CPU, 4 GB> tasks, b runs <3 CPU, 1 GB> tasks, both with demand
    to spare. Under DRF a gets 3 tasks and b 2, each a dominant share of 2/3."""
    GB = 10**9
    nodes = (NodeGroup("node", 1, cpu=9.0, memory=18 * GB),)
    jobs = (
        JobSpec("a", 0.0, cpu=1.0, memory=4 * GB, replicas=9, namespace="a"),
        JobSpec("b", 0.0, cpu=3.0, memory=1 * GB, replicas=9, namespace="b"),
    )
    return Workload("drf-example", nodes, jobs)


def _replace_arrivals(options: GeneratorOptions, arrivals: str) -> GeneratorOptions:
    fields = {name: getattr(options, name) for name in GeneratorOptions.__dataclass_fields__}
    fields["arrivals"] = arrivals
    return GeneratorOptions(**fields)


GENERATORS: dict[str, Callable[[GeneratorOptions], Workload]] = {
    "uniform": uniform,
    "heavy-tailed": heavy_tailed,
    "bursty": bursty,
    "gpu": gpu,
    "drf-example": drf_example,
}


def generate(kind: str, options: GeneratorOptions) -> Workload:
    try:
        generator = GENERATORS[kind]
    except KeyError:
        raise ValueError(f"unknown workload kind {kind!r}; expected one of {', '.join(GENERATORS)}") from None
    return generator(options)
