"""Starting Dockyard clusters for tests: the one place that does it.

Every process is started by pid and stopped by that pid; every container a
test cluster creates carries the label `dockyard.test-run=<RUN_ID>` so the
suite removes exactly what it made and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dockyard.client import Client

RUN_ID = os.environ.get("DOCKYARD_TEST_RUN") or uuid.uuid4().hex[:12]
RUN_LABEL = f"dockyard.test-run={RUN_ID}"
TEST_IMAGE = "dockyard-test/busybox:1"
REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


_used_ports: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768-60999 here), so a
    daemon restarted on the same port does not find it taken by some
    outgoing connection's ephemeral port meanwhile."""
    import random

    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port in _used_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port in 20000-32000")


def wait_for(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll until `check` returns something truthy; its last exception (or
    value) is in the failure message."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as e:  # noqa: BLE001 - polled conditions may fail while converging
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def dockyard_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dockyard.cli", *args]


def run_cli(
    *args: str, address: str, credentials: Path, check: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        dockyard_cmd("--manager", address, "--credentials", str(credentials), *args),
        capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


@dataclass
class Daemon:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        log.close()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class ManagerProc:
    daemon: Daemon
    data_dir: Path
    address: str
    raft_addr: str
    join_addr: str


@dataclass
class Cluster:
    """Managers and agents as separate processes on loopback, secured as in
    production (certificates, tokens, mutual TLS)."""

    root: Path
    runtime: str = "docker"
    heartbeat_period: float = 5.0
    cert_lifetime: str = "2160h"
    cert_check_period: float = 60.0
    # Extra `manager init` options, e.g. ["--queue-order", "drf"].
    manager_args: list[str] = field(default_factory=list)
    managers: list[ManagerProc] = field(default_factory=list)
    agents: list[Daemon] = field(default_factory=list)
    _client: Client | None = None
    _address: str = ""

    @property
    def credentials(self) -> Path:
        return self.managers[0].data_dir / "admin"

    @property
    def address(self) -> str:
        return self._address or self.managers[0].address

    @address.setter
    def address(self, value: str) -> None:
        self._address = value
        self.reset_client()

    @property
    def manager(self) -> Daemon | None:
        return self.managers[0].daemon if self.managers else None

    def _manager_flags(self) -> list[str]:
        return ["--cert-check-period", str(self.cert_check_period)]

    def start_manager(self, init: bool = True) -> None:
        """Create the cluster (init) or restart the first manager."""
        if init:
            self.init_manager()
        else:
            self.restart_manager(0)

    def init_manager(self) -> ManagerProc:
        mdir = self.root / "manager-1"
        address, raft, join = (f"127.0.0.1:{free_port()}" for _ in range(3))
        argv = dockyard_cmd(
            "manager", "init", "--data-dir", str(mdir), "--listen", address, "--raft-addr", raft,
            "--join-listen", join, "--name", "manager-1", "--cert-lifetime", self.cert_lifetime,
        ) + self._manager_flags() + ["--heartbeat-period", str(self.heartbeat_period)] + self.manager_args
        proc = ManagerProc(Daemon("manager-1", argv, self.root / "manager-1.log"), mdir, address, raft, join)
        self.managers.append(proc)
        proc.daemon.start()
        wait_for(lambda: (mdir / "admin" / "node.pem").exists(), timeout=30, what="the admin credential")
        wait_for(lambda: self.client.cluster_info().leader, timeout=30, what="the manager to lead")
        wait_for(lambda: self.client.list_tokens().agent, timeout=30, what="the cluster's security settings")
        return proc

    def join_manager(self) -> ManagerProc:
        n = len(self.managers) + 1
        mdir = self.root / f"manager-{n}"
        address, raft, join = (f"127.0.0.1:{free_port()}" for _ in range(3))
        argv = dockyard_cmd(
            "manager", "join", "--data-dir", str(mdir), "--join", self.managers[0].join_addr,
            "--token", self.client.list_tokens().manager, "--listen", address, "--raft-addr", raft,
            "--join-listen", join, "--name", f"manager-{n}",
        ) + self._manager_flags()
        proc = ManagerProc(Daemon(f"manager-{n}", argv, self.root / f"manager-{n}.log"), mdir, address, raft, join)
        self.managers.append(proc)
        proc.daemon.start()

        def member() -> bool:
            return any(m.manager.raft_address == raft and m.reachable for m in self.client.list_managers())

        wait_for(member, timeout=60, what=f"manager-{n} to join")
        return proc

    def restart_manager(self, index: int) -> None:
        proc = self.managers[index]
        argv = dockyard_cmd("manager", "start", "--data-dir", str(proc.data_dir)) + self._manager_flags()
        proc.daemon = Daemon(proc.daemon.name, argv, proc.daemon.log_path)
        proc.daemon.start()

    def leader_index(self) -> int | None:
        for i, m in enumerate(self.managers):
            if m.daemon.proc is None or m.daemon.proc.poll() is not None:
                continue
            try:
                with Client(m.address, self.credentials, timeout=2) as c:
                    if c.cluster_info().leader:
                        return i
            except Exception:  # noqa: BLE001, S112 - a manager may be down or electing
                continue
        return None

    def client_for(self, index: int, timeout: float = 10) -> Client:
        return Client(self.managers[index].address, self.credentials, timeout=timeout)

    def add_agent(self, name: str, labels: dict[str, str] | None = None, extra: list[str] | None = None) -> Daemon:
        argv = dockyard_cmd(
            "agent", "--data-dir", str(self.root / f"agent-{name}"), "--join", self.managers[0].join_addr,
            "--token", self.client.list_tokens().agent, "--name", name,
            "--runtime", self.runtime, "--container-label", RUN_LABEL,
            "--cert-check-period", str(self.cert_check_period),
        )
        for k, v in (labels or {}).items():
            argv += ["--label", f"{k}={v}"]
        argv += extra or []
        agent = Daemon(f"agent-{name}", argv, self.root / f"agent-{name}.log")
        agent.start()
        self.agents.append(agent)
        self.wait_node_ready(name)
        return agent

    def wait_node_ready(self, name: str, timeout: float = 30) -> None:
        def ready() -> bool:
            return any(n.node.name == name and n.node.state == 20 for n in self.client.list_nodes())

        wait_for(ready, timeout=timeout, what=f"node {name} to be ready")

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.address, self.credentials, timeout=10)
        return self._client

    def reset_client(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def cli(self, *args: str, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, address=self.address, credentials=self.credentials, check=check, timeout=timeout)

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        for m in self.managers:
            m.daemon.stop()
        self.reset_client()

    def logs(self) -> str:
        daemons = [m.daemon for m in self.managers] + self.agents
        return "\n----\n".join(f"[{d.name}]\n" + d.log_text()[-4000:] for d in daemons)


@contextlib.contextmanager
def cluster(
    root: Path, agents: int = 1, runtime: str = "docker", heartbeat_period: float = 5.0, managers: int = 1, **options: Any
) -> Iterator[Cluster]:
    c = Cluster(root, runtime=runtime, heartbeat_period=heartbeat_period, **options)
    try:
        c.init_manager()
        for _ in range(managers - 1):
            c.join_manager()
        for i in range(agents):
            c.add_agent(f"node{i + 1}")
        yield c
    except BaseException:
        sys.stderr.write("\n=== cluster logs ===\n" + c.logs() + "\n")
        raise
    finally:
        c.stop()


# -- Docker helpers -------------------------------------------------------------


def docker_client() -> Any:
    import docker

    return docker.from_env()


def run_containers(all: bool = False, **labels: str) -> list[Any]:
    filters = [RUN_LABEL] + [f"{k}={v}" for k, v in labels.items()]
    return docker_client().containers.list(all=all, filters={"label": filters})


def remove_run_containers() -> None:
    for c in docker_client().containers.list(all=True, filters={"label": RUN_LABEL}):
        with contextlib.suppress(Exception):
            c.remove(force=True)


def ensure_test_image() -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "build-test-image.sh")], check=True, capture_output=True)
