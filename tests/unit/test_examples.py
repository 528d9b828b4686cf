"""The README's example job files stay valid, for the job-file rules and the manager's."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.jobspec import load_job_file
from manager.control import check_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"web.yaml", "crunch.yaml", "big.yaml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_accepted(path: Path) -> None:
    spec = check_spec(load_job_file(path))
    assert spec.name == path.stem
