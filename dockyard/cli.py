"""The `dockyard` command line. Every command talks to a manager through
`dockyard.Client` (`--manager HOST:PORT` or DOCKYARD_ADDR) and prints a table,
JSON or YAML (`-o`). Exit codes: 0 ok, 1 failure, 2 invalid input."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from dockyard.api.v1 import objects_pb2 as pb
from dockyard.client import Client, default_address
from dockyard.errors import DockyardError, FailedPrecondition, FieldError, InvalidArgument, NotFound

EXIT_FAILURE = 1
EXIT_INVALID = 2


def _state(state: int) -> str:
    return pb.TaskState.Name(state).removeprefix("TASK_STATE_").lower()  # type: ignore[arg-type]


def _mem(n: int) -> str:
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.1f}{unit}" if v < 10 and v != int(v) else f"{round(v)}{unit}"
    return str(n)


def _to_dict(msg: Message) -> dict[str, Any]:
    return MessageToDict(msg, preserving_proto_field_name=True)


class Output:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def emit(self, rows: Sequence[Sequence[str]], headers: Sequence[str], data: Any) -> None:
        if self.fmt == "json":
            click.echo(json.dumps(data, indent=2, sort_keys=True))
        elif self.fmt == "yaml":
            click.echo(yaml.safe_dump(data, sort_keys=True), nl=False)
        else:
            click.echo(table(headers, rows))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, r)) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


class Ctx:
    def __init__(self, manager: str, output: str, credentials: str | None) -> None:
        self.manager = manager
        self.credentials = credentials
        self.out = Output(output)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.manager, self.credentials)
        return self._client


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InvalidArgument as e:
            click.echo(f"error: invalid input:\n{_indent(str(e))}", err=True)
            sys.exit(EXIT_INVALID)
        except DockyardError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_FAILURE)

    return wrapper


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


class _Commands(click.Group):
    """The `lab` commands (the scheduler lab, bench/lab) load only when used:
    they pull in numpy and matplotlib, which the rest of the CLI does not need."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "lab"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "lab":
            from bench.lab.cli import lab

            return lab
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
@click.option("--manager", "-m", default=default_address, show_default="DOCKYARD_ADDR or 127.0.0.1:7460", help="Manager address HOST:PORT.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table", help="Output format.")
@click.option(
    "--credentials",
    envvar="DOCKYARD_CREDENTIALS",
    default=None,
    help="Directory with the admin credential node.pem [default: ~/.config/dockyard/credentials].",
)
@click.pass_context
def main(ctx: click.Context, manager: str, output: str, credentials: str | None) -> None:
    """Dockyard: run containers on a cluster of Docker hosts."""
    ctx.obj = Ctx(manager, output, credentials)


# -- daemons --------------------------------------------------------------------


def _default_dev_dir() -> Path:
    import os

    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dockyard" / "dev"


def _labels(values: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{v!r}: use KEY=VALUE", param_hint=what)
        k, val = v.split("=", 1)
        out[k] = val
    return out


def _devices(values: Sequence[str]) -> dict[str, list[str]]:
    """--device KIND=ID[,ID...] (repeatable) as kind -> ids."""
    from dockyard.jobspec import check_device_kind

    out: dict[str, list[str]] = {}
    for v in values:
        kind, sep, ids_text = v.partition("=")
        ids = [i.strip() for i in ids_text.split(",")] if sep else []
        if not sep or not ids or not all(ids):
            raise click.BadParameter(f"{v!r}: use KIND=ID[,ID...], e.g. gpu=0,1,2,3", param_hint="--device")
        try:
            check_device_kind(kind)
        except ValueError as e:
            raise click.BadParameter(f"{v!r}: {e}", param_hint="--device") from None
        known = out.setdefault(kind, [])
        for device_id in ids:
            if device_id in known or any(ch.isspace() for ch in device_id):
                raise click.BadParameter(f"{v!r}: {kind} id {device_id!r} is repeated or has spaces", param_hint="--device")
            known.append(device_id)
    return out


def parse_namespace_weights(values: Sequence[str], param_hint: str = "--namespace-weight") -> dict[str, float]:
    """NAMESPACE=WEIGHT options (the manager's and the scheduler lab's) as a dict."""
    out = {}
    for v in values:
        namespace, sep, weight_text = v.partition("=")
        try:
            weight = float(weight_text)
        except ValueError:
            weight = -1.0
        if not sep or not namespace or not weight > 0 or weight == float("inf"):
            raise click.BadParameter(f"{v!r}: use NAMESPACE=WEIGHT with a weight > 0, e.g. prod=2", param_hint=param_hint)
        out[namespace] = weight
    return out


def scheduler_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Cluster-wide scheduler settings: they seed a new cluster (`manager
    init`, `dev`) and `cluster update` changes them (see docs/scheduling.md)."""
    options = [
        click.option(
            "--scheduler-policy", type=click.Choice(["binpack", "spread", "align"]), default=None,
            help="Default placement policy (a job's placement.policy overrides it). Default: binpack.",
        ),
        click.option(
            "--queue-order", type=click.Choice(["fifo", "priority", "drf"]), default=None,
            help="Which pending work goes first; drf shares the cluster fairly between namespaces. Default: priority.",
        ),
        click.option(
            "--namespace-weight", "namespace_weights", multiple=True, metavar="NS=W",
            help="DRF weight of a namespace (repeatable; unlisted namespaces weigh 1).",
        ),
        click.option(
            "--preemption/--no-preemption", default=None,
            help="Whether a task that fits nowhere may evict lower-priority tasks. Default: on.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _scheduler_settings(
    scheduler_policy: str | None, queue_order: str | None, namespace_weights: Sequence[str], preemption: bool | None
) -> dict[str, Any]:
    """The settings the operator gave (ManagerConfig field names); the rest stay as remembered."""
    out: dict[str, Any] = {}
    if scheduler_policy is not None:
        out["scheduler_policy"] = scheduler_policy
    if queue_order is not None:
        out["queue_order"] = queue_order
    if namespace_weights:
        out["namespace_weights"] = parse_namespace_weights(namespace_weights)
    if preemption is not None:
        out["preemption"] = preemption
    return out


def _refuse_per_manager_settings(
    scheduler_policy: str | None, queue_order: str | None, namespace_weights: Sequence[str], preemption: bool | None,
    heartbeat_period: float | None,
) -> None:
    """`manager join` and `start` still accept the cluster-wide options, to
    say where they went rather than fail with "no such option"."""
    given = _scheduler_settings(scheduler_policy, queue_order, namespace_weights, preemption)
    if heartbeat_period is not None:
        given["heartbeat_period"] = heartbeat_period
    if given:
        names = {"scheduler_policy": "--scheduler-policy", "queue_order": "--queue-order",
                 "namespace_weights": "--namespace-weight", "preemption": "--preemption/--no-preemption",
                 "heartbeat_period": "--heartbeat-period"}
        flags = ", ".join(names[name] for name in sorted(given))
        raise ValueError(
            f"{flags}: these settings are cluster-wide and kept in Raft, not per manager; "
            "change them with `dockyard cluster update` (see `dockyard cluster inspect`)"
        )


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=_default_dev_dir, show_default="~/.local/share/dockyard/dev")
@click.option("--listen", default="127.0.0.1:7460", show_default=True, help="gRPC API address.")
@click.option("--raft-addr", default="127.0.0.1:7461", show_default=True)
@click.option("--join-listen", default="127.0.0.1:7462", show_default=True, help="Join port (the CA service).")
@click.option("--runtime", type=click.Choice(["docker", "fake"]), default="docker", show_default=True)
@click.option("--label", "labels", multiple=True, help="Node label KEY=VALUE (repeatable).")
@click.option("--container-label", "container_labels", multiple=True, help="Label every container KEY=VALUE.")
@click.option("--device", "devices", multiple=True, metavar="KIND=ID,...", help="Devices tasks may ask for, e.g. gpu=0,1 (repeatable).")
@scheduler_options
@click.option(
    "--install-credentials/--no-install-credentials",
    default=True,
    show_default=True,
    help="Copy the admin credential to the CLI's default place (or DOCKYARD_CREDENTIALS).",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_obj
def dev(
    obj: Ctx, data_dir: Path, listen: str, raft_addr: str, join_listen: str, runtime: str, labels: Sequence[str],
    container_labels: Sequence[str], devices: Sequence[str], scheduler_policy: str | None, queue_order: str | None,
    namespace_weights: Sequence[str], preemption: bool | None, install_credentials: bool, log_level: str,
) -> None:
    """A one-host cluster in one process: a manager and an agent."""
    from dockyard import daemons
    from dockyard.client import default_credentials_dir

    daemons.setup_logging(log_level)

    def announce(address: str, cluster_id: str, pid: int, admin_dir: Path) -> None:
        creds = Path(obj.credentials) if obj.credentials else default_credentials_dir()
        if install_credentials:
            daemons.install_credentials(admin_dir, creds)
            where = f"  admin credential: {creds}/node.pem (the CLI uses it by default)\n"
        else:
            where = f"  admin credential: {admin_dir}/node.pem   (export DOCKYARD_CREDENTIALS={admin_dir})\n"
        click.echo(
            f"Dockyard dev cluster {cluster_id[:12]} is up.\n"
            f"  API:      {address}   (export DOCKYARD_ADDR={address})\n"
            f"{where}"
            f"  data dir: {data_dir}\n"
            f"  pid:      {pid}\n"
            f"Try: dockyard node ls; dockyard job run examples/web.yaml",
            err=True,
        )

    options = {
        "runtime": runtime,
        "labels": _labels(labels, "--label"),
        "container_labels": _labels(container_labels, "--container-label"),
        "devices": _devices(devices),
    }
    scheduler = _scheduler_settings(scheduler_policy, queue_order, namespace_weights, preemption)
    try:
        main_coro = daemons.dev_main(data_dir, listen, raft_addr, join_listen, options, announce, scheduler)
    except (DockyardError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_FAILURE)
    daemons.run(main_coro)


@main.group()
def manager() -> None:
    """Run a manager."""


@manager.command("init")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--listen", default="127.0.0.1:7460", show_default=True, help="gRPC API address (mutual TLS).")
@click.option("--raft-addr", default="127.0.0.1:7461", show_default=True)
@click.option("--join-listen", default="127.0.0.1:7462", show_default=True, help="Join port (the CA service).")
@click.option("--name", default="", help="Manager name (default: its API address).")
@click.option("--cert-lifetime", default="2160h", show_default=True, help="Lifetime of node certificates (renewed at half).")
@click.option("--heartbeat-period", type=float, default=5.0, show_default=True,
              help="Seconds between agent heartbeats (cluster-wide; `cluster update` changes it).")
@click.option("--cert-check-period", type=float, default=60.0, hidden=True)
@scheduler_options
@click.option("--log-level", default="INFO", show_default=True)
def manager_init(
    data_dir: Path, listen: str, raft_addr: str, join_listen: str, name: str, cert_lifetime: str,
    heartbeat_period: float, cert_check_period: float, scheduler_policy: str | None, queue_order: str | None,
    namespace_weights: Sequence[str], preemption: bool | None, log_level: str,
) -> None:
    """Create a new cluster and start its first manager."""
    from dockyard import daemons
    from dockyard.units import parse_duration

    daemons.setup_logging(log_level)
    try:
        scheduler = _scheduler_settings(scheduler_policy, queue_order, namespace_weights, preemption)
        identity = daemons.manager_init(data_dir, listen, raft_addr, join_listen, name, parse_duration(cert_lifetime), scheduler)
    except (DockyardError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(
        f"created cluster {identity.cluster_id} in {data_dir}\n"
        f"admin credential: {data_dir}/admin/node.pem   (export DOCKYARD_CREDENTIALS={data_dir}/admin)\n"
        f"join tokens: dockyard token ls",
        err=True,
    )
    daemons.run(daemons.manager_main(data_dir, heartbeat_period=heartbeat_period, cert_check_period=cert_check_period))


@manager.command("join")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--join", "join_address", required=True, help="Any manager's join address HOST:PORT.")
@click.option("--token", envvar="DOCKYARD_TOKEN", required=True, help="The cluster's manager join token.")
@click.option("--listen", default="127.0.0.1:7460", show_default=True)
@click.option("--raft-addr", default="127.0.0.1:7461", show_default=True)
@click.option("--join-listen", default="127.0.0.1:7462", show_default=True)
@click.option("--name", default="")
@click.option("--heartbeat-period", type=float, default=None, hidden=True)
@click.option("--cert-check-period", type=float, default=60.0, hidden=True)
@scheduler_options
@click.option("--log-level", default="INFO", show_default=True)
def manager_join(
    data_dir: Path, join_address: str, token: str, listen: str, raft_addr: str, join_listen: str, name: str,
    heartbeat_period: float | None, cert_check_period: float, scheduler_policy: str | None, queue_order: str | None,
    namespace_weights: Sequence[str], preemption: bool | None, log_level: str,
) -> None:
    """Add a manager to an existing cluster (one membership change at a time)."""
    from dockyard import daemons

    daemons.setup_logging(log_level)
    try:
        _refuse_per_manager_settings(scheduler_policy, queue_order, namespace_weights, preemption, heartbeat_period)
        identity = daemons.manager_join(data_dir, join_address, token, listen, raft_addr, join_listen, name)
    except (DockyardError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo(f"joined cluster {identity.cluster_id} as manager {identity.manager_id}", err=True)
    daemons.run(daemons.manager_main(data_dir, cert_check_period=cert_check_period))


@manager.command("start")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--heartbeat-period", type=float, default=None, hidden=True)
@click.option("--cert-check-period", type=float, default=60.0, hidden=True)
@scheduler_options
@click.option("--log-level", default="INFO", show_default=True)
def manager_start(
    data_dir: Path, heartbeat_period: float | None, cert_check_period: float, scheduler_policy: str | None,
    queue_order: str | None, namespace_weights: Sequence[str], preemption: bool | None, log_level: str,
) -> None:
    """Start a manager from its data dir (after a restart)."""
    from dockyard import daemons

    daemons.setup_logging(log_level)
    try:
        _refuse_per_manager_settings(scheduler_policy, queue_order, namespace_weights, preemption, heartbeat_period)
        main_coro = daemons.manager_main(data_dir, cert_check_period=cert_check_period)
    except (DockyardError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_FAILURE)
    daemons.run(main_coro)


@manager.command("ls")
@click.pass_obj
@handle_errors
def manager_ls(obj: Ctx) -> None:
    """Managers with their Raft role, term, commit index and reachability."""
    managers = obj.client.list_managers()
    rows = []
    for m in managers:
        role = ("leader" if m.leader else "follower") if m.reachable else "unreachable"
        rows.append(
            [m.manager.meta.id[:12], m.manager.name, m.manager.api_address, m.manager.raft_address, role,
             str(m.raft_term) if m.reachable else "", str(m.raft_commit_index) if m.reachable else "", m.error]
        )
    obj.out.emit(rows, ["ID", "NAME", "API", "RAFT", "ROLE", "TERM", "COMMIT", "ERROR"], [_to_dict(m) for m in managers])


@manager.command("rm")
@click.argument("manager_ref")
@click.pass_obj
@handle_errors
def manager_rm(obj: Ctx, manager_ref: str) -> None:
    """Remove a manager (e.g. a dead one) from the Raft group."""
    obj.client.remove_manager(manager_ref)
    click.echo(f"manager {manager_ref} removed", err=True)


@manager.command("leave")
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.pass_obj
@handle_errors
def manager_leave(obj: Ctx, data_dir: Path) -> None:
    """Take the manager whose data dir this is out of the cluster; stop it afterwards."""
    import json

    manager_id = json.loads((data_dir / "cluster.json").read_text())["manager_id"]
    obj.client.remove_manager(manager_id)
    click.echo(f"manager {manager_id} left the cluster; stop its daemon now", err=True)


@main.group()
def cluster() -> None:
    """Cluster-wide settings (replicated: every leader acts on the same ones)."""


def _settings_rows(settings: pb.ClusterSettings) -> list[list[str]]:
    s = settings.scheduler
    weights = ", ".join(f"{ns}={w:g}" for ns, w in sorted(s.namespace_weights.items())) or "(every namespace weighs 1)"
    return [
        ["scheduler-policy", s.policy],
        ["queue-order", s.queue_order],
        ["namespace-weight", weights],
        ["preemption", "on" if s.preemption else "off"],
        ["heartbeat-period", f"{settings.heartbeat_period:g}s"],
    ]


def _settings_dict(settings: pb.ClusterSettings) -> dict[str, Any]:
    """Every setting, defaults and false included (MessageToDict drops them)."""
    s = settings.scheduler
    return {
        "version": settings.meta.version,
        "scheduler": {
            "policy": s.policy, "queue_order": s.queue_order,
            "namespace_weights": dict(sorted(s.namespace_weights.items())), "preemption": s.preemption,
        },
        "heartbeat_period": settings.heartbeat_period,
    }


@cluster.command("inspect")
@click.pass_obj
@handle_errors
def cluster_inspect(obj: Ctx) -> None:
    """The cluster's settings."""
    settings = obj.client.cluster_settings()
    obj.out.emit(_settings_rows(settings), ["SETTING", "VALUE"], _settings_dict(settings))


@cluster.command("update")
@click.option("--scheduler-policy", type=click.Choice(["binpack", "spread", "align"]), default=None,
              help="Default placement policy (a job's placement.policy overrides it).")
@click.option("--queue-order", type=click.Choice(["fifo", "priority", "drf"]), default=None,
              help="Which pending work goes first; drf shares the cluster fairly between namespaces.")
@click.option("--namespace-weight", "namespace_weights", multiple=True, metavar="NS=W",
              help="DRF weight of a namespace (repeatable); NS=1 puts it back to the default.")
@click.option("--preemption/--no-preemption", default=None,
              help="Whether a task that fits nowhere may evict lower-priority tasks.")
@click.option("--heartbeat-period", type=float, default=None, metavar="SECONDS",
              help="How often agents heartbeat; a node is down after 3 periods without one.")
@click.pass_obj
@handle_errors
def cluster_update(
    obj: Ctx, scheduler_policy: str | None, queue_order: str | None, namespace_weights: Sequence[str],
    preemption: bool | None, heartbeat_period: float | None,
) -> None:
    """Change cluster-wide settings. The leader's scheduler uses them from its
    next pass; agents learn a new heartbeat period at their next heartbeat."""
    if (scheduler_policy is None and queue_order is None and not namespace_weights and preemption is None
            and heartbeat_period is None):
        raise click.UsageError("nothing to change: give at least one of --scheduler-policy, --queue-order, "
                               "--namespace-weight, --preemption/--no-preemption, --heartbeat-period")
    settings = obj.client.update_cluster_settings(
        scheduler_policy=scheduler_policy, queue_order=queue_order,
        namespace_weights=parse_namespace_weights(namespace_weights), preemption=preemption,
        heartbeat_period=heartbeat_period,
    )
    obj.out.emit(_settings_rows(settings), ["SETTING", "VALUE"], _settings_dict(settings))


@main.group()
def snapshot() -> None:
    """Back up and restore the cluster's jobs, tasks and settings."""


@snapshot.command("save")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@handle_errors
def snapshot_save(obj: Ctx, file: Path) -> None:
    """Write the cluster's jobs, tasks and settings to FILE (no CA key, no tokens)."""
    import os

    from dockyard.api.v1 import control_pb2 as cpb

    snap: cpb.ClusterSnapshot = obj.client.save_snapshot()
    tmp = file.with_name(file.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(snap.SerializeToString())
        tmp.replace(file)
    except OSError as e:
        raise FailedPrecondition(f"cannot write {file}: {e.strerror}") from None
    click.echo(
        f"saved {len(snap.store.jobs)} jobs and {len(snap.store.tasks)} tasks of cluster {snap.cluster_id[:12]} "
        f"(store index {snap.index}) to {file}",
        err=True,
    )


@snapshot.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm: every job and task not in FILE is removed.")
@click.pass_obj
@handle_errors
def snapshot_restore(obj: Ctx, file: Path, yes: bool) -> None:
    """Make the cluster's jobs, tasks and settings those saved in FILE (taken
    of this cluster). Jobs created since are removed and their tasks stopped;
    nodes, managers and join tokens stay as they are."""
    from google.protobuf.message import DecodeError

    from dockyard.api.v1 import control_pb2 as cpb

    if not yes:
        raise click.UsageError("a restore replaces every job and task; give --yes to confirm")
    try:
        snap = cpb.ClusterSnapshot.FromString(file.read_bytes())
    except OSError as e:
        raise FailedPrecondition(f"cannot read {file}: {e.strerror}") from None
    except DecodeError:
        raise InvalidArgument([FieldError("FILE", f"{file} is not a Dockyard snapshot")]) from None
    done = obj.client.restore_snapshot(snap)
    click.echo(f"restored {done.jobs} jobs and {done.tasks} tasks from {file} (store index {done.index})", err=True)


@main.group()
def token() -> None:
    """Join tokens."""


@token.command("ls")
@click.pass_obj
@handle_errors
def token_ls(obj: Ctx) -> None:
    """The current join tokens."""
    t = obj.client.list_tokens()
    obj.out.emit([["agent", t.agent], ["manager", t.manager]], ["ROLE", "TOKEN"], {"agent": t.agent, "manager": t.manager})


@token.command("rotate")
@click.argument("role", type=click.Choice(["agent", "worker", "manager"]))
@click.pass_obj
@handle_errors
def token_rotate(obj: Ctx, role: str) -> None:
    """Replace a join token; the old one stops working at once."""
    t = obj.client.rotate_token("agent" if role == "worker" else role)
    new = t.manager if role == "manager" else t.agent
    click.echo(new)


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), required=True)
@click.option("--join", "join_address", default="", help="A manager's join address HOST:PORT (first start only).")
@click.option("--token", envvar="DOCKYARD_TOKEN", default="", help="The cluster's agent join token (first start only).")
@click.option("--manager", "managers", multiple=True, help="Manager API address (repeatable; default: learned at join).")
@click.option("--name", default="", help="Node name (default: the host name).")
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="Log service address.")
@click.option("--runtime", type=click.Choice(["docker", "fake"]), default="docker", show_default=True)
@click.option("--label", "labels", multiple=True, help="Node label KEY=VALUE (repeatable).")
@click.option("--container-label", "container_labels", multiple=True, help="Label every container KEY=VALUE.")
@click.option("--cpu", type=float, default=0.0, help="Override the CPU capacity (cores).")
@click.option("--memory", default="0", help="Override the memory capacity (e.g. 8Gi).")
@click.option(
    "--device", "devices", multiple=True, metavar="KIND=ID,...",
    help="Devices tasks may ask for, e.g. gpu=0,1,2,3 (repeatable; ids as the container runtime knows them).",
)
@click.option("--cert-check-period", type=float, default=60.0, hidden=True)
@click.option("--fake-fail-image", "fake_fail_images", multiple=True, hidden=True,
              help="With --runtime fake: starting this image fails (tests of failing updates).")
@click.option("--log-level", default="INFO", show_default=True)
def agent(
    data_dir: Path, join_address: str, token: str, managers: Sequence[str], name: str, listen: str, runtime: str,
    labels: Sequence[str], container_labels: Sequence[str], cpu: float, memory: str, devices: Sequence[str],
    cert_check_period: float, fake_fail_images: Sequence[str], log_level: str,
) -> None:
    """Run an agent: this host runs tasks for the cluster."""
    from dockyard import daemons
    from dockyard.units import parse_memory

    daemons.setup_logging(log_level)
    daemons.run(
        daemons.agent_main(
            data_dir=data_dir,
            join=join_address,
            token=token,
            managers=list(managers),
            cert_check_period=cert_check_period,
            name=name,
            listen=listen,
            runtime=runtime,
            labels=_labels(labels, "--label"),
            container_labels=_labels(container_labels, "--container-label"),
            cpu=cpu,
            memory=parse_memory(memory),
            devices=_devices(devices),
            fake_fail_images=frozenset(fake_fail_images),
        )
    )


# -- jobs ------------------------------------------------------------------------


@main.group()
def job() -> None:
    """Submit and manage jobs."""


def _load(file: str) -> pb.JobSpec:
    from dockyard.jobspec import load_job_file

    return load_job_file(file)


def _progress_line(summary: Any) -> str:
    return f"{summary.job.spec.name}: {summary.phase} - {summary.message}"


def _wait_converged(obj: Ctx, name: str, timeout: float, version: int) -> None:
    """Show the job's progress until `version` converges (exit 1 if it
    fails, its update pauses or is rolled back, or the timeout passes)."""
    deadline = time.monotonic() + timeout
    last = ""
    tty = sys.stderr.isatty()
    while True:
        status = obj.client.get_job(name)
        s = status.summary
        line = _progress_line(s)
        if line != last:
            if tty:
                click.echo("\r\033[K" + line, err=True, nl=False)
            else:
                click.echo(line, err=True)
            last = line
        if s.phase in ("converged", "complete"):
            if tty:
                click.echo("", err=True)
            return
        update = s.job.update_status
        if s.phase in ("failed", "paused") or (update.state == "rolled_back" and update.spec_version == version):
            if tty:
                click.echo("", err=True)
            what = {"failed": "failed", "paused": "update paused"}.get(s.phase, f"version {version} rolled back")
            click.echo(f"error: job {name} {what}: {update.message if s.phase != 'failed' else s.message}", err=True)
            sys.exit(EXIT_FAILURE)
        if time.monotonic() > deadline:
            if tty:
                click.echo("", err=True)
            click.echo(f"error: job {name} did not converge within {timeout:g}s: {s.message}", err=True)
            sys.exit(EXIT_FAILURE)
        time.sleep(0.1)


@job.command("run")
@click.argument("file", type=click.Path())
@click.option("--detach", "-d", is_flag=True, help="Return once the job is accepted.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for convergence.")
@click.pass_obj
@handle_errors
def job_run(obj: Ctx, file: str, detach: bool, timeout: float) -> None:
    """Submit or update the job in FILE and wait until it converges."""
    spec = _load(file)
    resp = obj.client.run_job(spec)
    verb = "updated" if resp.changed and resp.job.spec_version > 1 else ("submitted" if resp.changed else "unchanged")
    click.echo(f"job {spec.name} {verb} (version {resp.job.spec_version})", err=True)
    if detach:
        return
    _wait_converged(obj, spec.name, timeout, resp.job.spec_version)


@job.command("plan")
@click.argument("file", type=click.Path())
@click.pass_obj
@handle_errors
def job_plan(obj: Ctx, file: str) -> None:
    """Dry run: where the job's tasks would go, and why not. Changes nothing."""
    spec = _load(file)
    plan = obj.client.plan_job(spec)
    rows = [[str(p.slot), p.node_name, p.node_id[:12], _devices_text(p.devices)] for p in plan.placements]
    data = _to_dict(plan)
    if plan.explanation:
        data["explanation"] = json.loads(plan.explanation)
    obj.out.emit(rows, ["SLOT", "NODE", "NODE ID", "DEVICES"], data)
    if obj.out.fmt == "table":
        click.echo(f"{len(plan.placements)} of {spec.replicas} task(s) can be placed")
        for pre in plan.preemptions:
            click.echo(f"slot {pre.for_slot} would preempt task {pre.task_id[:12]} of job {pre.job_name} on {pre.node_name}: {pre.reason}")
        if plan.unplaced:
            click.echo(f"{plan.unplaced} cannot: {plan.reason}")


@job.command("ls")
@click.option("--namespace", default="")
@click.pass_obj
@handle_errors
def job_ls(obj: Ctx, namespace: str) -> None:
    """List jobs."""
    jobs = obj.client.list_jobs(namespace)
    rows = [
        [s.job.spec.name, s.job.spec.namespace, s.job.spec.type, f"{s.running}/{s.desired}", s.phase, str(s.job.spec_version)]
        for s in jobs
    ]
    obj.out.emit(rows, ["NAME", "NAMESPACE", "TYPE", "RUNNING", "PHASE", "VERSION"], [_to_dict(s) for s in jobs])


def _devices_text(devices: Iterable[pb.TaskDevice]) -> str:
    """'gpu=0,1' for whole devices, 'gpu=2(0.3)' for a share of one."""
    by_kind: dict[str, list[str]] = {}
    for d in devices:
        by_kind.setdefault(d.kind, []).append(d.id if d.share >= 1.0 else f"{d.id}({d.share:g})")
    return " ".join(f"{kind}={','.join(ids)}" for kind, ids in by_kind.items())


def _task_rows(tasks: Iterable[pb.Task], nodes: dict[str, str]) -> list[list[str]]:
    rows = []
    for t in tasks:
        ports = ",".join(f"{p.published}->{p.container}/{p.protocol or 'tcp'}" for p in t.status.ports)
        reason = t.pending_reason or t.status.error or t.status.message
        exit_code = str(t.status.exit_code) if t.status.exited else ""
        rows.append(
            [
                t.meta.id[:12],
                f"{t.job_name}.{t.slot}",
                nodes.get(t.node_id, t.node_id[:12]),
                _devices_text(t.devices),
                _state(t.desired_state),
                _state(t.status.state),
                exit_code,
                ports,
                reason,
            ]
        )
    return rows


TASK_HEADERS = ["ID", "TASK", "NODE", "DEVICES", "DESIRED", "STATE", "EXIT", "PORTS", "MESSAGE"]


@job.command("status")
@click.argument("name")
@click.pass_obj
@handle_errors
def job_status(obj: Ctx, name: str) -> None:
    """A job's phase and its tasks, with the reason for any pending task."""
    st = obj.client.get_job(name)
    s = st.summary
    if obj.out.fmt != "table":
        obj.out.emit([], [], _to_dict(st))
        return
    click.echo(f"job {s.job.spec.name} ({s.job.spec.type}, version {s.job.spec_version}): {s.phase}: {s.message}")
    nodes = {n.node.meta.id: n.node.name for n in obj.client.list_nodes()}
    click.echo(table(TASK_HEADERS, _task_rows(st.tasks, nodes)))


@job.command("scale")
@click.argument("name")
@click.argument("replicas", type=click.IntRange(min=0))
@click.pass_obj
@handle_errors
def job_scale(obj: Ctx, name: str, replicas: int) -> None:
    """Change how many replicas a service job runs."""
    st = obj.client.scale_job(name, replicas)
    click.echo(f"job {name} scaled to {st.summary.desired}", err=True)


@job.command("rollback")
@click.argument("name")
@click.option("--detach", "-d", is_flag=True, help="Return once the rollback is accepted.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for convergence.")
@click.pass_obj
@handle_errors
def job_rollback(obj: Ctx, name: str, detach: bool, timeout: float) -> None:
    """Run the job's previous version again, as a new version (replicas stay
    as they are), and wait until it converges."""
    st = obj.client.rollback_job(name)
    click.echo(f"job {name} rolled back (now version {st.summary.job.spec_version})", err=True)
    if detach:
        return
    _wait_converged(obj, name, timeout, st.summary.job.spec_version)


@job.command("stop")
@click.argument("name")
@click.pass_obj
@handle_errors
def job_stop(obj: Ctx, name: str) -> None:
    """Stop every task of a job and remove its containers."""
    obj.client.stop_job(name)
    click.echo(f"job {name} stopping", err=True)


# -- tasks, nodes, logs -------------------------------------------------------------


@main.group()
def task() -> None:
    """Inspect tasks."""


@task.command("ls")
@click.option("--job", default="", help="Only this job's tasks.")
@click.option("--all", "all_", is_flag=True, help="Include finished tasks kept as history.")
@click.pass_obj
@handle_errors
def task_ls(obj: Ctx, job: str, all_: bool) -> None:
    """Tasks with their node, state, ports and reason when pending or failed."""
    tasks = obj.client.list_tasks(job, all_)
    nodes = {n.node.meta.id: n.node.name for n in obj.client.list_nodes()}
    obj.out.emit(_task_rows(tasks, nodes), TASK_HEADERS, [_to_dict(t) for t in tasks])


@main.group()
def node() -> None:
    """Inspect and manage nodes."""


@node.command("ls")
@click.pass_obj
@handle_errors
def node_ls(obj: Ctx) -> None:
    """Nodes with their state and what their tasks hold."""
    nodes = obj.client.list_nodes()
    rows = []
    for n in nodes:
        c, a = n.node.capacity, n.allocated
        rows.append(
            [
                n.node.meta.id[:12],
                n.node.name,
                pb.NodeState.Name(n.node.state).removeprefix("NODE_STATE_").lower(),
                pb.NodeAvailability.Name(n.node.availability).removeprefix("NODE_AVAILABILITY_").lower(),
                f"{a.cpu:g}/{c.cpu:g}",
                f"{_mem(a.memory)}/{_mem(c.memory)}",
                str(n.tasks),
                ",".join(f"{k}={v}" for k, v in sorted(n.node.labels.items())),
            ]
        )
    obj.out.emit(rows, ["ID", "NAME", "STATE", "AVAILABILITY", "CPU", "MEMORY", "TASKS", "LABELS"], [_to_dict(n) for n in nodes])


@node.command("inspect")
@click.argument("node_ref")
@click.pass_obj
@handle_errors
def node_inspect(obj: Ctx, node_ref: str) -> None:
    """One node in full: address, state, capacity and what is allocated,
    labels, devices, and the tasks it runs. NODE is an id, a unique id
    prefix or a name."""
    nodes = obj.client.list_nodes()
    exact = [n for n in nodes if node_ref in (n.node.meta.id, n.node.name)]
    matches = exact or [n for n in nodes if n.node.meta.id.startswith(node_ref)]
    if not matches:
        raise NotFound(f"no node {node_ref!r} (see `dockyard node ls`)")
    if len(matches) > 1:
        names = ", ".join(f"{n.node.name} ({n.node.meta.id[:12]})" for n in matches)
        raise InvalidArgument([FieldError("NODE", f"{node_ref!r} matches {len(matches)} nodes: {names}; give more of the id")])
    summary = matches[0]
    n, c, a = summary.node, summary.node.capacity, summary.allocated
    tasks = [t for t in obj.client.list_tasks() if t.node_id == n.meta.id]
    if obj.out.fmt != "table":
        obj.out.emit([], [], {**_to_dict(summary), "task_list": [_to_dict(t) for t in tasks]})
        return
    rows = [
        ["id", n.meta.id],
        ["name", n.name],
        ["hostname", n.hostname],
        ["address", n.address],
        ["state", pb.NodeState.Name(n.state).removeprefix("NODE_STATE_").lower()
         + (f" ({n.state_message})" if n.state_message else "")],
        ["availability", pb.NodeAvailability.Name(n.availability).removeprefix("NODE_AVAILABILITY_").lower()],
        ["runtime", n.runtime],
        ["version", n.version],
        ["cpu", f"{a.cpu:g} of {c.cpu:g} allocated"],
        ["memory", f"{_mem(a.memory)} of {_mem(c.memory)} allocated"],
        ["labels", ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or "-"],
        ["devices", ", ".join(f"{d.kind}={d.id}" for d in n.devices) or "-"],
    ]
    click.echo(table(["FIELD", "VALUE"], rows))
    click.echo("")
    click.echo(table(TASK_HEADERS, _task_rows(tasks, {n.meta.id: n.name})) if tasks else "no tasks on this node")


@node.command("drain")
@click.argument("node_ref")
@click.pass_obj
@handle_errors
def node_drain(obj: Ctx, node_ref: str) -> None:
    """Place nothing new on NODE."""
    n = obj.client.update_node(node_ref, availability=pb.NODE_AVAILABILITY_DRAIN)
    click.echo(f"node {n.name} drained", err=True)


@node.command("activate")
@click.argument("node_ref")
@click.pass_obj
@handle_errors
def node_activate(obj: Ctx, node_ref: str) -> None:
    """Let the scheduler use NODE again."""
    n = obj.client.update_node(node_ref, availability=pb.NODE_AVAILABILITY_ACTIVE)
    click.echo(f"node {n.name} active", err=True)


@node.command("label")
@click.argument("node_ref")
@click.argument("labels", nargs=-1, required=True)
@click.pass_obj
@handle_errors
def node_label(obj: Ctx, node_ref: str, labels: Sequence[str]) -> None:
    """Set KEY=VALUE labels, or remove KEY- ."""
    add = _labels([x for x in labels if not x.endswith("-")], "LABELS")
    remove = [x[:-1] for x in labels if x.endswith("-")]
    n = obj.client.update_node(node_ref, add_labels=add, remove_labels=remove)
    click.echo(f"node {n.name}: " + ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())), err=True)


@main.command()
@click.argument("job_name")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new output.")
@click.option("--tail", type=click.IntRange(min=0), default=0, help="Only the last N lines of each task.")
@click.pass_obj
@handle_errors
def logs(obj: Ctx, job_name: str, follow: bool, tail: int) -> None:
    """Merged output of every task of a job, each line prefixed by its task."""
    try:
        for line in obj.client.logs(job_name, follow=follow, tail=tail):
            prefix = f"{job_name}.{line.slot}@{line.task_id[:8]}"
            stream = sys.stderr if line.stream == "stderr" else sys.stdout
            stream.write(f"{prefix} | {line.line}\n")
            stream.flush()
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["job", "task", "node", "manager", "settings", "security"]),
              help="Only events of this kind (repeatable; default: all).")
@click.pass_obj
@handle_errors
def events(obj: Ctx, kinds: Sequence[str]) -> None:
    """Stream cluster events from now on (Ctrl-C stops): jobs, tasks, nodes,
    managers, settings and join tokens. With -o json, one JSON object a line."""
    try:
        for ev in obj.client.events(kinds):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ev.timestamp))
            record = {"index": ev.index, "time": when, "kind": ev.kind, "action": ev.action, "id": ev.id,
                      "name": ev.name, "message": ev.message}
            if obj.out.fmt == "json":
                click.echo(json.dumps({**record, "timestamp": ev.timestamp}, sort_keys=True))
            elif obj.out.fmt == "yaml":
                click.echo("---\n" + yaml.safe_dump(record, sort_keys=True), nl=False)
            else:
                click.echo(f"{when}  {ev.kind:<8} {ev.action:<7} {ev.message}")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
