"""A one-host cluster (manager and agent as separate processes) running real
containers: the behaviours DESIGN.md and the README promise users."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import RUN_LABEL, Cluster, cluster, docker_client, run_containers, wait_for

pytestmark = pytest.mark.docker

TS = pb.TaskState


@pytest.fixture(scope="module")
def one_host(docker_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("one-host"), agents=1) as c:
        yield c


def write_job(tmp_path: Path, **spec: object) -> Path:
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def httpd_job(name: str, replicas: int, **task: object) -> dict[str, object]:
    base: dict[str, object] = {
        "image": "dockyard-test/busybox:1",
        "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
        "resources": {"cpu": 0.1, "memory": "32Mi"},
        "ports": [{"container": 8080}],
        "restart": {"condition": "any", "delay": "1s"},
        "stop_grace_period": "1s",
    }
    base.update(task)
    return {"name": name, "replicas": replicas, "task": base}


def http_get(port: int) -> str:
    """The page served on a host port. A container reported running may not
    be listening yet (Docker's proxy then resets the connection): retry."""

    def fetch() -> str:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()

    return wait_for(fetch, timeout=15, interval=0.2, what=f"HTTP on port {port}")


def job_containers(name: str, all: bool = False) -> list[object]:
    return run_containers(all=all, **{"dockyard.job-name": name})


def running_tasks(c: Cluster, name: str) -> list[pb.Task]:
    return [t for t in c.client.list_tasks(job=name) if t.status.state == TS.TASK_STATE_RUNNING]


def test_service_replicas_answer_http_on_their_ports(one_host: Cluster, tmp_path: Path) -> None:
    path = write_job(tmp_path, **httpd_job("web", 3))
    proc = one_host.cli("job", "run", str(path), "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    assert "converged" in proc.stderr
    listing = json.loads(one_host.cli("-o", "json", "task", "ls", "--job", "web", check=True).stdout)
    assert len(listing) == 3
    ports = set()
    for task in listing:
        assert task["status"]["state"] == "TASK_STATE_RUNNING"
        (binding,) = task["status"]["ports"]
        port = binding["published"]
        ports.add(port)
        assert "dockyard test image" in http_get(port)
    assert len(ports) == 3
    assert len(job_containers("web")) == 3


def test_fixed_published_port_runs_once_per_host(one_host: Cluster, tmp_path: Path) -> None:
    port = 18000 + (hash(RUN_LABEL) % 1000)
    spec = httpd_job("fixed", 2, ports=[{"container": 8080, "published": port}])
    proc = one_host.cli("job", "run", "--detach", str(write_job(tmp_path, **spec)))
    assert proc.returncode == 0, proc.stderr

    def one_running_one_pending() -> bool:
        tasks = one_host.client.list_tasks(job="fixed")
        running = [t for t in tasks if t.status.state == TS.TASK_STATE_RUNNING]
        pending = [t for t in tasks if t.pending_reason]
        return len(running) == 1 and len(pending) == 1

    wait_for(one_running_one_pending, timeout=30, what="one task running and one pending")
    pending = next(t for t in one_host.client.list_tasks(job="fixed") if t.pending_reason)
    assert "port" in pending.pending_reason
    assert "dockyard test image" in http_get(port)
    status = one_host.cli("job", "status", "fixed", check=True).stdout
    assert "port" in status
    one_host.cli("job", "stop", "fixed", check=True)
    wait_for(lambda: not job_containers("fixed", all=True), timeout=30, what="fixed's containers to go")


def test_containers_are_confined_and_limited(one_host: Cluster, tmp_path: Path) -> None:
    spec = httpd_job("confined", 1, resources={"cpu": 0.5, "memory": "48Mi"})
    assert one_host.cli("job", "run", str(write_job(tmp_path, **spec)), "--timeout", "60").returncode == 0
    (container,) = job_containers("confined")
    attrs = docker_client().api.inspect_container(container.id)
    host = attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 48 * 1024 * 1024
    assert host["PidsLimit"] and host["PidsLimit"] > 0
    assert "NET_RAW" in host["CapDrop"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["NetworkMode"] != "host"
    labels = attrs["Config"]["Labels"]
    (task,) = one_host.client.list_tasks(job="confined")
    assert labels["dockyard.task"] == task.meta.id
    assert labels["dockyard.job"] == task.job_id
    assert labels["dockyard.node"] == task.node_id
    one_host.cli("job", "stop", "confined", check=True)


def test_killed_container_is_replaced_within_restart_delay(one_host: Cluster, tmp_path: Path) -> None:
    spec = httpd_job("phoenix", 1, restart={"condition": "any", "delay": "2s"})
    assert one_host.cli("job", "run", str(write_job(tmp_path, **spec)), "--timeout", "60").returncode == 0
    (container,) = job_containers("phoenix")
    (before,) = running_tasks(one_host, "phoenix")
    killed_at = time.monotonic()
    container.kill()

    def replaced() -> pb.Task | None:
        tasks = running_tasks(one_host, "phoenix")
        return next((t for t in tasks if t.meta.id != before.meta.id), None)

    after = wait_for(replaced, timeout=2 + 5, interval=0.05, what="a replacement task to run")
    elapsed = time.monotonic() - killed_at
    assert after.slot == before.slot and after.attempt == before.attempt + 1
    assert elapsed <= 2 + 5
    history = [t for t in one_host.client.list_tasks(job="phoenix", all=True) if t.meta.id == before.meta.id]
    assert history and history[0].status.state == TS.TASK_STATE_FAILED
    assert history[0].status.exit_code == 137
    one_host.cli("job", "stop", "phoenix", check=True)


def test_scale_3_1_4_converges(one_host: Cluster, tmp_path: Path) -> None:
    assert one_host.cli("job", "run", str(write_job(tmp_path, **httpd_job("elastic", 3))), "--timeout", "60").returncode == 0
    assert len(job_containers("elastic")) == 3
    for n in (1, 4):
        one_host.cli("job", "scale", "elastic", str(n), check=True)
        wait_for(lambda n=n: len(job_containers("elastic")) == n and len(running_tasks(one_host, "elastic")) == n,
                 timeout=30, what=f"{n} running containers")
        assert one_host.client.get_job("elastic").summary.phase == "converged"
    slots = sorted(t.slot for t in running_tasks(one_host, "elastic"))
    assert slots == [1, 2, 3, 4]


def test_stop_removes_every_container(one_host: Cluster, tmp_path: Path) -> None:
    assert one_host.cli("job", "run", str(write_job(tmp_path, **httpd_job("brief", 2))), "--timeout", "60").returncode == 0
    assert len(job_containers("brief")) == 2
    one_host.cli("job", "stop", "brief", check=True)
    wait_for(lambda: not job_containers("brief", all=True), timeout=30, what="every container of brief to be removed")
    assert one_host.client.get_job("brief").summary.phase == "stopped"


def test_batch_job_completes_with_exit_codes(one_host: Cluster, tmp_path: Path) -> None:
    spec = {
        "name": "crunch",
        "type": "batch",
        "replicas": 3,
        "task": {"image": "dockyard-test/busybox:1", "command": ["sh", "-c", "echo crunching; exit 0"]},
    }
    proc = one_host.cli("job", "run", str(write_job(tmp_path, **spec)), "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    assert "complete" in proc.stderr
    tasks = one_host.client.list_tasks(job="crunch", all=True)
    assert len(tasks) == 3
    assert all(t.status.state == TS.TASK_STATE_COMPLETE and t.status.exited and t.status.exit_code == 0 for t in tasks)
    logs = one_host.cli("logs", "crunch", check=True).stdout
    assert logs.count("crunching") == 3
    assert "crunch.1@" in logs


def test_failing_batch_job_reports_exit_code_and_fails(one_host: Cluster, tmp_path: Path) -> None:
    spec = {
        "name": "doomed",
        "type": "batch",
        "replicas": 1,
        "task": {
            "image": "dockyard-test/busybox:1",
            "command": ["sh", "-c", "exit 3"],
            "restart": {"condition": "on-failure", "delay": "0s", "max_attempts": 2},
        },
    }
    proc = one_host.cli("job", "run", str(write_job(tmp_path, **spec)), "--timeout", "60")
    assert proc.returncode == 1
    assert "exit code 3" in proc.stderr
    tasks = one_host.client.list_tasks(job="doomed", all=True)
    assert len(tasks) == 3  # the first attempt and two restarts
    assert all(t.status.state == TS.TASK_STATE_FAILED and t.status.exit_code == 3 for t in tasks)
    listing = one_host.cli("task", "ls", "--job", "doomed", "--all", check=True).stdout
    assert "failed" in listing


def test_unplaceable_task_explains_why(one_host: Cluster, tmp_path: Path) -> None:
    spec = httpd_job("hungry", 1, resources={"memory": "100Ti"})
    assert one_host.cli("job", "run", "--detach", str(write_job(tmp_path, **spec))).returncode == 0
    task = wait_for(lambda: next((t for t in one_host.client.list_tasks(job="hungry") if t.pending_reason), None),
                    timeout=15, what="a pending reason")
    assert "insufficient memory on 1 node" in task.pending_reason
    assert "insufficient memory on 1 node" in one_host.cli("task", "ls", "--job", "hungry", check=True).stdout
    assert "insufficient memory" in one_host.cli("job", "status", "hungry", check=True).stdout
    plan = one_host.cli("job", "plan", str(write_job(tmp_path, **spec)), check=True).stdout
    assert "insufficient memory on 1 node" in plan
    one_host.cli("job", "stop", "hungry", check=True)


INVALID = {
    "unknown_key": ({"name": "bad", "bogus": 1, "task": {"image": "x"}}, "bogus"),
    "negative_cpu": ({"name": "bad", "task": {"image": "x", "resources": {"cpu": -1}}}, "task.resources.cpu"),
    "bad_memory": ({"name": "bad", "task": {"image": "x", "resources": {"memory": "12Q"}}}, "task.resources.memory"),
    "negative_replicas": ({"name": "bad", "replicas": -1, "task": {"image": "x"}}, "replicas"),
    "missing_image": ({"name": "bad", "task": {"command": ["sh"]}}, "task.image"),
    "duplicate_port": (
        {"name": "bad", "task": {"image": "x", "ports": [{"container": 80, "published": 18080}, {"container": 81, "published": 18080}]}},
        "task.ports[1].published",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_job_file_changes_nothing(one_host: Cluster, tmp_path: Path, case: str) -> None:
    spec, field_path = INVALID[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    before = one_host.client.cluster_info().raft_commit_index
    containers_before = {c.id for c in run_containers(all=True)}
    proc = one_host.cli("job", "run", str(path))
    assert proc.returncode == 2, proc.stderr
    assert field_path in proc.stderr
    time.sleep(0.3)
    assert one_host.client.cluster_info().raft_commit_index == before
    assert {c.id for c in run_containers(all=True)} == containers_before
    assert all(j.job.spec.name != "bad" for j in one_host.client.list_jobs())


WIRE_INVALID = {
    "negative_cpu": (pb.TaskSpec(image="x", resources=pb.Resources(cpu=-1)), "task.resources.cpu"),
    "negative_memory": (pb.TaskSpec(image="x", resources=pb.Resources(memory=-5)), "task.resources.memory"),
    "missing_image": (pb.TaskSpec(command=["sh"]), "task.image"),
    "duplicate_port": (
        pb.TaskSpec(image="x", ports=[pb.PortSpec(container=80, published=18080), pb.PortSpec(container=81, published=18080)]),
        "task.ports[1].published",
    ),
}


@pytest.mark.parametrize("case", sorted(WIRE_INVALID))
def test_invalid_spec_over_grpc_changes_nothing(one_host: Cluster, case: str) -> None:
    """The manager applies the same rules to specs that skip the CLI."""
    from dockyard.errors import InvalidArgument

    task, field_path = WIRE_INVALID[case]
    before = one_host.client.cluster_info().raft_commit_index
    with pytest.raises(InvalidArgument) as err:
        one_host.client.run_job(pb.JobSpec(name="bad-wire", replicas=1, task=task))
    assert field_path in [e.path for e in err.value.errors]
    time.sleep(0.3)
    assert one_host.client.cluster_info().raft_commit_index == before
    assert all(j.job.spec.name != "bad-wire" for j in one_host.client.list_jobs())


def test_manager_sigkill_keeps_jobs_and_tasks(docker_ready: None, tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1) as c:
        assert c.cli("job", "run", str(write_job(tmp_path, **httpd_job("durable", 2))), "--timeout", "60").returncode == 0
        tasks_before = {t.meta.id: t.status.container_id for t in c.client.list_tasks(job="durable")}
        assert c.manager is not None
        c.manager.kill(signal.SIGKILL)
        c.reset_client()
        c.restart_manager(0)
        wait_for(lambda: c.client.cluster_info().leader, timeout=30, what="the restarted manager to lead")
        jobs = {j.job.spec.name for j in c.client.list_jobs()}
        assert "durable" in jobs
        tasks_after = {t.meta.id: t.status.container_id for t in c.client.list_tasks(job="durable")}
        assert tasks_after == tasks_before
        c.wait_node_ready("node1")
        # Nothing was restarted: the same two containers still run.
        time.sleep(2)
        assert {x.id for x in job_containers("durable")} == set(tasks_before.values())
        assert c.client.get_job("durable").summary.phase == "converged"
        c.cli("job", "stop", "durable", check=True)
        wait_for(lambda: not job_containers("durable", all=True), timeout=30, what="containers removed")


def test_agent_restart_adopts_containers_without_duplicates(docker_ready: None, tmp_path: Path) -> None:
    with cluster(tmp_path, agents=1) as c:
        assert c.cli("job", "run", str(write_job(tmp_path, **httpd_job("adopted", 3))), "--timeout", "60").returncode == 0
        ids_before = {x.id for x in job_containers("adopted")}
        assert len(ids_before) == 3
        agent = c.agents[0]
        agent.kill(signal.SIGKILL)
        # While the agent is gone: one container dies, and one is scaled away.
        c.client.scale_job("adopted", 2)
        agent.start()
        c.wait_node_ready("node1")

        def exactly_two() -> bool:
            running = job_containers("adopted")
            return len(running) == 2 and len(job_containers("adopted", all=True)) == 2

        wait_for(exactly_two, timeout=30, what="exactly two containers")
        assert {x.id for x in job_containers("adopted")} <= ids_before  # adopted, not recreated
        tasks = running_tasks(c, "adopted")
        assert sorted(t.slot for t in tasks) == [1, 2]
        assert {t.status.container_id for t in tasks} == {x.id for x in job_containers("adopted")}
        c.cli("job", "stop", "adopted", check=True)
        wait_for(lambda: not job_containers("adopted", all=True), timeout=30, what="containers removed")
