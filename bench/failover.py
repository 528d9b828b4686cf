"""Manager cluster figures: failover time, API write latency and throughput,
idle cost of a manager. Three managers as separate processes on loopback,
secured as in production (tests/cluster.py starts them).

    python -m bench.failover [--trials 20] [--settle 5] [--seconds 10] [--idle-seconds 30] [--only failover,writes,idle] [--record]

(a) Failover: SIGKILL the leader, then write (RunJob of a new job) to the
    survivors, moving to the other one after each error, until a write is
    acknowledged; the time from the kill to that acknowledgement. The killed
    manager is restarted (and caught up) between trials, and each kill comes
    after --settle seconds without writes, as in a cluster that has been
    running a while. Goal: p95 <= 2 s.
(b) Writes: job updates (RunJob of an existing job with a changed spec, zero
    replicas so nothing else follows from it) sent to the leader by 1 and by
    16 concurrent clients (grpc.aio coroutines, one channel each, in one
    process), for --seconds each; latency p50/p95, updates/s and the
    leader's CPU per update. The same with 16 clients through a follower
    (which forwards to the leader). Each row is run --write-runs times (the
    speed of this shared machine drifts by +-15% from minute to minute); the
    table gives the median run and the range. Baseline, in the same run: the
    same clients against a bare gRPC server (same TLS, same options, a
    handler that only echoes the spec): what one unary RPC costs here before
    Dockyard does anything. Goal: p50 <= 5 ms, >= 2,000 updates/s with 16
    clients.
(c) Idle: 10 fake agents connected (default heartbeat period, 5 s); RSS and
    CPU of each manager over --idle-seconds, read with psutil. Goal:
    <= 150 MB and <= 2 % of a core.

`--record` appends the figures to bench/RESULTS.md with the machine, date
and command.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import grpc
import psutil

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.client import load_credentials
from dockyard.errors import DockyardError
from dockyard.grpcutil import CHANNEL_OPTIONS, SERVER_OPTIONS
from dockyard.pki import CertificateAuthority, NodeIdentity, Role
from tests.cluster import Cluster, cluster, free_port, wait_for

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spec(name: str, generation: int = 0) -> pb.JobSpec:
    return pb.JobSpec(
        name=name, replicas=0, task=pb.TaskSpec(image="dockyard-test/busybox:1", env={"GENERATION": str(generation)})
    )


def stable_leader(c: Cluster, timeout: float = 60) -> int:
    """Wait until all managers answer, one leads, and all share its term and
    commit index (the restarted one has caught up)."""

    def check() -> tuple[int] | None:
        infos = []
        for i in range(len(c.managers)):
            with c.client_for(i, timeout=2) as client:
                infos.append(client.cluster_info())
        leaders = [i for i, x in enumerate(infos) if x.leader]
        if len(leaders) == 1 and len({x.raft_term for x in infos}) == 1 and len({x.raft_commit_index for x in infos}) == 1:
            return (leaders[0],)
        return None

    return wait_for(check, timeout=timeout, interval=0.1, what="a stable leader")[0]


# -- (a) failover -------------------------------------------------------------------


def failover_trials(c: Cluster, trials: int, settle: float, log: Callable[[str], None]) -> list[float]:
    """`settle` seconds pass between the last write and the kill: a cluster
    that has run for a while has Raft links between followers that carried
    nothing for longer than pysyncobj's connection timeout (3.5 s), and the
    first message on such a link finds it stale."""
    times: list[float] = []
    for n in range(trials):
        leader = stable_leader(c)
        survivors = [i for i in range(3) if i != leader]
        clients = {i: c.client_for(i, timeout=5) for i in survivors}
        clients[survivors[0]].run_job(spec(f"warm-{n}"))  # channels are connected before the kill
        clients[survivors[1]].run_job(spec(f"warm2-{n}"))
        time.sleep(settle)
        t_kill = time.perf_counter()
        c.managers[leader].daemon.kill(signal.SIGKILL)
        k, errors = 0, 0
        while True:
            target = survivors[k % 2]
            try:
                clients[target].run_job(spec(f"after-kill-{n}-{errors}"))
                break
            except DockyardError:
                errors += 1
                k += 1
                time.sleep(0.005)
        elapsed = time.perf_counter() - t_kill
        times.append(elapsed)
        log(f"  trial {n + 1:2d}: {elapsed:.3f} s (manager-{leader + 1} killed, {errors} failed writes before)")
        for client in clients.values():
            client.close()
        c.restart_manager(leader)
    stable_leader(c)
    return times


# -- (b) writes ---------------------------------------------------------------------------


async def write_load(address: str, credentials: Path | NodeIdentity, clients: int, seconds: float) -> tuple[list[float], int, int]:
    ident = credentials if isinstance(credentials, NodeIdentity) else load_credentials(credentials)
    creds = grpc.ssl_channel_credentials(ident.ca_pem, ident.key_pem, ident.cert_pem)
    channels = [grpc.aio.secure_channel(address, creds, options=list(CHANNEL_OPTIONS)) for _ in range(clients)]
    stubs = [cgrpc.ControlStub(ch) for ch in channels]
    names = [f"load-{os.getpid()}-{clients}-{i}-{time.monotonic_ns()}" for i in range(clients)]
    for stub, name in zip(stubs, names, strict=True):
        await stub.RunJob(cpb.RunJobRequest(spec=spec(name)), timeout=10)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one(stub: cgrpc.ControlStub, name: str) -> None:
        nonlocal errors
        generation = 0
        while time.perf_counter() < deadline:
            generation += 1
            t0 = time.perf_counter()
            try:
                await stub.RunJob(cpb.RunJobRequest(spec=spec(name, generation)), timeout=10)
                latencies.append(time.perf_counter() - t0)
            except grpc.aio.AioRpcError:
                errors += 1

    t_start = time.perf_counter()
    await asyncio.gather(*(one(s, n) for s, n in zip(stubs, names, strict=True)))
    wall = time.perf_counter() - t_start
    for ch in channels:
        await ch.close()
    return latencies, errors, round(len(latencies) / wall)


class _EchoControl(cgrpc.ControlServicer):
    """The baseline: RunJob that only echoes the spec back."""

    async def RunJob(self, request: cpb.RunJobRequest, context: grpc.aio.ServicerContext) -> cpb.RunJobResponse:
        return cpb.RunJobResponse(job=pb.Job(spec=request.spec), changed=True)


def _echo_server(port: int, key_pem: bytes, cert_pem: bytes, ca_pem: bytes) -> None:
    import uvloop

    async def serve() -> None:
        server = grpc.aio.server(options=list(SERVER_OPTIONS))
        cgrpc.add_ControlServicer_to_server(_EchoControl(), server)
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=True)
        server.add_secure_port(f"127.0.0.1:{port}", creds)
        await server.start()
        await server.wait_for_termination()

    uvloop.run(serve())


class EchoBaseline:
    """A bare gRPC server (mutual TLS with a throwaway CA) in its own process."""

    def __enter__(self) -> Self:
        ca = CertificateAuthority.create("bench-echo")
        server_key, server_csr = NodeIdentity.generate_key_and_csr()
        server_cert = ca.issue(server_csr, "echo-server", Role.MANAGER)
        client_key, client_csr = NodeIdentity.generate_key_and_csr()
        self.client = NodeIdentity(
            cert_pem=ca.issue(client_csr, "echo-client", Role.ADMIN), key_pem=client_key, ca_pem=ca.cert_pem
        )
        self.port = free_port()
        ctx = multiprocessing.get_context("spawn")
        self.proc = ctx.Process(target=_echo_server, args=(self.port, server_key, server_cert, ca.cert_pem), daemon=True)
        self.proc.start()
        self.address = f"127.0.0.1:{self.port}"
        wait_for(lambda: _port_open(self.port), timeout=30, what="the echo server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.join(5)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def write_rows(
    targets: list[tuple[str, str, int, Path | NodeIdentity, int]], runs: int, seconds: float, log: Callable[[str], None]
) -> list[tuple[str, float, float, int, int, int, float, int]]:
    """Each target (label, address, clients, credentials, server pid) `runs`
    times, interleaved so that a drift of the machine's speed hits every row
    alike. Per row: the median run's p50, p95, rate and server CPU per
    update, the range of rates, and the errors of all runs."""
    results: dict[str, list[tuple[float, float, int, float]]] = {t[0]: [] for t in targets}
    errors: dict[str, int] = {t[0]: 0 for t in targets}
    for run in range(runs):
        for label, address, n, credentials, pid in targets:
            proc = psutil.Process(pid)
            before = proc.cpu_times()
            lat, failed, rate = asyncio.run(write_load(address, credentials, n, seconds))
            after = proc.cpu_times()
            cpu_us = (after.user + after.system - before.user - before.system) / max(len(lat), 1) * 1e6
            ms = [x * 1000 for x in lat]
            p50, p95 = statistics.median(ms), pct(ms, 0.95)
            results[label].append((p50, p95, rate, cpu_us))
            errors[label] += failed
            log(f"  run {run + 1} {label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, {rate} updates/s, "
                f"server CPU {cpu_us:.0f} us/update, {failed} errors")
    rows = []
    for label, *_ in targets:
        by_rate = sorted(results[label], key=lambda r: r[2])
        p50, p95, rate, cpu_us = by_rate[len(by_rate) // 2]
        rows.append((label, p50, p95, rate, by_rate[0][2], by_rate[-1][2], cpu_us, errors[label]))
    return rows


# -- (c) idle -----------------------------------------------------------------------------


def idle_cost(c: Cluster, seconds: float) -> list[tuple[str, bool, float, float]]:
    leader = stable_leader(c)
    procs = [psutil.Process(m.daemon.proc.pid) for m in c.managers if m.daemon.proc is not None]
    before = [p.cpu_times() for p in procs]
    time.sleep(seconds)
    after = [p.cpu_times() for p in procs]
    out = []
    for i, (p, b, a) in enumerate(zip(procs, before, after, strict=True)):
        cpu = (a.user + a.system - b.user - b.system) / seconds * 100
        out.append((c.managers[i].daemon.name, i == leader, p.memory_info().rss / 2**20, cpu))
    return out


def machine() -> str:
    la = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; load average {la} at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of calm before each kill")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each write-load run")
    parser.add_argument("--write-runs", type=int, default=3, help="runs of each write-load row")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--only", default="failover,writes,idle")
    parser.add_argument("--record", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="dockyard-bench-failover-") as tmp:
        root = Path(tmp)
        if parts & {"failover", "writes"}:
            (root / "a").mkdir()
            with cluster(root / "a", agents=0, managers=3, runtime="fake", heartbeat_period=5.0) as c:
                if "writes" in parts:
                    leader = stable_leader(c)
                    follower = (leader + 1) % 3
                    log(f"(b) job updates (RunJob, changed spec), {args.seconds:g} s each, {args.write_runs} runs")
                    with EchoBaseline() as echo:
                        lpid = c.managers[leader].daemon.proc.pid  # type: ignore[union-attr]
                        fpid = c.managers[follower].daemon.proc.pid  # type: ignore[union-attr]
                        targets: list[tuple[str, str, int, Path | NodeIdentity, int]] = [
                            ("1 client -> leader", c.managers[leader].address, 1, c.credentials, lpid),
                            ("16 clients -> leader", c.managers[leader].address, 16, c.credentials, lpid),
                            ("16 clients -> follower", c.managers[follower].address, 16, c.credentials, fpid),
                            ("baseline: 16 clients -> bare gRPC echo", echo.address, 16, echo.client, echo.proc.pid),
                        ]
                        rows = write_rows(targets, args.write_runs, args.seconds, log)
                    for r in rows:
                        log(f"  {r[0]}: median run p50 {r[1]:.2f} ms, {r[3]} updates/s (range {r[4]}-{r[5]})")
                    lines += [
                        (f"Job updates (RunJob with a changed spec, 0 replicas) for {args.seconds:g} s per run, "
                         f"{args.write_runs} runs per row interleaved; the median run's figures and the range of rates. "
                         "Clients are grpc.aio coroutines with a channel each, in one process on the same 2 cores. "
                         "Server CPU is the CPU time of the manager the clients talk to (or of the echo server), per update. "
                         "Goal: p50 <= 5 ms, >= 2,000 updates/s at 16 clients."),
                        "",
                        "| clients | p50 ms | p95 ms | updates/s (median run) | range | server CPU us/update | errors (all runs) |",
                        "|---|---:|---:|---:|---:|---:|---:|",
                        *(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:,} | {r[4]:,}-{r[5]:,} | {r[6]:.0f} | {r[7]} |"
                          for r in rows),
                        "",
                    ]
                if "failover" in parts:
                    log(f"(a) failover: SIGKILL leader -> first acknowledged write, {args.trials} trials, "
                        f"{args.settle:g} s calm before each kill")
                    times = failover_trials(c, args.trials, args.settle, log)
                    p50, p95 = statistics.median(times), pct(times, 0.95)
                    log(f"  p50 {p50:.3f} s, p95 {p95:.3f} s, max {max(times):.3f} s")
                    lines += [
                        (f"Leader failover (SIGKILL of the leader -> first write acknowledged by a survivor), {len(times)} trials, "
                         f"{args.settle:g} s without writes before each kill: "
                        f"p50 {p50:.2f} s, p95 {p95:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s. Goal: p95 <= 2 s."),
                        "",
                    ]
        if "idle" in parts:
            (root / "c").mkdir()
            with cluster(root / "c", agents=10, managers=3, runtime="fake") as c:
                log(f"(c) idle: 3 managers, 10 fake agents, default heartbeat (5 s), {args.idle_seconds:g} s")
                rows_c = idle_cost(c, args.idle_seconds)
                for name, lead, rss, cpu in rows_c:
                    log(f"  {name}{' (leader)' if lead else ''}: RSS {rss:.0f} MiB, CPU {cpu:.2f} % of a core")
                lines += [
                    (f"Idle managers with 10 fake agents connected (heartbeat 5 s), over {args.idle_seconds:g} s (psutil). "
                    "Goal: <= 150 MB and <= 2 % of a core."),
                    "",
                    "| manager | RSS MiB | CPU % of a core |",
                    "|---|---:|---:|",
                    *(f"| {n}{' (leader)' if lead else ''} | {rss:.0f} | {cpu:.2f} |" for n, lead, rss, cpu in rows_c),
                    "",
                ]
    if args.record:
        command = "python -m bench.failover " + " ".join(argv if argv is not None else sys.argv[1:])
        header = [
            f"## Manager failover, writes and idle cost ({time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())})",
            "",
            f"Machine: {machine()}. Command: `{command.strip()}`. Three managers on loopback with mutual TLS.",
            "",
        ]
        with RESULTS.open("a") as f:
            f.write("\n" + "\n".join(header + lines))
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
