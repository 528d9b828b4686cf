"""Named devices: whole devices get distinct ids, shares never over-commit."""

from __future__ import annotations

import pytest

from scheduler import Device, DeviceRequest, Resources, Scheduler, SchedulerConfig
from tests.unit.scheduler.builders import group, node, nodes_of

NO_PREEMPTION = Scheduler(SchedulerConfig(preemption=False))


def gpus(count: int, prefix: str = "GPU", free: float = 1.0) -> list[Device]:
    return [Device(f"{prefix}-{k}", "gpu", free) for k in range(count)]


def test_two_gpus_get_two_distinct_ids() -> None:
    demand = Resources(1, 0, 0, (DeviceRequest("gpu", count=2),))
    plan = NO_PREEMPTION.plan([node("a", devices=gpus(4))], [group("train", count=2, demand=demand)])
    ids = [p.device_ids for p in plan.placements]
    assert ids == [("GPU-0", "GPU-1"), ("GPU-2", "GPU-3")]
    assert all(p.device_shares == (1.0, 1.0) for p in plan.placements)


def test_whole_devices_never_double_booked() -> None:
    demand = Resources(0.1, 0, 0, (DeviceRequest("gpu", count=2),))
    plan = NO_PREEMPTION.plan([node("a", devices=gpus(3))], [group("train", count=2, demand=demand)])
    assert len(plan.placements) == 1
    assert plan.unplaced[0].explanation.exhausted == {"gpu": 1}
    assert "insufficient gpu on 1 node" in plan.unplaced[0].explanation.summary()


def test_nodes_without_the_device_are_exhausted() -> None:
    demand = Resources(0.1, 0, 0, (DeviceRequest("gpu", count=1),))
    plan = NO_PREEMPTION.plan([node("a"), node("b", devices=gpus(1))], [group("j", count=2, demand=demand)])
    assert nodes_of(plan) == {"j-0": "b"}
    assert plan.unplaced[0].explanation.exhausted == {"gpu": 2}


def test_fractional_shares_pack_one_device_before_breaking_another() -> None:
    demand = Resources(0.1, 0, 0, (DeviceRequest("gpu", share=0.3),))
    plan = NO_PREEMPTION.plan([node("a", devices=gpus(2))], [group("infer", count=7, demand=demand)])
    used = [p.device_ids[0] for p in plan.placements]
    # 3 x 0.3 fit on GPU-0 (0.1 left), then GPU-1 takes 3 more; the 7th does not fit.
    assert used == ["GPU-0"] * 3 + ["GPU-1"] * 3
    assert plan.placements[0].device_shares == (0.3,)
    assert len(plan.unplaced) == 1


def test_shares_respect_the_free_share_in_the_snapshot() -> None:
    devices = [Device("GPU-0", "gpu", 0.25), Device("GPU-1", "gpu", 0.6)]
    demand = Resources(0, 0, 0, (DeviceRequest("gpu", share=0.5),))
    plan = NO_PREEMPTION.plan([node("a", devices=devices)], [group("j", count=2, demand=demand)])
    assert [p.device_ids for p in plan.placements] == [("GPU-1",)]


def test_whole_device_request_needs_a_fully_free_device() -> None:
    devices = [Device("GPU-0", "gpu", 0.9), Device("GPU-1", "gpu", 1.0)]
    demand = Resources(0, 0, 0, (DeviceRequest("gpu", count=1),))
    plan = NO_PREEMPTION.plan([node("a", devices=devices)], [group("j", count=2, demand=demand)])
    assert [p.device_ids for p in plan.placements] == [("GPU-1",)]


def test_mixed_requests_of_one_kind_are_checked_together() -> None:
    # One whole GPU plus half of another: a node with a single GPU cannot do it
    # although each request alone would fit.
    demand = Resources(0, 0, 0, (DeviceRequest("gpu", count=1), DeviceRequest("gpu", share=0.5)))
    plan = NO_PREEMPTION.plan(
        [node("one", devices=gpus(1, "A")), node("two", devices=gpus(2, "B"))], [group("j", demand=demand)]
    )
    assert nodes_of(plan) == {"j-0": "two"}
    assert plan.placements[0].device_ids == ("B-0", "B-1")
    assert plan.placements[0].device_shares == (1.0, 0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "gpu"},
        {"kind": "gpu", "count": 1, "share": 0.5},
        {"kind": "gpu", "share": 1.5},
        {"kind": "", "count": 1},
    ],
)
def test_invalid_device_requests(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DeviceRequest(**kwargs)  # type: ignore[arg-type]
