"""Scheduling through the whole product path (CLI options, manager, Raft,
dispatcher, agents): devices, preemption and DRF. Fake-runtime agents: these
are about placement, not Docker (tests/docker/test_devices.py checks the
container side)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import Cluster, cluster, wait_for

pytestmark = pytest.mark.integration

GiB = 1 << 30


def job(name: str, replicas: int, *, cpu: float = 0.1, memory: int = 16 << 20, namespace: str = "default",
        priority: int = 50, gpus: int = 0, gpu_share: float = 0.0) -> pb.JobSpec:
    resources = pb.Resources(cpu=cpu, memory=memory)
    if gpus or gpu_share:
        resources.devices.append(pb.DeviceRequest(kind="gpu", count=gpus, share=gpu_share))
    return pb.JobSpec(
        name=name, namespace=namespace, replicas=replicas, priority=priority,
        task=pb.TaskSpec(image="fake", resources=resources),
    )


def running(c: Cluster, name: str) -> list[pb.Task]:
    return [t for t in c.client.list_tasks(job=name) if t.status.state == pb.TASK_STATE_RUNNING]


def waiting(c: Cluster, name: str) -> list[pb.Task]:
    return [t for t in c.client.list_tasks(job=name) if t.pending_reason]


def test_one_gpu_runs_one_task_and_the_other_says_it_waits_for_a_gpu(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("gpu-node", extra=["--device", "gpu=0"])
        (node,) = c.client.list_nodes()
        assert [(d.kind, d.id) for d in node.node.devices] == [("gpu", "0")]
        c.client.run_job(job("train", 2, gpus=1))
        wait_for(lambda: len(running(c, "train")) == 1 and len(waiting(c, "train")) == 1, timeout=20,
                 what="one running and one pending task")
        (ran,) = running(c, "train")
        assert [(d.kind, d.id, d.share) for d in ran.devices] == [("gpu", "0", 1.0)]
        (pending,) = waiting(c, "train")
        assert "gpu" in pending.pending_reason and not pending.node_id
        # Still so a while later: the second task is never squeezed onto the gpu.
        c.client.run_job(job("other", 1))  # a write that makes the scheduler look again
        wait_for(lambda: running(c, "other"), timeout=20, what="an unrelated job to run")
        assert len(running(c, "train")) == 1
        # The CLI shows the device in the table and in JSON.
        table = c.cli("task", "ls", "--job", "train", check=True).stdout
        assert "DEVICES" in table and "gpu=0" in table
        rows = json.loads(c.cli("-o", "json", "task", "ls", "--job", "train", check=True).stdout)
        assert [d for r in rows for d in r.get("devices", [])] == [{"kind": "gpu", "id": "0", "share": 1.0}]


def test_whole_and_shared_gpus_get_distinct_ids_and_free_shares(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("gpus", extra=["--device", "gpu=0,1", "--device", "gpu=2"])
        c.client.run_job(job("pair", 1, gpus=2))
        c.client.run_job(job("slice", 4, gpu_share=0.3))
        wait_for(lambda: len(running(c, "pair")) == 1 and len(running(c, "slice")) == 3, timeout=20,
                 what="the pair and three slices to run")
        wait_for(lambda: len(waiting(c, "slice")) == 1, timeout=10, what="the fourth slice to wait")
        (pair,) = running(c, "pair")
        pair_ids = {d.id for d in pair.devices}
        assert len(pair_ids) == 2
        slice_ids = {d.id for t in running(c, "slice") for d in t.devices}
        # 3 x 0.3 fit on the one device left; a 4th would need 1.2 of it.
        assert len(slice_ids) == 1 and not slice_ids & pair_ids
        assert "gpu" in waiting(c, "slice")[0].pending_reason


def test_a_high_priority_job_preempts_and_the_victim_comes_back_pending(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("small", extra=["--cpu", "2", "--memory", "4Gi"])
        c.client.run_job(job("batch", 2, cpu=1, priority=10))
        wait_for(lambda: len(running(c, "batch")) == 2, timeout=20, what="2 low-priority tasks")
        c.client.run_job(job("urgent", 1, cpu=1, priority=90))
        wait_for(lambda: len(running(c, "urgent")) == 1, timeout=20, what="the urgent task to run")

        history = c.client.list_tasks(job="batch", all=True)
        evicted = [t for t in history if t.desired_state == pb.TASK_STATE_SHUTDOWN]
        assert len(evicted) == 1
        assert "preempted by job urgent" in evicted[0].status.message
        assert "priority 90 > 10" in evicted[0].status.message
        # The reconcile loop replaced it; the replacement waits and says why.
        wait_for(lambda: len(waiting(c, "batch")) == 1, timeout=20, what="a pending replacement")
        assert len(running(c, "batch")) == 1
        reason = waiting(c, "batch")[0].pending_reason
        assert "cpu" in reason and "no lower-priority tasks" in reason


def test_no_preemption_leaves_the_urgent_job_pending(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake", manager_args=["--no-preemption"]) as c:
        c.add_agent("small", extra=["--cpu", "2", "--memory", "4Gi"])
        c.client.run_job(job("batch", 2, cpu=1, priority=10))
        wait_for(lambda: len(running(c, "batch")) == 2, timeout=20, what="2 low-priority tasks")
        c.client.run_job(job("urgent", 1, cpu=1, priority=90))
        pending = wait_for(lambda: waiting(c, "urgent"), timeout=20, what="the urgent task to wait")
        assert "insufficient cpu" in pending[0].pending_reason
        assert len(running(c, "batch")) == 2


def test_drf_gives_two_namespaces_equal_dominant_shares(tmp_path: Path) -> None:
    """The DRF paper's example (Ghodsi et al., NSDI 2011) through the manager:
    9 CPU / 18 GiB; A's tasks <1 CPU, 4 GiB>, B's <3 CPU, 1 GiB>."""
    with cluster(tmp_path, agents=0, runtime="fake", manager_args=["--queue-order", "drf"]) as c:
        # Queue both before any node exists, so one plan sees both namespaces.
        c.client.run_job(job("a", 10, cpu=1, memory=4 * GiB, namespace="team-a"))
        c.client.run_job(job("b", 10, cpu=3, memory=1 * GiB, namespace="team-b"))
        wait_for(lambda: len(waiting(c, "a")) == 10 and len(waiting(c, "b")) == 10, timeout=20,
                 what="both jobs queued")
        c.add_agent("paper", extra=["--cpu", "9", "--memory", "18Gi"])
        wait_for(lambda: len(running(c, "a")) == 3 and len(running(c, "b")) == 2, timeout=20,
                 what="A 3 tasks and B 2 tasks")
        a_share = 3 * 4 / 18  # memory is A's dominant resource
        b_share = 2 * 3 / 9  # cpu is B's
        assert a_share == pytest.approx(b_share) == pytest.approx(2 / 3)
        assert len(waiting(c, "a")) == 7 and len(waiting(c, "b")) == 8


def test_a_gpu_job_preempts_a_lower_priority_gpu_task_and_gets_its_device(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("gpu-node", extra=["--device", "gpu=7"])
        c.client.run_job(job("batchy", 1, priority=10, gpus=1))
        (low,) = wait_for(lambda: running(c, "batchy"), timeout=20, what="the low-priority task to run")
        assert [d.id for d in low.devices] == ["7"]
        # The dry run names the device and the task it would preempt, and changes nothing.
        plan = c.client.plan_job(job("urgent", 1, priority=90, gpus=1))
        assert [[(d.kind, d.id, d.share) for d in p.devices] for p in plan.placements] == [[("gpu", "7", 1.0)]]
        assert [(x.task_id, x.job_name, x.node_name, x.for_slot) for x in plan.preemptions] == [
            (low.meta.id, "batchy", "gpu-node", 1)
        ]
        assert "priority 90 > 10" in plan.preemptions[0].reason
        job_file = tmp_path / "urgent.yaml"
        job_file.write_text(
            "name: urgent\npriority: 90\ntask:\n  image: fake\n"
            "  resources: {cpu: 0.1, memory: 16Mi, devices: [{kind: gpu, count: 1}]}\n"
        )
        out = c.cli("job", "plan", str(job_file), check=True).stdout
        assert "gpu=7" in out and f"would preempt task {low.meta.id[:12]} of job batchy on gpu-node" in out
        assert running(c, "batchy") and "urgent" not in {j.job.spec.name for j in c.client.list_jobs()}
        c.client.run_job(job("urgent", 1, priority=90, gpus=1))
        (high,) = wait_for(lambda: running(c, "urgent"), timeout=20, what="the urgent task to run")
        assert [d.id for d in high.devices] == ["7"]
        evicted = next(t for t in c.client.list_tasks(job="batchy", all=True) if t.meta.id == low.meta.id)
        assert evicted.desired_state == pb.TASK_STATE_SHUTDOWN and "preempted" in evicted.status.message
        # The victim's slot comes back pending, waiting for a gpu: never two on one device.
        back = wait_for(lambda: waiting(c, "batchy"), timeout=20, what="the victim's replacement to wait")
        assert "gpu" in back[0].pending_reason
        assert not running(c, "batchy")


def test_cluster_settings_are_replicated_changed_through_a_follower_and_kept_by_a_new_leader(tmp_path: Path) -> None:
    """`manager init --queue-order drf` seeds the settings; `cluster update`
    on a follower changes them for every manager; after the leader dies the
    new one (started without any such option) schedules with them and tells
    agents the same heartbeat period."""
    import signal

    with cluster(tmp_path, agents=0, runtime="fake", managers=3, manager_args=["--queue-order", "drf"]) as c:
        leader = c.leader_index()
        assert leader is not None
        follower = (leader + 1) % 3
        for i in range(3):
            with c.client_for(i) as client:
                # A manager that joined a moment ago may still be catching up.
                wait_for(lambda client=client: client.cluster_settings().scheduler.queue_order == "drf", timeout=10,
                         what=f"manager-{i + 1} to hold the seeded settings")
        c.address = c.managers[follower].address
        updated = json.loads(c.cli("-o", "json", "cluster", "update", "--scheduler-policy", "spread",
                                   "--namespace-weight", "prod=3", "--heartbeat-period", "1", check=True).stdout)
        assert updated["scheduler"]["policy"] == "spread" and updated["scheduler"]["queue_order"] == "drf"
        assert updated["heartbeat_period"] == 1.0
        refused = c.cli("cluster", "update", "--namespace-weight", "prod=0")
        assert refused.returncode != 0 and "NAMESPACE=WEIGHT" in refused.stderr
        table = c.cli("cluster", "inspect", check=True).stdout
        assert "spread" in table and "prod=3" in table
        c.add_agent("left")
        c.add_agent("right")
        c.managers[leader].daemon.kill(signal.SIGKILL)
        wait_for(lambda: c.leader_index() not in (None, leader), timeout=20, what="a new leader")
        new_leader = c.leader_index()
        assert new_leader is not None
        c.address = c.managers[new_leader].address
        settings = c.client.cluster_settings()
        assert (settings.scheduler.policy, dict(settings.scheduler.namespace_weights)) == ("spread", {"prod": 3.0})
        # The agents registered with the old leader and again with the new
        # one (whose own --heartbeat-period default is 5 s): 1 s each time.
        for name in ("left", "right"):
            log = (tmp_path / f"agent-{name}.log").read_text
            wait_for(lambda log=log: log().count("event=registered") >= 2, timeout=30, what=f"agent {name} to re-register")
            periods = {line.rsplit("period=", 1)[1].split()[0] for line in log().splitlines() if "event=registered" in line}
            assert periods == {"1.0s"}, periods
        # Spread puts the two replicas on two nodes (binpack, the new leader's
        # own default, would put both on one).
        c.client.run_job(job("web", 2))
        tasks = wait_for(lambda: len(running(c, "web")) == 2 and running(c, "web"), timeout=30,
                         what="2 running tasks")
        assert len({t.node_id for t in tasks}) == 2


def test_manager_start_refuses_per_manager_scheduler_options(tmp_path: Path) -> None:
    import subprocess

    from tests.cluster import dockyard_cmd

    proc = subprocess.run(
        dockyard_cmd("manager", "start", "--data-dir", str(tmp_path / "m"), "--scheduler-policy", "spread"),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode != 0
    assert "--scheduler-policy" in proc.stderr and "dockyard cluster update" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_node_inspect_shows_a_node_s_devices_labels_allocation_and_tasks(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("gpu-node", labels={"zone": "east"}, extra=["--device", "gpu=0", "--cpu", "4", "--memory", "8Gi"])
        c.client.run_job(job("train", 1, cpu=1, gpus=1))
        wait_for(lambda: running(c, "train"), timeout=20, what="the task to run")
        out = c.cli("node", "inspect", "gpu-node", check=True).stdout
        assert "zone=east" in out and "gpu=0" in out and "1 of 4 allocated" in out
        assert "train.1" in out and "running" in out
        node_id = c.client.list_nodes()[0].node.meta.id
        data = json.loads(c.cli("-o", "json", "node", "inspect", node_id[:8], check=True).stdout)
        assert data["node"]["name"] == "gpu-node"
        assert [t["job_name"] for t in data["task_list"]] == ["train"]
        missing = c.cli("node", "inspect", "nope")
        assert missing.returncode != 0 and "no node 'nope'" in missing.stderr
