"""The `docker` task runtime: real containers through the docker SDK.

Every container carries the node's labels (cluster, node, ...) plus the task's
own (`dockyard.task`, `dockyard.job`, `dockyard.job-name`, `dockyard.slot`), so
an agent that restarts finds what it started with `list()` and never sees the
containers of another cluster or node on the same engine.

Threads: the docker SDK blocks, so every request runs on a dedicated
ThreadPoolExecutor (the event loop also serves heartbeats). Long-lived streams
(events, followed logs) get a thread of their own each, so that they cannot
starve that pool; closing the stream's socket ends the thread.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import functools
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import docker
import docker.errors
import requests

from agent.runtime.base import (
    ContainerSpec,
    ContainerState,
    LogRecord,
    PortBinding,
    PortRequest,
    RuntimeEvent,
    RuntimeFailure,
)

LABEL_TASK = "dockyard.task"
LABEL_JOB = "dockyard.job"
LABEL_JOB_NAME = "dockyard.job-name"
LABEL_SLOT = "dockyard.slot"

# Docker's container name grammar is [a-zA-Z0-9][a-zA-Z0-9_.-]+; job names are
# validated upstream, but a name that slips through must not break start().
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")

# The events this runtime reports; "start" lets an agent see a container it did
# not start itself (e.g. `docker start` by an operator).
_EVENT_KINDS = ("die", "oom", "start")

# How many unread items a stream thread may hand to the loop before it waits
# for the reader (backpressure for a chatty followed log).
_STREAM_BUFFER = 1024


def container_name(spec: ContainerSpec) -> str:
    """`dockyard-<job_name>.<slot>.<task_id[:12]>`: deterministic, so a second
    start of the same task collides with the first instead of duplicating it."""
    job = _NAME_UNSAFE.sub("-", spec.job_name) or "job"
    return f"dockyard-{job}.{spec.slot}.{spec.task_id[:12]}"


class DockerRuntime:
    """`TaskRuntime` over the Docker engine (see agent/runtime/base.py)."""

    name = "docker"

    def __init__(
        self,
        node_labels: Mapping[str, str],
        *,
        client: docker.DockerClient | None = None,
        pids_limit: int = 512,
        stop_timeout: float = 10.0,
        max_workers: int = 32,
        publish_host_ip: str = "0.0.0.0",
    ) -> None:
        if not node_labels:
            # Without node labels list() would match every Dockyard container
            # on the engine, and an agent would adopt (or remove) another's.
            raise ValueError("DockerRuntime needs node labels (e.g. dockyard.cluster, dockyard.node)")
        self._node_labels = dict(node_labels)
        self._pids_limit = pids_limit
        # The container's own StopTimeout: what `docker stop` without -t and a
        # daemon shutdown give it; stop() passes its own timeout explicitly.
        self._stop_timeout = stop_timeout
        self._publish_host_ip = publish_host_ip
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="dockyard-docker"
        )
        # The connection pool must be as large as the executor, or concurrent
        # starts queue for (or churn) HTTP connections to the engine.
        self._client = client if client is not None else docker.DockerClient.from_env(max_pool_size=max_workers)
        self._owns_client = client is None
        self._api = self._client.api
        self._streams: set[_StreamThread[Any]] = set()
        self._closed = False

    # -- TaskRuntime ---------------------------------------------------------

    async def start(self, spec: ContainerSpec) -> ContainerState:
        return await self._run(self._start_blocking, spec)

    async def stop(self, task_id: str, timeout: float = 10.0) -> None:
        await self._run(self._stop_blocking, task_id, timeout)

    async def remove(self, task_id: str) -> None:
        await self._run(self._remove_blocking, task_id)

    async def inspect(self, task_id: str) -> ContainerState | None:
        return await self._run(self._inspect_task_blocking, task_id)

    async def list(self) -> builtins.list[ContainerState]:
        summaries = await self._run(self._api.containers, all=True, filters={"label": self._label_filters()})
        states = await asyncio.gather(*(self._run(self._inspect_or_none, s["Id"]) for s in summaries))
        return [s for s in states if s is not None]

    def events(self) -> AsyncIterator[RuntimeEvent]:
        # Events are requested from the moment of this call (the engine
        # replays recent ones), so nothing is lost between subscribing here and
        # the first read, e.g. while the agent reconciles with list().
        return self._events(since=time.time())

    def logs(self, task_id: str, follow: bool = False, tail: int = 0) -> AsyncIterator[LogRecord]:
        return self._logs(task_id, follow, tail)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        streams = list(self._streams)
        for stream in streams:
            stream.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(_shutdown, self._executor, streams))
        if self._owns_client:
            self._client.close()

    # -- blocking parts, run on the executor -----------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._closed:
            raise RuntimeFailure("the docker runtime is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(_translated, fn, *args, **kwargs))

    def _start_blocking(self, spec: ContainerSpec) -> ContainerState:
        name = container_name(spec)
        # A second attempt covers a container that disappears between a name
        # conflict and its inspection (removed concurrently).
        for _ in range(2):
            try:
                created = self._create(spec, name)
            except docker.errors.ImageNotFound:
                raise RuntimeFailure(
                    f"image {spec.image} is not present on this node and no registry is configured"
                ) from None
            except docker.errors.APIError as e:
                if e.status_code == 409:  # name in use: this task's container already exists
                    try:
                        return self._adopt(spec, name)
                    except docker.errors.NotFound:
                        continue
                raise RuntimeFailure(f"cannot create the container of task {spec.task_id}: {_explain(e)}") from None
            self._start_or_discard(spec, created["Id"])
            return self._inspect_blocking(created["Id"])
        raise RuntimeFailure(f"container {name} kept disappearing while task {spec.task_id} was being started")

    def _create(self, spec: ContainerSpec, name: str) -> dict[str, Any]:
        api = self._api
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in spec.ports:
            bindings.setdefault(_port_key(port), []).append(
                {"HostIp": self._publish_host_ip, "HostPort": str(port.published) if port.published else ""}
            )
        host_config = api.create_host_config(
            privileged=False,
            network_mode="bridge",
            cap_drop=["NET_RAW"],
            security_opt=["no-new-privileges"],
            pids_limit=self._pids_limit if self._pids_limit > 0 else None,
            nano_cpus=round(spec.cpu * 1e9) if spec.cpu > 0 else None,
            mem_limit=spec.memory if spec.memory > 0 else None,
            # Equal to the memory limit: no swap beyond it.
            memswap_limit=spec.memory if spec.memory > 0 else None,
            # Dockyard restarts tasks itself (as new tasks, with new containers).
            restart_policy={"Name": "no"},
            init=False,
            port_bindings=bindings or None,
        )
        return api.create_container(  # type: ignore[no-any-return]
            image=spec.image,
            command=list(spec.command) or None,
            name=name,
            environment=[f"{k}={v}" for k, v in spec.env.items()],
            labels=self._labels_for(spec),
            ports=[(p.container, p.protocol) for p in spec.ports] or None,
            host_config=host_config,
            stop_timeout=max(0, math.ceil(self._stop_timeout)),
            # The agent host's proxy settings are not the task's business.
            use_config_proxy=False,
        )

    def _start_or_discard(self, spec: ContainerSpec, container_id: str) -> None:
        try:
            self._api.start(container_id)
        except docker.errors.APIError as e:
            # A container that was created but could not start would otherwise
            # stay behind and hold its name.
            self._discard(container_id)
            raise RuntimeFailure(_start_failure_message(spec, e)) from None
        except (requests.RequestException, docker.errors.DockerException):
            self._discard(container_id)
            raise

    def _adopt(self, spec: ContainerSpec, name: str) -> ContainerState:
        attrs = self._api.inspect_container(name)
        labels = attrs["Config"].get("Labels") or {}
        mine = labels.get(LABEL_TASK) == spec.task_id and all(labels.get(k) == v for k, v in self._node_labels.items())
        if not mine:
            raise RuntimeFailure(
                f"a container named {name} already exists and does not belong to task {spec.task_id} on this node"
            )
        if attrs["State"].get("Status") == "created":
            self._start_or_discard(spec, attrs["Id"])
            attrs = self._api.inspect_container(attrs["Id"])
        return self._state_from(attrs)

    def _discard(self, container_id: str) -> None:
        try:
            self._api.remove_container(container_id, v=True, force=True)
        except docker.errors.NotFound:
            pass
        except (docker.errors.DockerException, requests.RequestException):
            pass  # best effort; list() still finds it by its labels

    def _stop_blocking(self, task_id: str, timeout: float) -> None:
        for cid in self._task_container_ids(task_id):
            try:
                self._api.stop(cid, timeout=max(0, math.ceil(timeout)))
            except docker.errors.NotFound:
                pass

    def _remove_blocking(self, task_id: str) -> None:
        for cid in self._task_container_ids(task_id):
            try:
                self._api.remove_container(cid, v=True, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                if e.status_code == 409 and "already in progress" in _explain(e):
                    continue
                raise

    def _inspect_task_blocking(self, task_id: str) -> ContainerState | None:
        for cid in self._task_container_ids(task_id):  # newest first
            state = self._inspect_or_none(cid)
            if state is not None:
                return state
        return None

    def _inspect_or_none(self, container_id: str) -> ContainerState | None:
        try:
            return self._inspect_blocking(container_id)
        except docker.errors.NotFound:
            return None

    def _inspect_blocking(self, container_id: str) -> ContainerState:
        return self._state_from(self._api.inspect_container(container_id))

    def _task_container_ids(self, task_id: str) -> builtins.list[str]:
        filters = {"label": [*self._label_filters(), f"{LABEL_TASK}={task_id}"]}
        return [c["Id"] for c in self._api.containers(all=True, filters=filters)]

    # -- streams ----------------------------------------------------------------

    async def _events(self, since: float) -> AsyncIterator[RuntimeEvent]:
        if self._closed:
            raise RuntimeFailure("the docker runtime is closed")
        filters = {"type": "container", "label": self._label_filters(), "event": list(_EVENT_KINDS)}
        stream: _StreamThread[dict[str, Any]] = _StreamThread(
            lambda: self._api.events(since=since, decode=True, filters=filters), name="dockyard-docker-events"
        )
        async with self._tracked(stream):
            async for raw in stream:
                event = _runtime_event(raw)
                if event is not None:
                    yield event
            if not stream.closed:
                raise RuntimeFailure("the Docker engine ended the event stream (did the daemon restart?)")

    async def _logs(self, task_id: str, follow: bool, tail: int) -> AsyncIterator[LogRecord]:
        ids = await self._run(self._task_container_ids, task_id)
        if not ids:
            raise RuntimeFailure(f"task {task_id} has no container on this node")
        cid = ids[0]
        # The backlog: both streams read whole (with `tail` each, which cannot
        # lose any of the last `tail` lines overall), merged by timestamp. The
        # engine stamps a line when it reads that stream's pipe, so lines
        # written to stdout and stderr within a few microseconds of each other
        # may be merged in either order.
        out, err = await asyncio.gather(
            self._run(self._read_log, cid, "stdout", tail), self._run(self._read_log, cid, "stderr", tail)
        )
        backlog = sorted(out + err, key=lambda e: e[0])
        if tail > 0:
            backlog = backlog[-tail:]
        for ts_ns, stream_name, line in backlog:
            yield LogRecord(task_id, stream_name, line, ts_ns / 1e9)
        if not follow:
            return
        # Then each stream followed from where its backlog ended. Lines are
        # yielded as they arrive, so within a stream they are in order, while
        # an stdout and an stderr line written microseconds apart may come in
        # either order. The engine's `since` is inclusive (and a float loses
        # nanoseconds), so lines already yielded are skipped by their exact
        # timestamp.
        last_ns = {"stdout": max((e[0] for e in out), default=None), "stderr": max((e[0] for e in err), default=None)}
        queue: asyncio.Queue[tuple[int, str, str] | _Failed | None] = asyncio.Queue(_STREAM_BUFFER)
        followers = [
            asyncio.ensure_future(self._follow_log(cid, name, last_ns[name], queue)) for name in ("stdout", "stderr")
        ]
        try:
            running = len(followers)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                elif isinstance(item, _Failed):
                    raise item.error
                else:
                    ts_ns, stream_name, line = item
                    yield LogRecord(task_id, stream_name, line, ts_ns / 1e9)
        finally:
            # The reader stopped (or the container did): end both followers,
            # which closes their streams and so ends their threads.
            for f in followers:
                f.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    async def _follow_log(
        self,
        cid: str,
        stream_name: str,
        after_ns: int | None,
        queue: asyncio.Queue[tuple[int, str, str] | _Failed | None],
    ) -> None:
        # 1 µs earlier than the last line seen: a float `since` cannot carry
        # nanoseconds, and the duplicates this lets through are skipped below.
        since = (after_ns - 1000) / 1e9 if after_ns is not None else None
        want_stdout = stream_name == "stdout"

        def open_stream() -> Iterator[bytes]:
            return self._api.logs(  # type: ignore[no-any-return]
                cid,
                stdout=want_stdout,
                stderr=not want_stdout,
                stream=True,
                follow=True,
                timestamps=True,
                since=since,
            )

        stream: _StreamThread[bytes] = _StreamThread(open_stream, name=f"dockyard-docker-logs-{cid[:12]}")
        try:
            async with self._tracked(stream):
                async for chunk in stream:
                    for ts_ns, line in _parse_log_chunk(chunk):
                        if after_ns is None or ts_ns > after_ns:
                            await queue.put((ts_ns, stream_name, line))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - handed to the reader, who raises it
            await queue.put(_Failed(e))
            return
        await queue.put(None)

    def _read_log(self, cid: str, stream_name: str, tail: int) -> builtins.list[tuple[int, str, str]]:
        raw = self._api.logs(
            cid,
            stdout=stream_name == "stdout",
            stderr=stream_name == "stderr",
            timestamps=True,
            tail=tail if tail > 0 else "all",
        )
        return [(ts, stream_name, line) for ts, line in _parse_log_chunk(raw)]

    def _tracked(self, stream: _StreamThread[Any]) -> _Tracked:
        return _Tracked(self, stream)

    # -- translation ------------------------------------------------------------

    def _labels_for(self, spec: ContainerSpec) -> dict[str, str]:
        own = {
            **self._node_labels,
            LABEL_TASK: spec.task_id,
            LABEL_JOB: spec.job_id,
            LABEL_JOB_NAME: spec.job_name,
            LABEL_SLOT: str(spec.slot),
        }
        # The runtime's own labels win: a task label must not move its
        # container out of this node's sight.
        return {**spec.labels, **own}

    def _label_filters(self) -> builtins.list[str]:
        return [f"{k}={v}" for k, v in self._node_labels.items()] + [LABEL_TASK]

    def _state_from(self, attrs: Mapping[str, Any]) -> ContainerState:
        state = attrs.get("State") or {}
        labels = dict(attrs.get("Config", {}).get("Labels") or {})
        status = state.get("Status", "")
        exit_code = int(state["ExitCode"]) if status in ("exited", "dead") and "ExitCode" in state else None
        error = state.get("Error") or ""
        if state.get("OOMKilled"):
            error = f"OOM killed: {error}" if error else "OOM killed"
        return ContainerState(
            task_id=labels.get(LABEL_TASK, ""),
            container_id=attrs["Id"],
            running=bool(state.get("Running")),
            exit_code=exit_code,
            error=error,
            ports=_bindings_from((attrs.get("NetworkSettings") or {}).get("Ports") or {}),
            labels=labels,
        )


_T = TypeVar("_T")


def _translated(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a docker SDK call; what the engine refuses becomes a RuntimeFailure."""
    try:
        return fn(*args, **kwargs)
    except RuntimeFailure:
        raise
    except docker.errors.APIError as e:
        raise RuntimeFailure(f"the Docker engine refused: {_explain(e)}") from None
    except (requests.RequestException, docker.errors.DockerException) as e:
        raise RuntimeFailure(f"cannot reach the Docker engine: {e}") from None


def _shutdown(executor: concurrent.futures.ThreadPoolExecutor, streams: list[_StreamThread[Any]]) -> None:
    executor.shutdown(wait=True, cancel_futures=True)
    for stream in streams:
        stream.join(timeout=5.0)


def _explain(e: docker.errors.APIError) -> str:
    return str(e.explanation or e)


_BIND_ALLOCATED = re.compile(r"Bind for \S*:(\d+) failed: port is already allocated")
_BIND_IN_USE = re.compile(r"listen (tcp|udp|sctp)\d?\s+\S*:(\d+): bind: address already in use")
_EXEC_NOT_FOUND = re.compile(
    r'exec: "([^"]*)": (executable file not found in \$PATH|stat [^:]*: no such file or directory)'
)


def _start_failure_message(spec: ContainerSpec, e: docker.errors.APIError) -> str:
    text = _explain(e)
    if m := _BIND_ALLOCATED.search(text):
        port = int(m.group(1))
        proto = next((p.protocol for p in spec.ports if p.published == port), "tcp")
        return f"host port {port}/{proto} is already in use"
    if m := _BIND_IN_USE.search(text):
        return f"host port {m.group(2)}/{m.group(1)} is already in use"
    if m := _EXEC_NOT_FOUND.search(text):
        return f"command {m.group(1)!r} was not found in image {spec.image}"
    if "permission denied" in text and "exec" in text:
        return f"command {spec.command[0] if spec.command else ''!r} is not executable in image {spec.image}"
    return f"cannot start the container of task {spec.task_id}: {text}"


def _port_key(port: PortRequest) -> str:
    return f"{port.container}/{port.protocol}"


def _bindings_from(ports: Mapping[str, Any]) -> tuple[PortBinding, ...]:
    # The engine reports a binding on 0.0.0.0 twice (IPv4 and "::"); one
    # PortBinding per published port is what a task actually has.
    seen: dict[tuple[int, str, int], PortBinding] = {}
    for key, entries in ports.items():
        if not entries:
            continue  # exposed but not published
        container, _, proto = key.partition("/")
        for entry in entries:
            if not entry.get("HostPort"):
                continue
            binding = PortBinding(
                container=int(container),
                published=int(entry["HostPort"]),
                host_ip=entry.get("HostIp") or "0.0.0.0",
                protocol=proto or "tcp",
            )
            seen.setdefault((binding.container, binding.protocol, binding.published), binding)
    return tuple(sorted(seen.values(), key=lambda b: (b.container, b.protocol, b.published)))


def _runtime_event(raw: Mapping[str, Any]) -> RuntimeEvent | None:
    kind = raw.get("Action") or raw.get("status")
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    task_id = attributes.get(LABEL_TASK)
    if kind not in _EVENT_KINDS or not task_id:
        return None
    code = attributes.get("exitCode")
    return RuntimeEvent(task_id=task_id, kind=kind, exit_code=int(code) if code not in (None, "") else None)


def _parse_log_chunk(chunk: bytes) -> list[tuple[int, str]]:
    """Lines of `<RFC3339Nano timestamp> <text>` into (epoch ns, text)."""
    out: list[tuple[int, str]] = []
    last_ns = time.time_ns()
    for raw_line in chunk.decode("utf-8", errors="replace").split("\n"):
        if not raw_line:
            continue
        stamp, sep, text = raw_line.partition(" ")
        ts_ns = _parse_timestamp_ns(stamp) if sep else None
        if ts_ns is None:  # not a timestamped line (should not happen): keep it whole
            out.append((last_ns, raw_line.rstrip("\r")))
            continue
        last_ns = ts_ns
        out.append((ts_ns, text.rstrip("\r")))
    return out


def _parse_timestamp_ns(stamp: str) -> int | None:
    # e.g. 2024-11-25T07:33:00.123456789Z; the engine trims trailing zeros.
    if not stamp.endswith("Z") or len(stamp) < 20:
        return None
    try:
        seconds = int(datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None
    fraction = stamp[19:-1]
    if fraction and not (fraction[0] == "." and fraction[1:].isdigit()):
        return None
    nanos = int(fraction[1:10].ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanos


class _Tracked:
    """Registers a stream with its runtime (so close() can end it) for as long
    as it is read, and closes it when reading stops for any reason."""

    def __init__(self, runtime: DockerRuntime, stream: _StreamThread[Any]) -> None:
        self._runtime = runtime
        self._stream = stream

    async def __aenter__(self) -> None:
        if self._runtime._closed:
            raise RuntimeFailure("the docker runtime is closed")
        self._runtime._streams.add(self._stream)
        self._stream.start(asyncio.get_running_loop())

    async def __aexit__(self, *exc: object) -> None:
        self._stream.close()
        self._runtime._streams.discard(self._stream)


_Item = TypeVar("_Item")
_END = object()


class _StreamThread(Generic[_Item]):
    """Reads one blocking docker stream (a CancellableStream) on a thread of
    its own and hands the items to the event loop, at most _STREAM_BUFFER
    ahead of the reader. close() shuts the stream's socket, which ends the
    thread's read."""

    def __init__(self, open_stream: Callable[[], Iterator[_Item]], *, name: str) -> None:
        self._open_stream = open_stream
        self._name = name
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._room = threading.Semaphore(_STREAM_BUFFER)
        self._lock = threading.Lock()
        self._stream: Iterator[_Item] | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._pump, name=self._name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stream, self._stream = self._stream, None
        if stream is not None:
            _close_quietly(stream)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __aiter__(self) -> _StreamThread[_Item]:
        return self

    async def __anext__(self) -> _Item:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stay ended for any further read
            raise StopAsyncIteration
        if isinstance(item, _Failed):
            self._queue.put_nowait(_END)
            raise item.error
        self._room.release()
        return item  # type: ignore[no-any-return]

    def _pump(self) -> None:
        try:
            stream = self._open_stream()
            with self._lock:
                if self._closed:
                    _close_quietly(stream)
                    return
                self._stream = stream
            for item in stream:
                while not self._room.acquire(timeout=0.5):
                    if self._closed:
                        return
                if self._closed or not self._hand(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the reader, who raises it
            if not self._closed:
                err = e
                if isinstance(e, docker.errors.NotFound):
                    err = RuntimeFailure(f"the container is gone: {_explain(e)}")
                elif isinstance(e, (docker.errors.DockerException, requests.RequestException)):
                    err = RuntimeFailure(f"docker stream failed: {e}")
                self._hand(_Failed(err))
        finally:
            with self._lock:
                leftover, self._stream = self._stream, None
            if leftover is not None:
                _close_quietly(leftover)
            self._hand(_END)

    def _hand(self, item: object) -> bool:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
            return True
        except RuntimeError:  # the loop is closed: nobody is reading any more
            return False


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _close_quietly(stream: object) -> None:
    close = getattr(stream, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001, S110 - already closed or fully read: nothing left to release
        pass
