from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATE_UNSPECIFIED: _ClassVar[TaskState]
    TASK_STATE_NEW: _ClassVar[TaskState]
    TASK_STATE_PENDING: _ClassVar[TaskState]
    TASK_STATE_ASSIGNED: _ClassVar[TaskState]
    TASK_STATE_ACCEPTED: _ClassVar[TaskState]
    TASK_STATE_PREPARING: _ClassVar[TaskState]
    TASK_STATE_STARTING: _ClassVar[TaskState]
    TASK_STATE_RUNNING: _ClassVar[TaskState]
    TASK_STATE_COMPLETE: _ClassVar[TaskState]
    TASK_STATE_SHUTDOWN: _ClassVar[TaskState]
    TASK_STATE_FAILED: _ClassVar[TaskState]
    TASK_STATE_REJECTED: _ClassVar[TaskState]
    TASK_STATE_ORPHANED: _ClassVar[TaskState]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]
    NODE_STATE_READY: _ClassVar[NodeState]

class NodeAvailability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_AVAILABILITY_ACTIVE: _ClassVar[NodeAvailability]
    NODE_AVAILABILITY_DRAIN: _ClassVar[NodeAvailability]
TASK_STATE_UNSPECIFIED: TaskState
TASK_STATE_NEW: TaskState
TASK_STATE_PENDING: TaskState
TASK_STATE_ASSIGNED: TaskState
TASK_STATE_ACCEPTED: TaskState
TASK_STATE_PREPARING: TaskState
TASK_STATE_STARTING: TaskState
TASK_STATE_RUNNING: TaskState
TASK_STATE_COMPLETE: TaskState
TASK_STATE_SHUTDOWN: TaskState
TASK_STATE_FAILED: TaskState
TASK_STATE_REJECTED: TaskState
TASK_STATE_ORPHANED: TaskState
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_DOWN: NodeState
NODE_STATE_READY: NodeState
NODE_AVAILABILITY_ACTIVE: NodeAvailability
NODE_AVAILABILITY_DRAIN: NodeAvailability

class Meta(_message.Message):
    __slots__ = ("id", "version", "created_index", "updated_index", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_INDEX_FIELD_NUMBER: _ClassVar[int]
    UPDATED_INDEX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    created_index: int
    updated_index: int
    created_at: float
    updated_at: float
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ..., created_index: _Optional[int] = ..., updated_index: _Optional[int] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("cpu", "memory", "disk", "devices")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory: int
    disk: int
    devices: _containers.RepeatedCompositeFieldContainer[DeviceRequest]
    def __init__(self, cpu: _Optional[float] = ..., memory: _Optional[int] = ..., disk: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[DeviceRequest, _Mapping]]] = ...) -> None: ...

class DeviceRequest(_message.Message):
    __slots__ = ("kind", "count", "share")
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    count: int
    share: float
    def __init__(self, kind: _Optional[str] = ..., count: _Optional[int] = ..., share: _Optional[float] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("id", "kind")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class TaskDevice(_message.Message):
    __slots__ = ("kind", "id", "share")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    share: float
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ..., share: _Optional[float] = ...) -> None: ...

class PortSpec(_message.Message):
    __slots__ = ("container", "published", "protocol")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    container: int
    published: int
    protocol: str
    def __init__(self, container: _Optional[int] = ..., published: _Optional[int] = ..., protocol: _Optional[str] = ...) -> None: ...

class HttpCheck(_message.Message):
    __slots__ = ("path", "port")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    path: str
    port: int
    def __init__(self, path: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("http", "cmd", "interval", "timeout", "retries")
    HTTP_FIELD_NUMBER: _ClassVar[int]
    CMD_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    http: HttpCheck
    cmd: _containers.RepeatedScalarFieldContainer[str]
    interval: float
    timeout: float
    retries: int
    def __init__(self, http: _Optional[_Union[HttpCheck, _Mapping]] = ..., cmd: _Optional[_Iterable[str]] = ..., interval: _Optional[float] = ..., timeout: _Optional[float] = ..., retries: _Optional[int] = ...) -> None: ...

class RestartPolicy(_message.Message):
    __slots__ = ("condition", "delay", "max_attempts")
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    condition: str
    delay: float
    max_attempts: int
    def __init__(self, condition: _Optional[str] = ..., delay: _Optional[float] = ..., max_attempts: _Optional[int] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("image", "command", "env", "resources", "ports", "health", "restart", "stop_grace_period")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    STOP_GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    image: str
    command: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    resources: Resources
    ports: _containers.RepeatedCompositeFieldContainer[PortSpec]
    health: HealthCheck
    restart: RestartPolicy
    stop_grace_period: float
    def __init__(self, image: _Optional[str] = ..., command: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., ports: _Optional[_Iterable[_Union[PortSpec, _Mapping]]] = ..., health: _Optional[_Union[HealthCheck, _Mapping]] = ..., restart: _Optional[_Union[RestartPolicy, _Mapping]] = ..., stop_grace_period: _Optional[float] = ...) -> None: ...

class PlacementSpec(_message.Message):
    __slots__ = ("constraints", "spread", "max_per_node", "policy")
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_NODE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    constraints: _containers.RepeatedScalarFieldContainer[str]
    spread: str
    max_per_node: int
    policy: str
    def __init__(self, constraints: _Optional[_Iterable[str]] = ..., spread: _Optional[str] = ..., max_per_node: _Optional[int] = ..., policy: _Optional[str] = ...) -> None: ...

class UpdatePolicy(_message.Message):
    __slots__ = ("parallelism", "delay", "monitor", "failure_action", "order")
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    FAILURE_ACTION_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    parallelism: int
    delay: float
    monitor: float
    failure_action: str
    order: str
    def __init__(self, parallelism: _Optional[int] = ..., delay: _Optional[float] = ..., monitor: _Optional[float] = ..., failure_action: _Optional[str] = ..., order: _Optional[str] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("name", "namespace", "type", "replicas", "priority", "task", "placement", "update")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    type: str
    replicas: int
    priority: int
    task: TaskSpec
    placement: PlacementSpec
    update: UpdatePolicy
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., type: _Optional[str] = ..., replicas: _Optional[int] = ..., priority: _Optional[int] = ..., task: _Optional[_Union[TaskSpec, _Mapping]] = ..., placement: _Optional[_Union[PlacementSpec, _Mapping]] = ..., update: _Optional[_Union[UpdatePolicy, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("meta", "spec", "spec_version", "stopped", "previous_spec", "update_status")
    META_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SPEC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_STATUS_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    spec: JobSpec
    spec_version: int
    stopped: bool
    previous_spec: JobSpec
    update_status: UpdateStatus
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., spec_version: _Optional[int] = ..., stopped: _Optional[bool] = ..., previous_spec: _Optional[_Union[JobSpec, _Mapping]] = ..., update_status: _Optional[_Union[UpdateStatus, _Mapping]] = ...) -> None: ...

class UpdateStatus(_message.Message):
    __slots__ = ("state", "spec_version", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: str
    spec_version: int
    message: str
    def __init__(self, state: _Optional[str] = ..., spec_version: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PortBinding(_message.Message):
    __slots__ = ("container", "published", "host_ip", "protocol")
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    HOST_IP_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    container: int
    published: int
    host_ip: str
    protocol: str
    def __init__(self, container: _Optional[int] = ..., published: _Optional[int] = ..., host_ip: _Optional[str] = ..., protocol: _Optional[str] = ...) -> None: ...

class TaskStatus(_message.Message):
    __slots__ = ("state", "message", "error", "exited", "exit_code", "container_id", "timestamp", "ports")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    state: TaskState
    message: str
    error: str
    exited: bool
    exit_code: int
    container_id: str
    timestamp: float
    ports: _containers.RepeatedCompositeFieldContainer[PortBinding]
    def __init__(self, state: _Optional[_Union[TaskState, str]] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., exited: _Optional[bool] = ..., exit_code: _Optional[int] = ..., container_id: _Optional[str] = ..., timestamp: _Optional[float] = ..., ports: _Optional[_Iterable[_Union[PortBinding, _Mapping]]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("meta", "job_id", "job_name", "namespace", "slot", "spec_version", "spec", "priority", "node_id", "desired_state", "status", "started_at", "pending_reason", "attempt", "not_before", "placement", "devices")
    META_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PENDING_REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    job_id: str
    job_name: str
    namespace: str
    slot: int
    spec_version: int
    spec: TaskSpec
    priority: int
    node_id: str
    desired_state: TaskState
    status: TaskStatus
    started_at: float
    pending_reason: str
    attempt: int
    not_before: float
    placement: PlacementSpec
    devices: _containers.RepeatedCompositeFieldContainer[TaskDevice]
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., job_id: _Optional[str] = ..., job_name: _Optional[str] = ..., namespace: _Optional[str] = ..., slot: _Optional[int] = ..., spec_version: _Optional[int] = ..., spec: _Optional[_Union[TaskSpec, _Mapping]] = ..., priority: _Optional[int] = ..., node_id: _Optional[str] = ..., desired_state: _Optional[_Union[TaskState, str]] = ..., status: _Optional[_Union[TaskStatus, _Mapping]] = ..., started_at: _Optional[float] = ..., pending_reason: _Optional[str] = ..., attempt: _Optional[int] = ..., not_before: _Optional[float] = ..., placement: _Optional[_Union[PlacementSpec, _Mapping]] = ..., devices: _Optional[_Iterable[_Union[TaskDevice, _Mapping]]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("meta", "name", "hostname", "address", "labels", "capacity", "state", "availability", "runtime", "state_message", "version", "devices")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    META_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    STATE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    name: str
    hostname: str
    address: str
    labels: _containers.ScalarMap[str, str]
    capacity: Resources
    state: NodeState
    availability: NodeAvailability
    runtime: str
    state_message: str
    version: str
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., name: _Optional[str] = ..., hostname: _Optional[str] = ..., address: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., capacity: _Optional[_Union[Resources, _Mapping]] = ..., state: _Optional[_Union[NodeState, str]] = ..., availability: _Optional[_Union[NodeAvailability, str]] = ..., runtime: _Optional[str] = ..., state_message: _Optional[str] = ..., version: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ...) -> None: ...

class ManagerNode(_message.Message):
    __slots__ = ("meta", "name", "api_address", "raft_address", "join_address")
    META_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    API_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAFT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    JOIN_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    name: str
    api_address: str
    raft_address: str
    join_address: str
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., name: _Optional[str] = ..., api_address: _Optional[str] = ..., raft_address: _Optional[str] = ..., join_address: _Optional[str] = ...) -> None: ...

class ClusterSettings(_message.Message):
    __slots__ = ("meta", "scheduler", "heartbeat_period")
    META_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_PERIOD_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    scheduler: SchedulerSettings
    heartbeat_period: float
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., scheduler: _Optional[_Union[SchedulerSettings, _Mapping]] = ..., heartbeat_period: _Optional[float] = ...) -> None: ...

class SchedulerSettings(_message.Message):
    __slots__ = ("policy", "queue_order", "namespace_weights", "preemption")
    class NamespaceWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    POLICY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_ORDER_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    PREEMPTION_FIELD_NUMBER: _ClassVar[int]
    policy: str
    queue_order: str
    namespace_weights: _containers.ScalarMap[str, float]
    preemption: bool
    def __init__(self, policy: _Optional[str] = ..., queue_order: _Optional[str] = ..., namespace_weights: _Optional[_Mapping[str, float]] = ..., preemption: _Optional[bool] = ...) -> None: ...

class ClusterSecurity(_message.Message):
    __slots__ = ("meta", "ca_cert_pem", "ca_key_pem", "agent_token", "manager_token", "cert_lifetime")
    META_FIELD_NUMBER: _ClassVar[int]
    CA_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    AGENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MANAGER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CERT_LIFETIME_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    ca_cert_pem: bytes
    ca_key_pem: bytes
    agent_token: str
    manager_token: str
    cert_lifetime: float
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., ca_cert_pem: _Optional[bytes] = ..., ca_key_pem: _Optional[bytes] = ..., agent_token: _Optional[str] = ..., manager_token: _Optional[str] = ..., cert_lifetime: _Optional[float] = ...) -> None: ...
