"""What this host offers to tasks, from psutil (overridable for lab nodes)."""

from __future__ import annotations

from pathlib import Path

import psutil

from dockyard.api.v1 import objects_pb2 as pb


def probe(data_dir: Path, cpu: float = 0.0, memory: int = 0, disk: int = 0) -> pb.Resources:
    return pb.Resources(
        cpu=cpu or float(psutil.cpu_count(logical=True) or 1),
        memory=memory or int(psutil.virtual_memory().total),
        disk=disk or int(psutil.disk_usage(str(data_dir)).total),
    )
