"""What one simulated run produced, and its summary figures."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.lab.metrics import FloatArray, jain_index, percentile, time_weighted_mean
from bench.lab.tasks import RESOURCES


@dataclass(frozen=True, slots=True)
class LabConfig:
    """One column of a comparison: how the scheduler and the simulation run."""

    policy: str = "binpack"
    queue: str = "priority"
    # Virtual seconds between scheduling passes; events in between are
    # batched into the next pass. 0 = a pass at every distinct event time.
    interval: float = 1.0
    namespace_weights: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None  # the scheduler's tie-break seed
    # Explanations for every group cost a pass each; the lab needs them only
    # for what stays unplaced, which the scheduler explains anyway.
    explain: bool = False

    @property
    def label(self) -> str:
        return f"{self.policy}/{self.queue}"


@dataclass(slots=True)
class ArrivalCurve:
    """Arrival-only mode: allocation ratio per resource against arrived demand."""

    resource: str  # the resource arrived demand is measured in
    multiple: float
    arrived: FloatArray  # arrived demand of `resource` / its capacity, per checkpoint
    allocated: FloatArray  # (checkpoint, resource) allocated / capacity
    seed: int


@dataclass(slots=True)
class RunResult:
    config: LabConfig
    mode: str  # "replay" | "arrival"
    resources: tuple[str, ...]  # resources the cluster has (gpu only if any node has GPUs)
    namespaces: list[str]
    tasks: int
    placed: int
    passes: int
    wall_seconds: float  # the whole simulation
    plan_seconds: float  # inside Scheduler.plan
    snapshot_seconds: float  # building NodeInfo for plan()
    pass_latency: FloatArray  # seconds per Scheduler.plan call
    pending_times: FloatArray  # virtual seconds from arrival to placement, per placed task
    samples: dict[str, FloatArray]
    end_time: float  # virtual time of the last pass
    # Means over time stop here: after the last arrival a replay only drains,
    # and a long drain would dilute every mean towards zero.
    window_end: float
    unplaced_reasons: dict[str, str] = field(default_factory=dict)
    curve: ArrivalCurve | None = None

    @property
    def label(self) -> str:
        return self.config.label if self.mode == "replay" else f"{self.config.policy}/arrival"

    def _resource_columns(self) -> list[int]:
        return [RESOURCES.index(r) for r in self.resources]

    def peak_index(self) -> int:
        """The sample with the highest mean utilization over the cluster's resources."""
        util = self.samples["utilization"][:, self._resource_columns()]
        if util.shape[0] == 0:
            return -1
        return int(np.argmax(np.nan_to_num(util).mean(axis=1)))

    def summary(self) -> dict[str, Any]:
        cols = self._resource_columns()
        s = self.samples
        peak = self.peak_index()
        weights = np.array([self.config.namespace_weights.get(ns, 1.0) for ns in self.namespaces])
        window = s["times"] <= self.window_end
        times = s["times"][window]
        mean_util = time_weighted_mean(times, s["utilization"][window], self.window_end)
        mean_shares = time_weighted_mean(times, s["shares"][window], self.window_end)

        def per_resource(row: FloatArray) -> dict[str, float | None]:
            return {RESOURCES[c]: (None if np.isnan(row[c]) else round(float(row[c]), 4)) for c in cols}

        summary: dict[str, Any] = {
            "label": self.label,
            "policy": self.config.policy,
            "queue": self.config.queue if self.mode == "replay" else "fifo",
            "mode": self.mode,
            "tasks": self.tasks,
            "placed": self.placed,
            "never_placed": self.tasks - self.placed,
            "passes": self.passes,
            "wall_s": round(self.wall_seconds, 3),
            "plan_s": round(self.plan_seconds, 3),
            "snapshot_s": round(self.snapshot_seconds, 3),
            "placements_per_s": round(self.placed / self.plan_seconds, 1) if self.plan_seconds > 0 else None,
            "pass_latency_ms": {
                "p50": _ms(percentile(self.pass_latency, 50)),
                "p99": _ms(percentile(self.pass_latency, 99)),
                "max": _ms(float(self.pass_latency.max()) if self.pass_latency.size else None),
            },
            "pending_s": {
                "mean": _round(float(self.pending_times.mean()) if self.pending_times.size else None),
                "p50": _round(percentile(self.pending_times, 50)),
                "p99": _round(percentile(self.pending_times, 99)),
            },
            "utilization_mean": per_resource(mean_util),
        }
        if peak >= 0:
            nodes_used = int(s["nodes_used"][peak])
            bound = int(s["lower_bound"][peak])
            shares = s["shares"][peak]
            summary["at_peak"] = {
                "time": round(float(s["times"][peak]), 3),
                "utilization": per_resource(s["utilization"][peak]),
                "nodes_used": nodes_used,
                "nodes_lower_bound": bound,
                "nodes_over_bound": round(nodes_used / bound, 4) if bound else None,
                "stranded": per_resource(s["stranded"][peak]),
                "dominant_shares": {ns: round(float(x), 4) for ns, x in zip(self.namespaces, shares)},
                "jain": round(jain_index(shares / weights), 4),
            }
            summary["dominant_shares_mean"] = {ns: round(float(x), 4) for ns, x in zip(self.namespaces, mean_shares)}
            summary["jain_mean"] = round(jain_index(mean_shares / weights), 4)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: resources nobody asks for
                stranded_mean = np.nanmean(s["stranded"][window], axis=0)
            summary["stranded_mean"] = per_resource(stranded_mean)
        if self.unplaced_reasons:
            summary["unplaced_reasons"] = dict(self.unplaced_reasons)
        if self.curve is not None:
            summary["arrival"] = {
                "resource": self.curve.resource,
                "multiple": self.curve.multiple,
                "seed": self.curve.seed,
                "final_allocation": per_resource(self.curve.allocated[-1]) if self.curve.allocated.size else {},
            }
        return summary

    def series(self, max_points: int = 400) -> dict[str, Any]:
        """The time series and distributions behind the plots, thinned for JSON."""
        s = self.samples
        k = s["times"].size
        step = max(1, -(-k // max_points))
        pick = np.arange(0, k, step)
        if k and pick[-1] != k - 1:
            pick = np.append(pick, k - 1)
        out: dict[str, Any] = {
            "time": s["times"][pick].round(3).tolist(),
            "utilization": {
                RESOURCES[c]: np.nan_to_num(s["utilization"][pick, c]).round(4).tolist()
                for c in self._resource_columns()
            },
            "nodes_used": s["nodes_used"][pick].astype(int).tolist(),
            "lower_bound": s["lower_bound"][pick].astype(int).tolist(),
        }
        pending = np.sort(self.pending_times)
        if pending.size:
            q = np.linspace(0, 1, min(pending.size, max_points))
            out["pending_cdf"] = {"seconds": np.quantile(pending, q).round(4).tolist(), "fraction": q.round(4).tolist()}
        if self.curve is not None:
            out["arrival_curve"] = {
                "arrived": self.curve.arrived.round(4).tolist(),
                "allocated": {
                    RESOURCES[c]: self.curve.allocated[:, c].round(4).tolist() for c in self._resource_columns()
                },
            }
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)
