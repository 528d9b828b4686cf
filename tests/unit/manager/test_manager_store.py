"""Store.apply, the Raft state machine: compare-and-set, atomic and non-atomic
batches, term fencing, totality, snapshots, determinism, and view_and_watch."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from manager.raft import LocalProposer
from manager.store import TABLES, ChangeKind, Store, View, clone, create, delete, update
from tests.unit.manager.builders import batch, job, node, task


def snapshot_of(view: View) -> dict[str, dict[str, bytes]]:
    """A view's content in comparable form."""
    return {t: {k: v.SerializeToString(deterministic=True) for k, v in view.table(t).items()} for t in TABLES}


def at_version(obj: pb.Task | pb.Job | pb.Node, version: int) -> pb.Task | pb.Job | pb.Node:
    out = clone(obj)
    out.meta.version = version
    return out


# -- create / update / delete with compare-and-set ----------------------------


def test_create_stamps_version_indexes_and_the_batch_timestamp() -> None:
    store = Store()
    r = store.apply(batch([create(task("t1", job_id="j", slot=1))], ts=123.5))
    assert r.ok and r.errors == () and r.index == 1 == store.index
    t = store.get("tasks", "t1")
    assert isinstance(t, pb.Task)
    assert (t.meta.version, t.meta.created_index, t.meta.updated_index) == (1, 1, 1)
    assert t.meta.created_at == t.meta.updated_at == 123.5
    assert (t.job_id, t.slot) == ("j", 1)
    assert [(c.kind, c.table, c.obj.meta.id) for c in r.changes] == [(ChangeKind.CREATED, "tasks", "t1")]


def test_create_of_an_existing_id_is_rejected_and_keeps_the_original() -> None:
    store = Store()
    store.apply(batch([create(node("n1"))]))
    other = node("n1")
    other.name = "impostor"
    r = store.apply(batch([create(other)]))
    assert not r.ok
    assert r.errors == ("nodes/n1: already exists",)
    assert store.view().nodes["n1"].name == "name-n1"
    assert r.changes == ()


def test_a_job_name_belongs_to_one_job_and_is_found_without_a_view() -> None:
    store = Store()
    assert store.apply(batch([create(job("j1", name="web"))])).ok
    # A second submission of the same new name that raced the first one:
    r = store.apply(batch([create(job("j2", name="web"))]))
    assert not r.ok and r.errors == ("jobs/j2: the job name 'web' is taken by jobs/j1",)
    r = store.apply(batch([create(job("j3", name="db")), create(job("j4", name="db"))], atomic=False))
    assert r.errors == ("jobs/j4: the job name 'db' is taken by jobs/j3",)
    found = store.job_by_name("web")
    assert found is not None and found.meta.id == "j1"
    assert store.job_by_name("nope") is None
    # Deleting the job frees its name, also within one batch.
    j1 = store.job_by_name("web")
    assert j1 is not None
    assert store.apply(batch([delete(j1), create(job("j5", name="web"))])).ok
    assert store.job_by_name("web").meta.id == "j5"  # type: ignore[union-attr]
    # The index survives a snapshot round trip.
    other = Store()
    other.load(store.dump())
    assert other.job_by_name("db").meta.id == "j3"  # type: ignore[union-attr]
    assert not other.apply(batch([create(job("j6", name="db"))])).ok


def test_update_at_the_current_version_bumps_it_and_keeps_creation_stamps() -> None:
    store = Store()
    store.apply(batch([create(job())], ts=10.0))
    j = clone(store.view().jobs["job1"])
    j.spec.replicas = 7
    j.meta.created_index, j.meta.created_at = 99, 99.0  # the store owns these, not the writer
    j.meta.updated_index, j.meta.updated_at = 99, 99.0
    r = store.apply(batch([update(j)], ts=20.0))
    assert r.ok
    new = store.view().jobs["job1"]
    assert new.spec.replicas == 7
    assert new.meta.version == 2
    assert (new.meta.created_index, new.meta.updated_index) == (1, 2)
    assert (new.meta.created_at, new.meta.updated_at) == (10.0, 20.0)
    (change,) = r.changes
    assert change.kind is ChangeKind.UPDATED
    assert change.old is not None and change.old.spec.replicas == 3  # type: ignore[attr-defined]


def test_update_at_a_stale_version_is_rejected_by_value() -> None:
    store = Store()
    store.apply(batch([create(job())]))
    first = clone(store.view().jobs["job1"])  # read at version 1
    j = clone(first)
    j.spec.replicas = 5
    assert store.apply(batch([update(j)])).ok  # now version 2
    first.spec.replicas = 9  # a writer that read version 1 loses the race
    r = store.apply(batch([update(first)]))
    assert not r.ok
    assert r.errors == ("jobs/job1: version 1 != 2",)
    assert store.view().jobs["job1"].spec.replicas == 5
    assert store.view().jobs["job1"].meta.version == 2


def test_update_or_delete_of_a_missing_object_is_rejected() -> None:
    store = Store()
    r = store.apply(batch([update(at_version(task("ghost"), 1)), delete(at_version(node("gone"), 1))]))
    assert not r.ok
    assert r.errors == ("tasks/ghost: not found", "nodes/gone: not found")


def test_delete_is_compare_and_set_too() -> None:
    store = Store()
    store.apply(batch([create(node("n1"))]))
    n = clone(store.view().nodes["n1"])
    n.name = "renamed"
    store.apply(batch([update(n)]))  # version 2
    r = store.apply(batch([delete(at_version(n, 1))]))
    assert not r.ok and "version 1 != 2" in r.errors[0]
    assert "n1" in store.view().nodes
    r = store.apply(batch([delete(at_version(n, 2))]))
    assert r.ok
    assert "n1" not in store.view().nodes
    (change,) = r.changes
    assert change.kind is ChangeKind.DELETED and change.obj.name == "renamed"  # type: ignore[attr-defined]


def test_actions_in_one_batch_see_the_earlier_ones() -> None:
    store = Store()
    t = task("t1", slot=1)
    t2 = at_version(t, 1)
    t2.slot = 2
    t3 = at_version(t, 2)
    r = store.apply(batch([create(t), update(t2), delete(t3), create(task("t1", slot=9))], atomic=True))
    assert r.ok, r.errors
    final = store.view().tasks["t1"]
    assert (final.slot, final.meta.version) == (9, 1)
    assert [c.kind for c in r.changes] == [
        ChangeKind.CREATED,
        ChangeKind.UPDATED,
        ChangeKind.DELETED,
        ChangeKind.CREATED,
    ]


def test_objects_held_from_a_view_are_never_changed_by_later_applies() -> None:
    store = Store()
    store.apply(batch([create(job())]))
    before = store.view()
    held = before.jobs["job1"]
    j = clone(held)
    j.spec.replicas = 1
    store.apply(batch([update(j)]))
    store.apply(batch([create(node("n1"))]))
    assert held.spec.replicas == 3 and held.meta.version == 1
    assert before.nodes == {} and before.index == 1


# -- atomic and non-atomic batches ---------------------------------------------


def test_an_atomic_batch_applies_nothing_when_one_action_fails() -> None:
    store = Store()
    store.apply(batch([create(node("n1")), create(job())]))
    before = snapshot_of(store.view())
    j = clone(store.view().jobs["job1"])
    j.spec.replicas = 10
    r = store.apply(
        batch([create(task("t1")), update(j), create(node("n1")), delete(at_version(node("n1"), 1))], atomic=True)
    )
    assert not r.ok
    assert r.errors == ("nodes/n1: already exists",)
    assert r.changes == ()
    assert snapshot_of(store.view()) == before
    assert store.index == 2  # the entry still counts


def test_a_non_atomic_batch_applies_the_valid_actions_and_reports_the_others() -> None:
    store = Store()
    store.apply(batch([create(node("n1")), create(job())]))
    j = clone(store.view().jobs["job1"])
    j.spec.replicas = 10
    stale = at_version(store.view().jobs["job1"], 7)
    r = store.apply(batch([create(task("t1")), create(node("n1")), update(j), update(stale), create(pb.Task())]))
    assert not r.ok
    assert r.errors == ("nodes/n1: already exists", "jobs/job1: version 7 != 2", "tasks: object without an id")
    view = store.view()
    assert "t1" in view.tasks
    assert view.jobs["job1"].spec.replicas == 10 and view.jobs["job1"].meta.version == 2
    assert [(c.kind, c.obj.meta.id) for c in r.changes] == [(ChangeKind.CREATED, "t1"), (ChangeKind.UPDATED, "job1")]


def test_actions_without_an_object_or_of_unknown_kind_are_errors_not_exceptions() -> None:
    store = Store()
    store.apply(batch([create(node("n1"))]))
    unknown = spb.StoreAction(
        kind=spb.StoreAction.KIND_UNSPECIFIED, object=spb.StoreObject(node=at_version(node("n1"), 1))
    )
    r = store.apply(batch([spb.StoreAction(kind=spb.StoreAction.KIND_CREATE), unknown, spb.StoreAction(kind=99)]))  # type: ignore[arg-type]
    assert not r.ok
    assert r.errors[0] == "action without an object"
    assert "unknown action kind" in r.errors[1]
    assert len(r.errors) == 3
    assert store.view().nodes["n1"].meta.version == 1


# -- term fencing ------------------------------------------------------------------


def test_a_batch_from_an_older_term_is_rejected_whole() -> None:
    store = Store()
    assert store.apply(batch([create(node("n1"))], term=5)).ok
    assert store.max_term == 5
    r = store.apply(batch([create(node("n2")), create(job())], term=4))
    assert not r.ok
    assert r.errors == ("stale term 4 < 5",)
    assert set(store.view().nodes) == {"n1"} and store.view().jobs == {}
    assert store.max_term == 5
    assert store.apply(batch([create(node("n3"))], term=5)).ok  # same term: fine
    assert store.apply(batch([create(node("n4"))], term=0)).ok  # unfenced (client writes)
    assert store.max_term == 5  # term 0 does not lower the fence
    assert store.apply(batch([create(node("n5"))], term=6)).ok
    assert not store.apply(batch([create(node("n6"))], term=5)).ok  # the new leader fenced term 5 off
    assert set(store.view().nodes) == {"n1", "n3", "n4", "n5"}


def test_unfenced_batches_apply_whatever_the_term_seen() -> None:
    store = Store()
    store.apply(batch([], term=100))
    for i in range(3):
        assert store.apply(batch([create(node(f"n{i}"))], term=0)).ok
    assert len(store.view().nodes) == 3


# -- totality and the index ------------------------------------------------------------


def test_undecodable_bytes_are_rejected_by_value() -> None:
    store = Store()
    r = store.apply(b"\xff\xff\xff\xff")
    assert not r.ok and r.errors == ("undecodable entry",) and r.index == 1
    assert snapshot_of(store.view()) == {t: {} for t in TABLES}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_apply_of_arbitrary_bytes_never_raises_and_always_advances_the_index(entries: list[bytes]) -> None:
    store = Store()
    store.apply(batch([create(node("n1")), create(job())]))
    for i, data in enumerate(entries, start=2):
        r = store.apply(data)
        assert r.index == store.index == i
        assert r.ok == (not r.errors)


def test_every_entry_advances_the_index_whatever_its_fate() -> None:
    store = Store()
    results = [
        store.apply(batch([create(node("n1"))], term=3)),  # ok
        store.apply(batch([create(node("n1"))])),  # conflict
        store.apply(batch([create(node("n2"))], term=1)),  # stale term
        store.apply(b"\x0a"),  # truncated
        store.apply(b""),  # an empty batch is valid
    ]
    assert [r.index for r in results] == [1, 2, 3, 4, 5]
    assert [r.ok for r in results] == [True, False, False, False, True]
    assert store.index == 5


# -- snapshots -----------------------------------------------------------------------------


def populated_store() -> Store:
    store = Store()
    store.apply(batch([create(node("n1")), create(node("n2", down=True)), create(job())], term=2, ts=5.0))
    store.apply(batch([create(task(f"t{i}", job_id="job1", slot=i, node_id="n1")) for i in range(1, 4)], ts=6.0))
    t = clone(store.view().tasks["t2"])
    t.status.state = pb.TASK_STATE_RUNNING
    store.apply(batch([update(t), delete(store.view().tasks["t3"])], ts=7.0))
    return store


def test_dump_and_load_round_trip_gives_an_identical_store() -> None:
    a = populated_store()
    b = Store()
    b.load(a.dump())
    assert (b.index, b.max_term) == (a.index, a.max_term) == (3, 2)
    assert snapshot_of(b.view()) == snapshot_of(a.view())
    assert b.view().index == a.view().index
    assert b.dump() == a.dump()
    # and it goes on from there exactly like the original: fencing included
    for s in (a, b):
        assert not s.apply(batch([create(node("late"))], term=1)).ok
        t = clone(s.view().tasks["t1"])
        t.desired_state = pb.TASK_STATE_SHUTDOWN
        assert s.apply(batch([update(t), create(node("n3"))], term=2, ts=8.0)).ok
    assert b.dump() == a.dump()


def test_load_replaces_the_previous_content() -> None:
    a = populated_store()
    b = Store()
    b.apply(batch([create(node("stray")), create(job("other"))], term=9))
    b.load(a.dump())
    assert snapshot_of(b.view()) == snapshot_of(a.view())
    assert b.max_term == 2


# -- determinism (property) ---------------------------------------------------------------

IDS = st.sampled_from(["a", "b", "c"])
VERSIONS = st.integers(min_value=0, max_value=3)


@st.composite
def stored_objects(draw: st.DrawFn) -> spb.StoreObject:
    obj_id = draw(IDS)
    version = draw(VERSIONS)
    kind = draw(st.sampled_from(["node", "job", "task"]))
    meta = pb.Meta(id=obj_id, version=version)
    if kind == "node":
        return spb.StoreObject(node=pb.Node(meta=meta, name=draw(st.text(max_size=5))))
    if kind == "job":
        return spb.StoreObject(job=pb.Job(meta=meta, spec=pb.JobSpec(replicas=draw(st.integers(0, 5)))))
    state = draw(st.sampled_from(list(pb.TaskState.values())))
    return spb.StoreObject(task=pb.Task(meta=meta, slot=draw(st.integers(0, 5)), status=pb.TaskStatus(state=state)))


# Mostly creates and updates so that many actions succeed; some junk too.
ACTIONS = st.builds(spb.StoreAction, kind=st.sampled_from([1, 1, 1, 2, 2, 2, 3, 0]), object=stored_objects())
BATCHES = st.builds(
    spb.StoreBatch,
    term=st.sampled_from([0, 0, 0, 1, 2, 3]),
    atomic=st.booleans(),
    actions=st.lists(ACTIONS, max_size=6),
    timestamp=st.floats(min_value=0, max_value=1e9),
)
ENTRIES = st.lists(
    st.one_of(
        BATCHES.map(lambda b: b.SerializeToString()),
        BATCHES.map(lambda b: b.SerializeToString()),
        st.binary(max_size=16),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES, st.integers(min_value=0, max_value=25))
def test_replicas_applying_the_same_log_reach_the_same_state(entries: list[bytes], cut: int) -> None:
    a, b = Store(), Store()
    results_a = [a.apply(e) for e in entries]
    results_b = [b.apply(e) for e in entries]
    assert a.dump() == b.dump()
    assert [(r.index, r.ok, r.errors) for r in results_a] == [(r.index, r.ok, r.errors) for r in results_b]
    # A replica that restored a snapshot taken mid-log and replays the rest agrees too.
    cut = min(cut, len(entries))
    c, d = Store(), Store()
    for e in entries[:cut]:
        c.apply(e)
    d.load(c.dump())
    for e in entries[cut:]:
        d.apply(e)
    assert d.dump() == a.dump()
    # Invariants every replica keeps: versions start at 1, indexes never exceed the store's.
    for table in TABLES:
        for obj in a.view().table(table).values():
            meta = obj.meta  # type: ignore[attr-defined]
            assert meta.version >= 1
            assert meta.created_index <= meta.updated_index <= a.index


# -- the leader's write path in-process ---------------------------------------------------


def test_local_proposer_applies_and_stamps_the_proposal_time() -> None:
    store = Store()
    proposer = LocalProposer(store, term=3)

    async def go() -> None:
        r = await proposer.propose(spb.StoreBatch(term=proposer.term(), actions=[create(node("n1"))]))
        assert r.ok and r.index == 1

    asyncio.run(go())
    n = store.view().nodes["n1"]
    assert n.meta.created_at > 0
    assert store.max_term == 3
    assert proposer.status().last_applied == 1


# -- view_and_watch ---------------------------------------------------------------------------


async def drain(queue: asyncio.Queue, until: int, timeout: float = 5.0) -> list:  # type: ignore[type-arg]
    """Changes from the watch queue until `until` have arrived (plus nothing more pending)."""
    got: list = []  # type: ignore[type-arg]
    async with asyncio.timeout(timeout):
        while len(got) < until:
            got.extend(await queue.get())
    await asyncio.sleep(0.01)
    while not queue.empty():
        got.extend(queue.get_nowait())
    return got


def test_view_and_watch_delivers_exactly_the_changes_after_the_view() -> None:
    store = Store()
    store.apply(batch([create(node("n1")), create(job())]))

    async def go() -> None:
        view, watch = store.view_and_watch()
        assert set(view.nodes) == {"n1"} and set(view.jobs) == {"job1"} and view.index == 1
        j = clone(view.jobs["job1"])
        j.spec.replicas = 4
        store.apply(batch([update(j), create(task("t1", job_id="job1"))]))
        store.apply(batch([create(node("n1"))]))  # rejected: no change to deliver
        store.apply(batch([delete(view.nodes["n1"])]))
        got = await drain(watch.queue, until=3)
        assert [(c.kind, c.table, c.obj.meta.id) for c in got] == [
            (ChangeKind.UPDATED, "jobs", "job1"),
            (ChangeKind.CREATED, "tasks", "t1"),
            (ChangeKind.DELETED, "nodes", "n1"),
        ]
        watch.close()
        store.apply(batch([create(node("n9"))]))
        await asyncio.sleep(0.01)
        assert watch.queue.empty()

    asyncio.run(go())


def test_a_watch_only_delivers_its_tables() -> None:
    store = Store()

    async def go() -> None:
        _, watch = store.view_and_watch(tables=["tasks"])
        store.apply(batch([create(node("n1")), create(job())]))
        store.apply(batch([create(task("t1")), create(node("n2"))]))
        got = await drain(watch.queue, until=1)
        assert [(c.table, c.obj.meta.id) for c in got] == [("tasks", "t1")]
        watch.close()

    asyncio.run(go())


def test_view_plus_watched_changes_rebuild_the_state_while_another_thread_applies() -> None:
    """The Raft thread applies while a loop takes its view: replaying the watch
    on top of the view must give the final state, with no change missed or
    delivered twice."""
    store = Store()
    n_entries = 300
    started = threading.Event()

    def writer() -> None:
        for i in range(n_entries):
            if i == n_entries // 3:
                started.set()
            actions = [create(task(f"t{i}", slot=i))]
            if i >= 2:
                actions.append(delete(store.view().tasks[f"t{i - 2}"]))
            assert store.apply(batch(actions)).ok
            time.sleep(0)  # let the other thread in

    async def go() -> None:
        th = threading.Thread(target=writer)
        th.start()
        started.wait()
        view, watch = store.view_and_watch()
        th.join()
        await asyncio.sleep(0.05)  # the pushes were scheduled with call_soon_threadsafe
        rebuilt = dict(view.tasks)
        while not watch.queue.empty():
            for ch in watch.queue.get_nowait():
                if ch.kind is ChangeKind.DELETED:
                    assert ch.obj.meta.id in rebuilt, "deleted something the view never had"
                    del rebuilt[ch.obj.meta.id]
                else:
                    assert ch.kind is ChangeKind.CREATED
                    assert ch.obj.meta.id not in rebuilt, "created something the view already had"
                    rebuilt[ch.obj.meta.id] = ch.obj
        watch.close()
        final = store.view().tasks
        assert {k: v.meta.updated_index for k, v in rebuilt.items()} == {
            k: v.meta.updated_index for k, v in final.items()
        }
        assert set(final) == {f"t{n_entries - 2}", f"t{n_entries - 1}"}

    asyncio.run(go())


@pytest.mark.parametrize("tables", [TABLES, ("jobs",)])
def test_a_closed_watch_is_forgotten_by_the_store(tables: tuple[str, ...]) -> None:
    store = Store()

    async def go() -> None:
        _, watch = store.view_and_watch(tables)
        watch.close()
        watch.close()  # idempotent
        store.apply(batch([create(job())]))
        await asyncio.sleep(0.01)
        assert watch.queue.empty()

    asyncio.run(go())
    # A watch whose loop has gone does not break apply (the Raft thread must not raise).
    store2 = Store()

    async def leak() -> None:
        store2.view_and_watch(tables)

    asyncio.run(leak())
    assert store2.apply(batch([create(job()), create(node("n1"))])).ok
