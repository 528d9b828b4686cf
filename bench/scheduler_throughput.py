"""Scheduler throughput: placements per second on simulated clusters.

For 1,000, 5,000 and 15,000 nodes it plans 50,000 tasks (1,000 groups of 50)
with constraints on half of the groups, a mix of policies (binpack, spread,
align, spread over zones, max_per_node), every feasible node considered and
explanations on. In the same run it times a bare numpy first-fit loop (one
vectorised fit test + argmax per task, no constraints, no scores, no
explanations) over the same tasks, as the floor the scheduler is compared
with. Each cluster size runs in its own process so peak RSS is its own.

    PYTHONPATH=. python bench/scheduler_throughput.py            # full run, ~1-3 min
    PYTHONPATH=. python bench/scheduler_throughput.py --quick    # 10,000 tasks, small clusters
    PYTHONPATH=. python bench/scheduler_throughput.py --append-results   # also append to bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from scheduler import NodeInfo, Resources, Scheduler, SchedulerConfig, TaskGroup

GiB = 1 << 30
MiB = 1 << 20
ZONES = 5
NODES_PER_RACK = 40


def make_nodes(count: int, rng: np.random.Generator) -> list[NodeInfo]:
    nodes = []
    for k in range(count):
        cpu = float(rng.choice([16, 32, 64]))
        memory = int(cpu) * 4 * GiB
        used_fraction = float(rng.uniform(0.0, 0.3))
        nodes.append(
            NodeInfo(
                node_id=f"node-{k:05d}",
                name=f"host-{k:05d}",
                capacity=Resources(cpu, memory, 1000 * GiB),
                allocated=Resources(round(cpu * used_fraction, 3), int(memory * used_fraction), 0),
                labels={"zone": f"z{k % ZONES}", "rack": f"r{k // NODES_PER_RACK}"},
                ready=bool(rng.random() > 0.02),
                drained=bool(rng.random() < 0.01),
            )
        )
    return nodes


def make_groups(tasks: int, per_group: int, node_count: int, rng: np.random.Generator) -> list[TaskGroup]:
    groups = []
    racks = max(1, node_count // NODES_PER_RACK)
    for g in range(tasks // per_group):
        constraints: tuple[str, ...] = ()
        if g % 2 == 0:  # half of the groups carry a constraint
            kind = (g // 2) % 3
            if kind == 0:
                constraints = (f"node.labels.zone == z{rng.integers(ZONES)}",)
            elif kind == 1:
                constraints = (f"node.labels.zone in (z{rng.integers(ZONES)}, z{rng.integers(ZONES)})",)
            else:
                constraints = (f"node.labels.rack != r{rng.integers(racks)}", "node.labels.zone exists")
        shape = g % 5
        policy, spread, max_per_node = "", "", 0
        if shape == 1:
            policy = "spread"
        elif shape == 2:
            policy = "align"
        elif shape == 3:
            spread = "node.labels.zone"
        elif shape == 4:
            max_per_node = 2
        groups.append(
            TaskGroup(
                job_id=f"job-{g:05d}",
                job_name=f"job-{g:05d}",
                task_ids=tuple(f"job-{g:05d}-{t}" for t in range(per_group)),
                demand=Resources(
                    float(rng.choice([0.25, 0.5, 1.0, 2.0])), int(rng.choice([256, 512, 1024, 4096])) * MiB
                ),
                namespace=f"team-{g % 4}",  # four tenants, for --queue-order drf
                priority=int(rng.integers(0, 100)),
                constraints=constraints,
                spread=spread,
                policy=policy,
                max_per_node=max_per_node,
                submitted_at=float(g),
            )
        )
    return groups


def first_fit_baseline(nodes: list[NodeInfo], groups: list[TaskGroup]) -> tuple[int, float, float]:
    """The floor: per task, one vectorised fit test and an argmax."""
    capacity = np.array([n.capacity.milli_vector() for n in nodes], dtype=np.int64)
    allocated = np.array([n.allocated.milli_vector() for n in nodes], dtype=np.int64)
    placed = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for group in groups:
        demand = np.array(group.demand.milli_vector(), dtype=np.int64)
        for _ in group.task_ids:
            fits = np.all(allocated + demand <= capacity, axis=1)
            i = int(np.argmax(fits))
            if fits[i]:
                allocated[i] += demand
                placed += 1
    return placed, time.perf_counter() - start, time.process_time() - cpu_start


def run_one(node_count: int, tasks: int, per_group: int, queue_order: str) -> dict[str, float]:
    rng = np.random.default_rng(20261125)
    nodes = make_nodes(node_count, rng)
    groups = make_groups(tasks, per_group, node_count, rng)
    scheduler = Scheduler(SchedulerConfig(explain=True, preemption=True, queue_order=queue_order))
    # Both clocks: wall time is what a user waits for; CPU time is what the
    # code costs, and stays meaningful when other work shares the machine.
    start, cpu_start = time.perf_counter(), time.process_time()
    plan = scheduler.plan(nodes, groups)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    baseline_placed, baseline_elapsed, baseline_cpu = first_fit_baseline(nodes, groups)
    unplaced = sum(len(u.task_ids) for u in plan.unplaced)
    return {
        "nodes": node_count,
        "tasks": tasks,
        "placed": len(plan.placements),
        "unplaced": unplaced,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "per_second": len(plan.placements) / elapsed,
        "per_cpu_second": len(plan.placements) / cpu,
        "baseline_placed": baseline_placed,
        "baseline_per_second": baseline_placed / baseline_elapsed,
        "baseline_per_cpu_second": baseline_placed / baseline_cpu,
        # ru_maxrss is in KiB on Linux: the whole process, inputs included.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 tasks on 1,000 and 5,000 nodes")
    parser.add_argument("--nodes", type=int, nargs="*", help="cluster sizes (default 1000 5000 15000)")
    parser.add_argument("--tasks", type=int, help="tasks per run (default 50,000)")
    parser.add_argument("--per-group", type=int, default=50, help="tasks per group")
    parser.add_argument("--append-results", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--queue-order", default="priority", choices=["priority", "fifo", "drf"])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    tasks = args.tasks or (10_000 if args.quick else 50_000)
    if args.child is not None:
        print(json.dumps(run_one(args.child, tasks, args.per_group, args.queue_order)))
        return
    sizes = args.nodes or ([1_000, 5_000] if args.quick else [1_000, 5_000, 15_000])
    rows = []
    for size in sizes:
        command = [
            sys.executable,
            __file__,
            "--child",
            str(size),
            "--tasks",
            str(tasks),
            "--per-group",
            str(args.per_group),
            "--queue-order",
            args.queue_order,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(f"  {size} nodes done", file=sys.stderr)
    header = (
        "| nodes | tasks | placed | unplaced | plan wall s | plan CPU s | placements/s (wall) "
        "| placements/CPU-s | first-fit placements/CPU-s | scheduler / first-fit | peak RSS MiB |"
    )
    lines = [header, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['nodes']:,} | {r['tasks']:,} | {r['placed']:,} | {r['unplaced']:,} | {r['seconds']:.2f} "
            f"| {r['cpu_seconds']:.2f} | {r['per_second']:,.0f} | {r['per_cpu_second']:,.0f} "
            f"| {r['baseline_per_cpu_second']:,.0f} | {r['per_cpu_second'] / r['baseline_per_cpu_second']:.2f} "
            f"| {r['peak_rss_mib']:.0f} |"
        )
    table = "\n".join(lines)
    load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(table)
    print(f"({load} at the end of the run)")
    if args.append_results:
        invocation = "PYTHONPATH=. python bench/scheduler_throughput.py " + " ".join(sys.argv[1:])
        date = subprocess.run(["date"], check=True, capture_output=True, text=True).stdout.strip()
        machine = (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"
        )
        results = Path(__file__).with_name("RESULTS.md")
        with results.open("a") as handle:
            handle.write(
                f"\n## Scheduler throughput ({date})\n\n"
                f"Machine: {machine}; {load} at the end of the run (other engineers' tests "
                "shared the machine, so wall figures are pessimistic; CPU-second figures are the "
                "cost of the code). "
                f"Command: `{invocation.strip()}`.\n"
                f"Tasks in groups of {args.per_group}, half of the groups constrained, policies mixed, "
                "every feasible node considered, explanations on, preemption on. "
                "First-fit: bare numpy loop over the same tasks (fit test + argmax per task, nothing else).\n\n"
                f"{table}\n"
            )


if __name__ == "__main__":
    main()
