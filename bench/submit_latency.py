"""Submit-to-running latency of Dockyard against bare `docker run -d`, in one run.

    python -m bench.submit_latency [--runs 20] [--replicas 20] [--record]

1. One task: time from `RunJob` until the task is reported running, against
   the time a bare `docker run -d` (docker SDK: create + start) of the same
   image takes until the container is running. p50 / p95 over --runs each,
   interleaved so both see the same machine.
2. A 20-replica job until all 20 run, against 20 `docker run -d` started all
   at once (one thread each), --rounds times each.

Goals (issue 2): Dockyard adds <= 60 ms at p50; 20 replicas converge in
<= 1.3 x the all-at-once time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from dockyard.api.v1 import objects_pb2 as pb
from tests.cluster import (
    RUN_LABEL,
    TEST_IMAGE,
    cluster,
    docker_client,
    ensure_test_image,
    remove_run_containers,
    wait_for,
)

COMMAND = ["httpd", "-f", "-p", "8080", "-h", "/var/www"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def bare_run(n: int) -> float:
    """n containers started at once (one thread each); seconds until all run."""
    client = docker_client()
    key, val = RUN_LABEL.split("=")
    ids: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        c = client.containers.run(
            TEST_IMAGE, COMMAND, detach=True, labels={key: val, "bench": "bare"},
            cap_drop=["NET_RAW"], security_opt=["no-new-privileges"], pids_limit=512,
            nano_cpus=100_000_000, mem_limit=32 << 20, ports={"8080/tcp": None},
        )
        with lock:
            ids.append(c.id)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # containers.run returns after start; confirm the engine says running.
    for cid in ids:
        while not client.api.inspect_container(cid)["State"]["Running"]:
            time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    for cid in ids:
        client.api.remove_container(cid, force=True)
    return elapsed


def job_spec(name: str, replicas: int) -> pb.JobSpec:
    return pb.JobSpec(
        name=name,
        replicas=replicas,
        task=pb.TaskSpec(
            image=TEST_IMAGE,
            command=COMMAND,
            resources=pb.Resources(cpu=0.1, memory=32 << 20),
            ports=[pb.PortSpec(container=8080)],
            stop_grace_period=1,
        ),
    )


def dockyard_run(c, replicas: int) -> float:  # type: ignore[no-untyped-def]
    name = f"bench-{uuid.uuid4().hex[:8]}"
    client = c.client
    t0 = time.perf_counter()
    client.run_job(job_spec(name, replicas))
    while True:
        tasks = client.list_tasks(job=name)
        if sum(1 for t in tasks if t.status.state == pb.TASK_STATE_RUNNING) == replicas:
            break
        # Polling costs the manager CPU that dockerd would otherwise get on
        # this 2-core machine; 5 ms keeps that small and the error under 5 ms.
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    client.stop_job(name)
    wait_for(
        lambda: not docker_client().containers.list(all=True, filters={"label": [RUN_LABEL, f"dockyard.job-name={name}"]}),
        timeout=60,
        what="bench containers removed",
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    ensure_test_image()
    single_bare: list[float] = []
    single_dy: list[float] = []
    many_bare: list[float] = []
    many_dy: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, cluster(Path(tmp), agents=1) as c:
            for _ in range(2):  # warm-up: image layers, page cache, gRPC channels
                bare_run(1)
                dockyard_run(c, 1)
            for _ in range(args.runs):
                single_bare.append(bare_run(1))
                single_dy.append(dockyard_run(c, 1))
            for _ in range(args.rounds):
                many_bare.append(bare_run(args.replicas))
                many_dy.append(dockyard_run(c, args.replicas))
    finally:
        remove_run_containers()

    ms = 1000.0
    b50, b95 = pct(single_bare, 0.5) * ms, pct(single_bare, 0.95) * ms
    d50, d95 = pct(single_dy, 0.5) * ms, pct(single_dy, 0.95) * ms
    mb, md = statistics.median(many_bare), statistics.median(many_dy)
    lines = [
        f"one task, {args.runs} runs each:",
        f"  bare docker run -d until running   p50 {b50:7.1f} ms   p95 {b95:7.1f} ms",
        f"  dockyard submit until running      p50 {d50:7.1f} ms   p95 {d95:7.1f} ms",
        f"  dockyard adds                      p50 {d50 - b50:7.1f} ms   p95 {d95 - b95:7.1f} ms   (goal p50 <= 60 ms)",
        f"{args.replicas} replicas, median of {args.rounds} rounds:",
        f"  {args.replicas} x docker run -d at once          {mb * ms:7.0f} ms",
        f"  dockyard {args.replicas}-replica job converged    {md * ms:7.0f} ms   ratio {md / mb:.2f} (goal <= 1.3)",
    ]
    print("\n".join(lines))
    if args.record:
        docker_version = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=False).stdout.strip()
        header = (
            f"\n## Submit-to-running latency ({time.strftime('%Y-%m-%d')})\n\n"
            f"Machine: {platform.machine()}, {_cores()} cores, Python {platform.python_version()}, Docker {docker_version}.\n"
            f"Command: `python -m bench.submit_latency --runs {args.runs} --replicas {args.replicas} --rounds {args.rounds} --record`\n\n"
        )
        with open(Path(__file__).with_name("RESULTS.md"), "a") as f:
            f.write(header + "```\n" + "\n".join(lines) + "\n```\n")


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
