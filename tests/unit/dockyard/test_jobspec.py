"""Job files: every rule names the field and says what is wrong; the same rules
apply to specs that arrive over gRPC; errors survive the trip through gRPC."""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.errors import (
    Conflict,
    DockyardError,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
    from_status,
    status_code,
)
from dockyard.jobspec import check_constraint, job_spec_to_dict, load_job_file, parse_job, validate_job_spec

# The example job file of DESIGN.md section 7, verbatim.
DESIGN_EXAMPLE = """\
name: web
namespace: default          # tenant: DRF share, quotas
type: service               # service | global | batch | periodic
replicas: 3
priority: 50
task:
  image: dockyard-test/busybox:1
  command: ["httpd", "-f", "-p", "8080"]
  env: {GREETING: hello}
  resources: {cpu: 0.25, memory: 64Mi}
  ports: [{container: 8080, published: 18080}]
  health: {http: {path: /, port: 8080}, interval: 5s, retries: 3}
  restart: {condition: on-failure, delay: 5s, max_attempts: 3}
placement:
  constraints: ["node.labels.zone == east"]
  spread: node.labels.zone
  max_per_node: 1
update: {parallelism: 1, delay: 0s, monitor: 5s, failure_action: pause, order: stop-first}
"""


def minimal(**overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {"name": "web", "task": {"image": "dockyard-test/busybox:1"}}
    job.update(overrides)
    return job


def with_task(**task: Any) -> dict[str, Any]:
    return minimal(task={"image": "dockyard-test/busybox:1", **task})


def errors_of(data: Any) -> list[FieldError]:
    with pytest.raises(InvalidArgument) as info:
        parse_job(data)
    assert info.value.errors, "an InvalidArgument from parse_job must carry field errors"
    return info.value.errors


def rules_at(data: Any, path: str) -> list[str]:
    return [e.rule for e in errors_of(data) if e.path == path]


def write(tmp_path: Path, text: str, name: str = "job.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the design example and defaults -----------------------------------------------------------


def test_design_example_loads_into_the_wire_spec(tmp_path: Path) -> None:
    spec = load_job_file(write(tmp_path, DESIGN_EXAMPLE))
    assert (spec.name, spec.namespace, spec.type, spec.replicas, spec.priority) == ("web", "default", "service", 3, 50)
    assert spec.task.image == "dockyard-test/busybox:1"
    assert list(spec.task.command) == ["httpd", "-f", "-p", "8080"]
    assert dict(spec.task.env) == {"GREETING": "hello"}
    assert spec.task.resources.cpu == 0.25
    assert spec.task.resources.memory == 64 * 1024 * 1024
    assert [(p.container, p.published, p.protocol) for p in spec.task.ports] == [(8080, 18080, "tcp")]
    assert spec.task.health.http.path == "/" and spec.task.health.http.port == 8080
    assert (spec.task.health.interval, spec.task.health.retries) == (5.0, 3)
    assert (spec.task.restart.condition, spec.task.restart.delay, spec.task.restart.max_attempts) == (
        "on-failure",
        5.0,
        3,
    )
    assert list(spec.placement.constraints) == ["node.labels.zone == east"]
    assert spec.placement.spread == "node.labels.zone" and spec.placement.max_per_node == 1
    assert (spec.update.parallelism, spec.update.delay, spec.update.monitor) == (1, 0.0, 5.0)
    assert (spec.update.failure_action, spec.update.order) == ("pause", "stop-first")


def test_minimal_job_gets_every_default() -> None:
    spec = parse_job(minimal())
    assert (spec.namespace, spec.type, spec.replicas, spec.priority) == ("default", "service", 1, 50)
    assert spec.task.resources == pb.Resources(cpu=0, memory=0, disk=0)
    assert spec.task.HasField("resources") and spec.HasField("placement") and spec.HasField("update")
    assert not spec.task.HasField("health")
    assert (spec.task.restart.condition, spec.task.restart.delay, spec.task.restart.max_attempts) == ("any", 5.0, 0)
    assert spec.placement == pb.PlacementSpec()
    assert spec.update == pb.UpdatePolicy(parallelism=1, delay=0, monitor=5, failure_action="pause", order="stop-first")


@pytest.mark.parametrize(
    ("job_type", "condition"),
    [("service", "any"), ("global", "any"), ("batch", "on-failure"), ("periodic", "on-failure")],
)
def test_restart_condition_defaults_by_job_type(job_type: str, condition: str) -> None:
    assert parse_job(minimal(type=job_type)).task.restart.condition == condition
    explicit = parse_job(minimal(type=job_type, task={"image": "x", "restart": {"condition": "none"}}))
    assert explicit.task.restart.condition == "none"


def test_health_defaults() -> None:
    spec = parse_job(with_task(health={"cmd": ["true"]}))
    assert (spec.task.health.interval, spec.task.health.timeout, spec.task.health.retries) == (10.0, 5.0, 3)
    assert not spec.task.health.HasField("http")


def test_stop_grace_period() -> None:
    assert parse_job(minimal()).task.stop_grace_period == 10.0
    assert parse_job(with_task(stop_grace_period="1s")).task.stop_grace_period == 1.0
    assert rules_at(with_task(stop_grace_period="0s"), "task.stop_grace_period") == ["must be > 0 (got 0s)"]
    wire = validate_job_spec(pb.JobSpec(name="web", task=pb.TaskSpec(image="x", stop_grace_period=3)))
    assert wire.task.stop_grace_period == 3.0
    assert validate_job_spec(pb.JobSpec(name="web", task=pb.TaskSpec(image="x"))).task.stop_grace_period == 10.0


def test_every_wire_field_survives_validation() -> None:
    """A field added to JobSpec (or a message under it) but not to the job-file
    models would be silently dropped by validate_job_spec: set every field to
    a legal non-default value and check it comes back."""
    spec = parse_job(
        {
            "name": "web",
            "namespace": "team-a",
            "type": "batch",
            "replicas": 4,
            "priority": 7,
            "task": {
                "image": "dockyard-test/busybox:1",
                "command": ["sleep", "1"],
                "env": {"A": "b"},
                "resources": {
                    "cpu": 0.5,
                    "memory": "64Mi",
                    "disk": "1Gi",
                    "devices": [{"kind": "gpu", "count": 2}, {"kind": "gpu", "share": 0.5}],
                },
                "ports": [{"container": 53, "published": 5353, "protocol": "udp"}],
                "health": {"http": {"path": "/h", "port": 8080}, "interval": "7s", "timeout": "2s", "retries": 4},
                "restart": {"condition": "none", "delay": "3s", "max_attempts": 2},
                "stop_grace_period": "4s",
            },
            "placement": {
                "constraints": ["node.id == a"],
                "spread": "node.labels.z",
                "max_per_node": 2,
                "policy": "spread",
            },
            "update": {
                "parallelism": 3,
                "delay": "1s",
                "monitor": "9s",
                "failure_action": "rollback",
                "order": "start-first",
            },
        }
    )

    # Fields that exclude each other: http and cmd; a device's count and share
    # (devices[1] sets the share).
    exclusive = {"task.health.cmd", "task.resources.devices[0].share"}

    def unset_fields(message: Any, prefix: str) -> list[str]:
        missing = []
        for field in message.DESCRIPTOR.fields:
            path = prefix + field.name
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                if field.is_repeated:
                    items = list(getattr(message, field.name))
                    missing += [path] if not items else unset_fields(items[0], path + "[0].")
                elif message.HasField(field.name):
                    missing += unset_fields(getattr(message, field.name), path + ".")
                elif path not in exclusive:
                    missing.append(path)
            elif not getattr(message, field.name) and path not in exclusive:
                missing.append(path)
        return missing

    assert unset_fields(spec, "") == [], "the test job must set every JobSpec field; add new fields to the models"
    assert validate_job_spec(spec) == spec
    with_cmd = validate_job_spec(
        pb.JobSpec(name="web", task=pb.TaskSpec(image="x", health=pb.HealthCheck(cmd=["true"], interval=1)))
    )
    assert list(with_cmd.task.health.cmd) == ["true"] and with_cmd.task.health.interval == 1


def test_null_means_not_written() -> None:
    # `env:` with every entry commented out is null in YAML.
    spec = parse_job(minimal(task={"image": "x", "env": None, "ports": None}, placement=None))
    assert dict(spec.task.env) == {} and spec.placement == pb.PlacementSpec()


def test_examples_in_the_reference_are_valid() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "jobfile.md"
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    for block in blocks:
        spec = parse_job(yaml.safe_load(block))
        assert spec.task.image == "dockyard-test/busybox:1"
        assert list(spec.task.command) == ["httpd", "-f", "-p", "8080"]


# --- the rules the issue names ------------------------------------------------------------------


def test_unknown_key_is_rejected() -> None:
    assert errors_of(minimal(bogus=1)) == [FieldError("bogus", "unknown field")]


def test_unknown_key_suggests_the_intended_one() -> None:
    assert rules_at(with_task(resources={"cpus": 1}), "task.resources.cpus") == ["unknown field (did you mean 'cpu'?)"]


def test_negative_cpu_is_rejected() -> None:
    assert errors_of(with_task(resources={"cpu": -1})) == [FieldError("task.resources.cpu", "must be >= 0 (got -1)")]


def test_memory_with_unknown_unit_is_rejected() -> None:
    assert errors_of(with_task(resources={"memory": "12Q"})) == [
        FieldError("task.resources.memory", "invalid size '12Q': use a number with a unit like 64Mi, 1Gi, 512M")
    ]


def test_negative_replicas_are_rejected() -> None:
    assert errors_of(minimal(replicas=-1)) == [FieldError("replicas", "must be >= 0 (got -1)")]


def test_missing_image_is_rejected() -> None:
    assert errors_of(minimal(task={})) == [FieldError("task.image", "is required")]


def test_duplicate_published_port_is_rejected() -> None:
    data = with_task(ports=[{"container": 8080, "published": 18080}, {"container": 8081, "published": 18080}])
    assert errors_of(data) == [
        FieldError("task.ports[1].published", "host port 18080 is already published by task.ports[0]")
    ]


def test_every_error_is_reported_at_once() -> None:
    data = {
        "name": "web",
        "replicas": -1,
        "bogus": True,
        "task": {
            "resources": {"cpu": -1, "memory": "12Q"},
            "ports": [{"container": 8080, "published": 18080}, {"container": 80, "published": 18080}, {}],
        },
    }
    paths = {e.path for e in errors_of(data)}
    assert paths == {
        "replicas",
        "bogus",
        "task.image",
        "task.resources.cpu",
        "task.resources.memory",
        "task.ports[1].published",
        "task.ports[2].container",
    }


def test_invalid_argument_message_lists_one_error_per_line() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_job(minimal(replicas=-1, priority=101))
    assert str(info.value).splitlines() == ["replicas: must be >= 0 (got -1)", "priority: must be <= 100 (got 101)"]


# --- every other rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "a", "web-2", "a" * 63, "x1-y2"])
def test_good_names(name: str) -> None:
    assert parse_job(minimal(name=name, namespace=name)).name == name


@pytest.mark.parametrize("name", ["Web", "2web", "-web", "web-", "web_1", "web.1", "a" * 64, ""])
def test_bad_names_and_namespaces(name: str) -> None:
    assert len(rules_at(minimal(name=name), "name")) == 1
    assert len(rules_at(minimal(namespace=name), "namespace")) == 1


def test_name_is_required_and_must_be_a_string() -> None:
    assert rules_at({"task": {"image": "x"}}, "name") == ["is required"]
    assert rules_at(minimal(name=5), "name") == ["must be a string (got 5)"]


def test_type_must_be_known() -> None:
    assert rules_at(minimal(type="cron"), "type") == ["must be one of service, global, batch, periodic (got 'cron')"]


def test_replicas_must_be_a_whole_number() -> None:
    assert rules_at(minimal(replicas="3"), "replicas") == ["must be a whole number (got '3')"]
    assert rules_at(minimal(replicas=1.5), "replicas") == ["must be a whole number (got 1.5)"]
    assert parse_job(minimal(replicas=0)).replicas == 0


def test_replicas_are_kept_but_ignored_for_global_jobs() -> None:
    assert parse_job(minimal(type="global", replicas=7)).replicas == 7
    assert rules_at(minimal(type="global", replicas=-1), "replicas") == ["must be >= 0 (got -1)"]


@pytest.mark.parametrize(("priority", "ok"), [(0, True), (100, True), (-1, False), (101, False)])
def test_priority_range(priority: int, ok: bool) -> None:
    if ok:
        assert parse_job(minimal(priority=priority)).priority == priority
    else:
        assert len(rules_at(minimal(priority=priority), "priority")) == 1


@pytest.mark.parametrize("image", ["", "   ", "busy box"])
def test_image_must_be_a_non_empty_word(image: str) -> None:
    assert len(rules_at(with_task(image=image), "task.image")) == 1


def test_command_as_a_single_string_gets_a_hint() -> None:
    (rule,) = rules_at(with_task(command="httpd -f -p 8080"), "task.command")
    assert "list of strings" in rule and '["httpd", "-f", "-p", "8080"]' in rule


def test_command_items_must_be_strings() -> None:
    assert rules_at(with_task(command=["sleep", 5]), "task.command[1]") == ["must be a string (got 5)"]


def test_env_integers_become_strings() -> None:
    assert dict(parse_job(with_task(env={"PORT": 8080, "A": "b"})).task.env) == {"PORT": "8080", "A": "b"}


@pytest.mark.parametrize("value", [True, 1.10])
def test_env_booleans_and_floats_must_be_quoted(value: object) -> None:
    (rule,) = rules_at(with_task(env={"X": value}), "task.env.X")
    assert "quote it" in rule


def test_env_names_must_not_contain_equals() -> None:
    assert len(rules_at(with_task(env={"A=B": "c"}), "task.env.A=B")) == 1


@pytest.mark.parametrize(("cpu", "ok"), [(0, True), (0.25, True), (1024, True), (1024.5, False), (float("nan"), False)])
def test_cpu_range(cpu: float, ok: bool) -> None:
    data = with_task(resources={"cpu": cpu})
    if ok:
        assert parse_job(data).task.resources.cpu == cpu
    else:
        assert len(rules_at(data, "task.resources.cpu")) == 1


@pytest.mark.parametrize("field", ["memory", "disk"])
def test_sizes(field: str) -> None:
    assert getattr(parse_job(with_task(resources={field: "1Gi"})).task.resources, field) == 1024**3
    assert getattr(parse_job(with_task(resources={field: 512})).task.resources, field) == 512
    assert rules_at(with_task(resources={field: -1}), f"task.resources.{field}") == ["must be >= 0 (got -1)"]
    assert rules_at(with_task(resources={field: "-1Gi"}), f"task.resources.{field}") == ["must be >= 0 (got '-1Gi')"]
    assert len(rules_at(with_task(resources={field: [1]}), f"task.resources.{field}")) == 1


@pytest.mark.parametrize(
    ("port", "path", "rule"),
    [
        ({}, "task.ports[0].container", "is required"),
        ({"container": 0}, "task.ports[0].container", "must be >= 1 (got 0)"),
        ({"container": 65536}, "task.ports[0].container", "must be <= 65535 (got 65536)"),
        ({"container": 80, "published": -1}, "task.ports[0].published", "must be >= 0 (got -1)"),
        ({"container": 80, "published": 70000}, "task.ports[0].published", "must be <= 65535 (got 70000)"),
        ({"container": 80, "protocol": "sctp"}, "task.ports[0].protocol", "must be one of tcp, udp (got 'sctp')"),
        ({"container": 80, "host": 80}, "task.ports[0].host", "unknown field"),
    ],
)
def test_port_rules(port: dict[str, Any], path: str, rule: str) -> None:
    assert errors_of(with_task(ports=[port])) == [FieldError(path, rule)]


def test_ports_that_do_not_clash() -> None:
    ports = [
        {"container": 80, "published": 8080},
        {"container": 80, "published": 8080, "protocol": "udp"},  # same numbers, other protocol
        {"container": 81},  # published 0: Docker picks, never a clash
        {"container": 82, "published": 0},
    ]
    spec = parse_job(with_task(ports=ports))
    assert [(p.container, p.published, p.protocol) for p in spec.task.ports] == [
        (80, 8080, "tcp"),
        (80, 8080, "udp"),
        (81, 0, "tcp"),
        (82, 0, "tcp"),
    ]


def test_duplicate_container_port_is_rejected() -> None:
    assert errors_of(with_task(ports=[{"container": 80}, {"container": 80, "protocol": "tcp"}])) == [
        FieldError("task.ports[1].container", "container port 80 is already listed in task.ports[0]")
    ]


def test_duplicate_udp_port_names_the_protocol() -> None:
    ports = [
        {"container": 53, "published": 53, "protocol": "udp"},
        {"container": 54, "published": 53, "protocol": "udp"},
    ]
    assert rules_at(with_task(ports=ports), "task.ports[1].published") == [
        "host port 53/udp is already published by task.ports[0]"
    ]


@pytest.mark.parametrize(
    ("health", "path"),
    [
        ({}, "task.health"),
        ({"http": {"path": "/", "port": 80}, "cmd": ["true"]}, "task.health"),
        ({"http": {"path": "healthz", "port": 80}}, "task.health.http.path"),
        ({"http": {"path": "/", "port": 0}}, "task.health.http.port"),
        ({"http": {"path": "/"}}, "task.health.http.port"),
        ({"cmd": "curl localhost"}, "task.health.cmd"),
        ({"cmd": ["true"], "interval": "0s"}, "task.health.interval"),
        ({"cmd": ["true"], "timeout": -1}, "task.health.timeout"),
        ({"cmd": ["true"], "interval": "soon"}, "task.health.interval"),
        ({"cmd": ["true"], "retries": 0}, "task.health.retries"),
    ],
)
def test_health_rules(health: dict[str, Any], path: str) -> None:
    assert [e.path for e in errors_of(with_task(health=health))] == [path]


def test_restart_rules() -> None:
    assert rules_at(with_task(restart={"condition": "always"}), "task.restart.condition") == [
        "must be one of none, on-failure, any (got 'always')"
    ]
    assert rules_at(with_task(restart={"delay": "-1s"}), "task.restart.delay") == ["must be >= 0 (got '-1s')"]
    assert rules_at(with_task(restart={"max_attempts": -1}), "task.restart.max_attempts") == ["must be >= 0 (got -1)"]
    spec = parse_job(with_task(restart={"delay": "1m30s", "max_attempts": 0}))
    assert (spec.task.restart.delay, spec.task.restart.max_attempts) == (90.0, 0)


@pytest.mark.parametrize(
    "constraint",
    [
        "node.labels.zone == east",
        "node.labels.zone != east",
        "node.id==abc",
        "node.name == 'my node'",
        "node.hostname == n1",
        "node.labels.zone in (east, west)",
        "node.labels.zone not in (east)",
        "node.labels.gpu exists",
        "node.labels.gpu not exists",
        "node.labels.example.com/tier == db",
    ],
)
def test_good_constraints(constraint: str) -> None:
    spec = parse_job(minimal(placement={"constraints": [constraint]}))
    assert list(spec.placement.constraints) == [constraint]


@pytest.mark.parametrize(
    ("constraint", "words"),
    [
        ("", "empty"),
        ("zone == east", "unknown attribute"),
        ("node.labels == east", "unknown attribute"),
        ("node.labels.zone = east", "unknown operator"),
        ("node.labels.zone ~ east", "unknown operator"),
        ("node.labels.zone ==", "needs a value"),
        ("node.labels.zone == east west", "one word"),
        ("node.labels.zone in east, west", "parenthesised"),
        ("node.labels.zone in (east,)", "non-empty values"),
        ("node.labels.gpu exists yes", "takes no value"),
    ],
)
def test_bad_constraints_point_at_the_entry(constraint: str, words: str) -> None:
    data = minimal(placement={"constraints": ["node.labels.ok exists", constraint]})
    (rule,) = rules_at(data, "placement.constraints[1]")
    assert words in rule


def test_placement_rules() -> None:
    assert parse_job(minimal(placement={"spread": "node.labels.rack"})).placement.spread == "node.labels.rack"
    assert rules_at(minimal(placement={"spread": "rack"}), "placement.spread") == [
        "must be empty or node.labels.<key> (got 'rack')"
    ]
    assert rules_at(minimal(placement={"max_per_node": -1}), "placement.max_per_node") == ["must be >= 0 (got -1)"]
    assert rules_at(minimal(placement={"policy": "random"}), "placement.policy") == [
        "must be one of '', binpack, spread, align (got 'random')"
    ]
    assert rules_at(minimal(placement={"constraints": "node.id == a"}), "placement.constraints") == [
        "must be a list (got 'node.id == a')"
    ]
    for policy in ("", "binpack", "spread", "align"):
        assert parse_job(minimal(placement={"policy": policy})).placement.policy == policy


def test_update_rules() -> None:
    spec = parse_job(minimal(update={"parallelism": 0, "delay": "10s", "monitor": "1m", "order": "start-first"}))
    assert (spec.update.parallelism, spec.update.delay, spec.update.monitor) == (0, 10.0, 60.0)
    assert spec.update.order == "start-first" and spec.update.failure_action == "pause"
    bad = minimal(
        update={"parallelism": -1, "delay": "x", "monitor": "-5s", "failure_action": "retry", "order": "random"}
    )
    assert {e.path for e in errors_of(bad)} == {
        "update.parallelism",
        "update.delay",
        "update.monitor",
        "update.failure_action",
        "update.order",
    }


@pytest.mark.parametrize("section", ["task", "placement", "update"])
def test_sections_must_be_mappings(section: str) -> None:
    assert rules_at(minimal(**{section: ["x"]}), section) == ["must be a mapping (got a list)"]


# --- the file ------------------------------------------------------------------------------------


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: web\ntask:\n  image: [unclosed\n")
    with pytest.raises(InvalidArgument) as info:
        load_job_file(path)
    ((where, rule),) = [(e.path, e.rule) for e in info.value.errors]
    assert where == "<file>" and "invalid YAML" in rule and "line 4" in rule and str(path) in rule


def test_duplicate_key_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    path = write(tmp_path, "name: web\nreplicas: 1\nreplicas: 3\ntask: {image: x}\n")
    with pytest.raises(InvalidArgument) as info:
        load_job_file(path)
    assert "'replicas' appears twice" in str(info.value) and "line 3" in str(info.value)


@pytest.mark.parametrize(("text", "got"), [("", "an empty file"), ("- a\n- b\n", "a list"), ("web\n", "a string")])
def test_file_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        load_job_file(write(tmp_path, text))
    (err,) = info.value.errors
    assert err.path == "<file>" and "must be a mapping" in err.rule and got in err.rule


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot read"):
        load_job_file(tmp_path / "nope.yml")


def test_field_errors_from_a_file(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: web
        task:
          image: x
          resources: {cpu: -1}
        """
    )
    with pytest.raises(InvalidArgument) as info:
        load_job_file(write(tmp_path, text))
    assert info.value.errors == [FieldError("task.resources.cpu", "must be >= 0 (got -1)")]


# --- the wire door: validate_job_spec ------------------------------------------------------------


def test_yaml_to_proto_to_validate_is_idempotent(tmp_path: Path) -> None:
    spec = load_job_file(write(tmp_path, DESIGN_EXAMPLE))
    once = validate_job_spec(spec)
    assert once == spec
    assert validate_job_spec(once) == once


def test_validate_job_spec_does_not_modify_its_input() -> None:
    spec = pb.JobSpec(name="web", replicas=2, priority=50, task=pb.TaskSpec(image="x"))
    before = pb.JobSpec()
    before.CopyFrom(spec)
    validate_job_spec(spec)
    assert spec == before


def test_wire_spec_unset_fields_get_defaults() -> None:
    spec = validate_job_spec(pb.JobSpec(name="web", replicas=2, priority=50, task=pb.TaskSpec(image="x")))
    assert (spec.namespace, spec.type) == ("default", "service")
    assert spec.task.restart == pb.RestartPolicy(condition="any", delay=5.0, max_attempts=0)
    assert spec.update == pb.UpdatePolicy(parallelism=1, delay=0, monitor=5, failure_action="pause", order="stop-first")
    assert spec.task.resources == pb.Resources()


def test_wire_spec_zero_is_literal_where_zero_is_legal() -> None:
    # replicas 0 is a job scaled to zero; priority 0 the least important job.
    spec = validate_job_spec(pb.JobSpec(name="web", task=pb.TaskSpec(image="x")))
    assert (spec.replicas, spec.priority) == (0, 0)
    present = pb.JobSpec(
        name="web",
        task=pb.TaskSpec(image="x", restart=pb.RestartPolicy(condition="none")),
        update=pb.UpdatePolicy(order="start-first"),
    )
    spec = validate_job_spec(present)
    assert spec.task.restart.delay == 0 and spec.update.parallelism == 0 and spec.update.monitor == 0
    assert spec.update.failure_action == "pause"  # empty string: default


def test_wire_health_zeroes_mean_defaults() -> None:
    spec = validate_job_spec(pb.JobSpec(name="web", task=pb.TaskSpec(image="x", health=pb.HealthCheck(cmd=["true"]))))
    assert (spec.task.health.interval, spec.task.health.timeout, spec.task.health.retries) == (10.0, 5.0, 3)


def test_wire_spec_breaks_the_same_rules() -> None:
    spec = pb.JobSpec(
        name="Web",
        type="cron",
        priority=-3,
        task=pb.TaskSpec(
            resources=pb.Resources(cpu=-1, memory=-5),
            ports=[
                pb.PortSpec(container=8080, published=18080),
                pb.PortSpec(container=8081, published=18080),
                pb.PortSpec(container=70000),
                pb.PortSpec(published=1),
            ],
            health=pb.HealthCheck(http=pb.HttpCheck(path="x", port=80)),
            restart=pb.RestartPolicy(condition="always"),
        ),
        placement=pb.PlacementSpec(constraints=["zone == east"], policy="random"),
        update=pb.UpdatePolicy(order="random"),
    )
    with pytest.raises(InvalidArgument) as info:
        validate_job_spec(spec)
    by_path = {e.path: e.rule for e in info.value.errors}
    assert by_path == {
        "name": by_path["name"],
        "type": "must be one of service, global, batch, periodic (got 'cron')",
        "priority": "must be >= 0 (got -3)",
        "task.image": "is required",
        "task.resources.cpu": "must be >= 0 (got -1.0)",
        "task.resources.memory": "must be >= 0 (got -5)",
        "task.ports[1].published": "host port 18080 is already published by task.ports[0]",
        "task.ports[2].container": "must be <= 65535 (got 70000)",
        "task.ports[3].container": "is required",
        "task.health.http.path": "must start with '/' (got 'x')",
        "task.restart.condition": "must be one of none, on-failure, any (got 'always')",
        "placement.constraints[0]": by_path["placement.constraints[0]"],
        "placement.policy": "must be one of '', binpack, spread, align (got 'random')",
        "update.order": "must be one of stop-first, start-first (got 'random')",
    }


def test_empty_wire_spec_names_what_is_missing() -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_job_spec(pb.JobSpec())
    assert info.value.errors == [FieldError("name", "is required"), FieldError("task", "is required")]


# --- job_spec_to_dict ---------------------------------------------------------------------------


def test_to_dict_uses_human_units_and_parses_back(tmp_path: Path) -> None:
    spec = load_job_file(write(tmp_path, DESIGN_EXAMPLE))
    data = job_spec_to_dict(spec)
    assert data["task"]["resources"]["memory"] == "64Mi"
    assert data["task"]["health"]["interval"] == "5s"
    assert data["update"]["monitor"] == "5s"
    # Through real YAML text, as `-o yaml` prints it and a person saves it.
    assert parse_job(yaml.safe_load(yaml.safe_dump(data, sort_keys=False))) == spec


def test_to_dict_leaves_out_absent_health() -> None:
    assert "health" not in job_spec_to_dict(parse_job(minimal()))["task"]


# Generated job files: what parse_job accepts, job_spec_to_dict and validate_job_spec keep.
_durations = st.sampled_from(["0s", "100ms", "5s", "1m30s", "1h", 2.5, 7])
_jobs = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
        "task": st.fixed_dictionaries(
            {"image": st.sampled_from(["dockyard-test/busybox:1", "nginx"])},
            optional={
                "command": st.lists(st.text(max_size=5), max_size=3),
                "env": st.dictionaries(st.from_regex(r"[A-Z]{1,4}", fullmatch=True), st.text(max_size=4), max_size=2),
                "resources": st.fixed_dictionaries(
                    {},
                    optional={
                        "cpu": st.floats(min_value=0, max_value=1024),
                        "memory": st.sampled_from(["64Mi", "1G", 0, 12345]),
                        "disk": st.integers(min_value=0, max_value=2**40),
                        "devices": st.lists(
                            st.one_of(
                                st.fixed_dictionaries(
                                    {"kind": st.sampled_from(["gpu", "fpga"]), "count": st.integers(1, 8)}
                                ),
                                st.fixed_dictionaries(
                                    {"kind": st.just("gpu"), "share": st.floats(min_value=0.001, max_value=1.0)}
                                ),
                            ),
                            max_size=2,
                        ),
                    },
                ),
                "ports": st.lists(
                    st.fixed_dictionaries(
                        {"container": st.integers(1, 65535)},
                        optional={"published": st.just(0), "protocol": st.sampled_from(["tcp", "udp"])},
                    ),
                    max_size=1,
                ),
                "health": st.fixed_dictionaries(
                    {"cmd": st.just(["true"])}, optional={"interval": _durations.filter(lambda d: d != "0s")}
                ),
                "restart": st.fixed_dictionaries(
                    {}, optional={"condition": st.sampled_from(["none", "on-failure", "any"]), "delay": _durations}
                ),
            },
        ),
    },
    optional={
        "type": st.sampled_from(["service", "global", "batch", "periodic"]),
        "replicas": st.integers(0, 1000),
        "priority": st.integers(0, 100),
        "placement": st.fixed_dictionaries(
            {},
            optional={
                "constraints": st.lists(st.sampled_from(["node.id == a", "node.labels.z in (a, b)"]), max_size=2),
                "spread": st.sampled_from(["", "node.labels.zone"]),
                "max_per_node": st.integers(0, 10),
                "policy": st.sampled_from(["", "binpack", "spread", "align"]),
            },
        ),
        "update": st.fixed_dictionaries(
            {},
            optional={
                "parallelism": st.integers(0, 10),
                "delay": _durations,
                "monitor": _durations,
                "failure_action": st.sampled_from(["pause", "continue", "rollback"]),
                "order": st.sampled_from(["stop-first", "start-first"]),
            },
        ),
    },
)


@settings(max_examples=200, deadline=None)
@given(_jobs)
def test_generated_jobs_round_trip(data: dict[str, Any]) -> None:
    original = copy.deepcopy(data)
    spec = parse_job(data)
    assert data == original, "parse_job must not modify its input"
    assert validate_job_spec(spec) == spec
    assert parse_job(job_spec_to_dict(spec)) == spec


# --- constraints agree with the scheduler ------------------------------------------------------

_constraint_parts = st.sampled_from(
    [
        "node.id",
        "node.name",
        "node.hostname",
        "node.labels.zone",
        "node.labels.a/b",
        "node.labels.",
        "node.zone",
        " ",
        "==",
        "!=",
        "in",
        "not",
        "exists",
        "(",
        ")",
        ",",
        "east",
        "'a b'",
        '"x"',
        "=",
        "!",
        "\t",
    ]
)


@settings(max_examples=500, deadline=None)  # the first example imports the scheduler
@given(st.lists(_constraint_parts, max_size=7).map("".join))
def test_constraint_check_agrees_with_the_scheduler(text: str) -> None:
    from scheduler.constraints import parse_constraint

    def accepted(check: Any) -> bool:
        try:
            check(text)
        except ValueError:
            return False
        return True

    assert accepted(check_constraint) == accepted(parse_constraint)


# --- errors and gRPC status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound, grpc.StatusCode.NOT_FOUND),
        (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
        (ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Unavailable, grpc.StatusCode.UNAVAILABLE),
        (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
        (Conflict, grpc.StatusCode.ABORTED),
    ],
)
def test_each_error_has_one_status_code_and_comes_back_as_itself(
    cls: type[DockyardError], code: grpc.StatusCode
) -> None:
    err = cls("job 'web' is busy")
    assert status_code(err) is code
    back = from_status(code, str(err))
    assert type(back) is cls and str(back) == "job 'web' is busy"
    assert type(from_status(code.name, str(err))) is cls


def test_field_errors_survive_the_status_round_trip() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_job(
            with_task(
                resources={"cpu": -1, "memory": "12Q"},
                ports=[{"container": 1, "published": 18080}, {"container": 2, "published": 18080}],
            )
        )
    err = info.value
    back = from_status(status_code(err), str(err))
    assert isinstance(back, InvalidArgument)
    assert back.errors == err.errors and len(back.errors) == 3
    assert str(back) == str(err)


def test_invalid_argument_without_field_errors_keeps_its_text() -> None:
    back = from_status(grpc.StatusCode.INVALID_ARGUMENT, "token is malformed")
    assert isinstance(back, InvalidArgument) and back.errors == [] and str(back) == "token is malformed"


def test_rules_stay_on_one_line() -> None:
    err = InvalidArgument([FieldError("a.b", "first\nsecond")])
    assert str(err) == "a.b: first second"
    assert from_status("INVALID_ARGUMENT", str(err)).errors == [FieldError("a.b", "first second")]  # type: ignore[attr-defined]


def test_other_exceptions_are_internal_and_unknown_codes_are_kept() -> None:
    assert status_code(RuntimeError("boom")) is grpc.StatusCode.INTERNAL
    err = from_status(grpc.StatusCode.DEADLINE_EXCEEDED, "too slow")
    assert type(err) is DockyardError and err.code == "DEADLINE_EXCEEDED" and str(err) == "too slow"
    assert DockyardError.code == "UNKNOWN"


# --- devices -----------------------------------------------------------------------------------


def _with_devices(devices: object) -> dict[str, Any]:
    return {"name": "train", "task": {"image": "x", "resources": {"devices": devices}}}


def test_devices_whole_and_shared_are_accepted() -> None:
    spec = parse_job(_with_devices([{"kind": "gpu", "count": 2}, {"kind": "gpu", "share": 0.3}]))
    assert [(d.kind, d.count, d.share) for d in spec.task.resources.devices] == [("gpu", 2, 0.0), ("gpu", 0, 0.3)]
    assert validate_job_spec(spec) == spec
    assert parse_job(job_spec_to_dict(spec)) == spec


@pytest.mark.parametrize(
    ("device", "path", "words"),
    [
        ({"kind": "gpu"}, "task.resources.devices[0]", "exactly one of count"),
        ({"kind": "gpu", "count": 1, "share": 0.5}, "task.resources.devices[0]", "exactly one of count"),
        ({"kind": "gpu", "count": 0}, "task.resources.devices[0]", "exactly one of count"),
        ({"kind": "gpu", "share": 1.5}, "task.resources.devices[0].share", "<= 1"),
        ({"kind": "gpu", "share": 0.0001}, "task.resources.devices[0]", "at least 0.001"),
        ({"kind": "gpu", "count": -1}, "task.resources.devices[0].count", ">= 0"),
        ({"kind": "GPU", "count": 1}, "task.resources.devices[0].kind", "lowercase"),
        ({"kind": "", "count": 1}, "task.resources.devices[0].kind", "lowercase"),
        ({"kind": "g" * 33, "count": 1}, "task.resources.devices[0].kind", "1-32"),
        ({"count": 1}, "task.resources.devices[0].kind", ""),
    ],
)
def test_bad_device_requests_name_the_field(device: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_job(_with_devices([device]))
    errors = {e.path: e.rule for e in exc.value.errors}
    assert path in errors, errors
    assert words in errors[path]
    if device.get("count", 0) < 0:
        return  # a uint32 on the wire cannot say it
    # The same rule guards the gRPC door.
    wire = pb.JobSpec(name="train", task=pb.TaskSpec(image="x"))
    wire.task.resources.devices.append(pb.DeviceRequest(**device))
    with pytest.raises(InvalidArgument):
        validate_job_spec(wire)
