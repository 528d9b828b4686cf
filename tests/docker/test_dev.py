"""`dockyard dev`, the README's first command: a one-process cluster that runs
real containers, keeps its state across a restart, and serves the standard
gRPC health and reflection services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dockyard.pki import NodeIdentity
from tests.cluster import REPO, RUN_LABEL, Daemon, dockyard_cmd, free_port, run_containers, wait_for

pytestmark = pytest.mark.docker


def start_dev(root: Path, ports: tuple[int, int, int], creds: Path) -> Daemon:
    api, raft, join = ports
    argv = dockyard_cmd(
        "--credentials", str(creds), "dev", "--data-dir", str(root / "dev"), "--listen", f"127.0.0.1:{api}",
        "--raft-addr", f"127.0.0.1:{raft}", "--join-listen", f"127.0.0.1:{join}", "--container-label", RUN_LABEL,
    )
    daemon = Daemon("dev", argv, root / "dev.log")
    before = daemon.log_text().count("is up")  # the log is appended to across restarts
    daemon.start()
    wait_for(lambda: daemon.log_text().count("is up") > before, timeout=60, what="dockyard dev to come up")
    return daemon


def cli(address: str, creds: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        dockyard_cmd(*args), capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
        env={**os.environ, "DOCKYARD_ADDR": address, "DOCKYARD_CREDENTIALS": str(creds)},
    )


def test_dev_cluster_runs_jobs_and_survives_a_restart(docker_ready: None, tmp_path: Path) -> None:
    ports = (free_port(), free_port(), free_port())
    address = f"127.0.0.1:{ports[0]}"
    creds = tmp_path / "creds"
    dev = start_dev(tmp_path, ports, creds)
    try:
        assert (creds / "node.pem").exists()  # the admin credential is installed where the CLI looks
        assert "dockyard dev cluster" in dev.log_text().lower()
        nodes = json.loads(cli(address, creds, "-o", "json", "node", "ls").stdout)
        assert len(nodes) == 1 and nodes[0]["node"]["state"] == "NODE_STATE_READY"

        job = tmp_path / "ticker.yaml"
        job.write_text(
            "name: ticker\nreplicas: 1\ntask:\n  image: dockyard-test/busybox:1\n"
            '  command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]\n'
            "  stop_grace_period: 1s\n"
        )
        run = cli(address, creds, "job", "run", str(job), "--timeout", "60")
        assert run.returncode == 0, run.stderr

        # logs -f streams new lines as they come.
        follow = subprocess.Popen(
            dockyard_cmd("--manager", address, "--credentials", str(creds), "logs", "-f", "ticker"),
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )
        try:
            assert follow.stdout is not None
            lines = [follow.stdout.readline() for _ in range(8)]
        finally:
            follow.kill()
            follow.wait(timeout=10)
        assert all(line.startswith("ticker.1@") and "tick" in line for line in lines)
        ticks = [int(line.rsplit(" ", 1)[1]) for line in lines]
        assert ticks == sorted(ticks) and ticks[-1] >= 7

        # Health and reflection, over the same mutual TLS as everything else.
        ident = NodeIdentity.load(creds)
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(ident.ca_pem, ident.key_pem, ident.cert_pem))
        try:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="dockyard.v1.Control"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            reply = next(iter(reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )))
            services = {s.name for s in reply.list_services_response.service}
            assert {"dockyard.v1.Control", "dockyard.v1.Dispatcher", "grpc.health.v1.Health"} <= services
        finally:
            channel.close()

        (container,) = run_containers(**{"dockyard.job-name": "ticker"})
        dev.kill(signal.SIGTERM)
        dev = start_dev(tmp_path, ports, creds)
        jobs = json.loads(cli(address, creds, "-o", "json", "job", "ls").stdout)
        assert [j["job"]["spec"]["name"] for j in jobs] == ["ticker"]
        time.sleep(1)
        # The same container kept running: the restarted agent adopted it.
        assert [c.id for c in run_containers(**{"dockyard.job-name": "ticker"})] == [container.id]
        assert cli(address, creds, "job", "stop", "ticker").returncode == 0
        wait_for(lambda: not run_containers(all=True, **{"dockyard.job-name": "ticker"}), timeout=30, what="cleanup")
    finally:
        dev.stop()
