"""Trace readers, each on a small file written here in the trace's schema."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from bench.lab.result import LabConfig
from bench.lab.simulator import replay
from bench.lab.traces import TraceError, read_alibaba2018, read_google2011, read_openb2023
from bench.lab.workload import GPU_MODEL_LABEL

GiB = 1 << 30
MiB = 1 << 20
S = 1_000_000  # the Google trace counts microseconds


def _write(path: Path, rows: list[list[object]]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as handle:  # type: ignore[operator]
        csv.writer(handle).writerows(rows)
    return path


def _google_row(
    time: int, job: int, index: int, event: int, cpu: str = "", mem: str = "", prio: int = 0
) -> list[object]:
    # timestamp, missing info, job ID, task index, machine ID, event type,
    # user, scheduling class, priority, CPU, memory, disk, different-machine
    return [
        time,
        "",
        job,
        index,
        "" if event == 0 else 77,
        event,
        "alice" if job == 1 else "bob",
        2,
        prio,
        cpu,
        mem,
        "0.001",
        0,
    ]


def test_google2011_task_events(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "part-00000-of-00500.csv.gz",
        [
            _google_row(600 * S, 1, 0, 0, "0.125", "0.0625", prio=9),  # SUBMIT
            _google_row(600 * S, 1, 1, 0, "0.125", "0.0625", prio=9),
            _google_row(602 * S, 1, 0, 1),  # SCHEDULE
            _google_row(603 * S, 1, 1, 1),
            _google_row(902 * S, 1, 0, 4),  # FINISH after 300 s
            _google_row(700 * S, 2, 0, 0, "0.5", "0.25"),
            _google_row(701 * S, 2, 0, 1),
            _google_row(801 * S, 2, 0, 5),  # KILL after 100 s
            _google_row(650 * S, 3, 0, 1),  # SCHEDULE with no SUBMIT in the window: not a task of ours
        ],
    )
    workload = read_google2011([path], machines=5, machine_cpu=32, machine_memory=64 * GiB)
    assert workload.node_count == 5
    jobs = {j.name: j for j in workload.jobs}
    assert set(jobs) == {"1/0", "1/1", "2/0"}
    first = jobs["1/0"]
    assert (first.arrival, first.duration, first.cpu, first.memory) == (0.0, 300.0, 4.0, 4 * GiB)
    assert (first.namespace, first.priority) == ("alice", 9)
    assert jobs["1/1"].duration is None  # scheduled, never ended: runs to the end
    assert (jobs["2/0"].arrival, jobs["2/0"].duration, jobs["2/0"].cpu) == (100.0, 100.0, 16.0)


def test_google2011_schema_errors_name_line_and_column(tmp_path: Path) -> None:
    short = _write(tmp_path / "short.csv", [[1, 2, 3]])
    with pytest.raises(TraceError, match=r"short.csv:1: expected 13 columns"):
        read_google2011([short], machines=1)
    bad = _write(tmp_path / "bad.csv", [_google_row(0, 1, 0, 0, "lots", "0.1")])
    with pytest.raises(TraceError, match=r"bad.csv:1: column 10 \(CPU request\) is not a number"):
        read_google2011([bad], machines=1)


def test_alibaba2018_batch_task(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "batch_task.csv",
        [
            # task_name, instance_num, job_name, task_type, status, start_time, end_time, plan_cpu, plan_mem
            ["M1", 4, "j_1", 1, "Terminated", 86500, 86560, 50, 0.39],
            ["R2_1", 1, "j_1", 1, "Terminated", 86400, 86700, 100, 0.78],
            ["M1", 2, "j_2", 12, "Running", 86450, 0, 200, 1.56],
            ["M1", 1, "j_3", 1, "Waiting", 0, 0, 100, 0.5],  # never started: skipped
            ["M2", 1, "j_4", 1, "Terminated", 86500, 86600, "", ""],  # no request: skipped
        ],
    )
    workload = read_alibaba2018([path], machines=10, machine_cpu=96, machine_memory=100 * GiB)
    assert [j.name for j in workload.jobs] == ["j_1/R2_1", "j_2/M1", "j_1/M1"]
    r2, running, m1 = workload.jobs
    assert (r2.arrival, r2.duration, r2.cpu, r2.memory) == (0.0, 300.0, 1.0, int(0.0078 * 100 * GiB))
    assert (running.arrival, running.duration, running.replicas, running.namespace) == (50.0, None, 2, "type12")
    assert (m1.arrival, m1.duration, m1.replicas, m1.cpu) == (100.0, 60.0, 4, 0.5)
    assert workload.task_count == 7


def test_alibaba2018_accepts_a_header_row(tmp_path: Path) -> None:
    header = [
        "task_name",
        "instance_num",
        "job_name",
        "task_type",
        "status",
        "start_time",
        "end_time",
        "plan_cpu",
        "plan_mem",
    ]
    path = _write(tmp_path / "batch_task.csv", [header, ["M1", 1, "j", 1, "Terminated", 10, 20, 100, 1]])
    assert read_alibaba2018([path], machines=1).task_count == 1


def _openb(tmp_path: Path) -> tuple[Path, Path]:
    nodes = _write(
        tmp_path / "openb_node_list_gpu_node.csv",
        [
            ["sn", "cpu_milli", "memory_mib", "gpu", "model"],
            ["openb-node-0001", 96000, 786432, 8, "V100M32"],
            ["openb-node-0002", 96000, 786432, 8, "V100M32"],
            ["openb-node-0003", 64000, 262144, 2, "T4"],
            ["openb-node-0004", 32000, 131072, 0, ""],
        ],
    )
    pods = _write(
        tmp_path / "openb_pod_list_default.csv",
        [
            [
                "name",
                "cpu_milli",
                "memory_mib",
                "num_gpu",
                "gpu_milli",
                "gpu_spec",
                "qos",
                "pod_phase",
                "creation_time",
                "deletion_time",
                "scheduled_time",
            ],
            ["openb-pod-0017", 12000, 16384, 1, 1000, "", "LS", "Running", 1000, "", 1001],
            ["openb-pod-0018", 8000, 30000, 1, 350, "V100M32|V100M16", "BE", "Succeeded", 1010, 1700, 1100],
            ["openb-pod-0019", 88000, 327680, 8, 1000, "V100M32", "Burstable", "Succeeded", 1020, 5020, 1020],
            ["openb-pod-0020", 4000, 2048, 0, 0, "", "BE", "Running", 1030, "", 1031],
        ],
    )
    return nodes, pods


def test_openb2023_nodes_and_pods(tmp_path: Path) -> None:
    nodes, pods = _openb(tmp_path)
    workload = read_openb2023(nodes, pods)
    shapes = {(g.count, g.cpu, g.memory, g.gpus, g.gpu_model) for g in workload.nodes}
    assert shapes == {
        (2, 96.0, 786432 * MiB, 8, "V100M32"),
        (1, 64.0, 262144 * MiB, 2, "T4"),
        (1, 32.0, 131072 * MiB, 0, ""),
    }
    whole, share, eight, cpu_only = workload.jobs
    assert (whole.gpus, whole.gpu_share, whole.gpu_models, whole.duration, whole.namespace) == (1, 0.0, (), None, "LS")
    assert (share.gpus, share.gpu_share, share.gpu_models) == (0, 0.35, ("V100M32", "V100M16"))
    assert (share.arrival, share.duration, share.cpu, share.memory) == (10.0, 600.0, 8.0, 30000 * MiB)
    assert (eight.gpus, eight.duration) == (8, 4000.0)
    assert (cpu_only.gpus, cpu_only.gpu_share, cpu_only.gpu_models) == (0, 0.0, ())
    labels = [g.all_labels().get(GPU_MODEL_LABEL) for g in workload.nodes]
    assert "V100M32" in labels and "T4" in labels


def test_openb2023_replays_through_the_scheduler(tmp_path: Path) -> None:
    workload = read_openb2023(*_openb(tmp_path))
    result = replay(workload, LabConfig(policy="binpack"))
    assert result.placed == 4  # the 8-GPU pod fits only a V100M32 node, and gets one
    assert result.summary()["at_peak"]["utilization"]["gpu"] > 0


def test_openb2023_missing_column_is_named(tmp_path: Path) -> None:
    nodes, _ = _openb(tmp_path)
    pods = _write(tmp_path / "pods.csv", [["name", "cpu_milli"], ["p", 1000]])
    with pytest.raises(TraceError, match="pods.csv: header lacks column"):
        read_openb2023(nodes, pods)
