"""Cluster events (`dockyard events`): what the store's changes mean, in words.

Events are derived from the changes the Raft log applies, so any manager
(leader or follower) tells the same story in the same order. Changes that
mean nothing to an operator (a task's heartbeat-driven status refresh with
the same state, say) give no event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from google.protobuf.message import Message

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from manager.store import KIND_TABLE, Change, ChangeKind
from manager.taskstate import TS, state_name

# Event kinds are the store's object kinds (StoreObject's field names), in
# the order `dockyard events --kind` lists them.
KINDS = ("job", "task", "node", "manager", "settings", "security")
TABLE_OF_KIND = {kind: KIND_TABLE[kind] for kind in KINDS}
KIND_OF_TABLE = {table: kind for kind, table in TABLE_OF_KIND.items()}


def _state(state: int) -> str:
    try:
        return state_name(state)
    except ValueError:  # a state a newer Dockyard added
        return str(state)


def events_of(changes: Iterable[Change], node_name: Callable[[str], str]) -> list[cpb.Event]:
    """The events of one applied batch's changes, in order. `node_name`
    names a node id (for tasks: where they run)."""
    out = []
    for change in changes:
        described = _describe(change, node_name)
        if described is None:
            continue
        action, name, message = described
        meta: pb.Meta = change.obj.meta  # type: ignore[attr-defined]
        out.append(cpb.Event(
            index=change.index, timestamp=change.timestamp, kind=KIND_OF_TABLE[change.table], action=action,
            id=meta.id, name=name, message=message,
        ))
    return out


def _describe(change: Change, node_name: Callable[[str], str]) -> tuple[str, str, str] | None:
    obj, old = change.obj, change.old
    if isinstance(obj, pb.Job):
        return _job(change.kind, obj, old)
    if isinstance(obj, pb.Task):
        return _task(change.kind, obj, old, node_name)
    if isinstance(obj, pb.Node):
        return _node(change.kind, obj, old)
    if isinstance(obj, pb.ManagerNode):
        name = obj.name or obj.api_address
        verb = {ChangeKind.CREATED: "joined", ChangeKind.UPDATED: "updated", ChangeKind.DELETED: "removed"}[change.kind]
        return _action(change.kind), name, f"manager {name} {verb} (API {obj.api_address}, Raft {obj.raft_address})"
    if isinstance(obj, pb.ClusterSettings):
        s = obj.scheduler
        weights = ", ".join(f"{ns}={w:g}" for ns, w in sorted(s.namespace_weights.items())) or "none"
        return "updated", "cluster", (
            f"cluster settings version {obj.meta.version}: policy {s.policy}, queue order {s.queue_order}, "
            f"preemption {'on' if s.preemption else 'off'}, namespace weights {weights}, "
            f"heartbeat period {obj.heartbeat_period:g}s"
        )
    if isinstance(obj, pb.ClusterSecurity):
        return _security(change.kind, obj, old)
    return None


def _action(kind: ChangeKind) -> str:
    return {ChangeKind.CREATED: "created", ChangeKind.UPDATED: "updated", ChangeKind.DELETED: "removed"}[kind]


def _job(kind: ChangeKind, job: pb.Job, old: Message | None) -> tuple[str, str, str] | None:
    name, spec = job.spec.name, job.spec
    if kind == ChangeKind.CREATED:
        return "created", name, f"job {name} created: {spec.replicas} x {spec.task.image} ({spec.type})"
    if kind == ChangeKind.DELETED:
        return "removed", name, f"job {name} removed"
    assert isinstance(old, pb.Job)
    if job.update_status != old.update_status and job.update_status.state:
        return "state", name, f"job {name}: {job.update_status.message}"
    if job.spec_version != old.spec_version:
        return "updated", name, f"job {name} updated to version {job.spec_version}: {spec.replicas} x {spec.task.image}"
    if job.stopped != old.stopped:
        return "state", name, f"job {name} {'stopped' if job.stopped else 'started again'}"
    return None


def _task(kind: ChangeKind, task: pb.Task, old: Message | None, node_name: Callable[[str], str]) -> tuple[str, str, str] | None:
    name = f"{task.job_name}.{task.slot}"
    if kind == ChangeKind.CREATED:
        return "created", name, f"task {name} created (job version {task.spec_version}, attempt {task.attempt})"
    if kind == ChangeKind.DELETED:
        return "removed", name, f"task {name} removed"
    assert isinstance(old, pb.Task)
    if task.status.state != old.status.state:
        text = f"task {name} {_state(task.status.state)}"
        if task.node_id:
            text += f" on {node_name(task.node_id)}"
        detail = task.status.error or task.status.message
        if detail and not detail.startswith("assigned to "):
            text += f": {detail}"
        return "state", name, text
    if task.desired_state != old.desired_state and task.desired_state == TS.TASK_STATE_SHUTDOWN:
        detail = f": {task.status.message}" if task.status.message else ""
        return "updated", name, f"task {name} is to stop{detail}"
    if task.pending_reason and task.pending_reason != old.pending_reason:
        return "state", name, f"task {name} pending: {task.pending_reason}"
    return None


def _node(kind: ChangeKind, node: pb.Node, old: Message | None) -> tuple[str, str, str] | None:
    name = node.name or node.meta.id
    if kind == ChangeKind.CREATED:
        return "created", name, f"node {name} registered ({node.address or node.hostname})"
    if kind == ChangeKind.DELETED:
        return "removed", name, f"node {name} removed"
    assert isinstance(old, pb.Node)
    if node.state != old.state:
        state = "ready" if node.state == pb.NODE_STATE_READY else "down"
        detail = f": {node.state_message}" if node.state_message else ""
        return "state", name, f"node {name} is {state}{detail}"
    if node.availability != old.availability:
        availability = "drain" if node.availability == pb.NODE_AVAILABILITY_DRAIN else "active"
        return "updated", name, f"node {name} availability {availability}"
    if dict(node.labels) != dict(old.labels):
        labels = ", ".join(f"{k}={v}" for k, v in sorted(node.labels.items())) or "none"
        return "updated", name, f"node {name} labels: {labels}"
    return None


def _security(kind: ChangeKind, sec: pb.ClusterSecurity, old: Message | None) -> tuple[str, str, str] | None:
    if kind == ChangeKind.CREATED:
        return "created", "cluster", "cluster CA and join tokens created"
    if not isinstance(old, pb.ClusterSecurity):
        return None
    rotated = [role for role, new, before in (("agent", sec.agent_token, old.agent_token),
                                               ("manager", sec.manager_token, old.manager_token)) if new != before]
    if not rotated:
        return None
    return "updated", "cluster", " and ".join(rotated) + " join token rotated"
