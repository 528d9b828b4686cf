"""The replicated cluster state: in-memory tables with a version per object.

`Store.apply_entry` is the state machine the Raft log drives (one entry is a
group of batches; `Store.apply` applies one batch on its own). It is total
and deterministic: it never raises, it reads no clock (timestamps come from
the batch), and invalid or stale actions are rejected by value, so every
replica that applies the same log reaches the same state.

Stored messages are never mutated in place: apply replaces them with fresh
copies, so readers may hold references from a view without copying. Callers
that want to change an object copy it first (`clone`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb

TABLES = ("nodes", "jobs", "tasks", "managers", "security", "settings")
# The table of each StoreObject kind (the oneof field name).
KIND_TABLE = {
    "node": "nodes", "job": "jobs", "task": "tasks", "manager": "managers", "security": "security", "settings": "settings",
}

M = TypeVar("M", bound=Message)


def clone(msg: M) -> M:
    out = type(msg)()
    out.CopyFrom(msg)
    return out


class ChangeKind(Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    table: str
    obj: Message  # the new object (the last one, for a deletion)
    old: Message | None = None
    # The store index and proposer's timestamp of the batch that made it (a
    # deletion's too: its `obj` keeps the meta of its last update).
    index: int = 0
    timestamp: float = 0.0


@dataclass(frozen=True, slots=True)
class ApplyResult:
    index: int
    ok: bool
    # One entry per rejected action: "tasks/abc: version 3 != 4".
    errors: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()


@dataclass(slots=True)
class Watch:
    """Changes applied after the snapshot it came with, delivered to an
    asyncio queue on the loop that created it."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[Change, ...]]
    tables: frozenset[str]
    store: Store | None = None

    def push(self, changes: tuple[Change, ...]) -> None:
        wanted = tuple(c for c in changes if c.table in self.tables)
        if wanted:
            try:
                self.loop.call_soon_threadsafe(self.queue.put_nowait, wanted)
            except RuntimeError:  # the loop is closed: nobody is listening
                pass

    def close(self) -> None:
        if self.store is not None:
            self.store.unwatch(self)
            self.store = None


@dataclass(slots=True)
class View:
    """A consistent read of the tables (references to immutable objects)."""

    index: int
    nodes: dict[str, pb.Node] = field(default_factory=dict)
    jobs: dict[str, pb.Job] = field(default_factory=dict)
    tasks: dict[str, pb.Task] = field(default_factory=dict)
    managers: dict[str, pb.ManagerNode] = field(default_factory=dict)
    security: dict[str, pb.ClusterSecurity] = field(default_factory=dict)
    settings: dict[str, pb.ClusterSettings] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, Message]:
        return getattr(self, name)  # type: ignore[no-any-return]

    def job_by_name(self, name: str) -> pb.Job | None:
        for job in self.jobs.values():
            if job.spec.name == name:
                return job
        return None

    def node_by_ref(self, ref: str) -> pb.Node | None:
        if ref in self.nodes:
            return self.nodes[ref]
        matches = [n for n in self.nodes.values() if n.name == ref or n.meta.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def tasks_of_job(self, job_id: str) -> Iterator[pb.Task]:
        return (t for t in self.tasks.values() if t.job_id == job_id)


class Store:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tables: dict[str, dict[str, Message]] = {t: {} for t in TABLES}
        self.index = 0
        self.max_term = 0
        self._watches: list[Watch] = []
        self._applied_hooks: list[Callable[[ApplyResult], None]] = []
        self._job_names: dict[str, str] = {}  # job name -> id: names are unique

    # -- reading ---------------------------------------------------------

    def view(self) -> View:
        with self._lock:
            return self._view_locked()

    def _view_locked(self) -> View:
        return View(
            index=self.index,
            nodes=dict(self._tables["nodes"]),  # type: ignore[arg-type]
            jobs=dict(self._tables["jobs"]),  # type: ignore[arg-type]
            tasks=dict(self._tables["tasks"]),  # type: ignore[arg-type]
            managers=dict(self._tables["managers"]),  # type: ignore[arg-type]
            security=dict(self._tables["security"]),  # type: ignore[arg-type]
            settings=dict(self._tables["settings"]),  # type: ignore[arg-type]
        )

    def get(self, table: str, obj_id: str) -> Message | None:
        with self._lock:
            return self._tables[table].get(obj_id)

    def job_by_name(self, name: str) -> pb.Job | None:
        """The job named `name`, without copying the tables as `view` does."""
        with self._lock:
            job_id = self._job_names.get(name)
            return self._tables["jobs"].get(job_id) if job_id is not None else None  # type: ignore[return-value]

    def view_and_watch(self, tables: Iterable[str] = TABLES) -> tuple[View, Watch]:
        """A snapshot and a watch that starts exactly after it, so a reconcile
        loop that starts from the view and follows the watch misses nothing."""
        watch = Watch(asyncio.get_running_loop(), asyncio.Queue(), frozenset(tables), self)
        with self._lock:
            self._watches.append(watch)
            return self._view_locked(), watch

    def unwatch(self, watch: Watch) -> None:
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)

    # -- the state machine -----------------------------------------------

    def apply(self, data: bytes) -> ApplyResult:
        """Apply one serialized StoreBatch on its own (`LocalProposer`, tools
        and tests; the Raft log goes through `apply_entry`). Never raises."""
        batch = spb.StoreBatch()
        with self._lock:
            try:
                batch.ParseFromString(data)
            except DecodeError:
                self.index += 1
                return ApplyResult(self.index, False, ("undecodable entry",))
            return self._apply_batch_locked(batch)

    def apply_entry(self, data: bytes) -> tuple[ApplyResult, ...]:
        """Apply one Raft entry, a serialized RaftEntry: its batches in order,
        each exactly as `apply` would on its own (own index, atomicity, fencing
        and result), so a failing batch leaves its neighbours untouched.
        Never raises: an undecodable entry advances the index once and yields
        one rejection."""
        entry = spb.RaftEntry()
        with self._lock:
            try:
                entry.ParseFromString(data)
            except DecodeError:
                self.index += 1
                return (ApplyResult(self.index, False, ("undecodable entry",)),)
            results = tuple(self._apply_batch_locked(batch, notify=False) for batch in entry.batches)
            # One wake-up per watcher per entry, not per batch: a group commit
            # carries up to hundreds of batches.
            changes = tuple(c for r in results for c in r.changes)
            if changes:
                for watch in self._watches:
                    watch.push(changes)
            return results

    def _apply_batch_locked(self, batch: spb.StoreBatch, notify: bool = True) -> ApplyResult:
        self.index += 1
        if batch.term:
            if batch.term < self.max_term:
                return ApplyResult(self.index, False, (f"stale term {batch.term} < {self.max_term}",))
            self.max_term = batch.term
        staged: dict[tuple[str, str], Message | None] = {}
        changes: list[Change] = []
        errors: list[str] = []
        if batch.HasField("restore"):
            self._stage_restore(batch.restore, batch.timestamp, staged, changes)
        for action in batch.actions:
            err = self._stage(action, batch.timestamp, staged, changes)
            if err:
                errors.append(err)
        if errors and batch.atomic:
            return ApplyResult(self.index, False, tuple(errors))
        for (table, obj_id), obj in staged.items():
            if obj is None:
                old = self._tables[table].pop(obj_id, None)
            else:
                old = self._tables[table].get(obj_id)
                self._tables[table][obj_id] = obj
            if table == "jobs":
                # A name may pass from one job to another within a batch (a
                # restore, or a delete and a create), in either order: drop a
                # name only while it still points at this job.
                if old is not None and self._job_names.get(old.spec.name) == obj_id:  # type: ignore[attr-defined]
                    del self._job_names[old.spec.name]  # type: ignore[attr-defined]
                if obj is not None:
                    self._job_names[obj.spec.name] = obj_id  # type: ignore[attr-defined]
        result = ApplyResult(self.index, not errors, tuple(errors), tuple(changes))
        if changes and notify:
            for watch in self._watches:
                watch.push(result.changes)
        for hook in self._applied_hooks:
            hook(result)
        return result

    def _stage_restore(
        self,
        snap: spb.StoreSnapshot,
        timestamp: float,
        staged: dict[tuple[str, str], Message | None],
        changes: list[Change],
    ) -> None:
        """Stage the snapshot's jobs, tasks and settings in place of the
        current ones, as the per-object changes watchers expect. Restored
        objects get this batch's index as their version: every version ever
        handed out is lower, so a writer holding one from before the
        restore fails its compare-and-set."""
        tables: list[tuple[str, Iterable[Message]]] = [("jobs", snap.jobs), ("tasks", snap.tasks)]
        if snap.settings:  # a snapshot without settings keeps the current ones
            tables.append(("settings", snap.settings))
        for table, objs in tables:
            wanted = {o.meta.id: o for o in objs}  # type: ignore[attr-defined]
            current = self._tables[table]
            for obj_id, gone in current.items():
                if obj_id not in wanted:
                    staged[(table, obj_id)] = None
                    changes.append(Change(ChangeKind.DELETED, table, gone, gone, index=self.index, timestamp=timestamp))
            for obj_id, obj in wanted.items():
                old = current.get(obj_id)
                if old is not None and old == obj:
                    continue
                new = clone(obj)
                meta: pb.Meta = new.meta  # type: ignore[attr-defined]
                meta.version = self.index
                meta.updated_index = self.index
                meta.updated_at = timestamp
                staged[(table, obj_id)] = new
                changes.append(Change(ChangeKind.CREATED if old is None else ChangeKind.UPDATED, table, new, old, index=self.index, timestamp=timestamp))

    def _stage(
        self,
        action: spb.StoreAction,
        timestamp: float,
        staged: dict[tuple[str, str], Message | None],
        changes: list[Change],
    ) -> str:
        kind = action.object.WhichOneof("kind")
        if kind is None:
            return "action without an object"
        table = KIND_TABLE[kind]
        obj: Message = getattr(action.object, kind)
        meta: pb.Meta = obj.meta  # type: ignore[attr-defined]
        obj_id = meta.id
        if not obj_id:
            return f"{table}: object without an id"
        key = (table, obj_id)
        current = staged[key] if key in staged else self._tables[table].get(obj_id)
        where = f"{table}/{obj_id}"
        if table == "jobs" and action.kind != spb.StoreAction.KIND_DELETE:
            # Two submissions of a new job name racing each other must not
            # both create a job: the second is refused like a stale version.
            name = obj.spec.name  # type: ignore[attr-defined]
            owner = self._job_names.get(name)
            for (t, other), staged_obj in staged.items():
                if t == "jobs" and other != obj_id and staged_obj is not None and staged_obj.spec.name == name:  # type: ignore[attr-defined]
                    owner = other
            if owner is not None and owner != obj_id and staged.get(("jobs", owner), True) is not None:
                return f"{where}: the job name {name!r} is taken by jobs/{owner}"
        if action.kind == spb.StoreAction.KIND_CREATE:
            if current is not None:
                return f"{where}: already exists"
            new = clone(obj)
            new_meta: pb.Meta = new.meta  # type: ignore[attr-defined]
            new_meta.version = 1
            new_meta.created_index = new_meta.updated_index = self.index
            new_meta.created_at = new_meta.updated_at = timestamp
            staged[key] = new
            changes.append(Change(ChangeKind.CREATED, table, new, index=self.index, timestamp=timestamp))
            return ""
        if current is None:
            return f"{where}: not found"
        cur_meta: pb.Meta = current.meta  # type: ignore[attr-defined]
        if meta.version != cur_meta.version:
            return f"{where}: version {meta.version} != {cur_meta.version}"
        if action.kind == spb.StoreAction.KIND_UPDATE:
            new = clone(obj)
            new_meta = new.meta  # type: ignore[attr-defined]
            new_meta.version = cur_meta.version + 1
            new_meta.created_index = cur_meta.created_index
            new_meta.created_at = cur_meta.created_at
            new_meta.updated_index = self.index
            new_meta.updated_at = timestamp
            staged[key] = new
            changes.append(Change(ChangeKind.UPDATED, table, new, current, index=self.index, timestamp=timestamp))
            return ""
        if action.kind == spb.StoreAction.KIND_DELETE:
            staged[key] = None
            changes.append(Change(ChangeKind.DELETED, table, current, current, index=self.index, timestamp=timestamp))
            return ""
        return f"{where}: unknown action kind {action.kind}"

    def on_applied(self, hook: Callable[[ApplyResult], None]) -> None:
        """Called (on the applying thread, under the store lock) after each
        applied batch (not after a batch rejected whole)."""
        self._applied_hooks.append(hook)

    # -- snapshots (Raft log compaction) ------------------------------------

    def dump(self) -> bytes:
        with self._lock:
            snap = spb.StoreSnapshot(index=self.index, max_term=self.max_term)
            snap.nodes.extend(self._tables["nodes"].values())  # type: ignore[arg-type]
            snap.jobs.extend(self._tables["jobs"].values())  # type: ignore[arg-type]
            snap.tasks.extend(self._tables["tasks"].values())  # type: ignore[arg-type]
            snap.managers.extend(self._tables["managers"].values())  # type: ignore[arg-type]
            snap.security.extend(self._tables["security"].values())  # type: ignore[arg-type]
            snap.settings.extend(self._tables["settings"].values())  # type: ignore[arg-type]
            return snap.SerializeToString(deterministic=True)

    def load(self, data: bytes) -> None:
        snap = spb.StoreSnapshot()
        snap.ParseFromString(data)
        with self._lock:
            self.index = snap.index
            self.max_term = snap.max_term
            self._tables = {
                "nodes": {n.meta.id: n for n in snap.nodes},
                "jobs": {j.meta.id: j for j in snap.jobs},
                "tasks": {t.meta.id: t for t in snap.tasks},
                "managers": {m.meta.id: m for m in snap.managers},
                "security": {x.meta.id: x for x in snap.security},
                "settings": {x.meta.id: x for x in snap.settings},
            }
            self._job_names = {j.spec.name: j.meta.id for j in snap.jobs}


# -- building batches ---------------------------------------------------------


def _wrap(obj: Message) -> spb.StoreObject:
    if isinstance(obj, pb.Node):
        return spb.StoreObject(node=obj)
    if isinstance(obj, pb.Job):
        return spb.StoreObject(job=obj)
    if isinstance(obj, pb.Task):
        return spb.StoreObject(task=obj)
    if isinstance(obj, pb.ManagerNode):
        return spb.StoreObject(manager=obj)
    if isinstance(obj, pb.ClusterSecurity):
        return spb.StoreObject(security=obj)
    if isinstance(obj, pb.ClusterSettings):
        return spb.StoreObject(settings=obj)
    raise TypeError(f"not a stored object: {type(obj).__name__}")


def create(obj: Message) -> spb.StoreAction:
    return spb.StoreAction(kind=spb.StoreAction.KIND_CREATE, object=_wrap(obj))


def update(obj: Message) -> spb.StoreAction:
    """`obj.meta.version` must be the version it was read at."""
    return spb.StoreAction(kind=spb.StoreAction.KIND_UPDATE, object=_wrap(obj))


def delete(obj: Message) -> spb.StoreAction:
    return spb.StoreAction(kind=spb.StoreAction.KIND_DELETE, object=_wrap(obj))
