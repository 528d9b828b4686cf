"""The scheduler stays a pure library: stdlib, numpy and itself only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import scheduler

ALLOWED = {"numpy", "scheduler"} | set(sys.stdlib_module_names)


def test_scheduler_imports_only_stdlib_numpy_and_itself() -> None:
    package = Path(scheduler.__file__).parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] not in ALLOWED]
    assert offenders == []


def test_public_api_is_exported() -> None:
    for name in (
        "Resources",
        "RunningTask",
        "NodeInfo",
        "TaskGroup",
        "Scheduler",
        "SchedulerConfig",
        "Placement",
        "Preemption",
        "Unplaced",
        "Explanation",
        "Plan",
        "parse_constraint",
        "ConstraintError",
        "Constraint",
    ):
        assert name in scheduler.__all__ and hasattr(scheduler, name)
