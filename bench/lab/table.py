"""The side-by-side comparison as a plain-text table: one column per run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

Row = tuple[str, Callable[[dict[str, Any]], Any]]


def _get(*path: str) -> Callable[[dict[str, Any]], Any]:
    def read(summary: dict[str, Any]) -> Any:
        value: Any = summary
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return read


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def rows_for(summaries: Sequence[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    resources: list[str] = []
    namespaces: list[str] = []
    for s in summaries:
        resources += [r for r in s.get("utilization_mean", {}) if r not in resources]
        namespaces += [n for n in s.get("at_peak", {}).get("dominant_shares", {}) if n not in namespaces]
    rows: list[tuple[str, list[str]]] = []

    def add(name: str, read: Callable[[dict[str, Any]], Any], fmt: Callable[[Any], str] = _format) -> None:
        rows.append((name, [fmt(read(s)) for s in summaries]))

    add("tasks", _get("tasks"))
    add("placed", _get("placed"))
    add("never placed", _get("never_placed"))
    add("passes", _get("passes"))
    add("placements/s (in plan)", _get("placements_per_s"))
    add("pass latency p50 ms", _get("pass_latency_ms", "p50"))
    add("pass latency p99 ms", _get("pass_latency_ms", "p99"))
    add("pending p50 s (virtual)", _get("pending_s", "p50"))
    add("pending p99 s (virtual)", _get("pending_s", "p99"))
    for r in resources:
        add(f"{r} utilization, mean", _get("utilization_mean", r), _pct)
    for r in resources:
        add(f"{r} utilization, peak", _get("at_peak", "utilization", r), _pct)
    add("nodes used at peak", _get("at_peak", "nodes_used"))
    add("lower bound at peak", _get("at_peak", "nodes_lower_bound"))
    add("nodes / lower bound", _get("at_peak", "nodes_over_bound"))
    for r in resources:
        add(f"{r} stranded at peak", _get("at_peak", "stranded", r), _pct)
    for r in resources:
        add(f"{r} stranded, mean", _get("stranded_mean", r), _pct)
    if len(namespaces) <= 12:
        for ns in namespaces:
            add(f"dominant share {ns} at peak", _get("at_peak", "dominant_shares", ns))
    add("Jain index at peak", _get("at_peak", "jain"))
    add("Jain index, mean shares", _get("jain_mean"))
    for r in resources:
        add(f"{r} allocated at end (arrival)", _get("arrival", "final_allocation", r), _pct)
    add("simulation wall s", _get("wall_s"))
    # Rows no run has anything for only add noise (e.g. arrival rows in replay).
    return [(name, cells) for name, cells in rows if any(c != "-" for c in cells)]


def comparison_table(summaries: Sequence[dict[str, Any]]) -> str:
    rows = rows_for(summaries)
    header = ["", *[str(s["label"]) for s in summaries]]
    widths = [max(len(header[0]), *(len(name) for name, _ in rows))]
    for k in range(len(summaries)):
        widths.append(max(len(header[k + 1]), *(len(cells[k]) for _, cells in rows)))
    lines = ["  ".join(h.ljust(w) if k == 0 else h.rjust(w) for k, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for name, cells in rows:
        lines.append("  ".join([name.ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells, widths[1:]))]))
    return "\n".join(lines)
