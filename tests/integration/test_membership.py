"""Removing a dead manager and adding a new one, one change at a time."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import grpc
import pytest

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import cluster, wait_for

pytestmark = pytest.mark.integration


def test_dead_manager_is_removed_and_replaced(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake", managers=3) as c:
        leader = c.leader_index()
        assert leader is not None
        dead = next(i for i in range(3) if i != leader)
        c.address = c.managers[leader].address
        c.managers[dead].daemon.kill(signal.SIGKILL)

        def listed() -> list[dict[str, object]]:
            out = c.cli("-o", "json", "manager", "ls", check=True).stdout
            return list(json.loads(out))

        wait_for(lambda: sum(1 for m in listed() if not m.get("reachable")) == 1, timeout=20, what="one unreachable manager")
        # Through the surviving follower: only the leader changes membership,
        # and a follower passes the request on.
        follower = next(i for i in range(3) if i not in (leader, dead))
        c.address = c.managers[follower].address
        wait_for(lambda: len(listed()) == 3, timeout=20, what="the follower to have applied every member")
        proc = c.cli("manager", "rm", c.managers[dead].raft_addr)
        assert proc.returncode == 0, proc.stderr
        c.address = c.managers[leader].address
        managers = listed()
        assert len(managers) == 2 and all(m.get("reachable") for m in managers)
        # Two members now: writes still commit.
        c.client.run_job(pb.JobSpec(name="after-removal", replicas=0, task=pb.TaskSpec(image="fake")))
        # The removed one's Raft address is free again for a new member.
        c.join_manager()
        wait_for(lambda: len(listed()) == 3 and all(m.get("reachable") for m in listed()), timeout=30,
                 what="three reachable managers")
        c.client.run_job(pb.JobSpec(name="after-join", replicas=0, task=pb.TaskSpec(image="fake")))
        newest = c.client_for(len(c.managers) - 1)

        def replicated() -> bool:
            return {"after-removal", "after-join"} <= {j.job.spec.name for j in newest.list_jobs()}

        wait_for(replicated, timeout=20, what="the new manager to have both writes")
        newest.close()


def test_last_manager_cannot_be_removed(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        proc = c.cli("manager", "rm", c.managers[0].raft_addr)
        assert proc.returncode == 1
        assert "last manager" in proc.stderr


def test_only_the_leader_adds_a_manager(tmp_path: Path) -> None:
    """A follower may not have applied the latest members: it refuses a join
    (naming the leader) instead of handing out a partial peer list."""
    import asyncio

    from dockyard.api.v1 import control_pb2 as cpb
    from dockyard.api.v1 import control_pb2_grpc as cgrpc
    from dockyard.errors import Unavailable, from_status
    from dockyard.grpcutil import secure_channel
    from dockyard.join import join

    with cluster(tmp_path, agents=0, runtime="fake", managers=2) as c:
        leader = c.leader_index()
        assert leader is not None
        follower = 1 - leader
        token = c.client.list_tokens().manager

        async def ask(address: str) -> cpb.JoinManagerResponse:
            identity, _ = await join(c.managers[0].join_addr, token, ["127.0.0.1"])
            async with secure_channel(address, identity) as channel:
                try:
                    return await cgrpc.ControlStub(channel).JoinManager(
                        cpb.JoinManagerRequest(api_address="127.0.0.1:1", raft_address="127.0.0.1:2"), timeout=10
                    )
                except grpc.aio.AioRpcError as e:
                    raise from_status(e.code(), e.details()) from None

        with pytest.raises(Unavailable, match=f"not the Raft leader.*the leader is {c.managers[leader].address}"):
            asyncio.run(ask(c.managers[follower].address))
        managers = c.client.list_managers()
        assert len(managers) == 2, "a refused join changes nothing"
