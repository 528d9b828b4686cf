"""Group commit: one Raft entry (a RaftEntry) carries many StoreBatches.

`Store.apply_entry` applies an entry's batches in order, each on its own;
`GroupCommit` sends a lone proposal at once and packs the proposals that
arrive while an entry is in flight into the next entry, giving each caller
its own result or the entry's failure. `FakeRaft` stands in for pysyncobj:
it records the entries submitted and completes them when the test says so;
the last test drives a real single-node `RaftProposer`."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysyncobj import FAIL_REASON

from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import Unavailable
from manager.raft import GroupCommit, RaftProposer, encode_raft_entry
from manager.store import ApplyResult, Store, create
from tests.unit.manager.builders import batch, job, node


def entry(*batches: bytes) -> bytes:
    return spb.RaftEntry(batches=[spb.StoreBatch.FromString(b) for b in batches]).SerializeToString()


# -- Store.apply_entry -------------------------------------------------------------


def test_an_entry_applies_its_batches_in_order_each_with_its_own_result_and_index() -> None:
    store = Store()
    results = store.apply_entry(
        entry(
            batch([create(node("n1"))]),
            batch([create(node("n1"))]),  # conflicts with the batch before it in the same entry
            batch([create(job())]),
        )
    )
    assert [r.index for r in results] == [1, 2, 3] and store.index == 3
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].errors == ("nodes/n1: already exists",)
    assert store.view().jobs["job1"].meta.created_index == 3


def test_a_failing_atomic_batch_leaves_its_neighbours_in_the_entry_applied() -> None:
    store = Store()
    store.apply(batch([create(node("n1"))]))
    results = store.apply_entry(
        entry(
            batch([create(node("a"))], atomic=True),
            batch([create(node("b")), create(node("n1"))], atomic=True),  # fails whole
            batch([create(node("c"))], atomic=True),
        )
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].changes == ()
    assert set(store.view().nodes) == {"n1", "a", "c"}


def test_term_fencing_applies_batch_by_batch_within_an_entry() -> None:
    store = Store()
    results = store.apply_entry(
        entry(
            batch([create(node("old"))], term=3),
            batch([create(node("new"))], term=4),  # a new leader's first batch fences term 3 off
            batch([create(node("late"))], term=3),
            batch([create(node("client"))], term=0),  # unfenced
        )
    )
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].errors == ("stale term 3 < 4",)
    assert set(store.view().nodes) == {"old", "new", "client"}


def test_an_entry_gives_the_same_state_as_its_batches_applied_one_by_one() -> None:
    batches = [
        batch([create(node("n1")), create(job())], term=2, ts=5.0),
        batch([create(node("n1"))], atomic=True),
        batch([create(node("n2"))], term=1),
        batch([create(node("n3"))], ts=6.0),
    ]
    grouped, single = Store(), Store()
    grouped_results = grouped.apply_entry(entry(*batches))
    single_results = tuple(single.apply(b) for b in batches)
    assert grouped_results == single_results
    assert grouped.dump() == single.dump()


def test_watches_get_an_entry_as_one_change_set_in_batch_order_without_rejected_batches() -> None:
    async def run() -> list[tuple[str, ...]]:
        store = Store()
        _, watch = store.view_and_watch(["nodes"])
        store.apply_entry(entry(batch([create(node("a"))]), batch([create(node("a"))]), batch([create(node("b"))])))
        await asyncio.sleep(0)
        got = []
        while not watch.queue.empty():
            got.append(tuple(c.obj.meta.id for c in watch.queue.get_nowait()))
        return got

    assert asyncio.run(run()) == [("a", "b")]  # one wake-up per entry


def test_an_undecodable_entry_is_one_rejection_by_value() -> None:
    store = Store()
    results = store.apply_entry(b"\xff\xff\xff\xff")
    assert [(r.ok, r.errors, r.index) for r in results] == [(False, ("undecodable entry",), 1)]
    assert store.apply_entry(b"") == ()  # an empty entry applies nothing
    assert store.index == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_apply_entry_of_arbitrary_bytes_never_raises(entries: list[bytes]) -> None:
    store = Store()
    for data in entries:
        before = store.index
        results = store.apply_entry(data)
        assert store.index == before + len(results)
        assert [r.index for r in results] == list(range(before + 1, store.index + 1))


@pytest.mark.parametrize("sizes", [[0], [1, 127, 128], [300, 16383, 16384, 70000], []])
def test_encode_raft_entry_is_the_protobuf_encoding(sizes: list[int]) -> None:
    batches = [spb.StoreBatch(actions=[create(node("x" * n))]).SerializeToString() if n else b"" for n in sizes]
    assert (
        encode_raft_entry(batches)
        == spb.RaftEntry(batches=[spb.StoreBatch.FromString(b) for b in batches]).SerializeToString()
    )
    assert [b.SerializeToString() for b in spb.RaftEntry.FromString(encode_raft_entry(batches)).batches] == batches


# -- GroupCommit over a fake Raft -------------------------------------------------------


class FakeRaft:
    """Records the entries submitted; `commit` applies the oldest to a real
    store and calls back, `fail` calls back with a failure reason. `threaded`
    calls back from another thread, as pysyncobj does."""

    def __init__(self, *, threaded: bool = False) -> None:
        self.store = Store()
        self.pending: list[tuple[bytes, Callable[[Any, int], None]]] = []
        self.entries: list[list[spb.StoreBatch]] = []
        self.threaded = threaded

    def submit(self, data: bytes, callback: Callable[[Any, int], None]) -> None:
        self.entries.append(list(spb.RaftEntry.FromString(data).batches))
        self.pending.append((data, callback))

    def _call(self, callback: Callable[[Any, int], None], result: Any, error: int) -> None:
        if self.threaded:
            t = threading.Thread(target=callback, args=(result, error))
            t.start()
            t.join()
        else:
            callback(result, error)

    def commit(self) -> None:
        data, callback = self.pending.pop(0)
        self._call(callback, self.store.apply_entry(data), FAIL_REASON.SUCCESS)

    def fail(self, reason: int) -> None:
        _, callback = self.pending.pop(0)
        self._call(callback, None, reason)


def names(entries: list[spb.StoreBatch]) -> list[str]:
    return [a.object.node.meta.id for b in entries for a in b.actions]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def start(group: GroupCommit, *node_ids: str, atomic: bool = False) -> list[asyncio.Task[ApplyResult]]:
    tasks = []
    for n in node_ids:
        tasks.append(asyncio.create_task(group.propose(spb.StoreBatch(atomic=atomic, actions=[create(node(n))]))))
        await asyncio.sleep(0)  # each proposal reaches the pipeline in this order
    return tasks


def test_a_lone_proposal_is_sent_at_once_alone() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit)
        (t,) = await start(group, "a")
        assert [names(e) for e in raft.entries] == [["a"]]
        raft.commit()
        r = await t
        assert r.ok and r.index == 1
        (t,) = await start(group, "b")  # the pipeline is idle again: no waiting
        assert [names(e) for e in raft.entries] == [["a"], ["b"]]
        raft.commit()
        assert (await t).index == 2

    asyncio.run(run())


@pytest.mark.parametrize("threaded", [False, True])
def test_proposals_made_while_an_entry_is_in_flight_go_together_in_order(threaded: bool) -> None:
    async def run() -> None:
        raft = FakeRaft(threaded=threaded)
        group = GroupCommit(raft.submit)
        first = await start(group, "a")
        rest = await start(group, "b", "c", "d", "e")
        assert [names(e) for e in raft.entries] == [["a"]]  # one entry in flight at a time
        assert group.in_flight() == 1
        raft.commit()
        await settle()
        assert [names(e) for e in raft.entries] == [["a"], ["b", "c", "d", "e"]]
        raft.commit()
        results = await asyncio.gather(*first, *rest)
        assert [r.index for r in results] == [1, 2, 3, 4, 5]
        assert [[c.obj.meta.id for c in r.changes] for r in results] == [["a"], ["b"], ["c"], ["d"], ["e"]]
        assert list(raft.store.view().nodes) == ["a", "b", "c", "d", "e"]

    asyncio.run(run())


def test_each_caller_gets_its_own_result_and_a_failing_batch_does_not_affect_its_neighbours() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit)
        first = await start(group, "n1")
        grouped = await start(group, "a", "n1", "b", atomic=True)  # the second one conflicts
        raft.commit()
        await settle()
        raft.commit()
        results = await asyncio.gather(*first, *grouped)
        assert [r.ok for r in results] == [True, True, False, True]
        assert results[2].errors == ("nodes/n1: already exists",)
        assert set(raft.store.view().nodes) == {"n1", "a", "b"}

    asyncio.run(run())


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (FAIL_REASON.LEADER_CHANGED, "outcome is unknown"),
        (FAIL_REASON.DISCARDED, "outcome is unknown"),
        (FAIL_REASON.MISSING_LEADER, "knows no Raft leader .* the write was not applied"),
    ],
)
def test_a_failed_entry_fails_every_caller_in_it_and_the_next_entry_still_goes(reason: int, message: str) -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit)
        first = await start(group, "a")
        grouped = await start(group, "b", "c")
        raft.commit()
        await settle()
        later = await start(group, "d")  # queued behind the entry [b, c]
        raft.fail(reason)
        for t in grouped:
            with pytest.raises(Unavailable, match=message):
                await t
        await settle()
        assert [names(e) for e in raft.entries] == [["a"], ["b", "c"], ["d"]]
        raft.commit()
        assert (await first[0]).ok and (await later[0]).ok
        assert set(raft.store.view().nodes) == {"a", "d"}

    asyncio.run(run())


def test_with_linger_a_lone_writer_never_waits() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, linger=60)
        for i, n in enumerate("abc"):
            (t,) = await start(group, n)
            assert len(raft.entries) == i + 1, "sent at once"
            raft.commit()
            assert (await t).ok

    asyncio.run(run())


def test_with_linger_the_next_entry_waits_for_as_many_writers_as_were_outstanding() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, linger=60)
        tasks = await start(group, "a")
        tasks += await start(group, "b", "c", "d")  # four outstanding at once
        raft.commit()
        await settle()
        assert [names(e) for e in raft.entries] == [["a"], ["b", "c", "d"]]
        raft.commit()
        await settle()
        tasks += await start(group, "e", "f", "g")
        assert len(raft.entries) == 2, "waits for a fourth writer"
        tasks += await start(group, "h")
        assert [names(e) for e in raft.entries][2] == ["e", "f", "g", "h"]
        raft.commit()
        assert all(r.ok for r in await asyncio.gather(*tasks))

    asyncio.run(run())


def test_with_linger_an_entry_waits_no_longer_than_the_linger() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, linger=0.05)
        tasks = await start(group, "a")
        tasks += await start(group, "b", "c", "d")
        raft.commit()
        await settle()
        raft.commit()
        await settle()
        t0 = time.monotonic()
        tasks += await start(group, "e")  # only one of the four writes again
        while len(raft.entries) < 3:
            await asyncio.sleep(0.005)
        waited = time.monotonic() - t0
        assert 0.04 <= waited < 1.0
        assert names(raft.entries[2]) == ["e"]
        raft.commit()
        assert all(r.ok for r in await asyncio.gather(*tasks))

    asyncio.run(run())


def test_an_entry_is_bounded_by_batch_count_and_bytes() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, max_batches=3)
        await start(group, "a")
        tasks = await start(group, *"bcdefgh")
        while raft.pending:
            raft.commit()
            await settle()
        assert [names(e) for e in raft.entries] == [["a"], ["b", "c", "d"], ["e", "f", "g"], ["h"]]
        await asyncio.gather(*tasks)

        raft = FakeRaft()
        one = len(spb.StoreBatch(actions=[create(node("x" * 100))]).SerializeToString())
        group = GroupCommit(raft.submit, max_bytes=2 * one)
        await start(group, "x" * 100)
        await start(group, *("y" * 99 + str(i) for i in range(3)))
        await start(group, "z" * 1000)  # over the bound on its own: still goes, alone
        while raft.pending:
            raft.commit()
            await settle()
        assert [len(e) for e in raft.entries] == [1, 2, 1, 1]

    asyncio.run(run())


def test_an_entry_raft_never_completes_times_out_and_does_not_stall_the_pipeline() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, timeout=0.2)
        (stuck,) = await start(group, "a")
        with pytest.raises(Unavailable, match="outcome is unknown"):
            await stuck
        await settle()
        (t,) = await start(group, "b")
        assert [names(e) for e in raft.entries] == [["a"], ["b"]]
        raft.pending.pop(0)  # the lost entry's callback never comes
        raft.commit()
        assert (await t).ok

    asyncio.run(run())


def test_a_write_queued_behind_a_stuck_entry_hears_within_its_own_timeout() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit, timeout=0.3)
        (stuck,) = await start(group, "a")
        await asyncio.sleep(0.15)
        t0 = time.monotonic()
        (queued,) = await start(group, "b")
        with pytest.raises(Unavailable):
            await queued
        assert time.monotonic() - t0 < 0.3 + 0.1  # its own timeout, not the stuck entry's plus its own
        with pytest.raises(Unavailable):
            await stuck

    asyncio.run(run())


def test_a_caller_that_gave_up_while_queued_is_not_proposed() -> None:
    async def run() -> None:
        raft = FakeRaft()
        group = GroupCommit(raft.submit)
        await start(group, "a")
        (gave_up,) = await start(group, "b")
        (kept,) = await start(group, "c")
        gave_up.cancel()
        await settle()
        raft.commit()
        await settle()
        assert [names(e) for e in raft.entries] == [["a"], ["c"]]
        raft.commit()
        assert (await kept).ok

    asyncio.run(run())


def test_a_submit_that_raises_fails_its_callers_and_the_pipeline_goes_on() -> None:
    async def run() -> None:
        raft = FakeRaft()
        calls = 0

        def flaky(data: bytes, callback: Callable[[Any, int], None]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("boom")
            raft.submit(data, callback)

        group = GroupCommit(flaky)
        with pytest.raises(Unavailable, match="boom"):
            await group.propose(spb.StoreBatch(actions=[create(node("a"))]))
        (t,) = await start(group, "b")
        raft.commit()
        assert (await t).ok

    asyncio.run(run())


# -- a real single-node RaftProposer ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_single_node_raft_proposer_groups_concurrent_writes(tmp_path: Path) -> None:
    store = Store()
    proposer = RaftProposer(store, f"127.0.0.1:{free_port()}", [], tmp_path, "secret", dynamic_membership=False)
    entries: list[int] = []
    submit = proposer._group.submit

    def counting(data: bytes, callback: Callable[[Any, int], None]) -> None:
        entries.append(len(spb.RaftEntry.FromString(data).batches))
        submit(data, callback)

    proposer._group.submit = counting
    try:
        deadline = time.monotonic() + 15
        while not (proposer.is_leader() and proposer.is_ready()):
            assert time.monotonic() < deadline, "a single node elects itself"
            time.sleep(0.02)

        async def run() -> list[ApplyResult]:
            await proposer.propose(spb.StoreBatch(actions=[create(node("n1"))]))
            return await asyncio.gather(
                *(
                    proposer.propose(spb.StoreBatch(atomic=True, actions=[create(node("n1" if i == 7 else f"w{i}"))]))
                    for i in range(40)
                )
            )

        results = asyncio.run(run())
    finally:
        proposer.close()
    assert [r.ok for r in results] == [i != 7 for i in range(40)]
    assert [r.index for r in results] == list(range(2, 42))  # in proposal order
    assert len(store.view().nodes) == 40
    assert sum(entries) == 41 and len(entries) < 41  # several writes per Raft entry
    assert entries[0] == 1  # the first write went alone, at once


# -- the Raft port's cipher -----------------------------------------------------------------


def test_raft_cipher_round_trips_and_refuses_what_it_did_not_seal() -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.fernet import Fernet

    from manager.raft import RaftCipher

    cipher = RaftCipher("cluster secret")
    token = cipher.encrypt_at_time(b"entry bytes", 1234)
    assert cipher.extract_timestamp(token) == 1234
    assert RaftCipher("cluster secret").decrypt(token) == b"entry bytes"  # another manager, same secret
    assert cipher.encrypt_at_time(b"entry bytes", 1234) != token  # a fresh nonce each time
    forged_time = token[:1] + (99999).to_bytes(8, "big") + token[9:]
    refused = {
        "another secret": RaftCipher("another secret").encrypt_at_time(b"x", 1),
        "a changed timestamp": forged_time,
        "a flipped bit": token[:-1] + bytes([token[-1] ^ 1]),
        "truncated": token[:20],
        "empty": b"",
        "a Fernet token": Fernet(Fernet.generate_key()).encrypt(b"x"),
    }
    for what, data in refused.items():
        with pytest.raises((InvalidTag, ValueError)):
            cipher.decrypt(data)
        assert what


def test_raft_frames_are_stored_zlib_streams_any_pysyncobj_peer_decodes() -> None:
    import zlib

    import pysyncobj.tcp_connection as tcp

    from manager.raft import _StoredZlib

    assert tcp.zlib is _StoredZlib  # what pysyncobj's connections use once manager.raft is imported
    data = b"job spec " * 500
    framed = tcp.zlib.compress(data, 3)
    assert len(framed) > len(data)  # stored, not compressed
    assert zlib.decompress(framed) == data
    assert tcp.zlib.decompress(zlib.compress(data, 3)) == data  # a peer that still compresses is understood


def test_followers_never_drop_entries_they_hold_across_log_compactions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Three managers in one process, compacting every 150 entries: the
    leader never sends a follower entries it already holds (pysyncobj then
    logs `truncating already-applied log entries`), and all agree."""
    import logging

    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    stores = [Store() for _ in addresses]

    async def run() -> None:
        proposers = [
            RaftProposer(
                store, address, [a for a in addresses if a != address], tmp_path / str(i), "secret",
                log_compaction_entries=150,
            )
            for i, (store, address) in enumerate(zip(stores, addresses, strict=True))
        ]
        try:
            deadline = time.monotonic() + 20
            while not any(p.is_leader() for p in proposers):
                assert time.monotonic() < deadline, "no leader"
                await asyncio.sleep(0.05)
            leader = next(p for p in proposers if p.is_leader())
            for k in range(40):
                results = await asyncio.gather(
                    *(leader.propose(spb.StoreBatch(actions=[create(node(f"n{k}-{j}"))])) for j in range(3)),
                    *(leader.propose(spb.StoreBatch(actions=[create(node(f"m{k}-{j}"))])) for j in range(1)),
                )
                assert all(r.ok for r in results)
                for j in range(12):
                    assert (await leader.propose(spb.StoreBatch(actions=[create(node(f"s{k}-{j}"))]))).ok
            deadline = time.monotonic() + 20
            while len({s.index for s in stores}) != 1:
                assert time.monotonic() < deadline, f"stores did not converge: {[s.index for s in stores]}"
                await asyncio.sleep(0.05)
        finally:
            for p in proposers:
                p.close()

    with caplog.at_level(logging.WARNING, logger="pysyncobj"):
        asyncio.run(run())
    dropped = [r.getMessage() for r in caplog.records if "already-applied" in r.getMessage()]
    assert not dropped, dropped[:3]
    assert stores[0].index >= 40 * 16
    assert len({frozenset(s.view().nodes) for s in stores}) == 1
    assert (tmp_path / "0" / "raft.dump").exists() or (tmp_path / "1" / "raft.dump").exists(), "no compaction happened"


def test_after_a_calm_spell_the_first_follower_to_stand_wins_the_next_term(tmp_path: Path) -> None:
    """Followers exchange nothing while a leader lives, so after pysyncobj's
    connection timeout (3.5 s) their link is stale and the first message on
    it takes the link down. The first candidate must still reach the other
    follower (it asks again when the link comes back): the new leader is
    elected in the term right after the dead leader's, not after a second
    round of timeouts (which cost failovers up to 2.2 s)."""
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    proposers = [
        RaftProposer(Store(), address, [a for a in addresses if a != address], tmp_path / str(i), "secret")
        for i, address in enumerate(addresses)
    ]
    try:
        deadline = time.monotonic() + 20
        while not any(p.is_leader() for p in proposers):
            assert time.monotonic() < deadline, "no leader"
            time.sleep(0.05)
        leader = next(p for p in proposers if p.is_leader())
        assert asyncio.run(leader.propose(spb.StoreBatch(actions=[create(node("n1"))]))).ok
        survivors = [p for p in proposers if p is not leader]
        time.sleep(4.5)  # longer than pysyncobj's connectionTimeout: the followers' link is stale
        old_term = leader.term()
        leader.close()
        t_kill = time.monotonic()
        while not any(p.is_leader() for p in survivors):
            assert time.monotonic() - t_kill < 10, "no new leader"
            time.sleep(0.01)
        elected_after = time.monotonic() - t_kill
        new_leader = next(p for p in survivors if p.is_leader())
        assert new_leader.term() == old_term + 1, (old_term, new_leader.term(), elected_after)
        assert asyncio.run(new_leader.propose(spb.StoreBatch(actions=[create(node("n2"))]))).ok
    finally:
        for p in proposers:
            p.close()
