"""Manager failover with five managers: losing or partitioning a minority of
two (the leader among them), or killing all five, never loses an acknowledged
write, and the majority of three keeps accepting writes.

Same definitions as tests/integration/test_failover.py (the 3-manager
variant), whose helpers this module uses: a write is `RunJob` of a job with a
fresh name; it is acknowledged when the call returned without error, and an
error may only mean "outcome unknown" (UNAVAILABLE, DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, cluster
from tests.integration.test_failover import (
    assert_formed,
    info,
    kill_all_and_restart_in_random_order,
    partition_in_namespaces,
    restored,
    seeded_rng,
    sigkill_minority_while_writing,
    wait_stable_leader,
)

pytestmark = pytest.mark.integration

N = 5
ALL = list(range(N))


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
    with restored(five_cluster, request, stable_leader) as c:
        yield c


# -- 1. forming ------------------------------------------------------------------


def test_five_managers_form_a_cluster_with_one_leader(quintet: Cluster) -> None:
    assert_formed(quintet)


# -- 2. SIGKILL the leader and a follower (a minority of two) --------------------------


def test_sigkill_leader_and_a_follower_while_writing_loses_nothing(quintet: Cluster) -> None:
    sigkill_minority_while_writing(quintet, followers=1)


# -- 3. SIGKILL every manager ---------------------------------------------------------------


def test_kill_all_five_managers_and_restart_in_random_order(quintet: Cluster) -> None:
    kill_all_and_restart_in_random_order(quintet, rounds=2, rng=seeded_rng())


# -- 4. network partition: the leader and a follower cut off from the other three ------------


def test_partitioned_leader_and_follower_never_acknowledge(tmp_path: Path) -> None:
    partition_in_namespaces(tmp_path, N)
