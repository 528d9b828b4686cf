"""FakeRuntime: the hollow node behaves like a node where an agent can tell."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from agent.runtime.base import ContainerSpec, PortRequest, RuntimeEvent, RuntimeFailure, TaskRuntime
from agent.runtime.fake import EVENT_HISTORY, FakeRuntime

_T = TypeVar("_T")


def run(body: Callable[[], Awaitable[_T]]) -> _T:
    async def bounded() -> _T:
        return await asyncio.wait_for(body(), 10)

    return asyncio.run(bounded())


def spec(task_id: str = "t1", **kwargs: Any) -> ContainerSpec:
    fields: dict[str, Any] = {
        "task_id": task_id,
        "job_id": "j1",
        "job_name": "web",
        "slot": 1,
        "image": "dockyard-test/busybox:1",
        "command": ("httpd", "-f"),
    }
    fields.update(kwargs)
    return ContainerSpec(**fields)


async def take(events: AsyncIterator[RuntimeEvent], n: int, within: float = 2.0) -> list[RuntimeEvent]:
    async def collect() -> list[RuntimeEvent]:
        out = []
        async for ev in events:
            out.append(ev)
            if len(out) == n:
                break
        return out

    return await asyncio.wait_for(collect(), within)


def test_it_is_a_task_runtime() -> None:
    rt: TaskRuntime = FakeRuntime()
    assert rt.name == "fake"


def test_start_reports_a_running_container_with_labels() -> None:
    async def body() -> None:
        rt = FakeRuntime({"dockyard.node": "n1"})
        state = await rt.start(spec(labels={"team": "infra", "dockyard.node": "spoofed"}))
        assert state.running and state.exit_code is None and state.error == ""
        assert state.task_id == "t1"
        assert len(state.container_id) == 64
        assert dict(state.labels) == {
            "dockyard.node": "n1",  # a task label cannot move it off this node
            "dockyard.task": "t1",
            "dockyard.job": "j1",
            "dockyard.job-name": "web",
            "dockyard.slot": "1",
            "team": "infra",
        }
        assert await rt.inspect("t1") == state
        assert await rt.list() == [state]
        assert await rt.inspect("nope") is None

    run(body)


def test_start_is_idempotent_even_when_concurrent() -> None:
    async def body() -> None:
        rt = FakeRuntime(start_delay=0.05)
        states = await asyncio.gather(*(rt.start(spec()) for _ in range(5)))
        again = await rt.start(spec())
        assert len({s.container_id for s in [*states, again]}) == 1
        assert len(await rt.list()) == 1

    run(body)


def test_start_delay_is_honoured() -> None:
    async def body() -> float:
        rt = FakeRuntime(start_delay=0.2)
        t0 = time.monotonic()
        await asyncio.gather(*(rt.start(spec(f"t{i}")) for i in range(10)))  # concurrently, not one after another
        return time.monotonic() - t0

    elapsed = run(body)
    assert 0.2 <= elapsed < 1.0


def test_failing_images_raise_and_leave_nothing() -> None:
    async def body() -> None:
        rt = FakeRuntime(fail_images=frozenset({"bad:1"}))
        with pytest.raises(RuntimeFailure, match="bad:1"):
            await rt.start(spec(image="bad:1"))
        assert await rt.inspect("t1") is None
        assert (await rt.start(spec("t2"))).running

    run(body)


def test_ports_are_picked_and_fixed_ports_conflict_until_released() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        a = await rt.start(spec("a", ports=(PortRequest(80), PortRequest(80, published=18080))))
        picked = [b.published for b in a.ports if b.published != 18080]
        assert len(picked) == 1 and 32768 <= picked[0] <= 60999
        b = await rt.start(spec("b", ports=(PortRequest(80),)))
        assert b.ports[0].published != picked[0]
        with pytest.raises(RuntimeFailure, match=r"host port 18080/tcp is already in use"):
            await rt.start(spec("c", ports=(PortRequest(80, published=18080),)))
        assert await rt.inspect("c") is None
        # Another protocol is another port.
        assert (await rt.start(spec("u", ports=(PortRequest(53, published=18080, protocol="udp"),)))).running
        await rt.stop("a")
        stopped = await rt.inspect("a")
        assert stopped is not None and stopped.ports == ()
        assert (await rt.start(spec("c", ports=(PortRequest(80, published=18080),)))).running

    run(body)


def test_exit_emits_die_with_the_code_and_inspect_shows_it() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        events = rt.events()
        await rt.start(spec())
        assert rt.exit("t1", 3) is True
        assert rt.exit("t1", 4) is False  # already exited
        assert await take(events, 2) == [RuntimeEvent("t1", "start"), RuntimeEvent("t1", "die", exit_code=3)]
        state = await rt.inspect("t1")
        assert state is not None and not state.running and state.exit_code == 3
        with pytest.raises(KeyError):
            rt.exit("unknown", 1)

    run(body)


def test_events_are_kept_from_the_moment_of_subscribing() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        await rt.start(spec("before"))
        events = rt.events()
        await rt.start(spec("after"))  # before the first read
        assert await take(events, 1) == [RuntimeEvent("after", "start")]

    run(body)


def test_a_reader_that_falls_too_far_behind_is_told() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        events = rt.events()
        await rt.start(spec())
        for i in range(EVENT_HISTORY):
            rt.write_log("t1", str(i))  # logs are not events
        await rt.stop("t1")
        assert len(await take(events, 2)) == 2
        lagging = rt.events()
        for i in range(EVENT_HISTORY + 1):
            await rt.start(spec(f"x{i}"))
        with pytest.raises(RuntimeFailure, match="behind"):
            await anext(lagging)

    run(body)


def test_oom_and_kill_all() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        for t in ("a", "b", "c"):
            await rt.start(spec(t))
        events = rt.events()
        assert rt.oom("a") is True
        assert await take(events, 2) == [RuntimeEvent("a", "oom"), RuntimeEvent("a", "die", exit_code=137)]
        state = await rt.inspect("a")
        assert state is not None and state.error == "OOM killed" and state.exit_code == 137
        assert sorted(rt.kill_all()) == ["b", "c"]
        assert sorted((e.task_id, e.exit_code) for e in await take(events, 2)) == [("b", 137), ("c", 137)]
        assert not any(s.running for s in await rt.list())
        assert rt.kill_all() == []

    run(body)


def test_run_for_makes_tasks_exit_zero_by_themselves() -> None:
    async def body() -> None:
        rt = FakeRuntime(run_for=0.1)
        events = rt.events()
        await rt.start(spec("a"))
        await rt.start(spec("b"))
        got = await take(events, 4, within=2)
        assert sorted((e.task_id, e.exit_code) for e in got if e.kind == "die") == [("a", 0), ("b", 0)]
        assert [s.exit_code for s in await rt.list()] == [0, 0]

    run(body)


def test_stop_and_remove() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        events = rt.events()
        await rt.start(spec("a"))
        await rt.start(spec("b"))
        await rt.stop("a")
        state = await rt.inspect("a")
        assert state is not None and not state.running and state.exit_code == 0
        await rt.remove("b")  # forced: the running task is killed, then removed
        await rt.remove("a")
        assert await rt.list() == []
        got = await take(events, 4)
        assert [e for e in got if e.kind == "die"] == [
            RuntimeEvent("a", "die", exit_code=0),
            RuntimeEvent("b", "die", exit_code=137),
        ]
        for call in (rt.stop("a"), rt.remove("a"), rt.stop("never"), rt.remove("never")):
            await call  # no-ops

    run(body)


def test_logs_keep_streams_apart_tail_and_follow() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        await rt.start(spec())
        rt.write_log("t1", "hello")
        rt.write_log("t1", "oops", stream="stderr")
        records = [r async for r in rt.logs("t1")]
        assert [(r.stream, r.line) for r in records][1:] == [("stdout", "hello"), ("stderr", "oops")]
        assert records[0].stream == "stdout" and "dockyard-test/busybox:1" in records[0].line
        assert [r.line for r in [r async for r in rt.logs("t1", tail=1)]] == ["oops"]

        followed: list[tuple[str, str]] = []

        async def follow() -> None:
            async for r in rt.logs("t1", follow=True, tail=1):
                followed.append((r.stream, r.line))

        reader = asyncio.ensure_future(follow())
        await asyncio.sleep(0.01)
        rt.write_log("t1", "later")
        await asyncio.sleep(0.01)
        assert not reader.done()  # still following a running task
        rt.exit("t1", 2)
        await asyncio.wait_for(reader, 1)  # ends when the task stops
        assert followed == [("stderr", "oops"), ("stdout", "later"), ("stderr", "fake task exited with code 2")]

        with pytest.raises(RuntimeFailure, match="no container"):
            [r async for r in rt.logs("never")]

    run(body)


def test_a_follower_that_stops_reading_is_released() -> None:
    async def body() -> None:
        rt = FakeRuntime()
        await rt.start(spec())
        async with contextlib.aclosing(rt.logs("t1", follow=True)) as logs:  # type: ignore[type-var]
            async for _ in logs:
                break
        rt.write_log("t1", "nobody reads this")

    run(body)


def test_close_ends_readers_and_refuses_further_work() -> None:
    async def body() -> None:
        rt = FakeRuntime(run_for=60)
        await rt.start(spec())
        events = rt.events()
        reader = asyncio.ensure_future(anext(events))
        follower = asyncio.ensure_future(asyncio.wait_for(_drain(rt.logs("t1", follow=True)), 1))
        await asyncio.sleep(0.01)
        await rt.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, 1)
        await follower
        with pytest.raises(RuntimeFailure, match="closed"):
            await rt.start(spec("t2"))

    run(body)


async def _drain(it: AsyncIterator[Any]) -> None:
    async for _ in it:
        pass
