"""Static checks the suite enforces: ruff on the whole tree, and mypy --strict
on the pure core (CONVENTIONS.md: scheduler/ and the manager's store code)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STRICT = [
    "scheduler",
    "manager/store.py",
    "manager/reconcile.py",
    "manager/taskstate.py",
    "manager/raft.py",
    "manager/jobstatus.py",
    "manager/ratelimit.py",
    "manager/settings.py",
    "manager/events.py",
]


def test_core_passes_mypy_strict() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *STRICT], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tree_passes_ruff() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
