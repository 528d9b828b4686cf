"""``dockyard lab``: compare placement policies on a workload or a trace.

The main CLI registers this group lazily (``from bench.lab.cli import lab``)
so that plain ``dockyard`` commands never import numpy or matplotlib.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bench.lab.arrival import arrival_only
from bench.lab.generators import ARRIVALS, GENERATORS, GeneratorOptions, generate
from bench.lab.loader import WorkloadError, save_workload
from bench.lab.report import report_document, write_html, write_json
from bench.lab.result import LabConfig, RunResult
from bench.lab.simulator import replay
from bench.lab.sources import FORMATS, TraceOptions, load_source
from bench.lab.table import comparison_table
from bench.lab.tasks import RESOURCES
from bench.lab.traces import TraceError
from dockyard.cli import parse_namespace_weights
from dockyard.units import parse_memory
from scheduler import Policy, QueueOrder


def _memory(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_memory(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--machine-memory") from error


@click.group("lab")
def lab() -> None:
    """Scheduler lab: simulate workloads and traces against the real scheduler."""


@lab.command("run")
@click.argument("workload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Workload file or trace schema; auto guesses from the file name.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Choice([p.value for p in Policy]),
    help="Scoring policy to compare (repeatable; default binpack).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice([q.value for q in QueueOrder]),
    help="Queue order to compare (repeatable; default priority). Every policy runs with every queue.",
)
@click.option(
    "--mode",
    type=click.Choice(["replay", "arrival"]),
    default="replay",
    show_default=True,
    help="replay: arrivals and completions in virtual time. arrival: shuffled tasks, no departures.",
)
@click.option(
    "--interval",
    type=float,
    default=1.0,
    show_default=True,
    help="Virtual seconds between scheduling passes (0: a pass at every event).",
)
@click.option(
    "--multiple",
    type=float,
    default=1.0,
    show_default=True,
    help="arrival mode: stop when arrived demand reaches this multiple of capacity.",
)
@click.option(
    "--arrival-resource",
    type=click.Choice(RESOURCES),
    default=None,
    help="arrival mode: resource arrived demand is measured in (default gpu if any, else cpu).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle seed (arrival mode) and tie-break seed.")
@click.option("--weight", "weights", multiple=True, metavar="NS=W", help="DRF weight of a namespace (repeatable).")
@click.option("--machines", type=int, default=None, help="Google/Alibaba 2018 traces: number of machines.")
@click.option("--machine-cpu", type=float, default=None, help="Google/Alibaba 2018 traces: cores per machine.")
@click.option("--machine-memory", default=None, help="Google/Alibaba 2018 traces: memory per machine, e.g. 128Gi.")
@click.option(
    "--node-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="openb2023: the openb_node_list CSV (default: found next to the pod list).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write summaries and time series as JSON.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write an HTML report; its PNG plots go to <name>_plots/ beside it.",
)
def run(
    workload: Path,
    fmt: str,
    policies: Sequence[str],
    queues: Sequence[str],
    mode: str,
    interval: float,
    multiple: float,
    arrival_resource: str | None,
    seed: int,
    weights: Sequence[str],
    machines: int | None,
    machine_cpu: float | None,
    machine_memory: str | None,
    node_list: Path | None,
    json_path: Path | None,
    html_path: Path | None,
) -> None:
    """Run WORKLOAD under each policy (and queue order) and compare them side by side."""
    if interval < 0:
        raise click.BadParameter("must be >= 0", param_hint="--interval")
    options = TraceOptions(machines, machine_cpu, _memory(machine_memory), node_list)
    try:
        loaded = load_source(workload, fmt, options)
    except (WorkloadError, TraceError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    namespace_weights = parse_namespace_weights(weights, param_hint="--weight")
    queue_orders = list(queues or ["priority"])
    if mode == "arrival" and queues:
        click.echo("note: arrival mode places tasks one by one in shuffled order; --queue is ignored", err=True)
        queue_orders = ["fifo"]
    results: list[RunResult] = []
    for policy in policies or ["binpack"]:
        for queue in queue_orders:
            config = LabConfig(
                policy=policy, queue=queue, interval=interval, namespace_weights=namespace_weights, seed=seed
            )
            click.echo(
                f"running {config.label} ({mode}) on {loaded.node_count:,} nodes, {loaded.task_count:,} tasks", err=True
            )
            try:
                if mode == "arrival":
                    result = arrival_only(loaded, config, multiple=multiple, resource=arrival_resource, seed=seed)
                else:
                    result = replay(loaded, config)
            except ValueError as error:
                raise click.ClickException(str(error)) from error
            results.append(result)
    click.echo(comparison_table([r.summary() for r in results]))
    # Only a real `dockyard ...` command line is worth repeating in a report.
    command = ""
    if sys.argv and Path(sys.argv[0]).name == "dockyard":
        command = " ".join(["dockyard", *(shlex.quote(a) for a in sys.argv[1:])])
    if json_path is not None:
        write_json(report_document(loaded, results, command), json_path)
        click.echo(f"wrote {json_path}", err=True)
    if html_path is not None:
        pngs = write_html(loaded, results, html_path, command)
        click.echo(f"wrote {html_path} and {len(pngs)} plots", err=True)


@lab.command("generate")
@click.argument("kind", type=click.Choice(sorted(GENERATORS)))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Workload file to write (.json for JSON, YAML otherwise).",
)
@click.option("--nodes", type=int, default=100, show_default=True)
@click.option("--node-cpu", type=float, default=32.0, show_default=True)
@click.option("--node-memory", default="128Gi", show_default=True)
@click.option("--jobs", type=int, default=1000, show_default=True)
@click.option("--arrivals", type=click.Choice(ARRIVALS), default="poisson", show_default=True)
@click.option(
    "--mean-interarrival", type=float, default=1.0, show_default=True, help="Seconds between jobs, on average."
)
@click.option(
    "--mean-duration",
    type=float,
    default=300.0,
    show_default=True,
    help="Mean task duration in seconds; 0 makes services that never finish.",
)
@click.option("--namespaces", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def generate_command(
    kind: str,
    output: Path,
    nodes: int,
    node_cpu: float,
    node_memory: str,
    jobs: int,
    arrivals: str,
    mean_interarrival: float,
    mean_duration: float,
    namespaces: int,
    seed: int,
) -> None:
    """Write a synthetic workload of KIND (seeded: the same options give the same file)."""
    try:
        memory = parse_memory(node_memory)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--node-memory") from error
    options = GeneratorOptions(
        nodes=nodes,
        node_cpu=node_cpu,
        node_memory=memory,
        jobs=jobs,
        seed=seed,
        arrivals=arrivals,
        mean_interarrival=mean_interarrival,
        mean_duration=mean_duration,
        namespaces=namespaces,
    )
    workload = generate(kind, options)
    save_workload(workload, output)
    click.echo(
        f"wrote {output}: {workload.node_count:,} nodes, {len(workload.jobs):,} jobs, {workload.task_count:,} tasks"
    )
