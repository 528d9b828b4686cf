from dockyard.api.v1 import objects_pb2 as _objects_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StoreObject(_message.Message):
    __slots__ = ("node", "job", "task", "manager", "security", "settings")
    NODE_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MANAGER_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    node: _objects_pb2.Node
    job: _objects_pb2.Job
    task: _objects_pb2.Task
    manager: _objects_pb2.ManagerNode
    security: _objects_pb2.ClusterSecurity
    settings: _objects_pb2.ClusterSettings
    def __init__(self, node: _Optional[_Union[_objects_pb2.Node, _Mapping]] = ..., job: _Optional[_Union[_objects_pb2.Job, _Mapping]] = ..., task: _Optional[_Union[_objects_pb2.Task, _Mapping]] = ..., manager: _Optional[_Union[_objects_pb2.ManagerNode, _Mapping]] = ..., security: _Optional[_Union[_objects_pb2.ClusterSecurity, _Mapping]] = ..., settings: _Optional[_Union[_objects_pb2.ClusterSettings, _Mapping]] = ...) -> None: ...

class StoreAction(_message.Message):
    __slots__ = ("kind", "object")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[StoreAction.Kind]
        KIND_CREATE: _ClassVar[StoreAction.Kind]
        KIND_UPDATE: _ClassVar[StoreAction.Kind]
        KIND_DELETE: _ClassVar[StoreAction.Kind]
    KIND_UNSPECIFIED: StoreAction.Kind
    KIND_CREATE: StoreAction.Kind
    KIND_UPDATE: StoreAction.Kind
    KIND_DELETE: StoreAction.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    kind: StoreAction.Kind
    object: StoreObject
    def __init__(self, kind: _Optional[_Union[StoreAction.Kind, str]] = ..., object: _Optional[_Union[StoreObject, _Mapping]] = ...) -> None: ...

class StoreBatch(_message.Message):
    __slots__ = ("term", "atomic", "actions", "timestamp", "restore")
    TERM_FIELD_NUMBER: _ClassVar[int]
    ATOMIC_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RESTORE_FIELD_NUMBER: _ClassVar[int]
    term: int
    atomic: bool
    actions: _containers.RepeatedCompositeFieldContainer[StoreAction]
    timestamp: float
    restore: StoreSnapshot
    def __init__(self, term: _Optional[int] = ..., atomic: _Optional[bool] = ..., actions: _Optional[_Iterable[_Union[StoreAction, _Mapping]]] = ..., timestamp: _Optional[float] = ..., restore: _Optional[_Union[StoreSnapshot, _Mapping]] = ...) -> None: ...

class RaftEntry(_message.Message):
    __slots__ = ("batches",)
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[StoreBatch]
    def __init__(self, batches: _Optional[_Iterable[_Union[StoreBatch, _Mapping]]] = ...) -> None: ...

class StoreSnapshot(_message.Message):
    __slots__ = ("index", "max_term", "nodes", "jobs", "tasks", "managers", "security", "settings")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MAX_TERM_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    index: int
    max_term: int
    nodes: _containers.RepeatedCompositeFieldContainer[_objects_pb2.Node]
    jobs: _containers.RepeatedCompositeFieldContainer[_objects_pb2.Job]
    tasks: _containers.RepeatedCompositeFieldContainer[_objects_pb2.Task]
    managers: _containers.RepeatedCompositeFieldContainer[_objects_pb2.ManagerNode]
    security: _containers.RepeatedCompositeFieldContainer[_objects_pb2.ClusterSecurity]
    settings: _containers.RepeatedCompositeFieldContainer[_objects_pb2.ClusterSettings]
    def __init__(self, index: _Optional[int] = ..., max_term: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[_objects_pb2.Node, _Mapping]]] = ..., jobs: _Optional[_Iterable[_Union[_objects_pb2.Job, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[_objects_pb2.Task, _Mapping]]] = ..., managers: _Optional[_Iterable[_Union[_objects_pb2.ManagerNode, _Mapping]]] = ..., security: _Optional[_Iterable[_Union[_objects_pb2.ClusterSecurity, _Mapping]]] = ..., settings: _Optional[_Iterable[_Union[_objects_pb2.ClusterSettings, _Mapping]]] = ...) -> None: ...
