"""Reports of a comparison: the JSON document and the HTML page with plots."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.lab.result import RunResult
from bench.lab.table import rows_for
from bench.lab.workload import Workload


def report_document(workload: Workload, results: Sequence[RunResult], command: str = "") -> dict[str, Any]:
    return {
        "workload": workload.describe(),
        "command": command,
        "runs": [{"summary": r.summary(), "series": r.series()} for r in results],
    }


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1, default=_plain) + "\n")


def _plain(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()  # numpy scalars
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _namespaces(names: object) -> str:
    listed = [str(n) for n in names] if isinstance(names, list) else []
    text = ", ".join(listed[:20])
    return f"{text}, ... ({len(listed)} in all)" if len(listed) > 20 else text


def write_html(workload: Workload, results: Sequence[RunResult], path: Path, command: str = "") -> list[Path]:
    """Write ``path`` and its PNGs into ``<stem>_plots/`` beside it; returns the PNG paths."""
    from bench.lab import plots  # matplotlib only when a report is asked for

    plot_dir = path.with_name(f"{path.stem}_plots")
    plot_dir.mkdir(parents=True, exist_ok=True)
    images: list[tuple[str, Path]] = []
    for filename, title, draw in plots.FIGURES:
        target = plot_dir / filename
        if draw(results, target):
            images.append((title, target))
    summaries = [r.summary() for r in results]
    info = workload.describe()
    head = "".join(f"<th>{html.escape(str(s['label']))}</th>" for s in summaries)
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>{''.join(f'<td>{html.escape(c)}</td>' for c in cells)}</tr>"
        for name, cells in rows_for(summaries)
    )
    figures = "".join(
        f'<figure><img src="{html.escape(plot_dir.name)}/{html.escape(p.name)}" alt="{html.escape(t)}">'
        f"<figcaption>{html.escape(t)}</figcaption></figure>"
        for t, p in images
    )
    reasons = ""
    for s in summaries:
        for shape, why in list(s.get("unplaced_reasons", {}).items())[:5]:
            reasons += f"<li><b>{html.escape(s['label'])}</b> {html.escape(shape)}: {html.escape(why)}</li>"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Scheduler lab: {html.escape(str(info["name"]))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
tr th:first-child {{ text-align: left; font-weight: normal; color: #444; }}
thead th {{ border-bottom: 2px solid #888; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
figcaption {{ color: #666; font-size: 13px; }} code {{ background: #f4f4f4; padding: 1px 4px; }}
</style></head><body>
<h1>Scheduler lab: {html.escape(str(info["name"]))}</h1>
<p>{info["nodes"]:,} nodes, {info["jobs"]:,} jobs, {info["tasks"]:,} tasks,
namespaces: {html.escape(_namespaces(info["namespaces"]))}.
{f"Command: <code>{html.escape(command)}</code>" if command else ""}</p>
<p>Times marked <i>virtual</i> are simulated seconds; latency and throughput are wall-clock time
spent inside <code>Scheduler.plan</code>. "Stranded" is free capacity on nodes that cannot run a typical
(median) task because another resource ran out. "At peak" is the moment of highest allocation.</p>
<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>
{f"<h3>Why tasks stayed pending at the end</h3><ul>{reasons}</ul>" if reasons else ""}
{figures}
</body></html>
"""
    path.write_text(page)
    return [p for _, p in images]
