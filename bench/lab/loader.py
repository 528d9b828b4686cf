"""Read and write workload files (YAML or JSON; docs/workload-format.md).

Every error names the field it is about, e.g.
``jobs[3].demand.cpu: must be a number >= 0, got 'two'``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.lab.workload import JobSpec, NodeGroup, Workload
from dockyard.units import format_memory, parse_duration, parse_memory
from scheduler import ConstraintError, parse_constraint


class WorkloadError(ValueError):
    """A workload file that cannot be used; the message starts with the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


_NODE_KEYS = {"name", "count", "capacity", "labels"}
_CAPACITY_KEYS = {"cpu", "memory", "disk", "gpus", "gpu_model"}
_JOB_KEYS = {"name", "arrival", "namespace", "priority", "replicas", "demand", "duration", "constraints"}
_DEMAND_KEYS = {"cpu", "memory", "disk", "gpus", "gpu_share", "gpu_model"}


def load_workload(path: str | Path) -> Workload:
    """A workload from a ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise WorkloadError("", f"cannot read {path}: {error.strerror}") from error
    try:
        if path.suffix == ".json":
            document = json.loads(text)
        else:
            # The C loader is ~10x faster on generated files of 100k jobs.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            document = yaml.load(text, Loader=loader)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise WorkloadError(
            "", f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}"
        ) from error
    return parse_workload(document, default_name=path.stem)


def parse_workload(document: Any, default_name: str = "workload") -> Workload:
    if not isinstance(document, Mapping):
        raise WorkloadError("", "a workload is a mapping with 'nodes' and 'jobs'")
    _no_unknown(document, {"name", "nodes", "jobs"}, "")
    name = document.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise WorkloadError("name", f"must be a non-empty string, got {name!r}")
    if "nodes" not in document:
        raise WorkloadError("nodes", "is required (a list of node groups, or one group)")
    raw_nodes = document["nodes"]
    if isinstance(raw_nodes, Mapping):
        raw_nodes = [raw_nodes]
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise WorkloadError("nodes", "must be a non-empty list of node groups")
    groups = tuple(_node_group(raw, f"nodes[{k}]", k) for k, raw in enumerate(raw_nodes))
    names = [g.name for g in groups]
    for k, group_name in enumerate(names):
        if group_name in names[:k]:
            raise WorkloadError(f"nodes[{k}].name", f"{group_name!r} is used by another node group")
    raw_jobs = document.get("jobs", [])
    if not isinstance(raw_jobs, list):
        raise WorkloadError("jobs", "must be a list of jobs")
    jobs = tuple(_job(raw, f"jobs[{k}]", k) for k, raw in enumerate(raw_jobs))
    return Workload(name=name, nodes=groups, jobs=jobs)


def _node_group(raw: Any, path: str, index: int) -> NodeGroup:
    if not isinstance(raw, Mapping):
        raise WorkloadError(path, "a node group is a mapping with 'capacity' (and 'count', 'name', 'labels')")
    _no_unknown(raw, _NODE_KEYS, path)
    count = _integer(raw.get("count", 1), f"{path}.count", minimum=1)
    name = _string(raw.get("name", f"node{index}" if index else "node"), f"{path}.name")
    if "capacity" not in raw:
        raise WorkloadError(f"{path}.capacity", "is required, e.g. {cpu: 32, memory: 128Gi}")
    capacity = raw["capacity"]
    cpath = f"{path}.capacity"
    if not isinstance(capacity, Mapping):
        raise WorkloadError(cpath, "must be a mapping of cpu, memory, disk, gpus, gpu_model")
    _no_unknown(capacity, _CAPACITY_KEYS, cpath)
    for required in ("cpu", "memory"):
        if required not in capacity:
            raise WorkloadError(f"{cpath}.{required}", "is required")
    gpus = _integer(capacity.get("gpus", 0), f"{cpath}.gpus", minimum=0)
    model = _string(capacity.get("gpu_model", ""), f"{cpath}.gpu_model", empty=True)
    if model and not gpus:
        raise WorkloadError(f"{cpath}.gpu_model", "is set but gpus is 0")
    return NodeGroup(
        name=name,
        count=count,
        cpu=_number(capacity["cpu"], f"{cpath}.cpu"),
        memory=_size(capacity["memory"], f"{cpath}.memory"),
        disk=_size(capacity.get("disk", 0), f"{cpath}.disk"),
        gpus=gpus,
        gpu_model=model,
        labels=_labels(raw.get("labels", {}), f"{path}.labels"),
    )


def _job(raw: Any, path: str, index: int) -> JobSpec:
    if not isinstance(raw, Mapping):
        raise WorkloadError(path, "a job is a mapping with 'demand' (and 'arrival', 'replicas', ...)")
    _no_unknown(raw, _JOB_KEYS, path)
    if "demand" not in raw:
        raise WorkloadError(f"{path}.demand", "is required, e.g. {cpu: 0.5, memory: 1Gi}")
    demand = raw["demand"]
    dpath = f"{path}.demand"
    if not isinstance(demand, Mapping):
        raise WorkloadError(dpath, "must be a mapping of cpu, memory, disk, gpus, gpu_share, gpu_model")
    _no_unknown(demand, _DEMAND_KEYS, dpath)
    gpus = _integer(demand.get("gpus", 0), f"{dpath}.gpus", minimum=0)
    share = _number(demand.get("gpu_share", 0), f"{dpath}.gpu_share")
    if share > 1:
        raise WorkloadError(f"{dpath}.gpu_share", f"is a share of one GPU, at most 1.0, got {share}; use gpus: N")
    if gpus and share:
        raise WorkloadError(dpath, "set gpus (whole GPUs) or gpu_share (part of one GPU), not both")
    models = demand.get("gpu_model", ())
    if isinstance(models, str):
        models = (models,)
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) and m for m in models):
        raise WorkloadError(f"{dpath}.gpu_model", f"must be a model name or a list of them, got {models!r}")
    if models and not (gpus or share):
        raise WorkloadError(f"{dpath}.gpu_model", "is set but the task asks for no GPU")
    constraints = raw.get("constraints", [])
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise WorkloadError(f"{path}.constraints", "must be a list of strings like 'node.labels.zone == east'")
    for k, text in enumerate(constraints):
        try:
            parse_constraint(text)
        except ConstraintError as error:
            raise WorkloadError(f"{path}.constraints[{k}]", str(error)) from error
    duration = raw.get("duration")
    return JobSpec(
        name=_string(raw.get("name", f"job{index}"), f"{path}.name"),
        arrival=_seconds(raw.get("arrival", 0), f"{path}.arrival"),
        cpu=_number(demand.get("cpu", 0), f"{dpath}.cpu"),
        memory=_size(demand.get("memory", 0), f"{dpath}.memory"),
        disk=_size(demand.get("disk", 0), f"{dpath}.disk"),
        gpus=gpus,
        gpu_share=share,
        gpu_models=tuple(models),
        replicas=_integer(raw.get("replicas", 1), f"{path}.replicas", minimum=1),
        namespace=_string(raw.get("namespace", "default"), f"{path}.namespace"),
        priority=_integer(raw.get("priority", 50), f"{path}.priority", minimum=None),
        duration=None if duration is None else _seconds(duration, f"{path}.duration"),
        constraints=tuple(constraints),
    )


def _no_unknown(raw: Mapping[Any, Any], allowed: set[str], path: str) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise WorkloadError(where, f"unknown field; expected one of {', '.join(sorted(allowed))}")


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise WorkloadError(path, f"must be a number >= 0, got {value!r}")
    return float(value)


def _integer(value: Any, path: str, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkloadError(path, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise WorkloadError(path, f"must be >= {minimum}, got {value}")
    return value


def _string(value: Any, path: str, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise WorkloadError(path, f"must be a non-empty string, got {value!r}")
    return value


def _size(value: Any, path: str) -> int:
    try:
        size = parse_memory(value)
    except ValueError as error:
        raise WorkloadError(path, str(error)) from error
    if size < 0:
        raise WorkloadError(path, f"must be >= 0, got {value!r}")
    return size


def _seconds(value: Any, path: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise WorkloadError(path, str(error)) from error
    if seconds < 0:
        raise WorkloadError(path, f"must be >= 0, got {value!r}")
    return seconds


def _labels(raw: Any, path: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise WorkloadError(path, "must be a mapping of label name to value")
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or isinstance(value, (Mapping, list)) or value is None:
            raise WorkloadError(f"{path}.{key}", f"a label value is a string, got {value!r}")
        labels[key] = str(value)
    return labels


# -- writing -----------------------------------------------------------------


def workload_document(workload: Workload) -> dict[str, Any]:
    """The file form of ``workload``; ``parse_workload`` reads it back equal."""
    nodes: list[dict[str, Any]] = []
    for group in workload.nodes:
        capacity: dict[str, Any] = {"cpu": group.cpu, "memory": format_memory(group.memory)}
        if group.disk:
            capacity["disk"] = format_memory(group.disk)
        if group.gpus:
            capacity["gpus"] = group.gpus
        if group.gpu_model:
            capacity["gpu_model"] = group.gpu_model
        entry: dict[str, Any] = {"name": group.name, "count": group.count, "capacity": capacity}
        if group.labels:
            entry["labels"] = dict(group.labels)
        nodes.append(entry)
    jobs: list[dict[str, Any]] = []
    for job in workload.jobs:
        demand: dict[str, Any] = {"cpu": job.cpu, "memory": job.memory}
        if job.disk:
            demand["disk"] = job.disk
        if job.gpus:
            demand["gpus"] = job.gpus
        if job.gpu_share:
            demand["gpu_share"] = job.gpu_share
        if job.gpu_models:
            demand["gpu_model"] = list(job.gpu_models)
        entry = {"name": job.name, "arrival": job.arrival, "demand": demand}
        if job.replicas != 1:
            entry["replicas"] = job.replicas
        if job.namespace != "default":
            entry["namespace"] = job.namespace
        if job.priority != 50:
            entry["priority"] = job.priority
        if job.duration is not None:
            entry["duration"] = job.duration
        if job.constraints:
            entry["constraints"] = list(job.constraints)
        jobs.append(entry)
    return {"name": workload.name, "nodes": nodes, "jobs": jobs}


def save_workload(workload: Workload, path: str | Path) -> None:
    """Write JSON for ``.json`` paths, YAML otherwise."""
    path = Path(path)
    document = workload_document(workload)
    if path.suffix == ".json":
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    else:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        path.write_text(yaml.dump(document, Dumper=dumper, sort_keys=False, default_flow_style=None))
