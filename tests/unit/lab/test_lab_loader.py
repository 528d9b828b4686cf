"""Workload files: what loads, and errors that name the field at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.lab.generators import GeneratorOptions, generate
from bench.lab.loader import WorkloadError, load_workload, parse_workload, save_workload

GiB = 1 << 30


def _doc(**jobs_and_nodes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "nodes": [{"count": 2, "capacity": {"cpu": 8, "memory": "32Gi"}}],
        "jobs": [{"demand": {"cpu": 1, "memory": "1Gi"}}],
    }
    doc.update(jobs_and_nodes)
    return doc


def test_a_full_workload_loads_with_units(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        """
name: demo
nodes:
  - name: gpu
    count: 3
    capacity: {cpu: 64, memory: 256Gi, disk: 1Ti, gpus: 8, gpu_model: V100}
    labels: {zone: east}
jobs:
  - name: train
    arrival: 1m30s
    namespace: research
    priority: 70
    replicas: 4
    demand: {cpu: 4, memory: 16Gi, gpus: 2, gpu_model: [V100, A100]}
    duration: 2h
    constraints: ["node.labels.zone == east"]
  - name: notebook
    demand: {cpu: 0.5, memory: 512Mi, gpu_share: 0.25}
"""
    )
    workload = load_workload(path)
    assert workload.name == "demo"
    assert workload.node_count == 3 and workload.task_count == 5
    group = workload.nodes[0]
    assert (group.cpu, group.memory, group.disk, group.gpus) == (64.0, 256 * GiB, 1 << 40, 8)
    assert group.all_labels() == {"zone": "east", "gpu_model": "V100"}
    train, notebook = workload.jobs
    assert (train.arrival, train.duration, train.replicas, train.gpus) == (90.0, 7200.0, 4, 2)
    assert train.gpu_models == ("V100", "A100")
    assert notebook.duration is None and notebook.gpu_share == 0.25 and notebook.namespace == "default"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"nodes": []}, "nodes", "non-empty"),
        ({"nodes": [{"count": 2}]}, "nodes[0].capacity", "required"),
        ({"nodes": [{"count": 0, "capacity": {"cpu": 1, "memory": 1}}]}, "nodes[0].count", ">= 1"),
        ({"nodes": [{"capacity": {"cpu": 1, "memory": "lots"}}]}, "nodes[0].capacity.memory", "invalid size"),
        (
            {"nodes": [{"capacity": {"cpu": 1, "memory": 1, "gpu_model": "V100"}}]},
            "nodes[0].capacity.gpu_model",
            "gpus is 0",
        ),
        ({"nodes": [{"capacity": {"cpu": 1, "memory": 1, "cores": 2}}]}, "nodes[0].capacity.cores", "unknown field"),
        ({"jobs": [{"demand": {"cpu": "two"}}]}, "jobs[0].demand.cpu", "number >= 0"),
        ({"jobs": [{"demand": {"cpu": -1}}]}, "jobs[0].demand.cpu", "number >= 0"),
        ({"jobs": [{}]}, "jobs[0].demand", "required"),
        ({"jobs": [{"demand": {"gpus": 1, "gpu_share": 0.5}}]}, "jobs[0].demand", "not both"),
        ({"jobs": [{"demand": {"gpu_share": 1.5}}]}, "jobs[0].demand.gpu_share", "at most 1.0"),
        ({"jobs": [{"demand": {"cpu": 1, "gpu_model": "V100"}}]}, "jobs[0].demand.gpu_model", "no GPU"),
        ({"jobs": [{"demand": {}, "replicas": 0}]}, "jobs[0].replicas", ">= 1"),
        ({"jobs": [{"demand": {}, "arrival": "soon"}]}, "jobs[0].arrival", "duration"),
        ({"jobs": [{"demand": {}, "duration": "-5s"}]}, "jobs[0].duration", ">= 0"),
        ({"jobs": [{"demand": {}, "constraints": ["zone is east"]}]}, "jobs[0].constraints[0]", "expected one of"),
        ({"jobs": [{"demand": {}, "replica": 2}]}, "jobs[0].replica", "unknown field"),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(WorkloadError) as caught:
        parse_workload(_doc(**change))
    assert str(caught.value).startswith(f"{field}: ")
    assert words in str(caught.value)
    assert caught.value.path == field


def test_file_level_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(WorkloadError, match="not valid JSON"):
        load_workload(bad)
    with pytest.raises(WorkloadError, match="cannot read"):
        load_workload(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(WorkloadError, match="mapping"):
        load_workload(tmp_path / "list.yaml")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("kind", ["heavy-tailed", "gpu"])
def test_saved_workloads_load_back_equal(tmp_path: Path, suffix: str, kind: str) -> None:
    workload = generate(kind, GeneratorOptions(nodes=4, jobs=30, seed=3))
    path = tmp_path / f"w{suffix}"
    save_workload(workload, path)
    assert load_workload(path) == workload
    if suffix == ".json":
        assert json.loads(path.read_text())["name"] == workload.name
