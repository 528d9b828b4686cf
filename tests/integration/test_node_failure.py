"""Nodes that die, come back, are drained; and a manager failover that must
not look like mass node failure. Fake-runtime agents: these are about
scheduling and failure detection, not Docker."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import Cluster, cluster, wait_for

pytestmark = pytest.mark.integration


def service(name: str, replicas: int, **placement: object) -> pb.JobSpec:
    return pb.JobSpec(
        name=name, replicas=replicas,
        task=pb.TaskSpec(image="fake", resources=pb.Resources(cpu=0.1, memory=16 << 20)),
        placement=pb.PlacementSpec(**placement),  # type: ignore[arg-type]
    )


def running(c: Cluster, job: str) -> list[pb.Task]:
    return [t for t in c.client.list_tasks(job=job) if t.status.state == pb.TASK_STATE_RUNNING]


def node_ids(c: Cluster) -> dict[str, str]:
    return {n.node.name: n.node.meta.id for n in c.client.list_nodes()}


def test_dead_agent_is_marked_down_and_its_tasks_run_elsewhere(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=2, runtime="fake", heartbeat_period=1.0) as c:
        c.client.run_job(service("sturdy", 4, max_per_node=4))
        wait_for(lambda: len(running(c, "sturdy")) == 4, timeout=20, what="4 running tasks")
        ids = node_ids(c)
        on_node1 = [t for t in running(c, "sturdy") if t.node_id == ids["node1"]]
        if not on_node1:  # binpack may put all four on one node: kill that one
            victim_name = "node2"
        else:
            victim_name = "node1"
        victim = c.agents[0] if victim_name == "node1" else c.agents[1]
        killed_at = time.monotonic()
        victim.kill(signal.SIGKILL)

        def down() -> bool:
            return any(n.node.name == victim_name and n.node.state == pb.NODE_STATE_DOWN for n in c.client.list_nodes())

        wait_for(down, timeout=15, interval=0.1, what=f"{victim_name} to be marked down")
        assert time.monotonic() - killed_at < 1.0 * 3 + 3  # period x 3, plus the monitor's tick

        def all_elsewhere() -> bool:
            tasks = running(c, "sturdy")
            return len(tasks) == 4 and all(t.node_id != ids[victim_name] for t in tasks)

        wait_for(all_elsewhere, timeout=15, what="4 tasks running on the surviving node")
        lost = [t for t in c.client.list_tasks(job="sturdy", all=True) if t.node_id == ids[victim_name]]
        assert lost and all(t.status.state == pb.TASK_STATE_ORPHANED for t in lost)


def test_drain_moves_tasks_and_activate_lets_them_back(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=2, runtime="fake") as c:
        c.client.run_job(service("movable", 2, max_per_node=1))
        wait_for(lambda: len(running(c, "movable")) == 2, timeout=20, what="2 running tasks")
        assert c.cli("node", "drain", "node1").returncode == 0
        ids = node_ids(c)

        def off_node1() -> bool:
            tasks = running(c, "movable")
            return len(tasks) == 1 and all(t.node_id == ids["node2"] for t in tasks)

        # max_per_node=1 and one node left: one task runs, the other waits and says why.
        wait_for(off_node1, timeout=20, what="node1 to be emptied")
        pending = wait_for(lambda: next((t for t in c.client.list_tasks(job="movable") if t.pending_reason), None),
                           timeout=10, what="a pending reason")
        assert "drain" in pending.pending_reason or "max" in pending.pending_reason
        assert c.cli("node", "activate", "node1").returncode == 0
        wait_for(lambda: len(running(c, "movable")) == 2, timeout=20, what="2 running tasks again")
        assert {t.node_id for t in running(c, "movable")} == {ids["node1"], ids["node2"]}


def test_manager_failover_does_not_reschedule(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=2, runtime="fake", managers=3, heartbeat_period=1.0) as c:
        c.client.run_job(service("steady", 4))
        wait_for(lambda: len(running(c, "steady")) == 4, timeout=20, what="4 running tasks")
        before = {t.meta.id for t in running(c, "steady")}
        leader = c.leader_index()
        assert leader is not None
        c.managers[leader].daemon.kill(signal.SIGKILL)
        survivor = next(i for i in range(3) if i != leader)
        c.address = c.managers[survivor].address
        wait_for(lambda: c.leader_index() not in (None, leader), timeout=20, what="a new leader")
        # Agents reconnect to the new leader; for a while (well past period x 3)
        # no node is marked down and no task is replaced.
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            nodes = c.client.list_nodes()
            assert all(n.node.state == pb.NODE_STATE_READY for n in nodes), [(n.node.name, n.node.state) for n in nodes]
            time.sleep(0.5)
        assert {t.meta.id for t in running(c, "steady")} == before
