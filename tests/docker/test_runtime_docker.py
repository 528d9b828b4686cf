"""DockerRuntime against the real Docker engine, with the local test image.

Every container made here carries `dockyard.test-run=<uuid of this session>`
among its node labels (baseline `docker run -d` containers carry it too), and
cleanup removes containers by that label only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest

from agent.runtime.base import ContainerSpec, ContainerState, PortRequest, RuntimeEvent, RuntimeFailure
from agent.runtime.docker import DockerRuntime, container_name

pytestmark = pytest.mark.docker

IMAGE = "dockyard-test/busybox:1"
REPO = Path(__file__).resolve().parents[2]
TEST_RUN = uuid.uuid4().hex
RUN_LABEL = f"dockyard.test-run={TEST_RUN}"
DEADLINE = 60.0  # per test body; correctness tests poll, they do not race the clock

_T = TypeVar("_T")


def run(body: Callable[[], Awaitable[_T]]) -> _T:
    async def bounded() -> _T:
        return await asyncio.wait_for(body(), DEADLINE)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env()
    try:
        c.ping()
    except docker.errors.DockerException as e:
        # A failure, not a skip: deselect with `-m "not docker"` on purpose.
        pytest.fail(f"Docker engine not reachable: {e}")
    try:
        c.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        subprocess.run([str(REPO / "scripts" / "build-test-image.sh")], check=True)
    yield c
    _remove_test_containers(c)
    c.close()


def _remove_test_containers(c: docker.DockerClient) -> None:
    for container in c.containers.list(all=True, filters={"label": RUN_LABEL}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


@pytest.fixture(autouse=True)
def _cleanup(client: docker.DockerClient) -> Iterator[None]:
    yield
    _remove_test_containers(client)


def node_labels(node: str | None = None) -> dict[str, str]:
    return {
        "dockyard.cluster": "test-cluster",
        "dockyard.node": node or f"node-{uuid.uuid4().hex[:8]}",
        "dockyard.test-run": TEST_RUN,
    }


@contextlib.asynccontextmanager
async def open_runtime(labels: dict[str, str] | None = None, **kwargs: Any) -> AsyncIterator[DockerRuntime]:
    rt = DockerRuntime(labels or node_labels(), **kwargs)
    try:
        yield rt
    finally:
        await rt.close()


def spec(command: tuple[str, ...], **kwargs: Any) -> ContainerSpec:
    fields: dict[str, Any] = {
        "task_id": uuid.uuid4().hex,
        "job_id": "job-" + uuid.uuid4().hex[:8],
        "job_name": "web",
        "slot": 1,
        "image": IMAGE,
        "command": command,
    }
    fields.update(kwargs)
    return ContainerSpec(**fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def containers_of_task(c: docker.DockerClient, task_id: str) -> list[Any]:
    return list(c.containers.list(all=True, filters={"label": [RUN_LABEL, f"dockyard.task={task_id}"]}))


def http_get(port: int) -> bytes:
    # httpd may need a moment after the container starts to listen.
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                return bytes(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def wait_exited(rt: DockerRuntime, task_id: str) -> ContainerState:
    while True:
        state = await rt.inspect(task_id)
        assert state is not None
        if not state.running and state.exit_code is not None:
            return state
        await asyncio.sleep(0.1)


async def next_event(events: AsyncIterator[RuntimeEvent], task_id: str, kind: str, within: float) -> RuntimeEvent:
    async def find() -> RuntimeEvent:
        async for ev in events:
            if ev.task_id == task_id and ev.kind == kind:
                return ev
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(find(), within)


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("dockyard-docker-events", "dockyard-docker-logs"))]


async def no_stream_threads(within: float = 5.0) -> list[threading.Thread]:
    deadline = time.monotonic() + within
    while stream_threads() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return stream_threads()


# -- starting, confinement, ports ---------------------------------------------


def test_httpd_is_reachable_on_the_reported_published_ports(client: docker.DockerClient) -> None:
    fixed = free_port()
    s = spec(("httpd", "-f", "-p", "8080"), ports=(PortRequest(8080), PortRequest(8080, published=fixed)))

    async def body() -> None:
        async with open_runtime() as rt:
            state = await rt.start(s)
            assert state.running
            assert state.task_id == s.task_id
            published = sorted(b.published for b in state.ports)
            assert fixed in published
            assert len(published) == 2, state.ports
            picked = next(p for p in published if p != fixed)
            for port in (picked, fixed):
                assert b"dockyard test image" in http_get(port)

    run(body)


def test_container_is_confined_and_labelled(client: docker.DockerClient) -> None:
    labels = node_labels()
    s = spec(("sleep", "300"), cpu=0.5, memory=64 * 1024 * 1024, labels={"team": "infra"}, job_name="db", slot=3)

    async def body() -> ContainerState:
        async with open_runtime(labels, pids_limit=100) as rt:
            return await rt.start(s)

    state = run(body)
    attrs = client.api.inspect_container(state.container_id)
    host = attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["MemorySwap"] == 64 * 1024 * 1024  # no swap beyond the limit
    assert host["PidsLimit"] == 100
    assert "NET_RAW" in (host["CapDrop"] or [])
    assert not host.get("CapAdd")
    assert "no-new-privileges" in (host["SecurityOpt"] or [])
    assert host["Privileged"] is False
    assert host["NetworkMode"] not in ("host",) and not host["NetworkMode"].startswith("container:")
    assert host["RestartPolicy"]["Name"] in ("no", "")
    assert attrs["Name"] == "/" + container_name(s) == f"/dockyard-db.3.{s.task_id[:12]}"
    container_labels = attrs["Config"]["Labels"]
    for k, v in {
        **labels,
        "dockyard.task": s.task_id,
        "dockyard.job": s.job_id,
        "dockyard.job-name": "db",
        "dockyard.slot": "3",
        "team": "infra",
    }.items():
        assert container_labels.get(k) == v, k
    assert dict(state.labels) == container_labels


def test_confinement_is_effective_inside_the_container(client: docker.DockerClient) -> None:
    # NET_RAW dropped: ping cannot open its raw socket. no-new-privileges: the
    # kernel reports NoNewPrivs for the task's processes.
    s = spec(("sh", "-c", "ping -c1 -W1 127.0.0.1 >/dev/null 2>&1; echo ping=$?; grep NoNewPrivs /proc/self/status"))

    async def body() -> list[str]:
        async with open_runtime() as rt:
            await rt.start(s)
            await wait_exited(rt, s.task_id)
            return [r.line for r in [r async for r in rt.logs(s.task_id)] if r.stream == "stdout"]

    lines = run(body)
    assert lines[0] != "ping=0", lines
    assert lines[1].split() == ["NoNewPrivs:", "1"], lines


def test_a_second_task_on_the_same_fixed_port_fails_and_leaves_nothing(client: docker.DockerClient) -> None:
    port = free_port()
    first = spec(("httpd", "-f", "-p", "8080"), ports=(PortRequest(8080, published=port),))
    second = spec(("httpd", "-f", "-p", "8080"), ports=(PortRequest(8080, published=port),), slot=2)

    async def body() -> None:
        async with open_runtime() as rt:
            await rt.start(first)
            with pytest.raises(RuntimeFailure) as failure:
                await rt.start(second)
            assert f"host port {port}/tcp is already in use" in str(failure.value)
            assert await rt.inspect(second.task_id) is None

    run(body)
    assert containers_of_task(client, second.task_id) == []
    assert len(containers_of_task(client, first.task_id)) == 1


def test_missing_image_fails_without_pulling_or_leaving_a_container(client: docker.DockerClient) -> None:
    image = f"dockyard-test/absent-{uuid.uuid4().hex[:8]}:1"
    s = spec(("true",), image=image)

    async def body() -> None:
        async with open_runtime() as rt:
            with pytest.raises(RuntimeFailure) as failure:
                await rt.start(s)
            assert str(failure.value) == f"image {image} is not present on this node and no registry is configured"

    run(body)
    assert containers_of_task(client, s.task_id) == []
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image)


def test_a_command_missing_from_the_image_fails_clearly_and_leaves_nothing(client: docker.DockerClient) -> None:
    s = spec(("no-such-binary", "--flag"))

    async def body() -> None:
        async with open_runtime() as rt:
            with pytest.raises(RuntimeFailure, match="'no-such-binary' was not found in image"):
                await rt.start(s)

    run(body)
    assert containers_of_task(client, s.task_id) == []


def test_start_is_idempotent(client: docker.DockerClient) -> None:
    s = spec(("sleep", "300"))

    async def body() -> None:
        async with open_runtime() as rt:
            first = await rt.start(s)
            again = await rt.start(s)
            concurrent = await asyncio.gather(*(rt.start(s) for _ in range(5)))
            assert {first.container_id, again.container_id} | {c.container_id for c in concurrent} == {
                first.container_id
            }
            assert all(c.running for c in concurrent)

    run(body)
    assert len(containers_of_task(client, s.task_id)) == 1


def test_start_starts_a_container_that_was_created_but_never_started(client: docker.DockerClient) -> None:
    # What an agent finds after crashing between create and start.
    labels = node_labels()
    s = spec(("sleep", "300"))
    created = client.api.create_container(
        IMAGE,
        command=list(s.command),
        name=container_name(s),
        labels={**labels, "dockyard.task": s.task_id},
    )

    async def body() -> ContainerState:
        async with open_runtime(labels) as rt:
            return await rt.start(s)

    state = run(body)
    assert state.container_id == created["Id"]
    assert state.running


def test_start_refuses_a_same_named_container_of_another_node(client: docker.DockerClient) -> None:
    s = spec(("sleep", "300"))
    client.api.create_container(
        IMAGE, command=["sleep", "300"], name=container_name(s), labels={**node_labels(), "dockyard.task": s.task_id}
    )

    async def body() -> None:
        async with open_runtime() as rt:  # another node label
            with pytest.raises(RuntimeFailure, match="already exists"):
                await rt.start(s)

    run(body)
    assert client.api.inspect_container(container_name(s))["State"]["Status"] == "created"  # left alone


# -- observing -------------------------------------------------------------------


def test_exit_code_is_reported(client: docker.DockerClient) -> None:
    s = spec(("sh", "-c", "exit 3"))

    async def body() -> None:
        async with open_runtime() as rt:
            started = await rt.start(s)
            assert started.exit_code is None or started.exit_code == 3  # it may already be done
            state = await wait_exited(rt, s.task_id)
            assert state.exit_code == 3
            assert not state.running
            assert state.error == ""

    run(body)


def test_docker_kill_from_outside_produces_a_die_event(client: docker.DockerClient) -> None:
    s = spec(("sleep", "300"))

    async def body() -> None:
        async with open_runtime() as rt:
            events = rt.events()
            state = await rt.start(s)
            started = await next_event(events, s.task_id, "start", within=10)
            assert started.exit_code is None
            await asyncio.to_thread(client.api.kill, state.container_id)
            died = await next_event(events, s.task_id, "die", within=10)
            assert died.exit_code == 137
            assert (await rt.inspect(s.task_id)) == ContainerState(
                task_id=s.task_id, container_id=state.container_id, running=False, exit_code=137, labels=state.labels
            )
            await events.aclose()  # type: ignore[attr-defined]

    run(body)


def test_oom_kill_is_reported_as_an_event_and_an_error(client: docker.DockerClient) -> None:
    # dd allocates its 64 MiB block at once; the limit is 16 MiB.
    s = spec(("dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"), memory=16 * 1024 * 1024)

    async def body() -> None:
        async with open_runtime() as rt:
            events = rt.events()
            await rt.start(s)
            await next_event(events, s.task_id, "oom", within=20)
            state = await wait_exited(rt, s.task_id)
            assert state.exit_code == 137
            assert state.error == "OOM killed"
            await events.aclose()  # type: ignore[attr-defined]

    run(body)


def test_events_only_concern_this_nodes_containers(client: docker.DockerClient) -> None:
    mine, other = spec(("sh", "-c", "exit 5")), spec(("sh", "-c", "exit 6"))

    async def body() -> None:
        async with open_runtime() as rt, open_runtime() as rt_other:
            events = rt.events()
            await rt_other.start(other)
            await wait_exited(rt_other, other.task_id)
            await rt.start(mine)
            seen: list[RuntimeEvent] = []

            async def collect() -> None:
                async for ev in events:
                    seen.append(ev)
                    if ev.kind == "die":
                        return

            await asyncio.wait_for(collect(), 10)
            assert {ev.task_id for ev in seen} == {mine.task_id}
            assert seen[-1].exit_code == 5
            await events.aclose()  # type: ignore[attr-defined]

    run(body)


def test_list_finds_exactly_this_nodes_containers(client: docker.DockerClient) -> None:
    mine = [spec(("sleep", "300"), slot=i) for i in range(3)]
    theirs = spec(("sleep", "300"))

    async def body() -> None:
        async with open_runtime() as rt, open_runtime() as rt_other:
            await asyncio.gather(*(rt.start(s) for s in mine), rt_other.start(theirs))
            await rt.stop(mine[2].task_id, timeout=0)  # stopped containers are listed too
            listed = await rt.list()
            assert sorted(c.task_id for c in listed) == sorted(s.task_id for s in mine)
            assert {c.task_id: c.running for c in listed}[mine[2].task_id] is False
            assert [c.task_id for c in await rt_other.list()] == [theirs.task_id]

    run(body)


def test_stop_and_remove(client: docker.DockerClient) -> None:
    s = spec(("sleep", "300"))

    async def body() -> None:
        async with open_runtime() as rt:
            await rt.start(s)
            t0 = time.monotonic()
            await rt.stop(s.task_id, timeout=1)  # sleep as PID 1 ignores SIGTERM: killed after 1 s
            assert time.monotonic() - t0 < 8
            state = await rt.inspect(s.task_id)
            assert state is not None and not state.running and state.exit_code == 137
            await rt.remove(s.task_id)
            assert await rt.inspect(s.task_id) is None
            # Gone (or never there): no-ops.
            await rt.stop(s.task_id)
            await rt.remove(s.task_id)
            await rt.stop("no-such-task")
            await rt.remove("no-such-task")

    run(body)
    assert containers_of_task(client, s.task_id) == []


def test_remove_force_removes_a_running_container(client: docker.DockerClient) -> None:
    s = spec(("sleep", "300"))

    async def body() -> None:
        async with open_runtime() as rt:
            await rt.start(s)
            await rt.remove(s.task_id)
            assert await rt.inspect(s.task_id) is None

    run(body)
    assert containers_of_task(client, s.task_id) == []


# -- logs ----------------------------------------------------------------------


def test_logs_keep_stdout_and_stderr_apart_and_follow_ends_with_the_container(client: docker.DockerClient) -> None:
    # The engine timestamps each line when it reads that stream's pipe, so the
    # order across streams is only defined for lines written apart in time.
    s = spec(
        (
            "sh",
            "-c",
            "echo out1; sleep 0.3; echo err1 >&2; sleep 1; echo out2; sleep 0.3; echo err2 >&2; sleep 0.3; echo out3",
        )
    )

    async def body() -> None:
        async with open_runtime() as rt:
            await rt.start(s)
            records = [r async for r in rt.logs(s.task_id, follow=True)]  # ends by itself when sh exits
            state = await rt.inspect(s.task_id)
            assert state is not None and not state.running
            assert [r.line for r in records if r.stream == "stdout"] == ["out1", "out2", "out3"]
            assert [r.line for r in records if r.stream == "stderr"] == ["err1", "err2"]
            assert all(r.task_id == s.task_id for r in records)
            assert all(abs(r.timestamp - time.time()) < 60 for r in records)

            everything = [r async for r in rt.logs(s.task_id)]
            assert [(r.stream, r.line) for r in everything] == [
                ("stdout", "out1"),
                ("stderr", "err1"),
                ("stdout", "out2"),
                ("stderr", "err2"),
                ("stdout", "out3"),
            ]
            last_two = [r async for r in rt.logs(s.task_id, tail=2)]
            assert [r.line for r in last_two] == ["err2", "out3"]

    run(body)


def test_follow_yields_lines_as_they_come_and_stops_when_the_reader_stops(client: docker.DockerClient) -> None:
    s = spec(("sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"))

    async def body() -> None:
        async with open_runtime() as rt:
            await rt.start(s)
            got: list[str] = []
            async with contextlib.aclosing(rt.logs(s.task_id, follow=True, tail=1)) as logs:  # type: ignore[type-var]
                async for r in logs:
                    got.append(r.line)
                    if len(got) == 5:
                        break
            numbers = [int(line.split()[1]) for line in got]
            assert numbers == list(range(numbers[0], numbers[0] + 5)), got  # no gap, no repeat
            assert await no_stream_threads() == []
            state = await rt.inspect(s.task_id)
            assert state is not None and state.running  # stopping reading does not stop the task

    run(body)


def test_logs_of_an_unknown_task_fail(client: docker.DockerClient) -> None:
    async def body() -> None:
        async with open_runtime() as rt:
            with pytest.raises(RuntimeFailure, match="no container"):
                [r async for r in rt.logs("no-such-task")]

    run(body)


def test_close_ends_event_streams_and_their_threads(client: docker.DockerClient) -> None:
    async def body() -> None:
        rt = DockerRuntime(node_labels())
        events = rt.events()
        reader = asyncio.ensure_future(anext(events))
        while not stream_threads():
            await asyncio.sleep(0.01)
        await rt.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, 5)
        assert await no_stream_threads() == []
        with pytest.raises(RuntimeFailure, match="closed"):
            await rt.start(spec(("true",)))

    run(body)


# -- concurrency ---------------------------------------------------------------


def test_twenty_concurrent_starts(client: docker.DockerClient) -> None:
    n = 20
    # The baseline, measured in the same run: 20 concurrent bare `docker run -d`.
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            ["docker", "run", "-d", "--label", RUN_LABEL, IMAGE, "sleep", "300"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(n)
    ]
    errors = [p.communicate()[1] for p in procs if p.wait() != 0]
    baseline = time.monotonic() - t0
    assert errors == []
    _remove_test_containers(client)

    specs = [spec(("sleep", "300"), slot=i) for i in range(n)]

    async def body() -> tuple[float, list[ContainerState]]:
        async with open_runtime() as rt:
            t0 = time.monotonic()
            states = await asyncio.gather(*(rt.start(s) for s in specs))
            return time.monotonic() - t0, states

    elapsed, states = run(body)
    print(
        f"\n{n} concurrent DockerRuntime.start: {elapsed:.2f}s; {n} concurrent `docker run -d`: {baseline:.2f}s; "
        f"ratio {elapsed / baseline:.2f}"
    )
    assert all(s.running for s in states)
    assert len({s.container_id for s in states}) == n
    for s in specs:
        attrs = client.api.inspect_container(container_name(s))
        assert attrs["State"]["Running"], s.task_id
