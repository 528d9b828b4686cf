"""can_advance: observed task states only move forward; terminal is final."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.api.v1 import objects_pb2 as pb
from manager.taskstate import TERMINAL, TS, can_advance

LIFE = [
    TS.TASK_STATE_NEW,
    TS.TASK_STATE_PENDING,
    TS.TASK_STATE_ASSIGNED,
    TS.TASK_STATE_ACCEPTED,
    TS.TASK_STATE_PREPARING,
    TS.TASK_STATE_STARTING,
    TS.TASK_STATE_RUNNING,
]
ENDS = [
    TS.TASK_STATE_COMPLETE,
    TS.TASK_STATE_SHUTDOWN,
    TS.TASK_STATE_FAILED,
    TS.TASK_STATE_REJECTED,
    TS.TASK_STATE_ORPHANED,
]


def test_the_terminal_set_is_exactly_the_end_states() -> None:
    assert TERMINAL == set(ENDS)
    assert set(LIFE) | set(ENDS) | {TS.TASK_STATE_UNSPECIFIED} == set(pb.TaskState.values())


def test_a_task_walks_its_life_forward() -> None:
    path = [TS.TASK_STATE_UNSPECIFIED, *LIFE]
    for a, b in itertools.pairwise(path):
        assert can_advance(a, b)
    for end in ENDS:
        assert can_advance(TS.TASK_STATE_RUNNING, end)
        assert can_advance(TS.TASK_STATE_ASSIGNED, end)  # e.g. rejected before it started


def test_states_can_be_skipped_and_repeated_but_not_reversed() -> None:
    assert can_advance(TS.TASK_STATE_ASSIGNED, TS.TASK_STATE_RUNNING)
    assert can_advance(TS.TASK_STATE_RUNNING, TS.TASK_STATE_RUNNING)  # a refreshed report (ports, message)
    assert not can_advance(TS.TASK_STATE_RUNNING, TS.TASK_STATE_STARTING)
    assert not can_advance(TS.TASK_STATE_STARTING, TS.TASK_STATE_PENDING)
    assert not can_advance(TS.TASK_STATE_PENDING, TS.TASK_STATE_UNSPECIFIED)


@pytest.mark.parametrize("end", ENDS)
def test_a_terminal_state_is_final(end: int) -> None:
    for new in [*LIFE, *ENDS]:
        assert not can_advance(end, new), (end, new)


@given(st.sampled_from(list(pb.TaskState.values())), st.sampled_from(list(pb.TaskState.values())))
def test_can_advance_is_monotonic_and_terminal_is_absorbing(a: int, b: int) -> None:
    if can_advance(a, b):
        assert a not in TERMINAL and b >= a
    if a not in TERMINAL and b >= a:
        assert can_advance(a, b)
