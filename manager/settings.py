"""Cluster-wide settings kept in the replicated store (one ClusterSettings
object, id "cluster"), so that every leader acts on the same ones.

The first leader of a cluster writes the object from the options `manager
init` (or `dockyard dev`) was given; `dockyard cluster update` changes it
through any manager. A manager's own flags never override it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import scheduler as sch
from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.client import settings_update_request
from dockyard.errors import Conflict, FieldError, InvalidArgument
from manager.config import ManagerConfig
from manager.raft import Proposer
from manager.store import Store, View, create, update

log = logging.getLogger("dockyard.settings")

SETTINGS_ID = "cluster"


def format_weights(weights: Mapping[str, float]) -> str:
    """NS=W,... for log lines ("-" when every namespace weighs 1)."""
    return ",".join(f"{ns}={w:g}" for ns, w in sorted(weights.items())) or "-"


def seed_settings(config: ManagerConfig) -> pb.ClusterSettings:
    """The settings a new cluster starts with: this manager's (init's) options."""
    return pb.ClusterSettings(
        meta=pb.Meta(id=SETTINGS_ID),
        scheduler=pb.SchedulerSettings(
            policy=config.scheduler_policy,
            queue_order=config.queue_order,
            namespace_weights=config.namespace_weights,
            preemption=config.preemption,
        ),
        heartbeat_period=config.heartbeat_period,
    )


def view_settings(view: View, seed: pb.ClusterSettings) -> pb.ClusterSettings:
    """The replicated settings, or (before the first leader wrote them) the seed."""
    return view.settings.get(SETTINGS_ID, seed)


def stored_settings(store: Store) -> pb.ClusterSettings | None:
    """The replicated settings object, if written yet (one lookup, no view)."""
    stored = store.get("settings", SETTINGS_ID)
    return stored if isinstance(stored, pb.ClusterSettings) else None


def current_settings(store: Store, seed: pb.ClusterSettings) -> pb.ClusterSettings:
    """`view_settings` for callers without a view (heartbeats, single reads)."""
    return stored_settings(store) or seed


# Bounds of the heartbeat period: faster than 0.2 s the heartbeats of a few
# hundred agents cost the leader more than they tell it; slower than 5
# minutes a dead node goes unnoticed for a quarter of an hour.
HEARTBEAT_PERIOD_MIN = 0.2
HEARTBEAT_PERIOD_MAX = 300.0


def heartbeat_period(settings: pb.ClusterSettings, seed: pb.ClusterSettings) -> float:
    """The heartbeat period agents are told (settings written before the
    field existed carry 0: the seed's period then)."""
    return settings.heartbeat_period or seed.heartbeat_period


def scheduler_config(settings: pb.ClusterSettings) -> sch.SchedulerConfig:
    """The scheduler's configuration from the settings. A value this manager
    does not know (written by a newer Dockyard) falls back to the default for
    that field rather than stopping the scheduler."""
    s = settings.scheduler
    policy = s.policy if s.policy in set(sch.Policy) else sch.Policy.BINPACK
    order = s.queue_order if s.queue_order in set(sch.QueueOrder) else sch.QueueOrder.PRIORITY
    weights = {ns: w for ns, w in s.namespace_weights.items() if w > 0 and math.isfinite(w)}
    if (policy, order, len(weights)) != (s.policy, s.queue_order, len(s.namespace_weights)):
        log.warning("event=cluster_settings_unknown_values policy=%s queue_order=%s", s.policy, s.queue_order)
    return sch.SchedulerConfig(policy=policy, queue_order=order, namespace_weights=weights, preemption=s.preemption)


def updated_settings(current: pb.ClusterSettings, request: cpb.UpdateClusterSettingsRequest) -> pb.ClusterSettings:
    """`current` with the request's fields applied. Raises InvalidArgument
    naming every field that breaks a rule; nothing is changed then."""
    errors: list[FieldError] = []
    out = pb.ClusterSettings()
    out.CopyFrom(current)
    s = out.scheduler
    if request.HasField("scheduler_policy"):
        if request.scheduler_policy not in set(sch.Policy):
            errors.append(FieldError("scheduler_policy", _one_of(request.scheduler_policy, sch.Policy)))
        s.policy = request.scheduler_policy
    if request.HasField("queue_order"):
        if request.queue_order not in set(sch.QueueOrder):
            errors.append(FieldError("queue_order", _one_of(request.queue_order, sch.QueueOrder)))
        s.queue_order = request.queue_order
    for namespace, weight in sorted(request.namespace_weights.items()):
        if not namespace:
            errors.append(FieldError("namespace_weights", "a namespace name must not be empty"))
        elif not (weight > 0 and math.isfinite(weight)):
            errors.append(FieldError(f"namespace_weights[{namespace}]", f"must be a number > 0, got {weight:g}"))
        elif weight == 1.0:
            s.namespace_weights.pop(namespace, None)  # 1 is every namespace's default
        else:
            s.namespace_weights[namespace] = weight
    if request.HasField("preemption"):
        s.preemption = request.preemption
    if request.HasField("heartbeat_period"):
        period = request.heartbeat_period
        if not HEARTBEAT_PERIOD_MIN <= period <= HEARTBEAT_PERIOD_MAX:  # also refuses NaN
            errors.append(FieldError(
                "heartbeat_period",
                f"must be between {HEARTBEAT_PERIOD_MIN:g} and {HEARTBEAT_PERIOD_MAX:g} seconds, got {period:g}",
            ))
        out.heartbeat_period = period
    if errors:
        raise InvalidArgument(errors)
    return out


def update_request(fields: Mapping[str, Any]) -> cpb.UpdateClusterSettingsRequest:
    """An update from ManagerConfig fields (SCHEDULER_SETTINGS names and
    heartbeat_period: the names the client's request builder takes)."""
    return settings_update_request(**fields)


async def update_settings(
    store: Store, proposer: Proposer, seed: pb.ClusterSettings, request: cpb.UpdateClusterSettingsRequest
) -> pb.ClusterSettings:
    """Apply the request to the replicated settings (compare-and-set through
    Raft, retried on a concurrent change) and return what is stored."""
    for _ in range(3):
        stored = stored_settings(store)
        new = updated_settings(stored if stored is not None else seed, request)
        if stored is not None and new == stored:
            return stored
        action = update(new) if stored is not None else create(new)
        result = await proposer.propose(spb.StoreBatch(atomic=True, actions=[action]))
        if not result.ok:
            continue
        applied = stored_settings(store)
        assert applied is not None
        s = applied.scheduler
        log.info(
            "event=cluster_settings_updated version=%d policy=%s queue_order=%s preemption=%s namespace_weights=%s "
            "heartbeat_period=%g",
            applied.meta.version, s.policy, s.queue_order, s.preemption,
            format_weights(s.namespace_weights), heartbeat_period(applied, seed),
        )
        return applied
    raise Conflict("the cluster settings kept changing while they were updated; retry")


def _one_of(value: str, choices: type[sch.Policy | sch.QueueOrder]) -> str:
    return f"must be one of {', '.join(c.value for c in choices)}, got {value!r}"
