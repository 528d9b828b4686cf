"""Cluster events: what each applied change says, and which changes say nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from manager.events import events_of
from manager.store import Store, clone, create, update
from manager.taskstate import TS
from tests.unit.manager.builders import T0, commit, job, node, task


def names(node_id: str) -> str:
    return {"n1": "alpha"}.get(node_id, node_id)


def events_after(store: Store, make: Callable[[Store], list[spb.StoreAction]], now: float = T0 + 5) -> list[cpb.Event]:
    result = commit(store, make(store), now=now)
    return events_of(result.changes, names)


def messages(events: list[cpb.Event]) -> list[str]:
    return [e.message for e in events]


def test_a_job_s_life_in_events() -> None:
    store = Store()
    created = events_after(store, lambda s: [create(job("j1", replicas=2))])
    assert [(e.kind, e.action, e.id, e.name) for e in created] == [("job", "created", "j1", "web")]
    assert created[0].message == "job web created: 2 x dockyard-test/busybox:1 (service)"
    assert created[0].timestamp == T0 + 5 and created[0].index == store.index

    def bump(s: Store, **fields: object) -> list[spb.StoreAction]:
        j = clone(s.view().jobs["j1"])
        for k, v in fields.items():
            setattr(j, k, v)
        return [update(j)]

    assert messages(events_after(store, lambda s: bump(s, spec_version=2))) == [
        "job web updated to version 2: 2 x dockyard-test/busybox:1"
    ]
    assert messages(events_after(store, lambda s: bump(s, stopped=True))) == ["job web stopped"]
    assert events_after(store, lambda s: bump(s)) == []  # a rewrite that changes nothing an operator sees


def test_a_removal_carries_the_index_and_time_of_the_batch_that_removed_it() -> None:
    store = Store()
    commit(store, [create(job("j1"))], now=T0)
    gone = events_after(
        store, lambda s: [spb.StoreAction(kind=spb.StoreAction.KIND_DELETE, object=spb.StoreObject(job=s.view().jobs["j1"]))],
        now=T0 + 9,
    )
    assert [(e.action, e.message) for e in gone] == [("removed", "job web removed")]
    assert (gone[0].index, gone[0].timestamp) == (store.index, T0 + 9)


def test_a_task_s_states_name_its_node_and_its_error() -> None:
    store = Store()
    commit(store, [create(node("n1"))])
    t = task("t1", job_id="j1", job_name="web", slot=1, spec_version=1, desired_state=TS.TASK_STATE_RUNNING,
             status=pb.TaskStatus(state=TS.TASK_STATE_PENDING))
    assert messages(events_after(store, lambda s: [create(t)])) == ["task web.1 created (job version 1, attempt 0)"]

    def change(**status: object) -> Callable[[Store], list[spb.StoreAction]]:
        def make(s: Store) -> list[spb.StoreAction]:
            cur = clone(s.view().tasks["t1"])
            cur.node_id = "n1"
            cur.status.CopyFrom(pb.TaskStatus(**status))  # type: ignore[arg-type]
            return [update(cur)]
        return make

    assert messages(events_after(store, change(state=TS.TASK_STATE_ASSIGNED, message="assigned to alpha"))) == [
        "task web.1 assigned on alpha"
    ]
    assert messages(events_after(store, change(state=TS.TASK_STATE_RUNNING, message="started"))) == [
        "task web.1 running on alpha: started"
    ]
    assert events_after(store, change(state=TS.TASK_STATE_RUNNING, message="still up")) == []  # same state
    assert messages(events_after(store, change(state=TS.TASK_STATE_FAILED, error="exit code 3"))) == [
        "task web.1 failed on alpha: exit code 3"
    ]


def test_a_task_told_to_stop_and_a_pending_reason_are_events() -> None:
    t = task("t1", job_id="j1", job_name="web", slot=2, desired_state=TS.TASK_STATE_RUNNING,
             status=pb.TaskStatus(state=TS.TASK_STATE_PENDING))
    store = Store()
    commit(store, [create(t)])

    def edit(**fields: object) -> Callable[[Store], list[spb.StoreAction]]:
        def make(s: Store) -> list[spb.StoreAction]:
            cur = clone(s.view().tasks["t1"])
            for k, v in fields.items():
                setattr(cur, k, v)
            return [update(cur)]
        return make

    assert messages(events_after(store, edit(pending_reason="no node has 4 cpu free"))) == [
        "task web.2 pending: no node has 4 cpu free"
    ]
    assert messages(events_after(store, edit(desired_state=TS.TASK_STATE_SHUTDOWN))) == ["task web.2 is to stop"]


def test_nodes_register_go_down_drain_and_get_labels() -> None:
    store = Store()
    n = node("n1")
    n.address = "10.0.0.9:7470"
    assert messages(events_after(store, lambda s: [create(n)])) == ["node name-n1 registered (10.0.0.9:7470)"]

    def edit(**fields: object) -> Callable[[Store], list[spb.StoreAction]]:
        def make(s: Store) -> list[spb.StoreAction]:
            cur = clone(s.view().nodes["n1"])
            for k, v in fields.items():
                if k == "labels":
                    cur.labels.update(v)  # type: ignore[arg-type]
                else:
                    setattr(cur, k, v)
            return [update(cur)]
        return make

    down = events_after(store, edit(state=pb.NODE_STATE_DOWN, state_message="heartbeat not received in time"))
    assert [(e.kind, e.action) for e in down] == [("node", "state")]
    assert down[0].message == "node name-n1 is down: heartbeat not received in time"
    assert messages(events_after(store, edit(availability=pb.NODE_AVAILABILITY_DRAIN))) == [
        "node name-n1 availability drain"
    ]
    assert messages(events_after(store, edit(labels={"zone": "east"}))) == ["node name-n1 labels: zone=east"]


def test_a_token_rotation_is_an_event_that_never_shows_a_token() -> None:
    store = Store()
    sec = pb.ClusterSecurity(meta=pb.Meta(id="cluster"), agent_token="SWMTKN-a-secret", manager_token="SWMTKN-m-secret")
    assert messages(events_after(store, lambda s: [create(sec)])) == ["cluster CA and join tokens created"]

    def rotate(s: Store) -> list[spb.StoreAction]:
        cur = clone(s.view().security["cluster"])
        cur.agent_token = "SWMTKN-a-new-secret"
        return [update(cur)]

    rotated = events_after(store, rotate)
    assert messages(rotated) == ["agent join token rotated"]
    assert "secret" not in str(rotated)


def test_settings_and_managers() -> None:
    store = Store()
    settings = pb.ClusterSettings(
        meta=pb.Meta(id="cluster"), heartbeat_period=1.0,
        scheduler=pb.SchedulerSettings(policy="spread", queue_order="drf", namespace_weights={"prod": 2.0}),
    )
    assert messages(events_after(store, lambda s: [create(settings)])) == [
        ("cluster settings version 1: policy spread, queue order drf, preemption off, namespace weights prod=2, "
         "heartbeat period 1s")
    ]
    m = pb.ManagerNode(meta=pb.Meta(id="m2"), name="manager-2", api_address="10.0.0.2:7460", raft_address="10.0.0.2:7461")
    assert messages(events_after(store, lambda s: [create(m)])) == [
        "manager manager-2 joined (API 10.0.0.2:7460, Raft 10.0.0.2:7461)"
    ]


class _AbortCalled(Exception):
    pass


class _Context:
    """What Control.Events asks of a gRPC servicer context."""

    def __init__(self, cert_pem: bytes) -> None:
        self.cert_pem = cert_pem
        self.aborted: tuple[object, str] | None = None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self.cert_pem]}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5555"

    async def abort(self, code: object, details: str) -> None:
        self.aborted = (code, details)
        raise _AbortCalled


def test_an_events_reader_that_falls_too_far_behind_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store never waits for a stream; a reader that does not keep up
    gets RESOURCE_EXHAUSTED instead of a backlog that grows without bound."""
    import asyncio

    import grpc

    from dockyard.pki import CertificateAuthority, NodeIdentity, Role
    from manager import control
    from manager.control import Control

    ca = CertificateAuthority.create("events-test")
    _, csr = NodeIdentity.generate_key_and_csr()
    context = _Context(ca.issue(csr, "admin-x", Role.ADMIN))
    monkeypatch.setattr(control, "EVENTS_BACKLOG", 5)
    store = Store()

    async def run() -> list[cpb.Event]:
        ctl = Control(store, None, "c", "m", pb.ClusterSettings(), None, None)  # type: ignore[arg-type]
        stream = ctl.Events(cpb.EventsRequest(kinds=["node"]), context)  # type: ignore[arg-type]
        got = []
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)  # the stream is subscribed
        commit(store, [create(node("n1"))])
        got.append(await first)
        for i in range(2, 10):  # 8 changes the reader does not take
            commit(store, [create(node(f"n{i}"))])
        await asyncio.sleep(0.05)  # let the watch deliver them
        async def drain() -> None:
            async for event in stream:
                got.append(event)

        with pytest.raises(_AbortCalled):
            await asyncio.wait_for(drain(), 5)  # without the cut-off: a TimeoutError, not an abort
        return got

    got = asyncio.run(run())
    assert [e.message.split(" (")[0] for e in got] == ["node name-n1 registered"]
    assert context.aborted is not None and context.aborted[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "fell 5 changes behind" in context.aborted[1]
