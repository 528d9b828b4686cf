"""Daemon options the CLI parses itself: --device and --namespace-weight."""

from __future__ import annotations

import click
import pytest

from dockyard.cli import _devices, _scheduler_settings, parse_namespace_weights


def test_devices_by_kind_in_the_order_given() -> None:
    assert _devices(["gpu=0,1", "fpga=a", "gpu=2"]) == {"gpu": ["0", "1", "2"], "fpga": ["a"]}
    assert _devices([]) == {}


@pytest.mark.parametrize("value", ["gpu", "gpu=", "gpu=0,,1", "GPU=0", "gpu=0,0", "=0", "gpu=a b"])
def test_bad_devices_are_refused(value: str) -> None:
    with pytest.raises(click.BadParameter):
        _devices([value])


def testparse_namespace_weights() -> None:
    assert parse_namespace_weights(["prod=2", "dev=0.5"]) == {"prod": 2.0, "dev": 0.5}
    for bad in ("prod", "prod=0", "prod=-1", "prod=x", "=2", "prod=inf", "prod=nan"):
        with pytest.raises(click.BadParameter):
            parse_namespace_weights([bad])


def test_only_the_settings_given_are_reported() -> None:
    assert _scheduler_settings(None, None, (), None) == {}
    assert _scheduler_settings("align", "drf", ("a=3",), False) == {
        "scheduler_policy": "align", "queue_order": "drf", "namespace_weights": {"a": 3.0}, "preemption": False,
    }
