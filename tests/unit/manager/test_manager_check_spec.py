"""The manager refuses what it would not act on, naming the field."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.jobspec import parse_job
from manager.control import check_spec


def spec(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "web", "task": {"image": "dockyard-test/busybox:1"}}
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"task": {"image": "x", "health": {"http": {"path": "/", "port": 80}}}}, "task.health"),
        ({"update": {"order": "start-first"}}, "update.order"),
        ({"update": {"delay": "5s"}}, "update.delay"),
        ({"type": "global"}, "type"),
        ({"placement": {"constraints": ["node.labels.zone == east"], "max_per_node": 1}}, None),
    ],
)
def test_unsupported_fields_are_refused(extra: dict[str, object], path: str | None) -> None:
    parsed = parse_job(spec(**extra))
    if path is None:
        assert check_spec(parsed).name == "web"
        return
    with pytest.raises(InvalidArgument) as err:
        check_spec(parsed)
    assert [e.path for e in err.value.errors] == [path]
