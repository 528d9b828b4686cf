"""The Control service: what the CLI, the Python client and any gRPC user call.

Writes are validated completely before anything is proposed, so a rejected
request leaves no Raft entry behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import grpc

import scheduler as sch
from dockyard import __version__
from dockyard.api.v1 import control_pb2 as cpb
from dockyard.api.v1 import control_pb2_grpc as cgrpc
from dockyard.api.v1 import dispatcher_pb2 as dpb
from dockyard.api.v1 import dispatcher_pb2_grpc as dgrpc
from dockyard.api.v1 import objects_pb2 as pb
from dockyard.api.v1 import store_pb2 as spb
from dockyard.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
    status_code,
)
from dockyard.grpcutil import require_role, rpc
from dockyard.jobspec import validate_job_spec
from dockyard.pki import Role
from manager.ca import cluster_security, rotate_token
from manager.events import KINDS, TABLE_OF_KIND, events_of
from manager.jobstatus import summarize
from manager.membership import Membership
from manager.raft import Proposer
from manager.reconcile import ROLLED_BACK, rolled_back
from manager.scheduling import node_infos, task_devices, task_group
from manager.settings import current_settings, scheduler_config, update_settings, view_settings
from manager.store import Store, View, clone, create, update
from manager.taskstate import holds_resources, is_terminal

log = logging.getLogger("dockyard.control")

SUPPORTED_TYPES = ("service", "batch")

SNAPSHOT_FORMAT = "dockyard-snapshot/1"

# Applied changes an events stream may have queued for a reader that has not
# taken them yet (about 50 MB of task changes at most).
EVENTS_BACKLOG = 10_000


def check_spec(spec: pb.JobSpec) -> pb.JobSpec:
    """Everything the manager requires of a job spec, beyond the job-file rules."""
    spec = validate_job_spec(spec)
    errors = []
    for i, text in enumerate(spec.placement.constraints):
        try:
            sch.parse_constraint(text)
        except ValueError as e:
            errors.append(FieldError(f"placement.constraints[{i}]", str(e)))
    if spec.task.HasField("health"):
        errors.append(FieldError("task.health", "health checks are not supported yet by this version of Dockyard"))
    if spec.update.order == "start-first":
        errors.append(FieldError("update.order", "start-first is not supported yet; use stop-first"))
    if spec.update.delay > 0:
        errors.append(FieldError("update.delay", "a delay between update batches is not supported yet; use 0s"))
    if spec.type not in SUPPORTED_TYPES:
        errors.append(FieldError("type", f"{spec.type} jobs are not supported yet (supported: service, batch)"))
    if errors:
        raise InvalidArgument(errors)
    return spec


class Control(cgrpc.ControlServicer):
    allowed_roles = (Role.ADMIN, Role.MANAGER)

    def __init__(
        self,
        store: Store,
        proposer: Proposer,
        cluster_id: str,
        manager_id: str,
        settings_seed: pb.ClusterSettings,
        membership: Membership,
        connect: Callable[[str], grpc.aio.Channel],
    ) -> None:
        self.membership = membership
        self.connect = connect
        self.store = store
        self.proposer = proposer
        self.cluster_id = cluster_id
        self.manager_id = manager_id
        self.settings_seed = settings_seed

    async def _write(self, actions: list[spb.StoreAction]) -> None:
        result = await self.proposer.propose(spb.StoreBatch(atomic=True, actions=actions))
        if not result.ok:
            raise Conflict("the object changed while the request was handled; retry: " + "; ".join(result.errors))

    def _job(self, view: View, name: str) -> pb.Job:
        job = view.job_by_name(name)
        if job is None:
            raise NotFound(f"no job named {name!r}")
        return job

    def _status(self, view: View, job: pb.Job) -> cpb.JobStatusResponse:
        tasks = sorted(view.tasks_of_job(job.meta.id), key=lambda t: (t.slot, t.attempt))
        return cpb.JobStatusResponse(summary=summarize(job, tasks), tasks=tasks)

    @rpc
    async def RunJob(self, request: cpb.RunJobRequest, context: grpc.aio.ServicerContext) -> cpb.RunJobResponse:
        spec = check_spec(request.spec)
        for _ in range(3):
            existing = self.store.job_by_name(spec.name)
            if existing is None:
                job = pb.Job(meta=pb.Meta(id=uuid.uuid4().hex), spec=spec, spec_version=1)
                action = create(job)
            else:
                same_spec = existing.spec == spec
                if same_spec and not existing.stopped:
                    return cpb.RunJobResponse(job=existing, changed=False)
                job = clone(existing)
                if not same_spec:
                    job.spec_version += 1
                    job.previous_spec.CopyFrom(existing.spec)
                    job.ClearField("update_status")  # a new update starts afresh
                job.spec.CopyFrom(spec)
                job.stopped = False
                action = update(job)
            try:
                await self._write([action])
            except Conflict:
                continue
            stored = self.store.get("jobs", job.meta.id)
            assert isinstance(stored, pb.Job)
            # A new job is an operator-visible event; a changed spec is
            # logged at debug level (a CI pipeline may update jobs at a high
            # rate, and each log line costs the leader as much as a fifth of
            # the write itself).
            log.log(
                logging.INFO if existing is None else logging.DEBUG,
                "event=job_submitted job=%s name=%s version=%d", job.meta.id, spec.name, stored.spec_version,
            )
            return cpb.RunJobResponse(job=stored, changed=True)
        raise Conflict(f"job {spec.name!r} kept changing while it was submitted; retry")

    @rpc
    async def PlanJob(self, request: cpb.PlanJobRequest, context: grpc.aio.ServicerContext) -> cpb.PlanJobResponse:
        spec = check_spec(request.spec)
        view = self.store.view()
        existing = view.job_by_name(spec.name)
        job_id = existing.meta.id if existing else "plan-" + spec.name
        ids = [f"{spec.name}.{slot}" for slot in range(1, spec.replicas + 1)]
        group = task_group(job_id, spec.name, spec, ids, 0.0)
        config = scheduler_config(view_settings(view, self.settings_seed))
        plan = sch.Scheduler(config).plan(node_infos(view, exclude_job=job_id), [group])
        names = {n.meta.id: n.name for n in view.nodes.values()}
        resp = cpb.PlanJobResponse()
        slot_of = {task_id: slot for slot, task_id in enumerate(ids, start=1)}
        for p in plan.placements:
            resp.placements.append(
                cpb.PlannedPlacement(
                    slot=slot_of[p.task_id], node_id=p.node_id, node_name=names.get(p.node_id, ""),
                    devices=task_devices(p),
                )
            )
        for pre in plan.preemptions:
            victim = view.tasks.get(pre.task_id)
            resp.preemptions.append(
                cpb.PlannedPreemption(
                    task_id=pre.task_id, job_name=victim.job_name if victim is not None else pre.job_id,
                    node_id=pre.node_id, node_name=names.get(pre.node_id, ""),
                    for_slot=slot_of.get(pre.for_task_id, 0), reason=pre.reason,
                )
            )
        for u in plan.unplaced:
            resp.unplaced += len(u.task_ids)
            resp.reason = u.explanation.summary()
            resp.explanation = json.dumps(dataclasses.asdict(u.explanation), sort_keys=True, default=str)
        return resp

    @rpc
    async def ListJobs(self, request: cpb.ListJobsRequest, context: grpc.aio.ServicerContext) -> cpb.ListJobsResponse:
        view = self.store.view()
        jobs = sorted(view.jobs.values(), key=lambda j: (j.spec.namespace, j.spec.name))
        if request.namespace:
            jobs = [j for j in jobs if j.spec.namespace == request.namespace]
        return cpb.ListJobsResponse(jobs=[summarize(j, view.tasks_of_job(j.meta.id)) for j in jobs])

    @rpc
    async def GetJob(self, request: cpb.GetJobRequest, context: grpc.aio.ServicerContext) -> cpb.JobStatusResponse:
        view = self.store.view()
        return self._status(view, self._job(view, request.name))

    async def _change_job(self, name: str, change: Callable[[pb.Job], bool]) -> cpb.JobStatusResponse:
        """Compare-and-set a change to a job, re-reading on a conflict.
        `change` edits the copy it is given and says whether anything changed."""
        for _ in range(3):
            view = self.store.view()
            job = clone(self._job(view, name))
            if not change(job):
                return self._status(view, job)
            try:
                await self._write([update(job)])
            except Conflict:
                continue
            view = self.store.view()
            return self._status(view, view.jobs[job.meta.id])
        raise Conflict(f"job {name!r} kept changing; retry")

    @rpc
    async def ScaleJob(self, request: cpb.ScaleJobRequest, context: grpc.aio.ServicerContext) -> cpb.JobStatusResponse:
        def scale(job: pb.Job) -> bool:
            if job.spec.type != "service":
                raise FailedPrecondition(f"job {request.name!r} is a {job.spec.type} job; only service jobs scale")
            # Scaling changes how many, not what: the spec version stays, so
            # running tasks are kept.
            job.spec.replicas = request.replicas
            job.stopped = False
            return True

        return await self._change_job(request.name, scale)

    @rpc
    async def RollbackJob(self, request: cpb.RollbackJobRequest, context: grpc.aio.ServicerContext) -> cpb.JobStatusResponse:
        def rollback(job: pb.Job) -> bool:
            if not job.HasField("previous_spec"):
                raise FailedPrecondition(f"job {request.name!r} has no earlier version to roll back to (it was never updated)")
            back = rolled_back(job)
            back.spec.CopyFrom(check_spec(back.spec))  # today's rules: a spec stored long ago may break one since
            if back.spec == job.spec:
                raise FailedPrecondition(
                    f"job {request.name!r}: the previous version differs from this one only in its replica count; "
                    "nothing to roll back (use `dockyard job scale`)"
                )
            back.update_status.CopyFrom(pb.UpdateStatus(
                state=ROLLED_BACK, spec_version=job.spec_version,
                message=f"version {job.spec_version} rolled back by an operator as version {back.spec_version}",
            ))
            job.CopyFrom(back)
            return True

        status = await self._change_job(request.name, rollback)
        log.info("event=job_rolled_back name=%s version=%d", request.name, status.summary.job.spec_version)
        return status

    @rpc
    async def StopJob(self, request: cpb.StopJobRequest, context: grpc.aio.ServicerContext) -> cpb.JobStatusResponse:
        def stop(job: pb.Job) -> bool:
            if job.stopped:
                return False
            job.stopped = True
            return True

        return await self._change_job(request.name, stop)

    @rpc
    async def ListTasks(self, request: cpb.ListTasksRequest, context: grpc.aio.ServicerContext) -> cpb.ListTasksResponse:
        view = self.store.view()
        tasks = list(view.tasks.values())
        if request.job:
            tasks = list(view.tasks_of_job(self._job(view, request.job).meta.id))
        if not request.all:
            tasks = [t for t in tasks if not (is_terminal(t) and t.desired_state != pb.TASK_STATE_RUNNING)]
        tasks.sort(key=lambda t: (t.job_name, t.slot, t.attempt))
        return cpb.ListTasksResponse(tasks=tasks)

    @rpc
    async def ListNodes(self, request: cpb.ListNodesRequest, context: grpc.aio.ServicerContext) -> cpb.ListNodesResponse:
        view = self.store.view()
        resp = cpb.ListNodesResponse()
        held_by: dict[str, list[pb.Task]] = {}
        for t in view.tasks.values():  # one pass over the tasks, not one per node
            if holds_resources(t):
                held_by.setdefault(t.node_id, []).append(t)
        for node in sorted(view.nodes.values(), key=lambda n: n.name):
            held = held_by.get(node.meta.id, [])
            alloc = pb.Resources(
                cpu=sum(t.spec.resources.cpu for t in held),
                memory=sum(t.spec.resources.memory for t in held),
                disk=sum(t.spec.resources.disk for t in held),
            )
            resp.nodes.append(cpb.NodeSummary(node=node, allocated=alloc, tasks=len(held)))
        return resp

    @rpc
    async def UpdateNode(self, request: cpb.UpdateNodeRequest, context: grpc.aio.ServicerContext) -> pb.Node:
        for _ in range(3):
            view = self.store.view()
            found = view.node_by_ref(request.node)
            if found is None:
                raise NotFound(f"no node with id or name {request.node!r}")
            node = clone(found)
            if request.set_availability:
                node.availability = request.availability
            for k, v in request.add_labels.items():
                node.labels[k] = v
            for k in request.remove_labels:
                node.labels.pop(k, None)
            try:
                await self._write([update(node)])
            except Conflict:
                continue
            return self.store.view().nodes[node.meta.id]
        raise Conflict("the node kept changing; retry")

    async def Logs(self, request: cpb.LogsRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[cpb.LogLine]:
        try:
            require_role(context, self.allowed_roles)
        except PermissionDenied as e:
            await context.abort(status_code(e), str(e))
        view = self.store.view()
        job = view.job_by_name(request.job)
        if job is None:
            await context.abort(status_code(NotFound("")), f"no job named {request.job!r}")
            return
        by_node: dict[str, list[pb.Task]] = {}
        for t in view.tasks_of_job(job.meta.id):
            if t.node_id and t.status.container_id:
                by_node.setdefault(t.node_id, []).append(t)
        queue: asyncio.Queue[cpb.LogLine | None] = asyncio.Queue(maxsize=1000)

        async def pump(node: pb.Node, tasks: list[pb.Task]) -> None:
            slots = {t.meta.id: t.slot for t in tasks}
            try:
                async with self.connect(node.address) as channel:
                    stub = dgrpc.AgentLogsStub(channel)
                    call = stub.TaskLogs(dpb.TaskLogsRequest(task_ids=list(slots), follow=request.follow, tail=request.tail))
                    async for line in call:
                        line.slot = slots.get(line.task_id, 0)
                        line.node_id = node.meta.id
                        await queue.put(line)
            except grpc.aio.AioRpcError as e:
                await queue.put(cpb.LogLine(stream="stderr", line=f"[dockyard] logs from node {node.name} unavailable: {e.details()}", node_id=node.meta.id))
            finally:
                await queue.put(None)

        pumps = [
            asyncio.create_task(pump(view.nodes[nid], tasks)) for nid, tasks in by_node.items() if nid in view.nodes
        ]
        try:
            open_pumps = len(pumps)
            while open_pumps:
                item = await queue.get()
                if item is None:
                    open_pumps -= 1
                    continue
                yield item
        finally:
            for p in pumps:
                p.cancel()

    @rpc
    async def ClusterInfo(self, request: cpb.ClusterInfoRequest, context: grpc.aio.ServicerContext) -> cpb.ClusterInfoResponse:
        st = self.proposer.status()
        return cpb.ClusterInfoResponse(
            cluster_id=self.cluster_id,
            manager_id=self.manager_id,
            leader=st.is_leader,
            leader_address=st.leader,
            raft_term=st.term,
            raft_commit_index=st.commit_index,
            version=__version__,
        )

    @rpc
    async def ListManagers(self, request: cpb.ListManagersRequest, context: grpc.aio.ServicerContext) -> cpb.ListManagersResponse:
        return await self.membership.list()

    @rpc
    async def JoinManager(self, request: cpb.JoinManagerRequest, context: grpc.aio.ServicerContext) -> cpb.JoinManagerResponse:
        # Only a certificate issued through the manager join token may join.
        peer = require_role(context, (Role.MANAGER,))
        missing = [FieldError(f, "is required") for f in ("api_address", "raft_address") if not getattr(request, f)]
        if missing:
            raise InvalidArgument(missing)
        return await self.membership.join(peer.node_id, request)

    @rpc
    async def ListTokens(self, request: cpb.ListTokensRequest, context: grpc.aio.ServicerContext) -> cpb.ListTokensResponse:
        require_role(context, (Role.ADMIN,))
        sec = cluster_security(self.store)
        return cpb.ListTokensResponse(agent=sec.agent_token, manager=sec.manager_token)

    @rpc
    async def RotateToken(self, request: cpb.RotateTokenRequest, context: grpc.aio.ServicerContext) -> cpb.ListTokensResponse:
        require_role(context, (Role.ADMIN,))
        sec = await rotate_token(self.store, self.proposer, request.role)
        return cpb.ListTokensResponse(agent=sec.agent_token, manager=sec.manager_token)

    async def Events(self, request: cpb.EventsRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[cpb.Event]:
        """Events from now on, as this manager applies the Raft log."""
        try:
            require_role(context, self.allowed_roles)
            unknown = [FieldError(f"kinds[{i}]", f"must be one of {', '.join(KINDS)}, got {k!r}")
                       for i, k in enumerate(request.kinds) if k not in KINDS]
            if unknown:
                raise InvalidArgument(unknown)
        except (PermissionDenied, InvalidArgument) as e:
            await context.abort(status_code(e), str(e))
        tables = [TABLE_OF_KIND[k] for k in (request.kinds or KINDS)]
        _, watch = self.store.view_and_watch(tables)

        def node_name(node_id: str) -> str:
            node = self.store.get("nodes", node_id)
            return node.name if isinstance(node, pb.Node) and node.name else node_id[:12]

        try:
            while True:
                if watch.queue.qsize() > EVENTS_BACKLOG:
                    # The store does not wait for a reader: one that falls this
                    # far behind is cut off rather than held in memory.
                    log.warning("event=events_reader_too_slow peer=%s backlog=%d", context.peer(), watch.queue.qsize())
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"this events stream fell {EVENTS_BACKLOG} changes behind the cluster; read faster or "
                        "ask for fewer kinds (--kind), then open it again",
                    )
                for event in events_of(await watch.queue.get(), node_name):
                    yield event
        finally:
            watch.close()

    @rpc
    async def SaveSnapshot(self, request: cpb.SaveSnapshotRequest, context: grpc.aio.ServicerContext) -> cpb.ClusterSnapshot:
        require_role(context, (Role.ADMIN,))
        view = self.store.view()
        store = spb.StoreSnapshot(
            index=view.index, jobs=view.jobs.values(), tasks=view.tasks.values(), settings=view.settings.values()
        )
        log.info("event=snapshot_saved index=%d jobs=%d tasks=%d", view.index, len(view.jobs), len(view.tasks))
        return cpb.ClusterSnapshot(
            format=SNAPSHOT_FORMAT, cluster_id=self.cluster_id, index=view.index, created_at=time.time(),
            dockyard_version=__version__, store=store,
        )

    @rpc
    async def RestoreSnapshot(
        self, request: cpb.RestoreSnapshotRequest, context: grpc.aio.ServicerContext
    ) -> cpb.RestoreSnapshotResponse:
        require_role(context, (Role.ADMIN,))
        snap = request.snapshot
        if snap.format != SNAPSHOT_FORMAT:
            raise InvalidArgument([FieldError("snapshot.format", f"must be {SNAPSHOT_FORMAT!r}, got {snap.format!r}: "
                                                                 "not a Dockyard snapshot, or one of a newer format")])
        if snap.cluster_id != self.cluster_id:
            raise InvalidArgument([FieldError(
                "snapshot.cluster_id",
                f"the snapshot is of cluster {snap.cluster_id[:12] or '?'}, this is cluster {self.cluster_id[:12]}: "
                "a snapshot is restored only into the cluster it was taken of",
            )])
        names = [j.spec.name for j in snap.store.jobs]
        if len(set(names)) != len(names):
            raise InvalidArgument([FieldError("snapshot.store.jobs", "two jobs share a name: the snapshot is damaged")])
        result = await self.proposer.propose(spb.StoreBatch(atomic=True, restore=snap.store))
        if not result.ok:
            raise Conflict("the restore was refused: " + "; ".join(result.errors))
        log.warning(
            "event=snapshot_restored index=%d from_index=%d jobs=%d tasks=%d",
            result.index, snap.index, len(snap.store.jobs), len(snap.store.tasks),
        )
        return cpb.RestoreSnapshotResponse(jobs=len(snap.store.jobs), tasks=len(snap.store.tasks), index=result.index)

    @rpc
    async def GetClusterSettings(
        self, request: cpb.GetClusterSettingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClusterSettings:
        return current_settings(self.store, self.settings_seed)

    @rpc
    async def UpdateClusterSettings(
        self, request: cpb.UpdateClusterSettingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClusterSettings:
        require_role(context, (Role.ADMIN,))
        return await update_settings(self.store, self.proposer, self.settings_seed, request)

    @rpc
    async def RemoveManager(self, request: cpb.RemoveManagerRequest, context: grpc.aio.ServicerContext) -> cpb.RemoveManagerResponse:
        if not self.proposer.is_leader():
            # Only the leader changes membership: pass the request on.
            leader = self.membership.leader_api_address()
            if leader is None:
                raise Unavailable("this manager is not the Raft leader and does not know the leader yet; retry")
            try:
                async with self.connect(leader) as channel:
                    return await cgrpc.ControlStub(channel).RemoveManager(request, timeout=60)  # type: ignore[no-any-return]
            except grpc.aio.AioRpcError as e:
                await context.abort(e.code(), e.details() or e.code().name)
                raise  # unreachable: abort raises
        await self.membership.remove(request.manager)
        return cpb.RemoveManagerResponse()
