"""PNG figures of a comparison (matplotlib, Agg backend: no display needed).

Each function draws one figure from run results and writes it to ``path``;
it returns False (and writes nothing) when no run has data for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from bench.lab.result import RunResult
from bench.lab.tasks import RESOURCES

_UNITS = {"cpu": "CPU", "memory": "memory", "disk": "disk", "gpu": "GPU"}


def _colors(results: Sequence[RunResult]) -> dict[str, str]:
    palette = plt.get_cmap("tab10")
    return {r.label: matplotlib.colors.to_hex(palette(k % 10)) for k, r in enumerate(results)}


def _resources(results: Sequence[RunResult]) -> list[str]:
    names: list[str] = []
    for result in results:
        names += [r for r in result.resources if r not in names]
    return [r for r in RESOURCES if r in names]


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _peaks(results: Sequence[RunResult]) -> list[tuple[RunResult, dict[str, Any]]]:
    """(run, its summary's "at_peak" figures) for runs that have them."""
    pairs = [(r, r.summary().get("at_peak")) for r in results]
    return [(r, peak) for r, peak in pairs if isinstance(peak, dict)]


def utilization(results: Sequence[RunResult], path: Path) -> bool:
    runs = [r for r in results if r.mode == "replay" and r.samples["times"].size > 1]
    if not runs:
        return False
    resources = _resources(runs)
    colors = _colors(results)
    fig, axes = plt.subplots(len(resources), 1, figsize=(10, 2.4 * len(resources) + 0.6), sharex=True, squeeze=False)
    for ax, resource in zip(axes[:, 0], resources):
        column = RESOURCES.index(resource)
        for run in runs:
            times = run.samples["times"]
            ax.step(
                times,
                100 * run.samples["utilization"][:, column],
                where="post",
                color=colors[run.label],
                label=run.label,
                linewidth=1.3,
            )
        ax.set_ylabel(f"{_UNITS[resource]} allocated %")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title("Allocated share of cluster capacity over time")
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=min(4, len(runs)))
    axes[-1, 0].set_xlabel("virtual time (s)")
    _save(fig, path)
    return True


def pending_cdf(results: Sequence[RunResult], path: Path) -> bool:
    runs = [r for r in results if r.mode == "replay" and r.pending_times.size]
    if not runs:
        return False
    colors = _colors(results)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for run in runs:
        values = np.sort(run.pending_times)
        fraction = np.arange(1, values.size + 1) / values.size
        ax.step(values, fraction, where="post", color=colors[run.label], label=run.label, linewidth=1.5)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("pending time, arrival to placement (virtual s, log scale above 1 s)")
    ax.set_ylabel("fraction of placed tasks")
    ax.set_ylim(0, 1.02)
    ax.set_title("Pending time CDF (further left is better)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)
    return True


def arrival_curve(results: Sequence[RunResult], path: Path) -> bool:
    runs = [r for r in results if r.curve is not None]
    if not runs:
        return False
    resources = _resources(runs)
    colors = _colors(results)
    fig, axes = plt.subplots(1, len(resources), figsize=(4.2 * len(resources) + 0.5, 4.2), squeeze=False)
    measured = runs[0].curve.resource if runs[0].curve else "cpu"
    for ax, resource in zip(axes[0], resources):
        column = RESOURCES.index(resource)
        for run in runs:
            assert run.curve is not None
            ax.plot(
                100 * run.curve.arrived,
                100 * run.curve.allocated[:, column],
                color=colors[run.label],
                label=run.label,
                linewidth=1.5,
            )
        if resource == measured:
            top = 100 * max(float(r.curve.arrived.max()) for r in runs if r.curve is not None)
            ax.plot([0, 100, max(top, 100)], [0, 100, 100], color="grey", linestyle="--", linewidth=1, label="ideal")
        ax.set_title(f"{_UNITS[resource]} allocated")
        ax.set_xlabel(f"arrived {_UNITS[measured]} demand (% of capacity)")
        ax.set_ylabel("allocated (% of capacity)")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
    legend_axis = axes[0, resources.index(measured)] if measured in resources else axes[0, 0]
    legend_axis.legend(loc="lower right", fontsize=8)
    fig.suptitle("Arrival-only: allocation ratio as demand arrives (higher is better)")
    _save(fig, path)
    return True


def packing(results: Sequence[RunResult], path: Path) -> bool:
    summaries = _peaks(results)
    if not summaries:
        return False
    resources = _resources(results)
    colors = _colors(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    labels = [r.label for r, _ in summaries]
    ratios = [s["nodes_over_bound"] or 0 for _, s in summaries]
    bars = left.bar(range(len(labels)), ratios, color=[colors[label] for label in labels])
    for bar, (_, s) in zip(bars, summaries):
        left.annotate(
            f"{s['nodes_used']} / {s['nodes_lower_bound']}\nnodes",
            (bar.get_x() + bar.get_width() / 2, bar.get_height() / 2),
            ha="center",
            va="center",
            fontsize=9,
            color="white",
            fontweight="bold",
        )
    left.axhline(1.0, color="grey", linewidth=1)
    left.axhline(1.05, color="grey", linestyle="--", linewidth=1, label="1.05 x bound")
    left.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    left.set_ylabel("nodes used / lower bound")
    left.set_title("Nodes used at peak (lower is better)")
    left.legend(fontsize=8)
    width = 0.8 / max(1, len(summaries))
    x = np.arange(len(resources))
    for k, (run, s) in enumerate(summaries):
        values = [100 * (s["stranded"].get(r) or 0) for r in resources]
        right.bar(x + k * width - 0.4 + width / 2, values, width, color=colors[run.label], label=run.label)
    right.set_xticks(x, [_UNITS[r] for r in resources])
    right.set_ylabel("% of capacity")
    right.set_title("Stranded at peak: free, but unusable for a typical task (lower is better)")
    right.title.set_fontsize(10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3, axis="y")
    _save(fig, path)
    return True


def shares(results: Sequence[RunResult], path: Path) -> bool:
    summaries = [(r, s) for r, s in _peaks(results) if s["dominant_shares"]]
    if not summaries:
        return False
    namespaces = list(summaries[0][1]["dominant_shares"])[:16]
    if len(namespaces) < 2:
        return False
    colors = _colors(results)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / len(summaries)
    x = np.arange(len(namespaces))
    for k, (run, s) in enumerate(summaries):
        values = [s["dominant_shares"].get(ns, 0) for ns in namespaces]
        ax.bar(
            x + k * width - 0.4 + width / 2,
            values,
            width,
            color=colors[run.label],
            label=f"{run.label} (Jain {s['jain']:.3f})",
        )
    ax.set_xticks(x, namespaces, rotation=20 if len(namespaces) > 6 else 0)
    ax.set_ylabel("dominant share")
    ax.set_title("Dominant share per namespace at peak (Jain's index 1 = perfectly even)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
    return True


FIGURES = (
    ("utilization.png", "Utilization over time", utilization),
    ("pending_cdf.png", "Pending time", pending_cdf),
    ("arrival_curve.png", "Allocation ratio vs arrived demand", arrival_curve),
    ("packing.png", "Packing and stranding", packing),
    ("shares.png", "Fairness across namespaces", shares),
)
