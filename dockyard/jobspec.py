"""Job files: load, validate, normalise, and convert to and from `pb.JobSpec`.

One set of rules serves both doors into the cluster:

* the CLI reads a YAML file (`load_job_file`, `parse_job`);
* the manager gets a `pb.JobSpec` over gRPC and calls `validate_job_spec` on
  every RunJob. That function turns the protobuf back into the same plain
  data a job file holds and runs it through the same pydantic models, so a
  rule can never apply to one door and not the other.

Every broken rule becomes a `FieldError(path, rule)`; all of them are
collected and raised together as one `InvalidArgument`.

Protobuf has no "unset" for scalars, so on the wire:

* an absent message (task.resources, task.restart, task.health, placement,
  update) means "all defaults" (absent health means "no health check");
* an empty string means the default (namespace, type, protocol, condition...);
* a zero means the default only where zero is not a legal value (required
  ports, health interval/timeout/retries, task.stop_grace_period). Where zero is legal it is taken
  literally: replicas 0 (scaled to zero), priority 0, cpu/memory/disk 0 (no
  limit), published 0 (Docker picks), max_attempts 0 (unlimited), delays 0.
  `parse_job` always fills every default in, so specs built from files never
  depend on this.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import FieldError, InvalidArgument
from dockyard.units import format_duration, format_memory, parse_duration, parse_memory

__all__ = [
    "check_constraint",
    "check_device_kind",
    "job_spec_to_dict",
    "load_job_file",
    "parse_job",
    "validate_job_spec",
]

JOB_TYPES = ("service", "global", "batch", "periodic")
RESTART_CONDITIONS = ("none", "on-failure", "any")
PROTOCOLS = ("tcp", "udp")
PLACEMENT_POLICIES = ("", "binpack", "spread", "align")
FAILURE_ACTIONS = ("pause", "continue", "rollback")
UPDATE_ORDERS = ("stop-first", "start-first")

DEFAULT_NAMESPACE = "default"
DEFAULT_REPLICAS = 1
# The middle of 0..100, so a job can be made more or less important than the
# ones that did not say.
DEFAULT_PRIORITY = 50
MAX_CPU = 1024.0
# Long-running jobs should come back whatever happened; run-to-completion jobs
# should not be re-run once they succeeded.
DEFAULT_RESTART_CONDITION = {"service": "any", "global": "any", "batch": "on-failure", "periodic": "on-failure"}
# Docker's own default restart delay is 0; 5s keeps a crash-looping task from
# hammering the node and the store.
DEFAULT_RESTART_DELAY = 5.0
# Docker's health defaults are 30s/30s/3; 10s finds a dead task three times
# sooner at the price of a cheap probe, 5s is ample for a local HTTP check.
DEFAULT_HEALTH_INTERVAL = 10.0
DEFAULT_HEALTH_TIMEOUT = 5.0
DEFAULT_HEALTH_RETRIES = 3
# Docker's own default time between SIGTERM and SIGKILL.
DEFAULT_STOP_GRACE_PERIOD = 10.0
DEFAULT_UPDATE_PARALLELISM = 1
DEFAULT_UPDATE_DELAY = 0.0
# Watch a new task this long before counting it as a success (as in the
# design's example job file).
DEFAULT_UPDATE_MONITOR = 5.0

_UINT32_MAX = 2**32 - 1
_INT64_MAX = 2**63 - 1
_LABEL = re.compile(r"^[a-z][a-z0-9-]*$")
_LABEL_KEY = r"[A-Za-z0-9][A-Za-z0-9_.\-/]*"
_ENV_NAME = re.compile(r"^[^=\x00]+$")
# Device kinds are short names an operator types (`--device gpu=0,1`) and a
# job file repeats: no registry of kinds, so keep them plain.
_DEVICE_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# More devices of one kind than any host has; a larger count is a typo.
MAX_DEVICE_COUNT = 1024


def _rule(text: str) -> PydanticCustomError:
    return PydanticCustomError("dockyard", "{rule}", {"rule": text})


def _show(value: object) -> str:
    """A value as the user wrote it, for '(got ...)'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --- field types -------------------------------------------------------------------------------


def _check_label(value: str) -> str:
    if not value:
        raise _rule("must not be empty")
    if len(value) > 63:
        raise _rule(f"must be at most 63 characters (got {len(value)})")
    if not _LABEL.match(value) or value.endswith("-"):
        raise _rule(
            f"must be lowercase letters, digits and '-', start with a letter and not end with '-' (got {value!r})"
        )
    return value


_WHITESPACE = re.compile(r"\s")


def _check_image(value: str) -> str:
    if not value.strip():
        raise _rule("must not be empty")
    if _WHITESPACE.search(value):
        raise _rule(f"must not contain whitespace (got {value!r})")
    return value


def _size(value: object) -> int:
    if not isinstance(value, (str, int, float)):
        raise _rule(f"must be a size like 64Mi, 1Gi, 512M or a number of bytes (got {_show(value)})")
    try:
        size = parse_memory(value)
    except ValueError as exc:
        raise _rule(str(exc)) from None
    if size < 0:
        raise _rule(f"must be >= 0 (got {_show(value)})")
    if size > _INT64_MAX:
        raise _rule(f"must be <= {format_memory(_INT64_MAX)} bytes (got {_show(value)})")
    return size


def _duration(value: object) -> float:
    if not isinstance(value, (str, int, float)):
        raise _rule(f"must be a duration like 5s, 100ms, 1m30s or a number of seconds (got {_show(value)})")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise _rule(str(exc)) from None
    if seconds < 0:
        raise _rule(f"must be >= 0 (got {_show(value)})")
    return seconds


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise _rule(f"must be > 0 (got {format_duration(seconds)})")
    return seconds


def _argv(value: object) -> object:
    if isinstance(value, str):
        raise _rule(
            f"must be a list of strings, not a single string (nothing is split for you): "
            f"write {json.dumps(_split(value))}"
        )
    return value


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _env_value(value: object) -> object:
    # Integers are unambiguous, so they are accepted and stringified (PORT: 8080).
    # Booleans and floats are not: YAML turns `yes`/`on` into true and `1.10`
    # into 1.1, so the container would not see what the file says.
    if isinstance(value, bool):
        raise _rule(f'must be a string; quote it so the text is kept exactly: "{_show(value)}"')
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise _rule(f"must be a string; quote it so the text is kept exactly (YAML read it as the number {value!r})")
    if not isinstance(value, str):
        raise _rule(f"must be a string (got {_show(value)})")
    return value


def _env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise _rule(f"invalid variable name {name!r}: must be non-empty and contain no '='")
    return name


def _check_spread(value: str) -> str:
    if value and not re.fullmatch(r"node\.labels\." + _LABEL_KEY, value):
        raise _rule(f"must be empty or node.labels.<key> (got {value!r})")
    return value


def check_device_kind(kind: str) -> None:
    """Raise ValueError unless `kind` is a device kind name, e.g. 'gpu'."""
    if not _DEVICE_KIND.match(kind):
        raise ValueError(
            f"device kind must be 1-32 lowercase letters, digits, '-' or '_', starting with a letter (got {kind!r})"
        )


def _device_kind(value: str) -> str:
    try:
        check_device_kind(value)
    except ValueError as exc:
        raise _rule(str(exc)) from None
    return value


def _check_constraint(value: str) -> str:
    try:
        check_constraint(value)
    except ValueError as exc:
        raise _rule(str(exc)) from None
    return value


Label = Annotated[str, AfterValidator(_check_label)]
Cores = Annotated[float, Field(ge=0, le=MAX_CPU, allow_inf_nan=False)]
Size = Annotated[int, BeforeValidator(_size)]
Duration = Annotated[float, BeforeValidator(_duration)]
PositiveDuration = Annotated[float, BeforeValidator(_duration), AfterValidator(_positive)]
Port = Annotated[int, Field(ge=1, le=65535)]
HostPort = Annotated[int, Field(ge=0, le=65535)]
UInt32 = Annotated[int, Field(ge=0, le=_UINT32_MAX)]
Argv = Annotated[list[str], BeforeValidator(_argv)]
EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, BeforeValidator(_env_value)]


# --- the job file's shape (DESIGN.md section 7) ------------------------------------------------


class _Section(BaseModel):
    # strict: "3" is not a number and 3 is not a string; a job file says what it means.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # `env:` with every entry commented out reads as null: treat it as not written.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class DeviceModel(_Section):
    kind: Annotated[str, AfterValidator(_device_kind)]
    count: Annotated[int, Field(ge=0, le=MAX_DEVICE_COUNT)] = 0
    share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _count_or_share(self) -> DeviceModel:
        if (self.count > 0) == (self.share > 0):
            raise _rule("set exactly one of count (whole devices, >= 1) or share (0 < share <= 1 of one device)")
        if 0 < self.share < 0.001:
            # The scheduler counts shares in thousandths of a device.
            raise _rule(f"share must be at least 0.001 (got {self.share!r})")
        return self


class ResourcesModel(_Section):
    cpu: Cores = 0.0
    memory: Size = 0
    disk: Size = 0
    devices: list[DeviceModel] = []


class PortModel(_Section):
    container: Port
    published: HostPort = 0
    protocol: Literal["tcp", "udp"] = "tcp"


def _port_conflicts(raw_ports: object) -> list[FieldError]:
    """Ports that clash with an earlier one: same (published, protocol) with
    published != 0, or same (container, protocol).

    Runs on the raw data next to the models, not inside them, so a clash is
    reported even when some other field of the file is also wrong.
    """
    if not isinstance(raw_ports, list):
        return []
    problems: list[FieldError] = []
    published: dict[tuple[int, str], int] = {}
    container: dict[tuple[int, str], int] = {}
    for i, port in enumerate(raw_ports):
        if not isinstance(port, Mapping):
            continue
        protocol = port.get("protocol") or "tcp"
        if not isinstance(protocol, str) or protocol not in PROTOCOLS:
            continue
        shown = "" if protocol == "tcp" else f"/{protocol}"
        host = port.get("published")
        if isinstance(host, int) and not isinstance(host, bool) and host:
            if (host, protocol) in published:
                problems.append(
                    FieldError(
                        f"task.ports[{i}].published",
                        f"host port {host}{shown} is already published by task.ports[{published[host, protocol]}]",
                    )
                )
            else:
                published[host, protocol] = i
        inside = port.get("container")
        if isinstance(inside, int) and not isinstance(inside, bool):
            if (inside, protocol) in container:
                problems.append(
                    FieldError(
                        f"task.ports[{i}].container",
                        f"container port {inside}{shown} is already listed in task.ports[{container[inside, protocol]}]",
                    )
                )
            else:
                container[inside, protocol] = i
    return problems


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise _rule(f"must start with '/' (got {value!r})")
    return value


class HttpCheckModel(_Section):
    path: Annotated[str, AfterValidator(_absolute_path)]
    port: Port


class HealthModel(_Section):
    http: HttpCheckModel | None = None
    cmd: Argv = []
    interval: PositiveDuration = DEFAULT_HEALTH_INTERVAL
    timeout: PositiveDuration = DEFAULT_HEALTH_TIMEOUT
    retries: Annotated[int, Field(ge=1, le=_UINT32_MAX)] = DEFAULT_HEALTH_RETRIES

    @model_validator(mode="after")
    def _one_probe(self) -> HealthModel:
        if (self.http is None) == (not self.cmd):
            raise _rule("needs exactly one of http: {path, port} or cmd: [...]")
        return self


class RestartModel(_Section):
    # None: decided by the job type (DEFAULT_RESTART_CONDITION).
    condition: Literal["none", "on-failure", "any"] | None = None
    delay: Duration = DEFAULT_RESTART_DELAY
    max_attempts: UInt32 = 0


class TaskModel(_Section):
    image: Annotated[str, AfterValidator(_check_image)]
    command: Argv = []
    env: dict[EnvName, EnvValue] = {}
    # default_factory, not an instance: pydantic deep-copies a model default
    # on every validation (half the cost of validating a small spec).
    resources: ResourcesModel = Field(default_factory=ResourcesModel)
    ports: list[PortModel] = []
    health: HealthModel | None = None
    restart: RestartModel = Field(default_factory=RestartModel)
    stop_grace_period: PositiveDuration = DEFAULT_STOP_GRACE_PERIOD


class PlacementModel(_Section):
    constraints: list[Annotated[str, AfterValidator(_check_constraint)]] = []
    spread: Annotated[str, AfterValidator(_check_spread)] = ""
    max_per_node: UInt32 = 0
    policy: Literal["", "binpack", "spread", "align"] = ""


class UpdateModel(_Section):
    parallelism: UInt32 = DEFAULT_UPDATE_PARALLELISM
    delay: Duration = DEFAULT_UPDATE_DELAY
    monitor: Duration = DEFAULT_UPDATE_MONITOR
    failure_action: Literal["pause", "continue", "rollback"] = "pause"
    order: Literal["stop-first", "start-first"] = "stop-first"


class JobModel(_Section):
    name: Label
    namespace: Label = DEFAULT_NAMESPACE
    type: Literal["service", "global", "batch", "periodic"] = "service"
    # Ignored for global jobs (one task per eligible node); kept as written.
    replicas: UInt32 = DEFAULT_REPLICAS
    priority: Annotated[int, Field(ge=0, le=100)] = DEFAULT_PRIORITY
    task: TaskModel
    placement: PlacementModel = Field(default_factory=PlacementModel)
    update: UpdateModel = Field(default_factory=UpdateModel)


# Which model sits under which key, to suggest the field a typo meant.
_CHILDREN: dict[type[BaseModel], dict[str, type[BaseModel]]] = {
    JobModel: {"task": TaskModel, "placement": PlacementModel, "update": UpdateModel},
    TaskModel: {"resources": ResourcesModel, "ports": PortModel, "health": HealthModel, "restart": RestartModel},
    ResourcesModel: {"devices": DeviceModel},
    HealthModel: {"http": HttpCheckModel},
}


# --- placement constraints ---------------------------------------------------------------------
#
# The grammar is the scheduler's (scheduler/constraints.py, which this package
# may not import); a test checks that both accept and reject the same strings.
# This copy exists to say precisely which part of a rejected constraint is wrong.

_CONSTRAINT_HINT = "expected '<attribute> <op> <value>', e.g. 'node.labels.zone == east'"
_ATTRIBUTE = re.compile(r"node\.(?:id|name|hostname|labels\.[A-Za-z0-9_][A-Za-z0-9_.\-/]*)")
_VALUE = re.compile(r"""\s*("[^"]*"|'[^']*'|[^\s,()"']+)\s*""")
_OPERATOR = re.compile(r"==|!=|not\s+in(?![\w.-])|in(?![\w.-])|not\s+exists(?![\w.-])|exists(?![\w.-])")


def check_constraint(text: str) -> None:
    """Raise ValueError saying what is wrong with a placement constraint.

    Grammar: `<attr> <op> [<value>]` where attr is node.id | node.name |
    node.hostname (= node.name) | node.labels.<key>; op is == or != (one value),
    in or not in (a parenthesised comma list), exists or not exists (no value).
    Values may be quoted with ' or " to hold spaces.
    """
    rest = text.strip()
    if not rest:
        raise ValueError(f"empty constraint: {_CONSTRAINT_HINT}")
    word = re.match(r"[^\s=!()]+", rest)
    attribute = word.group(0) if word else ""
    if not _ATTRIBUTE.fullmatch(attribute):
        raise ValueError(
            f"unknown attribute {attribute or rest!r} in {text!r}: use node.id, node.name or node.labels.<key>"
        )
    rest = rest[len(attribute) :].strip()
    op_match = _OPERATOR.match(rest)
    if op_match is None:
        raise ValueError(f"unknown operator in {text!r}: use ==, !=, in, not in, exists or not exists")
    op = " ".join(op_match.group(0).split())
    rest = rest[op_match.end() :].strip()
    if op.endswith("exists"):
        if rest:
            raise ValueError(f"'{op}' takes no value in {text!r}: write '{attribute} {op}'")
        return
    if op.endswith("in"):
        if not (rest.startswith("(") and rest.endswith(")")):
            raise ValueError(f"'{op}' needs a parenthesised list in {text!r}, e.g. '{attribute} {op} (a, b)'")
        if not all(_VALUE.fullmatch(item) for item in rest[1:-1].split(",")):
            raise ValueError(f"'{op}' needs non-empty values separated by commas in {text!r}, e.g. (east, west)")
        return
    if not rest:
        raise ValueError(f"'{op}' needs a value in {text!r}, e.g. '{attribute} {op} east'")
    if not _VALUE.fullmatch(rest):
        raise ValueError(
            f"the value after '{op}' must be one word or a quoted string in {text!r} "
            "(for several values use 'in (a, b)')"
        )


# --- public API --------------------------------------------------------------------------------


def load_job_file(path: str | Path) -> pb.JobSpec:
    """Read, validate and normalise a YAML job file. Raises InvalidArgument."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArgument([FieldError("<file>", f"cannot read {path}: {reason}")]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise InvalidArgument([FieldError("<file>", f"invalid YAML in {path}{_where(exc)}: {_problem(exc)}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidArgument([FieldError("<file>", f"invalid YAML in {path}: {exc}")]) from None
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else f"a {_yaml_kind(data)}"
        raise InvalidArgument(
            [FieldError("<file>", f"{path} must be a mapping of job fields (name:, task:, ...), got {got}")]
        )
    return parse_job(data)


def parse_job(data: Mapping[Any, Any]) -> pb.JobSpec:
    """Validate job-file data (as loaded from YAML) and return a normalised JobSpec."""
    if not isinstance(data, Mapping):
        raise InvalidArgument([FieldError("<file>", f"must be a mapping of job fields, got {_show(data)}")])
    errors: list[FieldError] = []
    job: JobModel | None = None
    try:
        job = JobModel.model_validate(dict(data))
    except ValidationError as exc:
        errors.extend(_field_errors(exc))
    task = data.get("task")
    if isinstance(task, Mapping):
        errors.extend(_port_conflicts(task.get("ports")))
    if errors or job is None:
        raise InvalidArgument(errors)
    return _to_proto(job)


def validate_job_spec(spec: pb.JobSpec) -> pb.JobSpec:
    """Apply the job-file rules to a spec that arrived over gRPC.

    Returns a new, normalised spec with every default filled in; the input is
    not modified. Validating a normalised spec gives an equal spec.
    """
    return parse_job(_from_proto(spec))


def job_spec_to_dict(spec: pb.JobSpec) -> dict[str, Any]:
    """The spec as job-file data with human units (for `-o yaml`).

    `parse_job(job_spec_to_dict(s)) == s` for a normalised spec `s`.
    """
    task = spec.task
    res = task.resources
    out_task: dict[str, Any] = {
        "image": task.image,
        "command": list(task.command),
        "env": dict(sorted(task.env.items())),
        "resources": {
            "cpu": res.cpu,
            "memory": _human_size(res.memory),
            "disk": _human_size(res.disk),
            "devices": [_device_dict(d) for d in res.devices],
        },
        "ports": [{"container": p.container, "published": p.published, "protocol": p.protocol} for p in task.ports],
    }
    if task.HasField("health"):
        health: dict[str, Any] = {}
        if task.health.HasField("http"):
            health["http"] = {"path": task.health.http.path, "port": task.health.http.port}
        if task.health.cmd:
            health["cmd"] = list(task.health.cmd)
        health["interval"] = format_duration(task.health.interval)
        health["timeout"] = format_duration(task.health.timeout)
        health["retries"] = task.health.retries
        out_task["health"] = health
    out_task["restart"] = {
        "condition": task.restart.condition,
        "delay": format_duration(task.restart.delay),
        "max_attempts": task.restart.max_attempts,
    }
    out_task["stop_grace_period"] = format_duration(task.stop_grace_period)
    placement = spec.placement
    update = spec.update
    return {
        "name": spec.name,
        "namespace": spec.namespace,
        "type": spec.type,
        "replicas": spec.replicas,
        "priority": spec.priority,
        "task": out_task,
        "placement": {
            "constraints": list(placement.constraints),
            "spread": placement.spread,
            "max_per_node": placement.max_per_node,
            "policy": placement.policy,
        },
        "update": {
            "parallelism": update.parallelism,
            "delay": format_duration(update.delay),
            "monitor": format_duration(update.monitor),
            "failure_action": update.failure_action,
            "order": update.order,
        },
    }


def _device_dict(device: pb.DeviceRequest) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": device.kind}
    if device.count:
        out["count"] = device.count
    if device.share:
        out["share"] = device.share
    return out


def _human_size(size: int) -> int | str:
    text = format_memory(size)
    return size if text.lstrip("-").isdigit() else text


# --- conversions -------------------------------------------------------------------------------


def _to_proto(job: JobModel) -> pb.JobSpec:
    task = job.task
    spec = pb.JobSpec(
        name=job.name,
        namespace=job.namespace,
        type=job.type,
        replicas=job.replicas,
        priority=job.priority,
        task=pb.TaskSpec(
            image=task.image,
            command=task.command,
            env=task.env,
            resources=pb.Resources(
                cpu=task.resources.cpu,
                memory=task.resources.memory,
                disk=task.resources.disk,
                devices=[pb.DeviceRequest(kind=d.kind, count=d.count, share=d.share) for d in task.resources.devices],
            ),
            ports=[pb.PortSpec(container=p.container, published=p.published, protocol=p.protocol) for p in task.ports],
            restart=pb.RestartPolicy(
                condition=task.restart.condition or DEFAULT_RESTART_CONDITION[job.type],
                delay=task.restart.delay,
                max_attempts=task.restart.max_attempts,
            ),
            stop_grace_period=task.stop_grace_period,
        ),
        placement=pb.PlacementSpec(
            constraints=job.placement.constraints,
            spread=job.placement.spread,
            max_per_node=job.placement.max_per_node,
            policy=job.placement.policy,
        ),
        update=pb.UpdatePolicy(
            parallelism=job.update.parallelism,
            delay=job.update.delay,
            monitor=job.update.monitor,
            failure_action=job.update.failure_action,
            order=job.update.order,
        ),
    )
    if task.health is not None:
        health = task.health
        spec.task.health.CopyFrom(
            pb.HealthCheck(
                cmd=health.cmd,
                interval=health.interval,
                timeout=health.timeout,
                retries=health.retries,
            )
        )
        if health.http is not None:
            spec.task.health.http.CopyFrom(pb.HttpCheck(path=health.http.path, port=health.http.port))
    return spec


def _from_proto(spec: pb.JobSpec) -> dict[str, Any]:
    """Job-file data from a wire spec, leaving out what the wire says is "default"."""

    def put(out: dict[str, Any], key: str, value: Any, *, zero_is_default: bool = True) -> None:
        if value or not zero_is_default:
            out[key] = value

    data: dict[str, Any] = {}
    put(data, "name", spec.name)
    put(data, "namespace", spec.namespace)
    put(data, "type", spec.type)
    put(data, "replicas", spec.replicas, zero_is_default=False)
    put(data, "priority", spec.priority, zero_is_default=False)
    if spec.HasField("task"):
        t = spec.task
        task: dict[str, Any] = {}
        put(task, "image", t.image)
        put(task, "command", list(t.command))
        put(task, "env", dict(t.env))
        if t.HasField("resources"):
            task["resources"] = {"cpu": t.resources.cpu, "memory": t.resources.memory, "disk": t.resources.disk}
            if t.resources.devices:
                task["resources"]["devices"] = [_device_dict(d) for d in t.resources.devices]
        if t.ports:
            ports = []
            for p in t.ports:
                port: dict[str, Any] = {"published": p.published}
                put(port, "container", p.container)
                put(port, "protocol", p.protocol)
                ports.append(port)
            task["ports"] = ports
        if t.HasField("health"):
            health: dict[str, Any] = {}
            if t.health.HasField("http"):
                http: dict[str, Any] = {"path": t.health.http.path}
                put(http, "port", t.health.http.port)
                health["http"] = http
            put(health, "cmd", list(t.health.cmd))
            put(health, "interval", t.health.interval)
            put(health, "timeout", t.health.timeout)
            put(health, "retries", t.health.retries)
            task["health"] = health
        if t.HasField("restart"):
            restart: dict[str, Any] = {"delay": t.restart.delay, "max_attempts": t.restart.max_attempts}
            put(restart, "condition", t.restart.condition)
            task["restart"] = restart
        put(task, "stop_grace_period", t.stop_grace_period)
        data["task"] = task
    if spec.HasField("placement"):
        pl = spec.placement
        placement: dict[str, Any] = {"constraints": list(pl.constraints), "max_per_node": pl.max_per_node}
        put(placement, "spread", pl.spread)
        put(placement, "policy", pl.policy)
        data["placement"] = placement
    if spec.HasField("update"):
        up = spec.update
        update: dict[str, Any] = {"parallelism": up.parallelism, "delay": up.delay, "monitor": up.monitor}
        put(update, "failure_action", up.failure_action)
        put(update, "order", up.order)
        data["update"] = update
    return data


# --- errors ------------------------------------------------------------------------------------


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if loc and loc[-1] == "[key]":  # an invalid mapping key (env name)
            loc = loc[:-1]
        errors.append(FieldError(_path(loc) or "<file>", _describe(err, loc)))
    return errors


def _path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _describe(err: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = _show(err.get("input"))
    if kind == "dockyard":
        return str(ctx["rule"])
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field" + _suggestion(loc)
    if kind == "greater_than_equal":
        return f"must be >= {_number(ctx['ge'])} (got {got})"
    if kind == "less_than_equal":
        return f"must be <= {_number(ctx['le'])} (got {got})"
    if kind == "literal_error":
        options = [o.strip("'") for o in ctx["expected"].replace(" or ", ", ").split(", ")]
        return f"must be one of {', '.join(o or repr('') for o in options)} (got {got})"
    if kind in ("string_type",):
        return f"must be a string (got {got})"
    if kind in ("int_type", "int_from_float"):
        return f"must be a whole number (got {got})"
    if kind == "float_type":
        return f"must be a number (got {got})"
    if kind == "finite_number":
        return f"must be a finite number (got {got})"
    if kind == "list_type":
        return f"must be a list (got {got})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping (got {got})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _suggestion(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = JobModel
    for part in loc[:-1]:
        if isinstance(part, str):
            child = _CHILDREN.get(model, {}).get(part)
            if child is None:
                return ""
            model = child
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- YAML --------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice instead of keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"key {key!r} appears twice (first on line {seen[key].line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _where(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(exc: yaml.MarkedYAMLError) -> str:
    return exc.problem or exc.context or "cannot parse"


def _yaml_kind(data: object) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, (int, float)):
        return "number"
    return type(data).__name__
