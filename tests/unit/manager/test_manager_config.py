"""Cluster-wide scheduler settings: chosen at init, remembered in cluster.json,
changed by giving the option again at start, refused when invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemons import load_manager
from manager.config import ManagerConfig
from manager.daemon import STATE_FILE, ClusterIdentity, init_cluster


def test_defaults_build_the_documented_scheduler_config(tmp_path: Path) -> None:
    config = ManagerConfig(data_dir=tmp_path).scheduler_config()
    assert (config.policy, config.queue_order, config.preemption, dict(config.namespace_weights)) == (
        "binpack", "priority", True, {},
    )


def test_settings_given_at_init_survive_a_plain_start_and_start_options_replace_them(tmp_path: Path) -> None:
    init_cluster(ManagerConfig(data_dir=tmp_path, queue_order="drf", namespace_weights={"prod": 2.0}, scheduler_policy="spread"))
    config, _ = load_manager(tmp_path)
    sched = config.scheduler_config()
    assert (sched.policy, sched.queue_order, dict(sched.namespace_weights), sched.preemption) == (
        "spread", "drf", {"prod": 2.0}, True,
    )
    load_manager(tmp_path, {"preemption": False})
    config, _ = load_manager(tmp_path)
    sched = config.scheduler_config()
    assert (sched.queue_order, sched.preemption) == ("drf", False)
    assert json.loads((tmp_path / STATE_FILE).read_text())["scheduler"]["preemption"] is False


def test_bad_settings_are_refused_and_not_remembered(tmp_path: Path) -> None:
    init_cluster(ManagerConfig(data_dir=tmp_path))
    before = (tmp_path / STATE_FILE).read_text()
    with pytest.raises(ValueError, match="weight"):
        load_manager(tmp_path, {"namespace_weights": {"a": 0.0}})
    with pytest.raises(ValueError):
        load_manager(tmp_path, {"queue_order": "lifo"})
    with pytest.raises(ValueError, match="unknown scheduler settings"):
        load_manager(tmp_path, {"seed": 3})
    assert (tmp_path / STATE_FILE).read_text() == before


def test_a_cluster_json_from_before_scheduler_settings_still_loads(tmp_path: Path) -> None:
    init_cluster(ManagerConfig(data_dir=tmp_path))
    raw = json.loads((tmp_path / STATE_FILE).read_text())
    del raw["scheduler"]
    (tmp_path / STATE_FILE).write_text(json.dumps(raw))
    assert ClusterIdentity.load(tmp_path).scheduler == {}
    config, _ = load_manager(tmp_path)
    assert config.scheduler_config().queue_order == "priority"
