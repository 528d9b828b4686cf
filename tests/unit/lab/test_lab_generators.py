"""Synthetic workloads are a function of their options and seed."""

from __future__ import annotations

import numpy as np
import pytest

from bench.lab.generators import GENERATORS, GeneratorOptions, generate


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_same_seed_same_workload(kind: str) -> None:
    options = GeneratorOptions(nodes=10, jobs=200, seed=11)
    assert generate(kind, options) == generate(kind, options)


@pytest.mark.parametrize("kind", ["uniform", "heavy-tailed", "bursty", "gpu"])
def test_other_seed_other_workload(kind: str) -> None:
    assert generate(kind, GeneratorOptions(jobs=200, seed=1)) != generate(kind, GeneratorOptions(jobs=200, seed=2))


def test_tasks_fit_a_node_and_arrive_in_order() -> None:
    options = GeneratorOptions(nodes=10, jobs=2000, seed=5)
    for kind in ("uniform", "heavy-tailed", "bursty"):
        workload = generate(kind, options)
        assert all(0 < j.cpu <= options.node_cpu and 0 < j.memory <= options.node_memory for j in workload.jobs)
        arrivals = [j.arrival for j in workload.jobs]
        assert arrivals == sorted(arrivals)


def test_heavy_tailed_sizes_have_a_heavy_tail() -> None:
    workload = generate("heavy-tailed", GeneratorOptions(jobs=5000, seed=0))
    cpu = np.array([j.cpu for j in workload.jobs])
    uniform = np.array([j.cpu for j in generate("uniform", GeneratorOptions(jobs=5000, seed=0)).jobs])
    # The largest tasks are many times the median, far more than uniform sizes.
    assert np.percentile(cpu, 99.5) / np.median(cpu) > 8
    assert np.percentile(uniform, 99.5) / np.median(uniform) < 3


def test_bursty_arrivals_cluster_in_time() -> None:
    options = GeneratorOptions(jobs=4000, seed=0, mean_interarrival=1.0)
    gaps = {kind: np.diff([j.arrival for j in generate(kind, options).jobs]) for kind in ("heavy-tailed", "bursty")}
    # Same long-run rate, far more variable gaps (coefficient of variation).
    assert abs(gaps["bursty"].mean() - gaps["heavy-tailed"].mean()) < 0.3
    cv = {k: g.std() / g.mean() for k, g in gaps.items()}
    assert cv["bursty"] > 2 * cv["heavy-tailed"]


def test_at_once_and_services() -> None:
    workload = generate("uniform", GeneratorOptions(jobs=50, arrivals="at-once", mean_duration=0))
    assert {j.arrival for j in workload.jobs} == {0.0}
    assert {j.duration for j in workload.jobs} == {None}


def test_unknown_kind_and_arrivals_are_named() -> None:
    with pytest.raises(ValueError, match="unknown workload kind 'zipf'"):
        generate("zipf", GeneratorOptions())
    with pytest.raises(ValueError, match="arrivals must be one of"):
        generate("uniform", GeneratorOptions(arrivals="sometimes"))
