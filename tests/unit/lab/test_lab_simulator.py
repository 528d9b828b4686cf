"""The replay and arrival-only simulations around the real scheduler."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.lab.arrival import arrival_only
from bench.lab.generators import GeneratorOptions, generate
from bench.lab.result import LabConfig
from bench.lab.simulator import Replay, replay
from bench.lab.tasks import RESOURCES
from bench.lab.workload import JobSpec, NodeGroup, Workload

GiB = 1 << 30


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    groups = tuple(
        NodeGroup(
            name=f"g{k}",
            count=draw(st.integers(1, 4)),
            cpu=float(draw(st.integers(1, 16))),
            memory=draw(st.integers(1, 32)) * GiB,
            gpus=draw(st.sampled_from([0, 0, 1, 2, 4])),
            labels={"zone": draw(st.sampled_from(["east", "west"]))},
        )
        for k in range(draw(st.integers(1, 3)))
    )
    jobs = []
    for k in range(draw(st.integers(1, 25))):
        gpu_kind = draw(st.sampled_from(["none", "none", "whole", "share"]))
        jobs.append(
            JobSpec(
                name=f"j{k}",
                arrival=float(draw(st.integers(0, 30))),
                cpu=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 3.3, 8.0])),
                memory=draw(st.integers(0, 12)) * GiB,
                gpus=draw(st.integers(1, 2)) if gpu_kind == "whole" else 0,
                gpu_share=draw(st.sampled_from([0.2, 0.5, 0.7])) if gpu_kind == "share" else 0.0,
                replicas=draw(st.integers(1, 6)),
                namespace=draw(st.sampled_from(["a", "b", "c"])),
                priority=draw(st.sampled_from([10, 50, 90])),
                duration=draw(st.one_of(st.none(), st.floats(1.0, 40.0))),
                constraints=draw(st.sampled_from([(), ("node.labels.zone == east",)])),
            )
        )
    return Workload("random", groups, tuple(jobs))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    workloads(),
    st.sampled_from(["binpack", "spread", "align"]),
    st.sampled_from(["fifo", "priority", "drf"]),
    st.sampled_from([0.0, 1.0, 7.5]),
)
def test_replay_never_overcommits_and_frees_what_finishes(
    workload: Workload, policy: str, queue: str, interval: float
) -> None:
    sim = Replay(workload, LabConfig(policy=policy, queue=queue, interval=interval))
    result = sim.run()  # SimCluster.allocate raises on any over-committed node or GPU
    table, cluster = sim.table, sim.cluster
    start, node = sim.start, sim.node
    placed = ~np.isnan(start)
    end = np.where(placed, start + table.duration, np.nan)
    assert (start[placed] >= table.arrival[placed]).all()
    # Recompute, from placements alone, what runs after each pass: it must
    # fit every node and equal what the simulation had allocated.
    for t, utilization in zip(result.samples["times"], result.samples["utilization"]):
        running = placed & (start <= t) & (end > t)
        per_node = np.zeros_like(cluster.capacity)
        np.add.at(per_node.T, node[running], table.demand[running])
        assert (per_node <= cluster.capacity).all()
        total = cluster.capacity.sum(axis=1)
        expected = np.where(total > 0, per_node.sum(axis=1) / np.maximum(total, 1), np.nan)
        np.testing.assert_allclose(utilization, expected, equal_nan=True)
    # After the last event only services (no duration) still hold resources.
    services = placed & np.isinf(table.duration)
    left = np.zeros_like(cluster.capacity)
    np.add.at(left.T, node[services], table.demand[services])
    assert (cluster.allocated == left).all()
    gpu_in_use = np.where(cluster.gpu_free >= 0, 1000 - cluster.gpu_free, 0).sum(axis=1)
    assert (gpu_in_use == left[RESOURCES.index("gpu")]).all()
    assert cluster.tasks_on.sum() == services.sum()


def test_a_task_waits_until_resources_free() -> None:
    workload = Workload(
        "wait",
        (NodeGroup("n", 1, cpu=4.0, memory=8 * GiB),),
        (
            JobSpec("first", 0.0, cpu=4.0, memory=GiB, duration=10.0),
            JobSpec("second", 1.0, cpu=4.0, memory=GiB, duration=5.0),
        ),
    )
    result = replay(workload, LabConfig(interval=0.0))
    assert sorted(result.pending_times.tolist()) == [0.0, 9.0]
    assert result.end_time == 15.0
    # A 2 s pass interval batches the completion at 10 into the pass at 10,
    # and the arrival at 1 into the pass at 2.
    batched = replay(workload, LabConfig(interval=2.0))
    assert sorted(batched.pending_times.tolist()) == [0.0, 9.0]
    assert batched.samples["times"].tolist() == [0.0, 2.0, 10.0, 16.0]


def test_drf_paper_example() -> None:
    """Ghodsi et al. 2011, section 4: 9 CPU / 18 GB; A's tasks <1 CPU, 4 GB>,
    B's <3 CPU, 1 GB>. DRF gives A 3 tasks and B 2, dominant shares 2/3 each."""
    workload = generate("drf-example", GeneratorOptions())
    sim = Replay(workload, LabConfig(queue="drf"))
    result = sim.run()
    placed = ~np.isnan(sim.start)
    per_namespace = {ns: int((placed & (sim.table.namespace == k)).sum()) for k, ns in enumerate(sim.table.namespaces)}
    assert per_namespace == {"a": 3, "b": 2}
    peak = result.summary()["at_peak"]
    assert peak["dominant_shares"] == {"a": pytest.approx(2 / 3, abs=1e-4), "b": pytest.approx(2 / 3, abs=1e-4)}
    assert peak["jain"] == pytest.approx(1.0)


def test_drf_counts_the_gpus_running_tasks_hold() -> None:
    """Namespace a holds 3 of the 4 GPUs (and almost no CPU), b half the CPU.
    When each asks for the last GPU, DRF must see a's GPU share (0.75 > 0.5)
    and give it to b; counting CPU and memory alone would favour a."""
    workload = Workload(
        "gpu-drf",
        (NodeGroup("n", 1, cpu=16.0, memory=64 * GiB, gpus=4),),
        (
            JobSpec("a-gpus", 0.0, cpu=0.1, memory=GiB, gpus=3, namespace="a", duration=100.0),
            JobSpec("b-cpu", 0.0, cpu=8.0, memory=GiB, namespace="b", duration=100.0),
            JobSpec("a-more", 1.0, cpu=0.1, memory=GiB, gpus=1, namespace="a", duration=100.0),
            JobSpec("b-gpu", 1.0, cpu=0.1, memory=GiB, gpus=1, namespace="b", duration=100.0),
        ),
    )
    sim = Replay(workload, LabConfig(queue="drf", interval=0.0))
    sim.run()
    names = [job.name for job in workload.jobs]
    started = {names[int(j)]: float(t) for j, t in zip(sim.table.job, sim.start, strict=True)}
    assert started["a-gpus"] == 0.0 and started["b-cpu"] == 0.0
    assert started["b-gpu"] == 1.0
    assert started["a-more"] == 100.0  # only once a's first GPUs are free


@pytest.mark.parametrize("multiple", [0.5, 1.0, 1.7])
def test_arrival_only_stops_at_the_multiple(multiple: float) -> None:
    workload = generate("gpu", GeneratorOptions(nodes=6, jobs=400, seed=2))
    result = arrival_only(workload, LabConfig(policy="binpack"), multiple=multiple, seed=9)
    sim_order = np.random.default_rng(9).permutation(workload.task_count)
    curve = result.curve
    assert curve is not None and curve.resource == "gpu"
    # The offered prefix is the shortest one whose GPU demand reaches the multiple.
    assert curve.arrived[-1] >= multiple
    gpu = RESOURCES.index("gpu")
    replay_sim = Replay(workload, LabConfig())
    demand = replay_sim.table.demand[sim_order, gpu]
    capacity = replay_sim.cluster.capacity[gpu].sum()
    assert demand[: result.tasks - 1].sum() < multiple * capacity <= demand[: result.tasks].sum()
    # No departures: allocation never falls as demand arrives, and never exceeds capacity.
    assert (np.diff(curve.allocated[:, gpu]) >= 0).all()
    assert curve.allocated[-1, gpu] <= 1.0
    assert result.placed <= result.tasks


def test_arrival_only_is_deterministic_per_seed() -> None:
    workload = generate("gpu", GeneratorOptions(nodes=6, jobs=300, seed=2))
    runs = [arrival_only(workload, LabConfig(policy="align"), multiple=1.2, seed=s) for s in (4, 4, 5)]
    assert runs[0].curve is not None and runs[1].curve is not None and runs[2].curve is not None
    np.testing.assert_array_equal(runs[0].curve.allocated, runs[1].curve.allocated)
    assert runs[0].tasks != runs[2].tasks or not np.array_equal(runs[0].curve.allocated, runs[2].curve.allocated)


def test_unplaceable_tasks_stay_pending_with_the_schedulers_reason() -> None:
    workload = Workload(
        "too-big",
        (NodeGroup("n", 2, cpu=4.0, memory=8 * GiB),),
        (JobSpec("huge", 0.0, cpu=8.0, memory=GiB, replicas=2), JobSpec("ok", 0.0, cpu=1.0, memory=GiB)),
    )
    summary = replay(workload, LabConfig()).summary()
    assert (summary["placed"], summary["never_placed"]) == (1, 2)
    assert list(summary["unplaced_reasons"].values()) == ["0/2 nodes can run this task: insufficient cpu on 2 nodes"]
