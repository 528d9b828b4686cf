"""Packing and scale benchmark of the scheduler lab.

1. Packing: a heavy-tailed workload submitted at once (every task arrives at
   t=0 and never finishes) on a cluster sized at 1.5 x the lower bound of
   nodes, so everything fits and policies differ in where they put it. Goals
   (issue 4): binpack and align use at most 1.05 x the lower bound of nodes;
   align strands fewer resources than binpack. Several seeds, none picked.
2. Scale: replay of a 10,000-node, ~200,000-task uniform workload (Poisson
   arrivals, lognormal durations) through the real scheduler.

    PYTHONPATH=. python bench/lab/bench_packing.py [--scale] [--append-results]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.lab.generators import GeneratorOptions, generate
from bench.lab.result import LabConfig
from bench.lab.simulator import replay
from bench.lab.tasks import TaskTable
from bench.lab.workload import NodeGroup, Workload

GOAL_NODES = 1.05
RESULTS = Path(__file__).resolve().parent.parent / "RESULTS.md"


def packing_workload(seed: int, jobs: int, headroom: float) -> Workload:
    options = GeneratorOptions(nodes=1, jobs=jobs, seed=seed, arrivals="at-once", mean_duration=0)
    workload = generate("heavy-tailed", options)
    demand = TaskTable(workload).demand.sum(axis=0)
    node = workload.nodes[0]
    per_node = (round(node.cpu * 1000), node.memory)
    bound = max(math.ceil(int(demand[k]) / per_node[k]) for k in range(2))
    nodes = math.ceil(headroom * bound)
    group = NodeGroup(node.name, nodes, node.cpu, node.memory)
    return Workload(f"{workload.name}-{nodes}nodes", (group,), workload.jobs)


def packing(seeds: list[int], jobs: int, headroom: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        workload = packing_workload(seed, jobs, headroom)
        for policy in ("binpack", "align", "spread"):
            summary = replay(workload, LabConfig(policy=policy, interval=0.0)).summary()
            peak = summary["at_peak"]
            rows.append(
                {
                    "seed": seed,
                    "policy": policy,
                    "nodes": workload.node_count,
                    "tasks": summary["tasks"],
                    "placed": summary["placed"],
                    "used": peak["nodes_used"],
                    "bound": peak["nodes_lower_bound"],
                    "ratio": peak["nodes_over_bound"],
                    "stranded_cpu": peak["stranded"]["cpu"],
                    "stranded_memory": peak["stranded"]["memory"],
                    "plan_s": summary["plan_s"],
                    "per_s": summary["placements_per_s"],
                }
            )
    return rows


def scale(nodes: int, jobs: int, policy: str) -> dict[str, Any]:
    # 2.5 tasks per job on average; ~300 tasks/s arriving, 300 s mean
    # duration: about half the cluster busy at the peak.
    options = GeneratorOptions(nodes=nodes, jobs=jobs, seed=0, mean_interarrival=nodes / 1_200_000, mean_duration=300)
    t0 = time.perf_counter()
    workload = generate("uniform", options)
    generated = time.perf_counter() - t0
    summary = replay(workload, LabConfig(policy=policy, interval=1.0)).summary()
    return {"generate_s": generated, "workload": workload, **summary}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def packing_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        (
            "| seed | policy | nodes in cluster | tasks | placed | nodes used | lower bound | used / bound | "
            "CPU stranded | memory stranded | plan s | placements/s |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['policy']} | {r['nodes']:,} | {r['tasks']:,} | {r['placed']:,} | {r['used']:,} | "
            f"{r['bound']:,} | {r['ratio']:.3f} | {_pct(r['stranded_cpu'])} | {_pct(r['stranded_memory'])} | "
            f"{r['plan_s']:.2f} | {r['per_s']:,.0f} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for seed in sorted({r["seed"] for r in rows}):
        by = {r["policy"]: r for r in rows if r["seed"] == seed}
        for policy in ("binpack", "align"):
            ratio = by[policy]["ratio"]
            verdict = "met" if ratio <= GOAL_NODES else "MISSED"
            out.append(f"seed {seed}: {policy} uses {ratio:.3f} x the lower bound (goal <= {GOAL_NODES}): {verdict}")
        b = by["binpack"]["stranded_cpu"] + by["binpack"]["stranded_memory"]
        a = by["align"]["stranded_cpu"] + by["align"]["stranded_memory"]
        verdict = "met" if a < b else "MISSED"
        out.append(
            f"seed {seed}: stranded CPU+memory, align {100 * a:.2f}% vs binpack {100 * b:.2f}% "
            f"(goal: align strands less): {verdict}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=5000, help="heavy-tailed jobs per packing run")
    parser.add_argument("--scale", action="store_true", help="also time the 10,000-node, 200,000-task replay")
    parser.add_argument("--scale-nodes", type=int, default=10_000)
    parser.add_argument("--scale-jobs", type=int, default=80_000, help="~2.5 tasks each")
    parser.add_argument("--scale-policy", default="binpack")
    parser.add_argument("--append-results", action="store_true", help=f"append the figures to {RESULTS}")
    args = parser.parse_args()

    rows = packing(args.seeds, args.jobs, 1.5)
    table = packing_table(rows)
    found = verdicts(rows)
    print(table)
    print("\n".join(found))
    # The same workloads on a cluster of 1.05 x the bound: every policy must
    # use (nearly) every node, so stranding and what fits compare like for like.
    tight_rows = packing(args.seeds, args.jobs, 1.05)
    tight = packing_table(tight_rows)
    print(tight)
    scale_text = ""
    if args.scale:
        t0 = time.perf_counter()
        s = scale(args.scale_nodes, args.scale_jobs, args.scale_policy)
        total = time.perf_counter() - t0
        scale_text = (
            f"Replay of {s['workload'].node_count:,} nodes and {s['tasks']:,} tasks "
            f"(uniform sizes, Poisson arrivals over {s['workload'].jobs[-1].arrival:,.0f} "
            f"virtual s, lognormal durations of mean 300 s, 1 s pass interval, {args.scale_policy}): "
            f"{total:,.1f} s wall in all (generation {s['generate_s']:.1f} s, simulation {s['wall_s']:,.1f} s of which "
            f"{s['plan_s']:,.1f} s in Scheduler.plan and {s['snapshot_s']:.1f} s building snapshots); "
            f"{s['placed']:,} placed in {s['passes']:,} passes, pass latency p50 {s['pass_latency_ms']['p50']:.0f} ms, "
            f"p99 {s['pass_latency_ms']['p99']:.0f} ms; {s['placements_per_s']:,.0f} placements per second of plan time; "
            f"peak CPU allocation {_pct(s['at_peak']['utilization']['cpu'])} on {s['at_peak']['nodes_used']:,} nodes "
            f"(lower bound {s['at_peak']['nodes_lower_bound']:,})."
        )
        print(scale_text)
    if args.append_results:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        text = [
            f"\n## Scheduler lab ({datetime.now(UTC).strftime('%a %b %d %H:%M:%S UTC %Y')})\n",
            (
                f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                f"numpy {np.__version__}; load average {load} at the end of the run (other engineers' work shared "
                f"the machine, so wall times are pessimistic). Command: `PYTHONPATH=. python "
                f"bench/lab/bench_packing.py {'--scale ' if args.scale else ''}--append-results`.\n"
            ),
            (
                f"Packing: heavy-tailed workload (`dockyard lab generate heavy-tailed --arrivals at-once "
                f"--mean-duration 0 --jobs {args.jobs}`: lognormal sizes, lognormal memory-per-core ratio, Pareto "
                f"replicas) submitted at once on 32-core / 128 GiB nodes, cluster sized at 1.5 x the lower bound "
                f"max_k ceil(sum demand_k / node capacity_k). Stranded: free capacity on nodes that cannot fit the "
                f"median task because another resource is short, as a share of the cluster's capacity, after the "
                f"pass. Queue order priority (all equal: FIFO), no preemption, every node considered.\n"
            ),
            table + "\n",
            "\n".join(f"- {v}" for v in found) + "\n",
            (
                "The same workloads on a tight cluster of 1.05 x the lower bound, where every policy must use "
                "almost every node, so that stranding and the number of tasks that fit compare like for like:\n"
            ),
            tight + "\n",
        ]
        if scale_text:
            text.append(f"Scale: {scale_text}\n")
        with RESULTS.open("a") as handle:
            handle.write("\n".join(text))
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
