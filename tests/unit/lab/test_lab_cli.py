"""`dockyard lab` through click's CliRunner: tables, JSON and HTML on disk."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bench.lab.cli import lab


def test_generate_then_run_writes_json_and_html(tmp_path: Path) -> None:
    runner = CliRunner()
    workload = tmp_path / "w.yaml"
    out = runner.invoke(lab, ["generate", "heavy-tailed", "-o", str(workload), "--nodes", "8", "--jobs", "60"])
    assert out.exit_code == 0, out.output
    assert "8 nodes, 60 jobs" in out.output
    report_json, report_html = tmp_path / "out.json", tmp_path / "report.html"
    args = ["run", str(workload), "--policy", "binpack", "--policy", "align", "--queue", "drf"]
    out = runner.invoke(lab, [*args, "--json", str(report_json), "--html", str(report_html)])
    assert out.exit_code == 0, out.output
    header = out.stdout.splitlines()[0]  # progress goes to stderr
    assert "align/drf" in header
    assert "nodes / lower bound" in out.stdout
    document = json.loads(report_json.read_text())
    assert [run["summary"]["label"] for run in document["runs"]] == ["binpack/drf", "align/drf"]
    assert document["workload"]["tasks"] == document["runs"][0]["summary"]["tasks"]
    assert document["runs"][0]["series"]["utilization"]["cpu"]
    page = report_html.read_text()
    assert "<table>" in page and "binpack/drf" in page
    pngs = sorted((tmp_path / "report_plots").glob("*.png"))
    assert {p.name for p in pngs} >= {"utilization.png", "pending_cdf.png", "packing.png"}
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"report_plots/{png.name}" in page


def test_arrival_mode_plots_the_allocation_curve(tmp_path: Path) -> None:
    runner = CliRunner()
    workload = tmp_path / "gpu.json"
    assert runner.invoke(lab, ["generate", "gpu", "-o", str(workload), "--nodes", "4", "--jobs", "200"]).exit_code == 0
    out = runner.invoke(
        lab,
        [
            "run",
            str(workload),
            "--mode",
            "arrival",
            "--multiple",
            "1.5",
            "--policy",
            "spread",
            "--html",
            str(tmp_path / "a.html"),
            "--json",
            str(tmp_path / "a.json"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "a_plots" / "arrival_curve.png").exists()
    run = json.loads((tmp_path / "a.json").read_text())["runs"][0]
    assert run["summary"]["arrival"]["multiple"] == 1.5
    assert run["series"]["arrival_curve"]["arrived"][-1] >= 1.5


def test_bad_workload_is_reported_with_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [{capacity: {cpu: 4}}]\njobs: []\n")
    out = CliRunner().invoke(lab, ["run", str(bad)])
    assert out.exit_code != 0
    assert "nodes[0].capacity.memory: is required" in out.output


def test_a_trace_without_machines_asks_for_them(tmp_path: Path) -> None:
    trace = tmp_path / "task_events.csv"
    trace.write_text("0,,1,0,,0,u,0,0,0.1,0.1,0,0\n")
    out = CliRunner().invoke(lab, ["run", str(trace)])
    assert out.exit_code != 0 and "--machines N" in out.output
    out = CliRunner().invoke(lab, ["run", str(trace), "--machines", "2"])
    assert out.exit_code == 0, out.output
