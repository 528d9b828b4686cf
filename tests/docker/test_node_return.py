"""A node that was cut off comes back: the containers of its replaced tasks
are stopped, so a slot never runs twice for long."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import cluster, run_containers, wait_for

pytestmark = pytest.mark.docker


def test_returning_node_stops_stale_containers(docker_ready: None, tmp_path: Path) -> None:
    with cluster(tmp_path, agents=2, heartbeat_period=1.0) as c:
        spec = pb.JobSpec(
            name="comeback", replicas=1,
            task=pb.TaskSpec(image="dockyard-test/busybox:1", command=["sleep", "3600"], stop_grace_period=1,
                             resources=pb.Resources(cpu=0.1, memory=16 << 20)),
        )
        c.client.run_job(spec)
        first = wait_for(lambda: next((t for t in c.client.list_tasks(job="comeback") if t.status.state == pb.TASK_STATE_RUNNING), None),
                         timeout=30, what="the task to run")
        names = {n.node.meta.id: n.node.name for n in c.client.list_nodes()}
        agent = c.agents[0] if names[first.node_id] == "node1" else c.agents[1]
        (old_container,) = run_containers(**{"dockyard.task": first.meta.id})
        # Freeze the agent: its container keeps running, but it stops heartbeating.
        agent.kill(signal.SIGSTOP)
        try:
            def replaced() -> pb.Task | None:
                return next((t for t in c.client.list_tasks(job="comeback")
                             if t.status.state == pb.TASK_STATE_RUNNING and t.meta.id != first.meta.id), None)

            second = wait_for(replaced, timeout=30, what="a replacement on the other node")
            assert second.node_id != first.node_id
            old_container.reload()
            assert old_container.status == "running"  # nobody could stop it yet
        finally:
            agent.kill(signal.SIGCONT)

        def stale_stopped() -> bool:
            old_container.reload()
            return old_container.status != "running"

        wait_for(stale_stopped, timeout=40, what="the stale container to be stopped")
        assert len(run_containers(**{"dockyard.job-name": "comeback"})) == 1
        c.client.stop_job("comeback")
        wait_for(lambda: not run_containers(all=True, **{"dockyard.job-name": "comeback"}), timeout=30, what="cleanup")
