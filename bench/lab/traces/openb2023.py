"""Alibaba cluster-trace-gpu-v2023 (the "openb" GPU-sharing trace) reader.

``openb_node_list*.csv`` (header): sn, cpu_milli, memory_mib, gpu, model.
``openb_pod_list*.csv`` (header): name, cpu_milli, memory_mib, num_gpu,
gpu_milli, gpu_spec, qos, pod_phase, creation_time, deletion_time,
scheduled_time.

A pod with ``num_gpu`` 1 and ``gpu_milli`` below 1000 asks for that share of
one GPU; otherwise it asks for ``num_gpu`` whole GPUs. ``gpu_spec`` lists the
acceptable GPU models separated by ``|`` (empty: any). The qos class becomes
the namespace. A pod arrives at creation_time and runs from its scheduling
for deletion_time - scheduled_time (to the end when either is missing).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from bench.lab.traces.common import MiB, TraceError, open_text
from bench.lab.workload import JobSpec, NodeGroup, Workload

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = (
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
)


def _records(path: Path, columns: tuple[str, ...]) -> list[tuple[str, Mapping[str, str]]]:
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or ())]
        if missing:
            raise TraceError(f"{path.name}: header lacks column(s) {', '.join(missing)}")
        return [(f"{path.name}:{k + 2}", row) for k, row in enumerate(reader)]


def _number(row: Mapping[str, str], column: str, where: str, default: float | None = None) -> float:
    text = (row.get(column) or "").strip()
    if not text:
        if default is None:
            raise TraceError(f"{where}: column {column} is empty")
        return default
    try:
        return float(text)
    except ValueError:
        raise TraceError(f"{where}: column {column} is not a number: {text!r}") from None


def read_openb2023(node_list: str | Path, pod_list: str | Path) -> Workload:
    shapes: dict[tuple[float, int, int, str], int] = {}
    for where, row in _records(Path(node_list), NODE_COLUMNS):
        gpus = int(_number(row, "gpu", where, 0))
        model = (row["model"] or "").strip() if gpus else ""
        key = (_number(row, "cpu_milli", where) / 1000.0, int(_number(row, "memory_mib", where)) * MiB, gpus, model)
        shapes[key] = shapes.get(key, 0) + 1
    if not shapes:
        raise TraceError(f"{Path(node_list).name}: no nodes")
    nodes = tuple(
        NodeGroup(
            name=f"{model.lower() or 'cpu'}-{k}",
            count=count,
            cpu=cpu,
            memory=memory,
            gpus=gpus,
            gpu_model=model,
        )
        for k, ((cpu, memory, gpus, model), count) in enumerate(sorted(shapes.items(), key=lambda s: (s[0][3], s[0])))
    )
    raw: list[JobSpec] = []
    for where, row in _records(Path(pod_list), POD_COLUMNS):
        num_gpu = int(_number(row, "num_gpu", where, 0))
        gpu_milli = _number(row, "gpu_milli", where, 0)
        gpus, share = num_gpu, 0.0
        if num_gpu == 1 and 0 < gpu_milli < 1000:
            gpus, share = 0, gpu_milli / 1000.0
        spec = (row.get("gpu_spec") or "").strip()
        models = tuple(m for m in spec.split("|") if m) if (gpus or share) else ()
        created = _number(row, "creation_time", where, 0)
        scheduled = _number(row, "scheduled_time", where, -1)
        deleted = _number(row, "deletion_time", where, -1)
        duration = deleted - scheduled if scheduled >= 0 and deleted > scheduled else None
        raw.append(
            JobSpec(
                name=row["name"] or where,
                arrival=created,
                cpu=_number(row, "cpu_milli", where) / 1000.0,
                memory=int(_number(row, "memory_mib", where)) * MiB,
                gpus=gpus,
                gpu_share=share,
                gpu_models=models,
                namespace=(row.get("qos") or "").strip() or "default",
                duration=duration,
            )
        )
    if not raw:
        raise TraceError(f"{Path(pod_list).name}: no pods")
    origin = min(j.arrival for j in raw)
    jobs = tuple(
        sorted(
            (
                JobSpec(
                    name=j.name,
                    arrival=j.arrival - origin,
                    cpu=j.cpu,
                    memory=j.memory,
                    gpus=j.gpus,
                    gpu_share=j.gpu_share,
                    gpu_models=j.gpu_models,
                    namespace=j.namespace,
                    duration=j.duration,
                )
                for j in raw
            ),
            key=lambda j: (j.arrival, j.name),
        )
    )
    return Workload("openb-2023", nodes, jobs)
