from dockyard.api.v1 import objects_pb2 as _objects_pb2
from dockyard.api.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunJobRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _objects_pb2.JobSpec
    def __init__(self, spec: _Optional[_Union[_objects_pb2.JobSpec, _Mapping]] = ...) -> None: ...

class RunJobResponse(_message.Message):
    __slots__ = ("job", "changed")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    job: _objects_pb2.Job
    changed: bool
    def __init__(self, job: _Optional[_Union[_objects_pb2.Job, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class PlanJobRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _objects_pb2.JobSpec
    def __init__(self, spec: _Optional[_Union[_objects_pb2.JobSpec, _Mapping]] = ...) -> None: ...

class PlannedPlacement(_message.Message):
    __slots__ = ("slot", "node_id", "node_name", "devices")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    slot: int
    node_id: str
    node_name: str
    devices: _containers.RepeatedCompositeFieldContainer[_objects_pb2.TaskDevice]
    def __init__(self, slot: _Optional[int] = ..., node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[_objects_pb2.TaskDevice, _Mapping]]] = ...) -> None: ...

class PlannedPreemption(_message.Message):
    __slots__ = ("task_id", "job_name", "node_id", "node_name", "for_slot", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    FOR_SLOT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    job_name: str
    node_id: str
    node_name: str
    for_slot: int
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., job_name: _Optional[str] = ..., node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., for_slot: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanJobResponse(_message.Message):
    __slots__ = ("placements", "unplaced", "reason", "explanation", "preemptions")
    PLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    UNPLACED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    PREEMPTIONS_FIELD_NUMBER: _ClassVar[int]
    placements: _containers.RepeatedCompositeFieldContainer[PlannedPlacement]
    unplaced: int
    reason: str
    explanation: str
    preemptions: _containers.RepeatedCompositeFieldContainer[PlannedPreemption]
    def __init__(self, placements: _Optional[_Iterable[_Union[PlannedPlacement, _Mapping]]] = ..., unplaced: _Optional[int] = ..., reason: _Optional[str] = ..., explanation: _Optional[str] = ..., preemptions: _Optional[_Iterable[_Union[PlannedPreemption, _Mapping]]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class JobSummary(_message.Message):
    __slots__ = ("job", "desired", "running", "pending", "complete", "failed", "phase", "message")
    JOB_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job: _objects_pb2.Job
    desired: int
    running: int
    pending: int
    complete: int
    failed: int
    phase: str
    message: str
    def __init__(self, job: _Optional[_Union[_objects_pb2.Job, _Mapping]] = ..., desired: _Optional[int] = ..., running: _Optional[int] = ..., pending: _Optional[int] = ..., complete: _Optional[int] = ..., failed: _Optional[int] = ..., phase: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobSummary]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobSummary, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class JobStatusResponse(_message.Message):
    __slots__ = ("summary", "tasks")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    summary: JobSummary
    tasks: _containers.RepeatedCompositeFieldContainer[_objects_pb2.Task]
    def __init__(self, summary: _Optional[_Union[JobSummary, _Mapping]] = ..., tasks: _Optional[_Iterable[_Union[_objects_pb2.Task, _Mapping]]] = ...) -> None: ...

class RollbackJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ScaleJobRequest(_message.Message):
    __slots__ = ("name", "replicas")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    replicas: int
    def __init__(self, name: _Optional[str] = ..., replicas: _Optional[int] = ...) -> None: ...

class StopJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("job", "all")
    JOB_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    job: str
    all: bool
    def __init__(self, job: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_objects_pb2.Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_objects_pb2.Task, _Mapping]]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeSummary]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeSummary, _Mapping]]] = ...) -> None: ...

class NodeSummary(_message.Message):
    __slots__ = ("node", "allocated", "tasks")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    node: _objects_pb2.Node
    allocated: _objects_pb2.Resources
    tasks: int
    def __init__(self, node: _Optional[_Union[_objects_pb2.Node, _Mapping]] = ..., allocated: _Optional[_Union[_objects_pb2.Resources, _Mapping]] = ..., tasks: _Optional[int] = ...) -> None: ...

class UpdateNodeRequest(_message.Message):
    __slots__ = ("node", "set_availability", "availability", "add_labels", "remove_labels")
    class AddLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    SET_AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    ADD_LABELS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_LABELS_FIELD_NUMBER: _ClassVar[int]
    node: str
    set_availability: bool
    availability: _objects_pb2.NodeAvailability
    add_labels: _containers.ScalarMap[str, str]
    remove_labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node: _Optional[str] = ..., set_availability: _Optional[bool] = ..., availability: _Optional[_Union[_objects_pb2.NodeAvailability, str]] = ..., add_labels: _Optional[_Mapping[str, str]] = ..., remove_labels: _Optional[_Iterable[str]] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ("job", "follow", "tail")
    JOB_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    job: str
    follow: bool
    tail: int
    def __init__(self, job: _Optional[str] = ..., follow: _Optional[bool] = ..., tail: _Optional[int] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("task_id", "slot", "stream", "line", "timestamp", "node_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    slot: int
    stream: str
    line: str
    timestamp: float
    node_id: str
    def __init__(self, task_id: _Optional[str] = ..., slot: _Optional[int] = ..., stream: _Optional[str] = ..., line: _Optional[str] = ..., timestamp: _Optional[float] = ..., node_id: _Optional[str] = ...) -> None: ...

class ClusterInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterInfoResponse(_message.Message):
    __slots__ = ("cluster_id", "manager_id", "leader", "leader_address", "raft_term", "raft_commit_index", "version")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    LEADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_TERM_FIELD_NUMBER: _ClassVar[int]
    RAFT_COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    manager_id: str
    leader: bool
    leader_address: str
    raft_term: int
    raft_commit_index: int
    version: str
    def __init__(self, cluster_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., leader: _Optional[bool] = ..., leader_address: _Optional[str] = ..., raft_term: _Optional[int] = ..., raft_commit_index: _Optional[int] = ..., version: _Optional[str] = ...) -> None: ...

class ListManagersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ManagerStatus(_message.Message):
    __slots__ = ("manager", "reachable", "leader", "raft_term", "raft_commit_index", "error")
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    RAFT_TERM_FIELD_NUMBER: _ClassVar[int]
    RAFT_COMMIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    manager: _objects_pb2.ManagerNode
    reachable: bool
    leader: bool
    raft_term: int
    raft_commit_index: int
    error: str
    def __init__(self, manager: _Optional[_Union[_objects_pb2.ManagerNode, _Mapping]] = ..., reachable: _Optional[bool] = ..., leader: _Optional[bool] = ..., raft_term: _Optional[int] = ..., raft_commit_index: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ListManagersResponse(_message.Message):
    __slots__ = ("managers",)
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    managers: _containers.RepeatedCompositeFieldContainer[ManagerStatus]
    def __init__(self, managers: _Optional[_Iterable[_Union[ManagerStatus, _Mapping]]] = ...) -> None: ...

class JoinManagerRequest(_message.Message):
    __slots__ = ("name", "api_address", "raft_address", "join_address")
    NAME_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    JOIN_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    name: str
    api_address: str
    raft_address: str
    join_address: str
    def __init__(self, name: _Optional[str] = ..., api_address: _Optional[str] = ..., raft_address: _Optional[str] = ..., join_address: _Optional[str] = ...) -> None: ...

class JoinManagerResponse(_message.Message):
    __slots__ = ("cluster_id", "manager_id", "raft_secret", "raft_peers")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    RAFT_SECRET_FIELD_NUMBER: _ClassVar[int]
    RAFT_PEERS_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    manager_id: str
    raft_secret: str
    raft_peers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., raft_secret: _Optional[str] = ..., raft_peers: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveManagerRequest(_message.Message):
    __slots__ = ("manager",)
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    manager: str
    def __init__(self, manager: _Optional[str] = ...) -> None: ...

class RemoveManagerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("agent", "manager")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    agent: str
    manager: str
    def __init__(self, agent: _Optional[str] = ..., manager: _Optional[str] = ...) -> None: ...

class RotateTokenRequest(_message.Message):
    __slots__ = ("role",)
    ROLE_FIELD_NUMBER: _ClassVar[int]
    role: str
    def __init__(self, role: _Optional[str] = ...) -> None: ...

class GetClusterSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateClusterSettingsRequest(_message.Message):
    __slots__ = ("scheduler_policy", "queue_order", "namespace_weights", "preemption", "heartbeat_period")
    class NamespaceWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCHEDULER_POLICY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ORDER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PREEMPTION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_PERIOD_FIELD_NUMBER: _ClassVar[int]
    scheduler_policy: str
    queue_order: str
    namespace_weights: _containers.ScalarMap[str, float]
    preemption: bool
    heartbeat_period: float
    def __init__(self, scheduler_policy: _Optional[str] = ..., queue_order: _Optional[str] = ..., namespace_weights: _Optional[_Mapping[str, float]] = ..., preemption: _Optional[bool] = ..., heartbeat_period: _Optional[float] = ...) -> None: ...

class EventsRequest(_message.Message):
    __slots__ = ("kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("index", "timestamp", "kind", "action", "id", "name", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    timestamp: float
    kind: str
    action: str
    id: str
    name: str
    message: str
    def __init__(self, index: _Optional[int] = ..., timestamp: _Optional[float] = ..., kind: _Optional[str] = ..., action: _Optional[str] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SaveSnapshotRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterSnapshot(_message.Message):
    __slots__ = ("format", "cluster_id", "index", "created_at", "dockyard_version", "store")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DOCKYARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    format: str
    cluster_id: str
    index: int
    created_at: float
    dockyard_version: str
    store: _store_pb2.StoreSnapshot
    def __init__(self, format: _Optional[str] = ..., cluster_id: _Optional[str] = ..., index: _Optional[int] = ..., created_at: _Optional[float] = ..., dockyard_version: _Optional[str] = ..., store: _Optional[_Union[_store_pb2.StoreSnapshot, _Mapping]] = ...) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: ClusterSnapshot
    def __init__(self, snapshot: _Optional[_Union[ClusterSnapshot, _Mapping]] = ...) -> None: ...

class RestoreSnapshotResponse(_message.Message):
    __slots__ = ("jobs", "tasks", "index")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    jobs: int
    tasks: int
    index: int
    def __init__(self, jobs: _Optional[int] = ..., tasks: _Optional[int] = ..., index: _Optional[int] = ...) -> None: ...
