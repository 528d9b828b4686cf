"""Replicated cluster settings: the update rules, and the leader's scheduler
following a change from one pass to the next."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import InvalidArgument
from manager.config import ManagerConfig
from manager.raft import LocalProposer
from manager.scheduling import SchedulingLoop
from manager.settings import (
    SETTINGS_ID,
    heartbeat_period,
    scheduler_config,
    seed_settings,
    update_request,
    update_settings,
    updated_settings,
    view_settings,
)
from manager.store import Store
from tests.unit.manager.test_manager_scheduling import gpu_node, pending

SEED = seed_settings(ManagerConfig(data_dir=Path("/nonexistent"), queue_order="drf", namespace_weights={"prod": 2.0}))


def test_the_seed_is_init_s_options() -> None:
    assert SEED.meta.id == SETTINGS_ID
    assert (SEED.scheduler.policy, SEED.scheduler.queue_order, SEED.scheduler.preemption) == ("binpack", "drf", True)
    assert dict(SEED.scheduler.namespace_weights) == {"prod": 2.0}


def test_an_update_changes_only_the_fields_it_sets_and_merges_weights() -> None:
    new = updated_settings(
        SEED, cpb.UpdateClusterSettingsRequest(scheduler_policy="spread", namespace_weights={"batch": 0.5})
    )
    assert new.scheduler.policy == "spread"
    assert new.scheduler.queue_order == "drf" and new.scheduler.preemption  # untouched
    assert dict(new.scheduler.namespace_weights) == {"prod": 2.0, "batch": 0.5}
    assert SEED.scheduler.policy == "binpack"  # the input is not modified
    off = updated_settings(new, cpb.UpdateClusterSettingsRequest(preemption=False, namespace_weights={"prod": 1.0}))
    assert not off.scheduler.preemption
    assert dict(off.scheduler.namespace_weights) == {"batch": 0.5}  # weight 1 is the default: the entry goes


def test_a_bad_update_names_every_field_and_rule() -> None:
    request = cpb.UpdateClusterSettingsRequest(
        scheduler_policy="roundrobin", queue_order="lifo", namespace_weights={"prod": 0.0, "dev": float("inf")}
    )
    with pytest.raises(InvalidArgument) as err:
        updated_settings(SEED, request)
    fields = {e.path: e.rule for e in err.value.errors}
    assert set(fields) == {"scheduler_policy", "queue_order", "namespace_weights[prod]", "namespace_weights[dev]"}
    assert "binpack, spread, align" in fields["scheduler_policy"] and "'roundrobin'" in fields["scheduler_policy"]
    assert "fifo, priority, drf" in fields["queue_order"]
    assert "> 0" in fields["namespace_weights[prod]"]


def test_a_rejected_update_writes_nothing() -> None:
    store = Store()
    request = update_request({"scheduler_policy": "spread", "queue_order": "lifo"})
    with pytest.raises(InvalidArgument):
        asyncio.run(update_settings(store, LocalProposer(store), SEED, request))
    assert store.index == 0 and not store.view().settings


def test_values_a_newer_version_wrote_fall_back_to_defaults_instead_of_stopping_the_scheduler() -> None:
    odd = pb.ClusterSettings(
        scheduler=pb.SchedulerSettings(policy="quantum", queue_order="drf", namespace_weights={"a": -1.0}, preemption=False)
    )
    config = scheduler_config(odd)
    assert (config.policy, config.queue_order, dict(config.namespace_weights), config.preemption) == (
        "binpack", "drf", {}, False
    )


def test_the_scheduler_follows_a_settings_change_between_passes() -> None:
    """Binpack puts job a's two tasks on one node; after `cluster update
    --scheduler-policy spread` job b's tasks go to the emptier node."""
    store = Store()
    proposer = LocalProposer(store)

    async def run() -> None:
        from manager.store import create
        from tests.unit.manager.builders import commit

        commit(store, [create(gpu_node("n1", ids=())), create(gpu_node("n2", ids=()))])
        commit(store, [create(pending("a1", job="a")), create(pending("a2", job="a"))])
        loop = SchedulingLoop(store, proposer, term=1, seed=SEED, debounce=0)
        await loop.schedule_once()
        assert {store.view().tasks[t].node_id for t in ("a1", "a2")} in ({"n1"}, {"n2"})
        busy = store.view().tasks["a1"].node_id
        stored = await update_settings(store, proposer, SEED, update_request({"scheduler_policy": "spread"}))
        assert stored.meta.version == 1 and view_settings(store.view(), SEED).scheduler.policy == "spread"
        commit(store, [create(pending("b1", job="b")), create(pending("b2", job="b"))])
        await loop.schedule_once()
        placed = {store.view().tasks[t].node_id for t in ("b1", "b2")}
        assert placed == {"n1", "n2"} - {busy}

    asyncio.run(run())


def test_settings_survive_a_snapshot() -> None:
    store = Store()
    asyncio.run(update_settings(store, LocalProposer(store), SEED, update_request({"preemption": False})))
    copy = Store()
    copy.load(store.dump())
    assert copy.view().settings[SETTINGS_ID] == store.view().settings[SETTINGS_ID]
    assert not copy.view().settings[SETTINGS_ID].scheduler.preemption


def test_the_heartbeat_period_is_a_cluster_setting_within_bounds() -> None:
    assert SEED.heartbeat_period == 5.0  # ManagerConfig's default, as init gives it
    faster = updated_settings(SEED, update_request({"heartbeat_period": 1.0}))
    assert heartbeat_period(faster, SEED) == 1.0 and faster.scheduler == SEED.scheduler
    for bad in (0.0, 0.1, 301.0, float("nan"), -1.0):
        with pytest.raises(InvalidArgument) as err:
            updated_settings(SEED, update_request({"heartbeat_period": bad}))
        assert [e.path for e in err.value.errors] == ["heartbeat_period"]
        assert "between 0.2 and 300 seconds" in err.value.errors[0].rule
    # Settings written before the field existed carry 0: the leader's own period applies.
    older = pb.ClusterSettings(scheduler=SEED.scheduler)
    assert heartbeat_period(older, SEED) == 5.0
