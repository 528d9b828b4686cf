"""`dockyard events`: a job's tasks starting and a node dying, streamed by
the CLI from a follower and by the Python client from the leader. Fake
agents: this is about the event stream, not Docker."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import InvalidArgument
from tests.cluster import cluster, dockyard_cmd, wait_for

pytestmark = pytest.mark.integration


def test_events_tell_a_job_starting_and_a_node_dying_on_every_manager(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=2, runtime="fake", managers=3, heartbeat_period=1.0) as c:
        leader = c.leader_index()
        assert leader is not None
        follower = (leader + 1) % 3
        cli = subprocess.Popen(
            dockyard_cmd("--manager", c.managers[follower].address, "--credentials", str(c.credentials),
                         "-o", "json", "events"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        cli_events: list[dict[str, object]] = []
        node_events: list[cpb.Event] = []
        client = c.client_for(leader)

        def read_cli() -> None:
            assert cli.stdout is not None
            for line in cli.stdout:
                cli_events.append(json.loads(line))

        def read_client() -> None:
            for event in client.events(["node"]):
                node_events.append(event)  # noqa: PERF402 - seen by the test while the stream is open

        readers = [threading.Thread(target=read_cli, daemon=True), threading.Thread(target=read_client, daemon=True)]
        try:
            for r in readers:
                r.start()
            # Both streams are open once a label change reaches them (the
            # streams start from now: relabel until both have seen one).
            probes = iter(range(1, 1000))

            def opened() -> bool:
                if any(e["kind"] == "node" for e in cli_events) and node_events:
                    return True
                c.cli("node", "label", "node1", f"probe={next(probes)}", check=True)  # a new value: a new event
                return False

            wait_for(opened, timeout=30, interval=0.5, what="the streams to be open")
            c.client.run_job(pb.JobSpec(name="web", replicas=2, task=pb.TaskSpec(image="fake")))
            wait_for(lambda: sum(1 for e in cli_events if e["kind"] == "task" and "running on" in str(e["message"])) == 2,
                     timeout=30, what="two 'running' events")
            c.agents[1].kill(signal.SIGKILL)
            wait_for(lambda: any("node node2 is down" in e.message for e in node_events), timeout=30,
                     what="the node-down event")
            wait_for(lambda: any("node node2 is down" in str(e["message"]) for e in cli_events), timeout=10,
                     what="the follower's node-down event")
        finally:
            cli.terminate()
            cli.wait(10)
            client.close()
        messages = [str(e["message"]) for e in cli_events]
        assert any(m.startswith("node node1 labels: probe=") for m in messages)
        assert "job web created: 2 x fake (service)" in messages
        assert {m.split(" running")[0] for m in messages if " running on " in m} == {"task web.1", "task web.2"}
        indexes = [int(str(e["index"])) for e in cli_events]
        assert indexes == sorted(indexes)  # in the Raft log's order
        assert {e.kind for e in node_events} == {"node"}  # the client asked for node events only
        # The follower and the leader tell the same node story (from the first
        # event both saw on).
        cli_nodes = [m for e, m in zip(cli_events, messages, strict=True) if e["kind"] == "node"]
        client_nodes = [e.message for e in node_events]
        first = next(m for m in client_nodes if m in cli_nodes)  # one stream may have opened a probe later
        a, b = client_nodes[client_nodes.index(first):], cli_nodes[cli_nodes.index(first):]
        n = min(len(a), len(b))
        assert n >= 2 and a[:n] == b[:n], (a, b)  # at least a probe and the node-down event


def test_an_unknown_event_kind_is_refused_by_name(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        with pytest.raises(InvalidArgument) as err:
            next(iter(c.client.events(["job", "jobs"])))
        assert "kinds[1]" in str(err.value) and "job, task, node" in str(err.value)
        refused = c.cli("events", "--kind", "jobs")
        assert refused.returncode != 0 and "jobs" in refused.stderr
