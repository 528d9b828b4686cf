"""A snapshot restore as the store applies it: jobs, tasks and settings
replaced object by object, everything else kept, versions that no writer
from before the restore can match."""

from __future__ import annotations

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from manager.store import ChangeKind, Store, clone, create, update
from tests.unit.manager.builders import T0, commit, job, node, task


def snapshot_of(store: Store) -> spb.StoreSnapshot:
    view = store.view()
    return spb.StoreSnapshot(index=view.index, jobs=view.jobs.values(), tasks=view.tasks.values(),
                             settings=view.settings.values())


def restore(store: Store, snap: spb.StoreSnapshot) -> object:
    result = store.apply(spb.StoreBatch(atomic=True, restore=snap, timestamp=T0 + 100).SerializeToString())
    assert result.ok, result.errors
    return result


def test_a_restore_brings_back_the_saved_jobs_and_tasks_and_nothing_else_changes() -> None:
    store = Store()
    commit(store, [create(node("n1")), create(job("a", name="alpha")), create(task("a1", job_id="a", job_name="alpha"))])
    settings = pb.ClusterSettings(meta=pb.Meta(id="cluster"), scheduler=pb.SchedulerSettings(policy="spread"))
    commit(store, [create(settings)])
    snap = snapshot_of(store)
    # After the snapshot: alpha is changed, beta is created, a node joins.
    changed = clone(store.view().jobs["a"])
    changed.spec.replicas = 9
    commit(store, [update(changed), create(job("b", name="beta")), create(task("b1", job_id="b", job_name="beta")),
                   create(node("n2"))])
    stale_alpha_version = store.view().jobs["a"].meta.version

    result = restore(store, snap)
    view = store.view()
    assert set(view.jobs) == {"a"} and view.jobs["a"].spec.replicas == 3
    assert set(view.tasks) == {"a1"}
    assert set(view.nodes) == {"n1", "n2"}  # nodes are the cluster's present, not the snapshot's
    assert view.settings["cluster"].scheduler.policy == "spread"
    kinds = {(c.table, c.obj.meta.id): c.kind for c in result.changes}  # type: ignore[attr-defined]
    assert kinds == {("jobs", "a"): ChangeKind.UPDATED, ("jobs", "b"): ChangeKind.DELETED,
                     ("tasks", "b1"): ChangeKind.DELETED}
    assert store.job_by_name("beta") is None and store.job_by_name("alpha") is not None
    # A writer holding alpha's version from before the restore is refused.
    late = clone(changed)
    late.meta.version = stale_alpha_version
    late.spec.replicas = 1
    refused = store.apply(spb.StoreBatch(atomic=True, actions=[update(late)]).SerializeToString())
    assert not refused.ok and "version" in refused.errors[0]
    assert view.jobs["a"].meta.version == result.index  # type: ignore[attr-defined]


def test_a_restore_is_the_same_on_every_replica_and_survives_a_snapshot() -> None:
    base = Store()
    commit(base, [create(job("a", name="alpha")), create(task("a1", job_id="a", job_name="alpha"))])
    snap = snapshot_of(base)
    commit(base, [create(job("b", name="beta"))])
    replicas = [Store(), Store()]
    replicas[0].load(base.dump())
    replicas[1].load(base.dump())
    for r in replicas:
        restore(r, snap)
    assert replicas[0].dump() == replicas[1].dump()
    again = Store()
    again.load(replicas[0].dump())
    assert set(again.view().jobs) == {"a"} and again.job_by_name("alpha") is not None


def test_job_names_that_change_hands_in_a_restore_stay_findable() -> None:
    """Two jobs whose names the snapshot has the other way round: each name
    still finds its job afterwards (the name index must not drop a name
    that already points at the other job)."""
    store = Store()
    commit(store, [create(job("j1", name="api")), create(job("j2", name="web"))])
    snap = snapshot_of(store)
    for j in ("j1", "j2"):  # delete both, then recreate them with swapped names
        commit(store, [spb.StoreAction(kind=spb.StoreAction.KIND_DELETE,
                                       object=spb.StoreObject(job=store.view().jobs[j]))])
    commit(store, [create(job("j1", name="web")), create(job("j2", name="api"))])
    restore(store, snap)
    assert store.job_by_name("api").meta.id == "j1"  # type: ignore[union-attr]
    assert store.job_by_name("web").meta.id == "j2"  # type: ignore[union-attr]
