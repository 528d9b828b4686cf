"""`dockyard job rollback`: back to the previous version's spec, as a new
version, through the CLI and a rolling update. Fake agents: this is about
versions and specs, not Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import Cluster, cluster, wait_for

pytestmark = pytest.mark.integration


def job_file(tmp_path: Path, name: str, greeting: str, replicas: int = 2) -> str:
    path = tmp_path / f"{name}-{greeting}-{replicas}.yaml"
    path.write_text(
        f"name: {name}\nreplicas: {replicas}\ntask:\n  image: fake\n  env: {{GREETING: {greeting}}}\n"
        "update: {parallelism: 0}\n"
    )
    return str(path)


def running_versions(c: Cluster, name: str) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for t in c.client.list_tasks(job=name):
        if t.status.state == pb.TASK_STATE_RUNNING:
            out.setdefault(t.spec_version, set()).add(t.spec.env["GREETING"])
    return out


def test_rollback_runs_the_previous_spec_as_a_new_version_and_keeps_the_replica_count(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1, runtime="fake") as c:
        c.cli("job", "run", job_file(tmp_path, "web", "hello"), check=True)
        c.cli("job", "run", job_file(tmp_path, "web", "bonjour"), check=True)
        c.cli("job", "scale", "web", "3", check=True)
        wait_for(lambda: running_versions(c, "web") == {2: {"bonjour"}} and len(c.client.list_tasks(job="web")) == 3,
                 timeout=20, what="3 tasks of version 2")

        done = c.cli("job", "rollback", "web", check=True)
        assert "rolled back (now version 3)" in done.stderr
        job = c.client.get_job("web").summary.job
        assert (job.spec_version, job.spec.task.env["GREETING"], job.spec.replicas) == (3, "hello", 3)
        assert job.previous_spec.task.env["GREETING"] == "bonjour"
        # `job rollback` waited for convergence: every task runs version 3.
        assert running_versions(c, "web") == {3: {"hello"}}
        assert len([t for t in c.client.list_tasks(job="web") if t.status.state == pb.TASK_STATE_RUNNING]) == 3

        # A second rollback goes forward again: the previous version is now 2's spec.
        c.cli("job", "rollback", "web", check=True)
        assert running_versions(c, "web") == {4: {"bonjour"}}


def test_rollback_refuses_what_it_cannot_do_and_changes_nothing(tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1, runtime="fake") as c:
        c.cli("job", "run", job_file(tmp_path, "solo", "hi"), check=True)
        never = c.cli("job", "rollback", "solo")
        assert never.returncode != 0 and "no earlier version to roll back to" in never.stderr
        c.cli("job", "run", job_file(tmp_path, "solo", "hi", replicas=4), check=True)  # version 2: only replicas changed
        same = c.cli("job", "rollback", "solo")
        assert same.returncode != 0 and "only in its replica count" in same.stderr
        assert c.client.get_job("solo").summary.job.spec_version == 2
        missing = c.cli("job", "rollback", "nope")
        assert missing.returncode != 0 and "no job named 'nope'" in missing.stderr


def failing_update_file(tmp_path: Path, image: str, action: str) -> str:
    path = tmp_path / f"api-{image}-{action}.yaml"
    path.write_text(
        f"name: api\nreplicas: 2\ntask:\n  image: {image}\n"
        f"update: {{parallelism: 1, monitor: 5s, failure_action: {action}}}\n"
    )
    return str(path)


@pytest.mark.parametrize("action", ["rollback", "pause"])
def test_a_failing_update_is_rolled_back_or_paused_and_job_run_says_so(tmp_path: Path, action: str) -> None:
    with cluster(tmp_path, agents=0, runtime="fake") as c:
        c.add_agent("n1", extra=["--fake-fail-image", "broken"])
        c.cli("job", "run", failing_update_file(tmp_path, "fake", action), check=True)
        bad = c.cli("job", "run", failing_update_file(tmp_path, "broken", action), "--timeout", "60")
        assert bad.returncode == 1, bad.stderr
        job = c.client.get_job("api").summary.job
        if action == "rollback":
            assert "version 2 rolled back" in bad.stderr and "cannot be started" in bad.stderr
            assert (job.spec_version, job.spec.task.image) == (3, "fake")
            wait_for(lambda: running_images(c) == {(1, 3, "fake"), (2, 3, "fake")}, timeout=30,
                     what="both slots on version 3")
        else:
            assert "update paused" in bad.stderr and "cannot be started" in bad.stderr
            status = c.client.get_job("api").summary
            assert (job.spec_version, status.phase) == (2, "paused")
            # Slot 2 was never replaced: it still runs version 1.
            assert (2, 1, "fake") in running_images(c)
            assert "paused" in c.cli("job", "status", "api", check=True).stdout


def running_images(c: Cluster) -> set[tuple[int, int, str]]:
    return {(t.slot, t.spec_version, t.spec.image) for t in c.client.list_tasks(job="api")
            if t.status.state == pb.TASK_STATE_RUNNING}
