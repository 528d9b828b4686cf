"""Manager failover with five managers: losing or partitioning a minority of
two (the leader among them), or killing all five, never loses an acknowledged
write, and the majority of three keeps accepting writes.

Same definitions as tests/integration/test_failover.py (the 3-manager
variant), whose helpers this module uses: a write is `RunJob` of a job with a
fresh name; it is acknowledged when the call returned without error, and an
error may only mean "outcome unknown" (UNAVAILABLE, DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, cluster, wait_for
from tests.integration import netns
from tests.integration.test_failover import (
    CONVERGE_WITHIN,
    NEW_LEADER_WITHIN,
    UNKNOWN_OUTCOME,
    Write,
    alive,
    all_writes,
    assert_acked_everywhere,
    assert_errors_are_unknown_outcome,
    info,
    wait_stable_leader,
    writing,
)

pytestmark = pytest.mark.integration

N = 5
ALL = list(range(N))


def seeded_rng() -> random.Random:
    """DOCKYARD_TEST_SEED, or the clock; printed so a failure can be replayed."""
    seed = os.environ.get("DOCKYARD_TEST_SEED") or str(time.time_ns())
    print(f"DOCKYARD_TEST_SEED={seed}")
    return random.Random(seed)


def states(c: Cluster) -> dict[str, object]:
    """Each manager's (leader, term) as it answers, or why it does not."""
    out: dict[str, object] = {}
    for i in ALL:
        try:
            out[f"manager-{i + 1}"] = info(c, i)
        except Exception as e:  # noqa: BLE001 - a diagnostic
            out[f"manager-{i + 1}"] = repr(e)
    return out


def stable_leader(c: Cluster, dump_logs: bool = True) -> int:
    """All five agree on one leader and one term; the leader's index. On
    failure: each manager's view (and the logs)."""
    try:
        return wait_stable_leader(c, ALL)[0]
    except AssertionError as e:
        if dump_logs:
            sys.stderr.write("\n=== cluster logs ===\n" + c.logs() + "\n")
        raise AssertionError(f"{e}; (leader, term) per manager: {states(c)}") from None


@pytest.fixture(scope="module")
def five_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("failover5"), agents=0, managers=N, runtime="fake", heartbeat_period=1.0) as c:
        # Checked once here: a cluster that never formed fails every test of
        # the module at once (cluster() prints the logs).
        stable_leader(c, dump_logs=False)
        yield c


@pytest.fixture
def quintet(five_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The shared 5-manager cluster, with all five running and agreeing on a
    leader whatever the previous test did to it; its logs on failure."""
    c = five_cluster
    for i, m in enumerate(c.managers):
        if alive(c, i):
            m.daemon.kill(signal.SIGCONT)
        else:
            c.restart_manager(i)
    leader = stable_leader(c)
    c.address = c.managers[leader].address
    failed_before = request.session.testsfailed
    yield c
    if request.session.testsfailed > failed_before:
        sys.stderr.write("\n=== cluster logs ===\n" + c.logs() + "\n")


# -- 1. forming ------------------------------------------------------------------


def test_five_managers_form_a_cluster_with_one_leader(quintet: Cluster) -> None:
    def listed() -> list[dict[str, object]] | None:
        proc = quintet.cli("-o", "json", "manager", "ls")
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        reachable = [r for r in rows if r.get("reachable")]
        leaders = [r for r in rows if r.get("leader")]
        terms = {int(str(r.get("raft_term", 0))) for r in rows}
        if len(rows) == N and len(reachable) == N and len(leaders) == 1 and len(terms) == 1:
            return list(rows)
        return None

    rows = wait_for(listed, timeout=30, interval=0.5, what=f"{N} reachable managers, one leader, one term")
    assert {r["manager"]["raft_address"] for r in rows} == {m.raft_addr for m in quintet.managers}  # type: ignore[index]
    assert len({r["manager"]["meta"]["id"] for r in rows}) == N  # type: ignore[index]


# -- 2. SIGKILL the leader and a follower (a minority of two) --------------------------


def test_sigkill_leader_and_a_follower_while_writing_loses_nothing(quintet: Cluster) -> None:
    c = quintet
    rng = seeded_rng()
    old, old_term = wait_stable_leader(c, ALL)
    follower = rng.choice([i for i in ALL if i != old])
    killed = [old, follower]
    survivors = [i for i in ALL if i not in killed]
    dead_at: dict[int, float] = {}
    with writing(c, "kill2-") as writers:
        wait_for(lambda: all(w.acked() >= 20 for w in writers), timeout=30, what="writes before the kill")
        t_kill = time.time()
        for i in killed:
            c.managers[i].daemon.kill(signal.SIGKILL)  # returns once the process is gone
            dead_at[i] = time.time()

        def accepted_after_kill() -> float | None:
            after = [w.t1 for w in all_writes(writers) if w.ok and w.t0 > t_kill]
            return min(after) if after else None

        first = wait_for(accepted_after_kill, timeout=NEW_LEADER_WITHIN, interval=0.05, what="a write accepted after the kill")
        acked_after = sum(1 for w in all_writes(writers) if w.ok and w.t0 > t_kill)
        wait_for(lambda: sum(1 for w in all_writes(writers) if w.ok and w.t0 > t_kill) >= acked_after + 30, timeout=30,
                 what="writes to keep flowing on three of five")
    writes = all_writes(writers)
    new, new_term = wait_stable_leader(c, survivors)
    assert new in survivors
    assert new_term > old_term, f"the survivors' leader has term {new_term}, not above the old leader's {old_term}"
    print(
        f"failover: first write accepted {first - t_kill:.2f}s after SIGKILL of manager-{old + 1} (leader) and "
        f"manager-{follower + 1}; new leader manager-{new + 1}, term {old_term} -> {new_term}"
    )

    assert_errors_are_unknown_outcome(writes)
    late = [w for w in writes if w.ok and w.manager in dead_at and w.t0 > dead_at[w.manager]]
    assert not late, f"a killed manager acknowledged writes sent after its death: {late[:3]}"
    assert any(w.ok and w.manager in survivors and w.t0 > t_kill for w in writes)
    assert_acked_everywhere(c, writes, survivors)

    # Both killed managers recover from their journals and catch up.
    for i in killed:
        c.restart_manager(i)
    assert_acked_everywhere(c, writes, killed)
    wait_stable_leader(c, ALL, timeout=CONVERGE_WITHIN)


# -- 3. SIGKILL every manager ---------------------------------------------------------------


def test_kill_all_five_managers_and_restart_in_random_order(quintet: Cluster) -> None:
    c = quintet
    rng = seeded_rng()
    writes: list[Write] = []
    for rnd in range(2):
        with writing(c, f"all5-{rnd}-") as writers:
            wait_for(lambda: all(w.acked() >= 15 for w in writers), timeout=30, what="writes before the kill")
            for m in c.managers:
                m.daemon.kill(signal.SIGKILL)
        writes += all_writes(writers)
        assert not any(alive(c, i) for i in ALL)
        order = rng.sample(ALL, N)
        for i in order:
            time.sleep(rng.uniform(0, 1.0))
            c.restart_manager(i)
        leader, term = wait_stable_leader(c, ALL, timeout=60)
        print(f"round {rnd}: restart order {[i + 1 for i in order]}, manager-{leader + 1} leads term {term}")
        assert_acked_everywhere(c, writes, ALL)
    assert_errors_are_unknown_outcome(writes)


# -- 4. network partition: the leader and a follower cut off from the other three ------------


@pytest.fixture(scope="module")
def netns_reason() -> str | None:
    return netns.unavailable_reason()


def test_partitioned_leader_and_follower_never_acknowledge(tmp_path: Path, netns_reason: str | None) -> None:
    if netns_reason:
        pytest.skip(f"network namespaces unavailable: {netns_reason}")
    with netns.NetLab() as lab:
        c = netns.NetCluster(lab, tmp_path)
        try:
            _minority_partition_scenario(lab, c, seeded_rng())
        except BaseException:
            sys.stderr.write("\n=== cluster logs ===\n" + c.logs() + "\n")
            raise
        finally:
            c.stop()


def _minority_partition_scenario(lab: netns.NetLab, c: netns.NetCluster, rng: random.Random) -> None:
    c.start(managers=N)
    found = wait_for(lambda: (c.leader_index(),) if c.leader_index() is not None else None, timeout=30, what="a leader")
    old = found[0]
    old_term = c.info(old)["term"]
    buddy = rng.choice([i for i in ALL if i != old])
    minority = [old, buddy]
    majority = [i for i in ALL if i not in minority]
    results: list[Write] = []
    stop = threading.Event()

    def write(index: int, name: str, timeout: float) -> Write:
        t0 = time.time()
        try:
            c.call("run_job", c.managers[index].address, timeout=timeout, name=name)
            w = Write(name, index, t0, time.time(), "")
        except netns.ProxyError as e:
            w = Write(name, index, t0, time.time(), e.code)
        results.append(w)
        return w

    def keep_writing() -> None:
        # Through the majority only: writes to the minority are separate, explicit checks.
        seq, k = 0, 0
        while not stop.is_set():
            seq += 1
            if write(majority[k % len(majority)], f"p5-{seq}", 5.0).code:
                k += 1
                time.sleep(0.05)
            time.sleep(0.01)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    t_cut = float("inf")
    try:
        wait_for(lambda: sum(1 for w in results if w.ok) >= 20, timeout=30, what="writes before the partition")
        # Rules in each minority host's namespace, both directions: the two
        # still reach each other (and the client), not the other three.
        for i in minority:
            lab.isolate(c.managers[i].host, [c.managers[j].host for j in majority])
        t_cut = time.time()
        # The old leader may still believe it leads (and its follower may
        # forward to it), but together they are two of five: nothing sent to
        # either may be acknowledged.
        to_minority: list[Write] = []
        senders = [
            threading.Thread(target=lambda n=n, i=i: to_minority.append(write(i, f"isolated5-{n}", 15.0)), daemon=True)
            for n, i in enumerate([old, buddy, old])
        ]
        for s in senders:
            s.start()
            time.sleep(0.3)

        def new_leader() -> tuple[int, int] | None:
            for i in majority:
                with contextlib.suppress(netns.ProxyError):
                    st = c.info(i)
                    if st["leader"] and st["term"] > old_term:
                        return i, int(st["term"])
            return None

        new, new_term = wait_for(new_leader, timeout=NEW_LEADER_WITHIN, interval=0.2, what="the majority of 3 to elect a leader")
        t_elected = time.time()
        wait_for(lambda: sum(1 for w in results if w.ok and w.t0 > t_elected) >= 20, timeout=30,
                 what="the majority to accept writes")
        # Once more to each minority manager, after the majority has moved on.
        late: list[Write] = []
        senders += [
            threading.Thread(target=lambda i=i: late.append(write(i, f"isolated5-late-{i + 1}", 15.0)), daemon=True)
            for i in minority
        ]
        for s in senders[-2:]:
            s.start()
        for s in senders:
            s.join(timeout=60)
        views = {i: c.info(i) for i in minority}
        print(
            f"new leader manager-{new + 1} (term {new_term}) {t_elected - t_cut:.2f}s after the cut; isolated: "
            + ", ".join(f"manager-{i + 1} leader={v['leader']} term={v['term']}" for i, v in views.items())
        )
        acked_by_minority = [w for w in [*to_minority, *late] if w.ok]
        assert not acked_by_minority, f"the isolated minority acknowledged writes: {acked_by_minority}"
        assert len(to_minority) == 3 and len(late) == 2, "a write to the minority got no answer at all"
        print("writes to the minority: " + ", ".join(f"{w.name}@manager-{w.manager + 1} {w.code} after {w.t1 - w.t0:.1f}s"
                                                     for w in [*to_minority, *late]))

        for i in minority:
            lab.heal(c.managers[i].host)

        def converged_leadership() -> tuple[int, int] | None:
            st = [c.info(i) for i in ALL]
            leaders = [i for i, s in enumerate(st) if s["leader"]]
            terms = {int(s["term"]) for s in st}
            if len(leaders) == 1 and len(terms) == 1:
                return leaders[0], terms.pop()
            return None

        leader, term = wait_for(converged_leadership, timeout=CONVERGE_WITHIN, interval=0.3,
                                what="all five to agree on one leader and one term")
        assert term >= new_term
        print(f"after healing: manager-{leader + 1} leads term {term}")
        n_acked = sum(1 for w in results if w.ok)
        wait_for(lambda: sum(1 for w in results if w.ok) >= n_acked + 10, timeout=30, what="writes after healing")
    finally:
        stop.set()
        writer.join(timeout=60)

    bad = [w for w in results if not w.ok and w.code not in UNKNOWN_OUTCOME]
    assert not bad, f"writes failed with unexpected codes: {bad[:5]}"
    acked = {w.name for w in results if w.ok}
    never_committed = {w.name for w in results if w.manager in minority and w.t0 >= t_cut}
    assert never_committed, "no write was sent to the minority: the test would prove nothing"
    for i in ALL:
        def converged(i: int = i) -> bool:
            return not (acked - set(c.call("job_names", c.managers[i].address)))

        try:
            wait_for(converged, timeout=CONVERGE_WITHIN, interval=0.5, what=f"manager-{i + 1} to hold every acknowledged write")
        except AssertionError:
            missing = sorted(acked - set(c.call("job_names", c.managers[i].address)))
            states = [c.info(j) for j in ALL]
            raise AssertionError(
                f"manager-{i + 1} (minority: {[m + 1 for m in minority]}) lacks {len(missing)} of {len(acked)} "
                f"acknowledged writes, e.g. {missing[:10]}; managers: {states}"
            ) from None
        names = set(c.call("job_names", c.managers[i].address))
        # Entries only the isolated minority ever had are overwritten, not applied.
        leaked = never_committed & names
        assert not leaked, f"manager-{i + 1} applied writes only the isolated minority saw: {sorted(leaked)}"
