"""Turn what a user points the lab at (a workload file or a trace) into a Workload."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.lab.loader import load_workload
from bench.lab.traces import read_alibaba2018, read_google2011, read_openb2023
from bench.lab.traces.common import GiB
from bench.lab.workload import Workload

FORMATS = ("auto", "workload", "google2011", "alibaba2018", "openb2023")


@dataclass(frozen=True, slots=True)
class TraceOptions:
    """Cluster size for traces that do not list their machines."""

    machines: int | None = None
    machine_cpu: float | None = None
    machine_memory: int | None = None
    node_list: Path | None = None  # openb2023: openb_node_list*.csv


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if "task_events" in name:
        return "google2011"
    if "batch_task" in name:
        return "alibaba2018"
    if "openb_pod_list" in name:
        return "openb2023"
    return "workload"


def load_source(path: Path, fmt: str = "auto", options: TraceOptions = TraceOptions()) -> Workload:
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "workload":
        return load_workload(path)
    if fmt == "openb2023":
        node_list = options.node_list or _sibling_node_list(path)
        return read_openb2023(node_list, path)
    if options.machines is None:
        raise ValueError(f"a {fmt} trace does not list its machines: give the cluster size with --machines N")
    if fmt == "google2011":
        return read_google2011(
            [path],
            options.machines,
            machine_cpu=options.machine_cpu or 32.0,
            machine_memory=options.machine_memory or 128 * GiB,
        )
    if fmt == "alibaba2018":
        return read_alibaba2018(
            [path],
            options.machines,
            machine_cpu=options.machine_cpu or 96.0,
            machine_memory=options.machine_memory or 512 * GiB,
        )
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _sibling_node_list(pod_list: Path) -> Path:
    guess = pod_list.with_name(pod_list.name.replace("openb_pod_list", "openb_node_list"))
    if guess.exists():
        return guess
    candidates = sorted(pod_list.parent.glob("openb_node_list*.csv"))
    if not candidates:
        raise ValueError(f"no openb_node_list*.csv next to {pod_list.name}: give it with --node-list FILE")
    return candidates[0]
