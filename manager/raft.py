"""The Raft driver: the only module that imports pysyncobj.

One replicated method, `apply(entry: bytes)`, carries a serialized
`RaftEntry` (a group of `StoreBatch`es); Raft entries are protobuf bytes,
never pickled objects of ours. Snapshots (pysyncobj's full dump) hold the
store's protobuf snapshot bytes.

pysyncobj is configured for latency (DESIGN.md section 2): with its default
`appendEntriesUseBatch=True` a commit waits for the append-entries period
(~100 ms here); with False a commit takes ~0.4 ms. Batching happens in our
own layer instead: `GroupCommit` sends a lone proposal at once and packs the
proposals that arrive while an entry is in flight into the next entry
(lingering up to `COMMIT_LINGER` for the previous entry's writers).

Two things of pysyncobj's wire are replaced, both from this module: messages
are sealed with `RaftCipher` (AES-GCM-SIV) instead of Fernet, and framed as
stored (level 0) zlib streams instead of level-3 compressed ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pysyncobj.tcp_connection as _pysyncobj_tcp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.monotonic import monotonic as _pysyncobj_clock

from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import Unavailable
from manager.store import ApplyResult, Store

log = logging.getLogger("dockyard.raft")


class Proposer(Protocol):
    """How the manager writes: propose a batch, learn its result once applied
    locally. `LocalProposer` is the in-process implementation for tests."""

    async def propose(self, batch: spb.StoreBatch) -> ApplyResult: ...

    def is_leader(self) -> bool: ...

    async def add_member(self, raft_address: str) -> None: ...

    async def remove_member(self, raft_address: str) -> None: ...

    def term(self) -> int: ...

    def status(self) -> RaftStatus: ...


@dataclass(frozen=True, slots=True)
class RaftStatus:
    address: str
    leader: str
    is_leader: bool
    term: int
    commit_index: int
    last_applied: int
    peers: dict[str, bool]  # peer address -> connected


class LocalProposer:
    """Applies batches directly to a store: a single-replica "log" for unit
    tests and tools that need the store's semantics without Raft."""

    def __init__(self, store: Store, term: int = 1) -> None:
        self.store = store
        self._term = term

    async def propose(self, batch: spb.StoreBatch) -> ApplyResult:
        if not batch.timestamp:
            batch.timestamp = time.time()
        return self.store.apply(batch.SerializeToString())

    def is_leader(self) -> bool:
        return True

    async def add_member(self, raft_address: str) -> None:
        raise Unavailable("a local store has no Raft members")

    async def remove_member(self, raft_address: str) -> None:
        raise Unavailable("a local store has no Raft members")

    def term(self) -> int:
        return self._term

    def status(self) -> RaftStatus:
        return RaftStatus("local", "local", True, self._term, self.store.index, self.store.index, {})


class _StoreMachine(SyncObjConsumer):  # type: ignore[misc]
    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    @replicated  # type: ignore[untyped-decorator]
    def apply(self, entry: bytes) -> tuple[ApplyResult, ...]:
        return self._store.apply_entry(entry)

    # pysyncobj pickles what these return into its dump file; we hand it the
    # store's protobuf bytes so no object of ours is ever pickled.
    def _serialize(self) -> bytes:
        return self._store.dump()

    def _deserialize(self, data: Any) -> None:
        if isinstance(data, bytes):
            self._store.load(data)


class RaftCipher:
    """Protection of every message on the Raft port, in the interface
    pysyncobj expects of its `encryptor` (Fernet's `encrypt_at_time`,
    `extract_timestamp`, `decrypt`).

    AES-256-GCM-SIV with a key derived from the cluster's Raft secret
    (PBKDF2-HMAC-SHA256, 100,000 iterations, as pysyncobj derives its Fernet
    key). A token is: version (1 byte) | sender's timestamp (8 bytes, big
    endian, authenticated) | nonce (12 random bytes) | ciphertext and tag.
    Anything that does not authenticate raises, and pysyncobj then drops the
    connection without unpickling a byte. GCM-SIV keeps random nonces safe
    for the life of a cluster (a repeated nonce would reveal only that two
    messages were equal). It costs ~9 us per 3 KB message against Fernet's
    ~50 us (AES-CBC and HMAC driven from Python); the leader encrypts or
    decrypts four messages per Raft entry and each follower two.
    """

    VERSION = b"\x01"
    _HEADER = 1 + 8 + 12

    def __init__(self, secret: str) -> None:
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=b"dockyard raft v1", iterations=100_000)
        self._aead = AESGCMSIV(kdf.derive(secret.encode()))

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        header = self.VERSION + struct.pack(">Q", current_time)
        nonce = os.urandom(12)
        return header + nonce + self._aead.encrypt(nonce, data, header)

    def extract_timestamp(self, token: bytes) -> int:
        if len(token) < self._HEADER + 16 or token[:1] != self.VERSION:
            raise InvalidTag
        return int(struct.unpack(">Q", token[1:9])[0])

    def decrypt(self, token: bytes) -> bytes:
        self.extract_timestamp(token)
        return self._aead.decrypt(token[9 : self._HEADER], token[self._HEADER :], token[:9])


class _StoredZlib:
    """What pysyncobj's TCP connections see as `zlib`: messages are framed as
    zlib streams at level 0 (stored, not compressed) instead of level 3.
    Compressing every Raft message cost the leader ~9 us per write at 16
    concurrent writers (~3 % of throughput) to save bandwidth a LAN does not
    need; the frames stay zlib streams, so any pysyncobj peer decodes them."""

    @staticmethod
    def compress(data: bytes, level: int = -1) -> bytes:
        return zlib.compress(data, 0)

    decompress = staticmethod(zlib.decompress)


_pysyncobj_tcp.zlib = _StoredZlib


_CANDIDATE = 1  # pysyncobj's _RAFT_STATE.CANDIDATE


class _LowLatencySyncObj(SyncObj):  # type: ignore[misc]
    """pysyncobj appends proposed commands at the very end of a tick, after it
    has computed the commit index; the commit waits for the next tick, which
    on a quiet cluster (one manager: no peer traffic to wake the poller) comes
    only after `autoTickPeriod` (50 ms). Waking the poller again when a tick
    appended entries makes a single-manager commit take well under 1 ms.

    Messages are protected by `RaftCipher` instead of pysyncobj's Fernet: the
    transport asks the `encryptor` property for every connection, and the
    configuration carries no password so that pysyncobj builds no Fernet."""

    def __init__(self, *args: Any, cipher: RaftCipher, **kwargs: Any) -> None:
        self._dockyard_cipher = cipher
        super().__init__(*args, **kwargs)

    @property
    def encryptor(self) -> RaftCipher:
        return self._dockyard_cipher

    # pysyncobj checks the election deadline once per tick, and an idle
    # follower ticks every `autoTickPeriod` (0.1 s) counted from the last
    # message it received. The leader's heartbeat reaches every follower at
    # the same moment, so after the leader dies all followers check on the
    # same 0.1 s grid: two random deadlines in the same cell (about one
    # failover in ten) made them stand at the same instant, split the vote
    # and wait out a second timeout (failover ~2.3 s instead of ~0.8 s).
    # Waking exactly at the deadline keeps the randomised timeouts apart.
    # The deadline is on pysyncobj's clock (CLOCK_MONOTONIC_RAW), which
    # drifts from time.monotonic() by tenths of a second within minutes of
    # boot; measured on the wrong clock, the wake-up missed the deadline and
    # the 0.1 s grid was back.
    def _onTick(self, timeToWait: float = 0.0) -> None:
        if timeToWait > 0 and not self._isLeader():
            until = self._SyncObj__raftElectionDeadline - _pysyncobj_clock()
            # A deadline already past did not start an election this tick (no
            # peer connected): wait as usual rather than spin.
            if until > 0:
                timeToWait = min(timeToWait, until)
        super()._onTick(timeToWait)

    # Two followers never send each other anything while a leader lives, and
    # pysyncobj drops a connection that has read nothing for
    # `connectionTimeout` (3.5 s) when it next sends on it (or reads from
    # it). In a cluster that has run for a while, a candidate's request_vote
    # to the other follower therefore always went down with the stale link;
    # the link came back within milliseconds but the request was not sent
    # again until the candidate's next election timeout (0.5-1.4 s later),
    # and meanwhile the other follower timed out and stood too. Failover
    # after a calm spell took 1.1-2.2 s (p95 2.2 s) instead of ~0.8 s.
    # Raft retries a RequestVote that got no answer; a candidate asks again
    # each peer that connects. A peer that already voted in this term
    # ignores the repeat, so no vote is counted twice.
    def _SyncObj__onNodeConnected(self, node: Any) -> None:
        super()._SyncObj__onNodeConnected(node)
        if self._SyncObj__raftState == _CANDIDATE and node in self._SyncObj__otherNodes:
            self._SyncObj__transport.send(node, {
                "type": "request_vote",
                "term": self._SyncObj__raftCurrentTerm,
                "last_log_index": self._SyncObj__getCurrentLogIndex(),
                "last_log_term": self._SyncObj__getCurrentLogTerm(),
            })

    def _checkCommandsToApply(self) -> None:
        log = self._SyncObj__raftLog
        before = len(log)
        super()._checkCommandsToApply()
        if len(log) != before:
            self._SyncObj__pipeNotifier.notify()

    # pysyncobj's leader streams a follower every entry from its next index in
    # 64 KiB batches and takes each reply's `next_node_idx` as the new next
    # index. A follower whose log ends in entries of an older term (a deposed
    # leader's uncommitted writes) answers the first batch "conflict at i, go
    # back to i" but every later batch "my log ends at e, send from e + 1", so
    # the leader is set back to e + 1 again and never walks back past the
    # conflict: a healed old leader stays behind for good (until the leader
    # compacts its log, up to 5 minutes). Dropping the conflicting suffix when
    # the conflict is seen (Raft's rule: an entry that conflicts with the
    # leader's is not committed, delete it and all that follow) makes every
    # reply agree, so the leader walks back one entry per round trip.
    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "append_entries":
            self._drop_conflicting_suffix(message)
        if isinstance(message, dict) and message.get("type") == "next_node_idx" and message.get("success") \
                and not message.get("reset"):
            # The leader sends entries ahead of the replies (it moves a
            # follower's next index past what it sent); a success reply to an
            # earlier message then set the next index back, and the entries
            # still on the wire went again. The follower, finding entries it
            # already holds, dropped and re-appended them ("truncating
            # already-applied log entries"): wasted work that piled up
            # whenever a follower paused (its log compaction). A success only
            # moves the match index on; a failure (reset) still moves the next
            # index back, which is also how entries lost with a connection are
            # sent again.
            sent = self._SyncObj__raftNextIndex.get(node)
            super()._SyncObj__onMessageReceived(node, message)
            if sent is not None and self._SyncObj__raftNextIndex.get(node, sent) < sent:
                self._SyncObj__raftNextIndex[node] = sent
            return
        super()._SyncObj__onMessageReceived(node, message)

    def _drop_conflicting_suffix(self, message: dict[str, Any]) -> None:
        if message.get("term", -1) < self._SyncObj__raftCurrentTerm:
            return
        if "prevLogIdx" not in message or message.get("transmission") is not None:
            return
        prev_idx, prev_term = message["prevLogIdx"], message["prevLogTerm"]
        if prev_idx <= self._SyncObj__raftCommitIndex:
            return  # committed entries never conflict with a current leader's
        entries = self._SyncObj__getEntries(prev_idx)
        if not entries or entries[0][2] == prev_term:
            return
        if self._SyncObj__conf.dynamicMembershipChange:
            for entry in reversed(entries):
                change = self._SyncObj__parseChangeClusterRequest(entry[0])
                if change is not None:
                    self._SyncObj__doChangeCluster(change, reverse=True)
        log.info("event=raft_conflict_dropped from_index=%d entries=%d", prev_idx, len(entries))
        self._SyncObj__deleteEntriesFrom(prev_idx)


_ROLES = {0: "follower", 1: "candidate", 2: "leader"}  # pysyncobj's _RAFT_STATE

_UNKNOWN_OUTCOME = {
    FAIL_REASON.DISCARDED,
    FAIL_REASON.NOT_LEADER,
    FAIL_REASON.LEADER_CHANGED,
    FAIL_REASON.UNKNOWN_OUTCOME,
}


# How long, at most, an entry waits for the writers of the previous one to
# write again (GroupCommit.linger). At 16 concurrent writers an entry then
# carries ~14 writes instead of ~4: the leader spends ~35% less CPU per write
# and the followers half as much, and throughput rises by a third; a lone
# writer never waits. (python -m bench.failover --only writes)
COMMIT_LINGER = 0.008


# submit(entry, callback): hand one serialized RaftEntry to Raft; callback(results,
# fail_reason) is called once, from any thread, when it is applied locally or fails.
SubmitEntry = Callable[[bytes, Callable[[Any, int], None]], None]

_TAG_RAFT_ENTRY_BATCHES = b"\x0a"  # RaftEntry field 1 (batches), wire type 2 (length-delimited)


def encode_raft_entry(batches: Sequence[bytes]) -> bytes:
    """The bytes of `RaftEntry(batches=...)` from already serialized batches:
    a repeated message field is each element's tag, length and bytes, so the
    batches are not parsed and serialized a second time."""
    parts: list[bytes] = []
    for data in batches:
        n = len(data)
        length = bytearray()
        while n > 0x7F:
            length.append((n & 0x7F) | 0x80)
            n >>= 7
        length.append(n)
        parts += (_TAG_RAFT_ENTRY_BATCHES, bytes(length), data)
    return b"".join(parts)


@dataclass(slots=True)
class _Proposal:
    data: bytes
    future: asyncio.Future[ApplyResult]
    deadline: float  # loop time by which its caller hears an answer


@dataclass(slots=True)
class _Flight:
    proposals: list[_Proposal]
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class GroupCommit:
    """Group commit: many proposals per Raft entry, one entry in flight.

    A proposal that finds no entry in flight is sent at once, alone (a lone
    client's latency does not grow); proposals that arrive while an entry is
    in flight wait and go together, in arrival order, as the next entry when
    it completes. Each proposal gets its own `ApplyResult`; a failure of the
    entry (unknown outcome, no leader) goes to every proposal in it.

    Under concurrent load the next entry may wait, up to `linger` seconds
    after the previous one completed, until as many proposals are queued as
    were outstanding at once during the previous entry's cycle: the callers
    just answered are likely to write again, and every Raft entry costs each
    manager about the same CPU whether it carries one write or sixteen. A
    lone writer never waits (one outstanding proposal: the target is one).

    Bounds: `max_batches` per entry, and `max_bytes` so that an entry stays
    under pysyncobj's `appendEntriesBatchSizeBytes` (64 KiB): a larger entry
    is sent alone in pysyncobj's chunked "transmission", one per round trip.
    A single batch over `max_bytes` still goes, alone.

    All state lives on one event loop (the first that proposes); `submit`'s
    callback may come from any thread and is moved onto that loop.
    """

    submit: SubmitEntry
    timeout: float = 10.0
    max_batches: int = 256
    max_bytes: int = 60 * 1024
    linger: float = 0.0
    _queue: deque[_Proposal] = field(default_factory=deque, init=False)
    _flight: _Flight | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _peak: int = field(default=0, init=False)  # most proposals outstanding at once in this cycle
    _target: int = field(default=1, init=False)  # ... in the previous cycle: how many to wait for
    _linger_timer: asyncio.TimerHandle | None = field(default=None, init=False)

    async def propose(self, batch: spb.StoreBatch) -> ApplyResult:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._flight is not None or self._queue:
                raise RuntimeError("GroupCommit serves one event loop at a time")
            self._loop = loop
        proposal = _Proposal(batch.SerializeToString(), loop.create_future(), loop.time() + self.timeout)
        self._queue.append(proposal)
        outstanding = len(self._queue) + self.in_flight()
        self._peak = max(self._peak, outstanding)
        if self._flight is None and (self._linger_timer is None or len(self._queue) >= self._target):
            self._send_next()
        # No timer per proposal: the entry in flight expires at its earliest
        # proposal's deadline, and a proposal whose deadline passed while it
        # was queued is answered, unsent, when the pipeline moves on.
        return await proposal.future

    def in_flight(self) -> int:
        """Proposals in the entry in flight (for tests and status)."""
        return len(self._flight.proposals) if self._flight is not None else 0

    def _send_next(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        proposals: list[_Proposal] = []
        size = 0
        loop = self._loop
        assert loop is not None
        now = loop.time()
        while self._queue and len(proposals) < self.max_batches:
            nxt = self._queue[0]
            if nxt.future.done():  # its caller gave up while it waited
                self._queue.popleft()
                continue
            if nxt.deadline <= now:
                self._queue.popleft()
                nxt.future.set_exception(
                    Unavailable(f"the write waited {self.timeout:g}s behind an entry Raft did not commit; it was not sent")
                )
                continue
            if proposals and size + len(nxt.data) > self.max_bytes:
                break
            proposals.append(self._queue.popleft())
            size += len(nxt.data)
        if not proposals:
            return
        self._target = min(max(self._peak, 1), self.max_batches)
        self._peak = len(self._queue) + len(proposals)
        flight = _Flight(proposals)
        self._flight = flight
        # If Raft never calls back (it queues commands while there is no
        # leader), the pipeline must not stall behind this entry for good,
        # and no caller waits past its deadline.
        flight.timer = loop.call_later(min(p.deadline for p in proposals) - now, self._expire, flight)

        def done(results: Any, error: int) -> None:
            try:
                loop.call_soon_threadsafe(self._complete, flight, results, error)
            except RuntimeError:  # the loop is closed: nobody is waiting
                pass

        try:
            self.submit(encode_raft_entry([p.data for p in proposals]), done)
        except Exception as e:  # noqa: BLE001 - whatever Raft raises, every caller of the entry must hear of it
            self._complete(flight, None, -1, f"Raft refused the write: {e}")

    def _complete(self, flight: _Flight, results: Any, error: int, message: str = "") -> None:
        if flight.timer is not None:
            flight.timer.cancel()
        proposals = flight.proposals
        if error == FAIL_REASON.SUCCESS and isinstance(results, tuple) and len(results) == len(proposals):
            for proposal, result in zip(proposals, results, strict=True):
                if not proposal.future.done():
                    proposal.future.set_result(result)
        else:
            if error == FAIL_REASON.SUCCESS:
                message = f"the entry's results do not match its {len(proposals)} batches; outcome unknown"
            elif error in _UNKNOWN_OUTCOME:
                message = "the write's outcome is unknown: leadership changed while it was in flight"
            elif error == FAIL_REASON.MISSING_LEADER:
                message = (
                    "this manager knows no Raft leader (an election is under way, or it is cut off "
                    "from a majority of managers); the write was not applied: retry"
                )
            elif not message:
                message = f"no Raft leader can take the write (reason {error})"
            for proposal in proposals:
                if not proposal.future.done():
                    proposal.future.set_exception(Unavailable(message))
        if self._flight is flight:
            self._flight = None
            if self.linger <= 0 or len(self._queue) >= self._target:
                self._send_next()
            elif self._linger_timer is None:
                assert self._loop is not None
                self._linger_timer = self._loop.call_later(self.linger, self._send_next)

    def _expire(self, flight: _Flight) -> None:
        flight.timer = None
        self._complete(flight, None, FAIL_REASON.UNKNOWN_OUTCOME)


class RaftProposer:
    def __init__(
        self,
        store: Store,
        address: str,
        peers: Sequence[str],
        data_dir: Path,
        password: str,
        *,
        dynamic_membership: bool = True,
        commit_timeout: float = 10.0,
        commit_linger: float = COMMIT_LINGER,
        log_compaction_entries: int = 20000,
    ) -> None:
        if not password:
            # Without a password pysyncobj's port unpickles whatever it receives.
            raise ValueError("a Raft password (the cluster secret) is mandatory")
        self.store = store
        self.address = address
        self.commit_timeout = commit_timeout
        data_dir.mkdir(parents=True, exist_ok=True)
        conf = SyncObjConf(
            # The password protects the Raft port through RaftCipher (see
            # _LowLatencySyncObj); pysyncobj must not build its own Fernet.
            password=None,
            appendEntriesUseBatch=False,
            journalFile=str(data_dir / "raft.journal"),
            fullDumpFile=str(data_dir / "raft.dump"),
            # gRPC's threads and fork() do not mix.
            useFork=False,
            dynamicMembershipChange=dynamic_membership,
            # Compact the journal into a dump every 20k entries or 5 min: a
            # restart replays at most that much (pysyncobj's 5k default
            # compacts too often under our write rates).
            logCompactionMinEntries=log_compaction_entries,
            logCompactionMinTime=300,
            # With no leader known, a write fails at once (never sent, so
            # certainly not applied) instead of waiting in pysyncobj's queue:
            # a manager cut off from the others would otherwise keep it for
            # as long as the partition lasts and send it to the leader after
            # healing, minutes after its caller was told the outcome is
            # unknown and may have written again since.
            commandsWaitLeader=False,
            # Of each pair of managers only the one with the greater address
            # connects, and pysyncobj retries a lost connection every
            # `connectionRetryTime` (5 s by default). A restarted manager thus
            # waited up to 5 s for its greater-addressed peers: meanwhile it
            # heard no leader, stood for election with a log behind (refused,
            # but each round raised its term, which then deposed the leader),
            # and if the leader died in that window the two survivors were not
            # connected, their election timeouts ran out unheard, and when the
            # retry connected them both stood at once and split the vote (term
            # T -> T+2, failover p95 3.6 s). A retry is one refused connect()
            # to a dead peer, or a timed-out one (connectionTimeout) to a lost
            # host: cheap, so 0.2 s reconnects well inside the 0.4 s minimum
            # election timeout.
            connectionRetryTime=0.2,
            # Idle cost: the leader's heartbeats (append_entries to each peer,
            # pickled, compressed and encrypted) are most of an idle manager's
            # CPU. pysyncobj's 0.1 s period and 0.05 s tick cost the leader
            # ~2.5 % of a core; 0.15 s / 0.1 s bring it under 2 %. Commands and
            # peer messages still wake the poller at once (_LowLatencySyncObj),
            # so write latency does not change; a heartbeat gap is at most
            # ~0.25 s, half the 0.5 s minimum election timeout (pysyncobj
            # requires raftMinTimeout > 3 x appendEntriesPeriod).
            appendEntriesPeriod=0.15,
            autoTickPeriod=0.1,
            raftMinTimeout=0.5,
            raftMaxTimeout=1.4,
            # A leader that has heard from no majority for 3 s steps down
            # (pysyncobj's default: 30 s). An isolated old leader then stops
            # calling itself leader in `manager ls`, and new writes sent to
            # it fail at once (it knows no leader) instead of waiting for a
            # commit that cannot come. 3 s is twice the longest
            # election timeout: a leader that merely misses a few heartbeat
            # replies under load keeps leading.
            leaderFallbackTimeout=3.0,
            onStateChanged=self._on_state_changed,
        )
        self._machine = _StoreMachine(store)
        self._sync = _LowLatencySyncObj(
            address, list(peers), conf=conf, consumers=[self._machine], cipher=RaftCipher(password)
        )
        self._group = GroupCommit(self._submit, timeout=commit_timeout, linger=commit_linger)

    def _on_state_changed(self, old: int, new: int) -> None:
        sync = getattr(self, "_sync", None)
        term = int(sync.raftCurrentTerm) if sync is not None else -1
        log.info("event=raft_role from=%s to=%s term=%d", _ROLES.get(old, old), _ROLES.get(new, new), term)

    def _submit(self, entry: bytes, callback: Callable[[Any, int], None]) -> None:
        self._machine.apply(entry, callback=callback)

    async def propose(self, batch: spb.StoreBatch) -> ApplyResult:
        if not batch.timestamp:
            batch.timestamp = time.time()
        return await self._group.propose(batch)

    def is_leader(self) -> bool:
        return bool(self._sync._isLeader())

    async def add_member(self, raft_address: str) -> None:
        """One membership change at a time (pysyncobj refuses overlapping ones)."""
        await self._membership(self._sync.addNodeToCluster, raft_address, "add")

    async def remove_member(self, raft_address: str) -> None:
        await self._membership(self._sync.removeNodeFromCluster, raft_address, "remove")

    async def _membership(self, change: Any, raft_address: str, what: str) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done(_result: object, error: int) -> None:
            def settle() -> None:
                if fut.done():
                    return
                if error == FAIL_REASON.SUCCESS:
                    fut.set_result(None)
                else:
                    fut.set_exception(
                        Unavailable(f"could not {what} Raft member {raft_address} (reason {error}); retry")
                    )

            loop.call_soon_threadsafe(settle)

        try:
            change(raft_address, callback=done)
        except Exception as e:  # noqa: BLE001 - pysyncobj raises a bare Exception when a change is in progress
            raise Unavailable(f"could not {what} Raft member {raft_address}: {e}") from None
        # No timeout: a new member's addition commits once it has caught up,
        # however long its start takes; the caller decides how long to wait.
        await fut

    def term(self) -> int:
        return int(self._sync.raftCurrentTerm)

    def status(self) -> RaftStatus:
        st = self._sync.getStatus()
        peers = {
            k.removeprefix("partner_node_status_server_"): v == 2
            for k, v in st.items()
            if k.startswith("partner_node_status_server_")
        }
        leader = st.get("leader")
        return RaftStatus(
            address=self.address,
            leader=str(leader.id) if leader is not None else "",
            is_leader=self.is_leader(),
            term=int(st["raft_term"]),
            commit_index=int(st["commit_idx"]),
            last_applied=int(st["last_applied"]),
            peers=peers,
        )

    def is_ready(self) -> bool:
        return bool(self._sync.isReady())

    def close(self) -> None:
        self._sync.destroy()
