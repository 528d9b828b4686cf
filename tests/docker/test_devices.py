"""Devices on a real container: a task given 2 GPUs by the scheduler finds
their ids in DOCKYARD_DEVICE_IDS and NVIDIA_VISIBLE_DEVICES (what NVIDIA's
container runtime reads). No GPU exists here and none is needed: the agent
is told its devices (--device) and passes ids, not device nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import cluster, run_containers, wait_for

pytestmark = pytest.mark.docker


def test_a_task_with_two_gpus_gets_both_ids_in_its_environment(docker_ready: None, tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0) as c:
        c.add_agent("gpu-host", extra=["--device", "gpu=0,1,2,3"])
        job = {
            "name": "trainer",
            "task": {
                "image": "dockyard-test/busybox:1",
                "command": ["sleep", "3600"],
                "resources": {"cpu": 0.1, "memory": "16Mi", "devices": [{"kind": "gpu", "count": 2}]},
                "stop_grace_period": "1s",
            },
        }
        path = tmp_path / "trainer.yaml"
        path.write_text(yaml.safe_dump(job))
        proc = c.cli("job", "run", str(path), "--timeout", "60")
        assert proc.returncode == 0, proc.stderr

        (task,) = [t for t in c.client.list_tasks(job="trainer") if t.status.state == pb.TASK_STATE_RUNNING]
        assigned = [d.id for d in task.devices]
        assert len(assigned) == 2 and len(set(assigned)) == 2 and set(assigned) <= {"0", "1", "2", "3"}

        (container,) = wait_for(lambda: run_containers(**{"dockyard.job-name": "trainer"}), timeout=30,
                                what="the trainer's container")
        container.reload()
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        ids = env["DOCKYARD_DEVICE_IDS"].split(",")
        assert len(ids) == 2 and len(set(ids)) == 2
        assert ids == assigned
        assert env["NVIDIA_VISIBLE_DEVICES"] == env["DOCKYARD_DEVICE_IDS"]
        # No Docker device request: nothing here needs a GPU driver.
        assert not container.attrs["HostConfig"].get("DeviceRequests")
