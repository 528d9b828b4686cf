"""The devices a task was given reach its container as environment variables."""

from __future__ import annotations

from agent.worker import container_spec
from dockyard.api.v1 import objects_pb2 as pb


def task_with(*devices: pb.TaskDevice, env: dict[str, str] | None = None) -> pb.Task:
    return pb.Task(
        meta=pb.Meta(id="t1"), job_id="j1", job_name="train", slot=1,
        spec=pb.TaskSpec(image="x", env=env or {}), devices=list(devices),
    )


def test_gpu_ids_go_to_both_variables() -> None:
    spec = container_spec(task_with(pb.TaskDevice(kind="gpu", id="0", share=1), pb.TaskDevice(kind="gpu", id="3", share=1)))
    assert spec.env["DOCKYARD_DEVICE_IDS"] == "0,3"
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "0,3"


def test_other_kinds_are_not_handed_to_nvidia() -> None:
    spec = container_spec(task_with(pb.TaskDevice(kind="fpga", id="a", share=1), pb.TaskDevice(kind="gpu", id="1", share=0.5)))
    assert spec.env["DOCKYARD_DEVICE_IDS"] == "a,1"
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "1"


def test_no_devices_no_variables_and_the_assignment_wins_over_the_job_env() -> None:
    assert "DOCKYARD_DEVICE_IDS" not in container_spec(task_with(env={"A": "b"})).env
    spec = container_spec(task_with(pb.TaskDevice(kind="gpu", id="2", share=1), env={"NVIDIA_VISIBLE_DEVICES": "all"}))
    assert spec.env["NVIDIA_VISIBLE_DEVICES"] == "2"
