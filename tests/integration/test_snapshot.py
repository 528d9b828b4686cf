"""`dockyard snapshot save|restore` through the CLI on a 3-manager cluster:
the saved jobs come back and run, jobs created since are removed, every
manager agrees, and a damaged or foreign snapshot changes nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import Cluster, cluster, wait_for

pytestmark = pytest.mark.integration


def service(name: str, replicas: int, greeting: str = "hi") -> pb.JobSpec:
    return pb.JobSpec(name=name, replicas=replicas, task=pb.TaskSpec(image="fake", env={"GREETING": greeting}))


def running(c: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in c.client.list_tasks():
        if t.status.state == pb.TASK_STATE_RUNNING and t.desired_state == pb.TASK_STATE_RUNNING:
            out[t.job_name] = out.get(t.job_name, 0) + 1
    return out


def test_save_then_restore_brings_the_saved_workload_back(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1, runtime="fake", managers=3) as c:
        c.client.run_job(service("web", 2))
        c.client.run_job(service("api", 1))
        wait_for(lambda: running(c) == {"web": 2, "api": 1}, timeout=30, what="web and api running")
        backup = tmp_path / "backup.snap"
        saved = c.cli("snapshot", "save", str(backup), check=True)
        assert "saved 2 jobs and 3 tasks" in saved.stderr
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        snap = cpb.ClusterSnapshot.FromString(backup.read_bytes())
        assert not snap.store.nodes and not snap.store.security  # no node records, no CA key, no tokens

        # After the backup: api is stopped, web updated and scaled, batch created.
        c.client.stop_job("api")
        c.client.run_job(service("web", 3, greeting="bonjour"))
        c.client.run_job(service("extra", 1))
        wait_for(lambda: running(c) == {"web": 3, "extra": 1}, timeout=30, what="the changed workload")

        refused = c.cli("snapshot", "restore", str(backup))
        assert refused.returncode != 0 and "--yes" in refused.stderr
        done = c.cli("snapshot", "restore", str(backup), "--yes", check=True)
        assert "restored 2 jobs and 3 tasks" in done.stderr
        wait_for(lambda: running(c) == {"web": 2, "api": 1}, timeout=30, what="the saved workload running again")
        assert {j.job.spec.name for j in c.client.list_jobs()} == {"web", "api"}
        web = c.client.get_job("web").summary.job
        assert web.spec.task.env["GREETING"] == "hi" and web.spec.replicas == 2
        # Every manager holds the same jobs.
        for i in range(3):
            with c.client_for(i) as client:
                wait_for(lambda client=client: {j.job.spec.name for j in client.list_jobs()} == {"web", "api"},
                         timeout=10, what=f"manager-{i + 1} to hold the restored jobs")


def test_a_foreign_or_damaged_snapshot_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.client.run_job(service("web", 0))
        backup = tmp_path / "backup.snap"
        c.cli("snapshot", "save", str(backup), check=True)
        index = c.client.cluster_info().raft_commit_index
        foreign = cpb.ClusterSnapshot.FromString(backup.read_bytes())
        foreign.cluster_id = "0" * 32
        (tmp_path / "foreign.snap").write_bytes(foreign.SerializeToString())
        out = c.cli("snapshot", "restore", str(tmp_path / "foreign.snap"), "--yes")
        assert out.returncode == 2 and "snapshot.cluster_id" in out.stderr and "only into the cluster" in out.stderr
        (tmp_path / "junk.snap").write_bytes(b"\xff\xfe not a snapshot")
        junk = c.cli("snapshot", "restore", str(tmp_path / "junk.snap"), "--yes")
        assert junk.returncode == 2, junk.stderr
        assert c.client.cluster_info().raft_commit_index == index  # no Raft entry
        assert [j.job.spec.name for j in c.client.list_jobs()] == ["web"]
