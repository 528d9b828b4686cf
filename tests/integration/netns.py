"""Hosts as network namespaces on one machine, for tests where addresses and
partitions matter (DESIGN.md section 8).

`NetLab` makes namespaces joined by a Linux bridge through veth pairs, with
addresses from a private /24 that exist only inside those namespaces (the
host namespace gets no address). A Docker host's FORWARD policy is DROP and
bridged frames go through iptables, so the lab inserts
`iptables -I FORWARD -i BRIDGE -o BRIDGE -j ACCEPT` and deletes it on close.
Partitions are iptables DROP rules inside a namespace; they vanish with it.

The test process stays in the host namespace and cannot reach those
addresses, so it talks to the managers through `ClientProxy`: this module run
as `python -m tests.integration.netns proxy` inside a client namespace, which
serves requests (JSON lines, one thread per request) with the Python client.

`NetCluster` starts managers inside namespaces with the same commands and
flags as tests/cluster.py (`dockyard_cmd`, `Daemon`), prefixed with
`ip netns exec NS`; that exec keeps the pid, so SIGKILL / SIGSTOP of the
recorded pid reach the manager itself.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.cluster import REPO, Daemon, ManagerProc, dockyard_cmd, wait_for


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc


def unavailable_reason() -> str | None:
    """Why this machine cannot run a netns lab, or None if it can: checked by
    doing it (a probe namespace, bridge and veth, an iptables rule)."""
    if os.geteuid() != 0:
        return f"network namespaces and iptables need root (euid is {os.geteuid()})"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    tag = "dyp" + uuid.uuid4().hex[:6]
    steps = [
        ("ip", "netns", "add", tag),
        ("ip", "link", "add", tag + "b", "type", "bridge"),
        ("ip", "link", "add", tag + "v", "type", "veth", "peer", "name", tag + "p"),
        ("ip", "link", "set", tag + "p", "netns", tag),
        ("ip", "netns", "exec", tag, "iptables", "-A", "INPUT", "-s", "10.0.0.1", "-j", "DROP"),
        ("iptables", "-C", "FORWARD", "-i", tag + "b", "-o", tag + "b", "-j", "ACCEPT"),
    ]
    try:
        for argv in steps:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            # `iptables -C` exits 1 when the rule is absent: that proves iptables works.
            if proc.returncode != 0 and not (argv[0] == "iptables" and proc.returncode == 1):
                return f"`{' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()}"
        return None
    finally:
        _run("ip", "link", "del", tag + "v", check=False)
        _run("ip", "link", "del", tag + "b", check=False)
        _run("ip", "netns", "del", tag, check=False)


@dataclass
class NetLab:
    """Namespaces on a bridge. Use as a context manager: everything it made
    (namespaces, veths, bridge, the FORWARD rule) is removed on exit, also
    after a failure."""

    tag: str = field(default_factory=lambda: "dy" + uuid.uuid4().hex[:6])
    # A /24 in 10.0.0.0/8 picked at random so two labs on one machine do not
    # collide; it lives only inside this lab's namespaces.
    subnet: str = field(default_factory=lambda: f"10.{random.randint(100, 250)}.{random.randint(1, 254)}")
    hosts: dict[str, str] = field(default_factory=dict)  # host name -> IP
    _forward_rule: list[str] = field(default_factory=list)
    _count: int = 0

    @property
    def bridge(self) -> str:
        return self.tag + "br"

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def __enter__(self) -> NetLab:  # noqa: PYI034 - a dataclass, not meant to be subclassed
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "link", "set", self.bridge, "up")
            self._forward_rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
            _run("iptables", "-I", *self._forward_rule)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_host(self, host: str) -> str:
        """A namespace with one interface (eth0) on the bridge; returns its IP."""
        self._count += 1
        ns, outside = self.ns(host), f"{self.tag}v{self._count}"
        ip = f"{self.subnet}.{10 + self._count}"
        _run("ip", "netns", "add", ns)
        self.hosts[host] = ip
        _run("ip", "link", "add", outside, "type", "veth", "peer", "name", outside + "p")
        _run("ip", "link", "set", outside, "master", self.bridge)
        _run("ip", "link", "set", outside, "up")
        _run("ip", "link", "set", outside + "p", "netns", ns)
        _run("ip", "-n", ns, "link", "set", outside + "p", "name", "eth0")
        _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        return ip

    def exec_prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host)]

    def isolate(self, host: str, from_hosts: list[str]) -> None:
        """Drop every packet between `host` and `from_hosts` (both ways), in
        `host`'s namespace; other hosts still reach it."""
        for other in from_hosts:
            ip = self.hosts[other]
            _run(*self.exec_prefix(host), "iptables", "-I", "INPUT", "-s", ip, "-j", "DROP")
            _run(*self.exec_prefix(host), "iptables", "-I", "OUTPUT", "-d", ip, "-j", "DROP")

    def heal(self, host: str) -> None:
        _run(*self.exec_prefix(host), "iptables", "-F", "INPUT")
        _run(*self.exec_prefix(host), "iptables", "-F", "OUTPUT")

    def close(self) -> None:
        if self._forward_rule:
            _run("iptables", "-D", *self._forward_rule, check=False)
            self._forward_rule = []
        for host in list(self.hosts):
            # Deleting the namespace deletes its end of the veth, and with it the pair.
            _run("ip", "netns", "del", self.ns(host), check=False)
            del self.hosts[host]
        for i in range(1, self._count + 1):
            _run("ip", "link", "del", f"{self.tag}v{i}", check=False)
        _run("ip", "link", "del", self.bridge, check=False)


# -- a client inside a namespace ------------------------------------------------


class ProxyError(Exception):
    """A request that failed in the proxy: `code` is the gRPC status name
    (UNAVAILABLE, DEADLINE_EXCEEDED, ...) or the exception's class name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ClientProxy:
    """Python-client calls executed by a process inside a namespace."""

    def __init__(self, prefix: list[str], credentials: Path, log_path: Path) -> None:
        argv = [*prefix, sys.executable, "-m", "tests.integration.netns", "proxy", "--credentials", str(credentials)]
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO, start_new_session=True
        )
        log.close()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            fut = self._pending.pop(msg["id"], None)
            if fut is None:
                continue
            if msg.get("ok"):
                fut.set_result(msg.get("result"))
            else:
                fut.set_exception(ProxyError(msg.get("code", "?"), msg.get("message", "")))
        for fut in list(self._pending.values()):
            fut.set_exception(ProxyError("PROXY_EXITED", "the proxy process exited"))

    def call(self, op: str, address: str, timeout: float = 10.0, **args: Any) -> Any:
        fut: Future[Any] = Future()
        with self._lock:
            rid = next(self._ids)
            self._pending[rid] = fut
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps({"id": rid, "op": op, "address": address, "timeout": timeout, **args}) + "\n").encode())
            self.proc.stdin.flush()
        return fut.result(timeout=timeout + 30)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _serve(credentials: str, stdin: IO[str], stdout: IO[str]) -> None:
    """The proxy's side: one Client per address, one thread per request."""
    from dockyard.api.v1 import control_pb2 as cpb
    from dockyard.api.v1 import objects_pb2 as pb
    from dockyard.client import Client
    from dockyard.errors import DockyardError

    clients: dict[str, Client] = {}
    lock = threading.Lock()

    def client(address: str) -> Client:
        with lock:
            if address not in clients:
                clients[address] = Client(address, credentials, timeout=10)
            return clients[address]

    def handle(req: dict[str, Any]) -> None:
        out: dict[str, Any] = {"id": req["id"]}
        c = client(req["address"])
        t = float(req["timeout"])
        try:
            op = req["op"]
            if op == "run_job":
                spec = pb.JobSpec(name=req["name"], replicas=0, task=pb.TaskSpec(image="dockyard-test/busybox:1"))
                c._call(c._stub.RunJob, cpb.RunJobRequest(spec=spec), timeout=t)
                result: Any = True
            elif op == "cluster_info":
                info = c._call(c._stub.ClusterInfo, cpb.ClusterInfoRequest(), timeout=t)
                result = {
                    "leader": info.leader, "term": info.raft_term, "commit": info.raft_commit_index,
                    "leader_address": info.leader_address, "manager_id": info.manager_id,
                }
            elif op == "job_names":
                result = sorted(j.job.spec.name for j in c.list_jobs())
            elif op == "manager_token":
                result = c.list_tokens().manager
            elif op == "managers":
                result = [
                    {"raft": m.manager.raft_address, "api": m.manager.api_address, "reachable": m.reachable, "leader": m.leader}
                    for m in c.list_managers()
                ]
            else:
                raise ValueError(f"unknown op {op!r}")
            out.update(ok=True, result=result)
        except DockyardError as e:
            out.update(ok=False, code=e.code, message=str(e))
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            out.update(ok=False, code=type(e).__name__, message=str(e))
        with lock:
            stdout.write(json.dumps(out) + "\n")
            stdout.flush()

    for line in stdin:
        if line.strip():
            threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()


# -- managers inside namespaces --------------------------------------------------


@dataclass
class NetManager(ManagerProc):
    host: str = ""  # its network namespace's address


@dataclass
class NetCluster:
    """Managers, each in its own namespace, and a client namespace. Ports are
    fixed: every manager has its own IP."""

    lab: NetLab
    root: Path
    heartbeat_period: float = 1.0
    managers: list[NetManager] = field(default_factory=list)
    proxy: ClientProxy | None = None

    def _new_manager(self, n: int, verb: list[str]) -> NetManager:
        host = f"m{n}"
        ip = self.lab.add_host(host)
        mdir = self.root / f"manager-{n}"
        address, raft, join = f"{ip}:7460", f"{ip}:7461", f"{ip}:7462"
        argv = self.lab.exec_prefix(host) + dockyard_cmd(
            "manager", *verb, "--data-dir", str(mdir), "--listen", address, "--raft-addr", raft,
            "--join-listen", join, "--name", f"manager-{n}",
        )
        if verb[0] == "init":  # the heartbeat period is cluster-wide: init seeds it
            argv += ["--heartbeat-period", str(self.heartbeat_period)]
        m = NetManager(Daemon(f"manager-{n}", argv, self.root / f"manager-{n}.log"), mdir, address, raft, join, host=host)
        self.managers.append(m)
        m.daemon.start()
        return m

    def start(self, managers: int = 3) -> None:
        first = self._new_manager(1, ["init"])
        wait_for(lambda: (first.data_dir / "admin" / "node.pem").exists(), timeout=30, what="the admin credential")
        self.lab.add_host("client")
        self.proxy = ClientProxy(self.lab.exec_prefix("client"), first.data_dir / "admin", self.root / "proxy.log")
        wait_for(lambda: self.info(0)["leader"], timeout=30, what="manager-1 to lead")
        # A new leader replicates the cluster's CA and tokens just after it wins.
        wait_for(lambda: self.call("manager_token", first.address), timeout=30, what="the cluster's security settings")
        for n in range(2, managers + 1):
            token = self.call("manager_token", first.address)
            m = self._new_manager(n, ["join", "--join", first.join_addr, "--token", token])

            def member(m: NetManager = m) -> bool:
                return any(x["raft"] == m.raft_addr and x["reachable"] for x in self.call("managers", first.address))

            wait_for(member, timeout=60, what=f"{m.daemon.name} to join")

    def call(self, op: str, address: str, timeout: float = 10.0, **args: Any) -> Any:
        assert self.proxy is not None
        return self.proxy.call(op, address, timeout=timeout, **args)

    def info(self, index: int, timeout: float = 3.0) -> dict[str, Any]:
        return dict(self.call("cluster_info", self.managers[index].address, timeout=timeout))

    def leader_index(self, exclude: tuple[int, ...] = ()) -> int | None:
        for i in range(len(self.managers)):
            if i in exclude:
                continue
            with contextlib.suppress(ProxyError):
                if self.info(i)["leader"]:
                    return i
        return None

    def stop(self) -> None:
        for m in self.managers:
            with contextlib.suppress(ProcessLookupError):
                m.daemon.kill(signal.SIGCONT)
            m.daemon.stop()
        if self.proxy is not None:
            self.proxy.close()

    def logs(self) -> str:
        return "\n----\n".join(f"[{m.daemon.name}]\n" + m.daemon.log_text()[-4000:] for m in self.managers)


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.integration.netns")
    sub = parser.add_subparsers(dest="command", required=True)
    proxy = sub.add_parser("proxy", help="serve Python-client calls as JSON lines on stdin/stdout")
    proxy.add_argument("--credentials", required=True)
    args = parser.parse_args(argv)
    if args.command == "proxy":
        _serve(args.credentials, sys.stdin, sys.stdout)
    # Request threads may still be writing: leave without waiting for them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
