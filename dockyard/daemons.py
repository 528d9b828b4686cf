"""The CLI's entry points into the daemons: the only place `dockyard` reaches
into `manager` and `agent`, lazily, so the client side stays light."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )
    # pysyncobj logs every reconnect attempt at warning level.
    logging.getLogger("pysyncobj").setLevel(logging.ERROR)


def run(main: Awaitable[Any]) -> None:
    """Run a daemon on uvloop until SIGINT/SIGTERM."""
    import uvloop

    async def guarded() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    uvloop.run(guarded())


def install_credentials(source_dir: Path, target_dir: Path) -> None:
    """Copy an admin credential (node.pem) where the CLI looks by default."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target_dir.chmod(0o700)
    tmp = target_dir / "node.pem.tmp"
    shutil.copyfile(source_dir / "node.pem", tmp)
    tmp.chmod(0o600)
    tmp.replace(target_dir / "node.pem")


def manager_init(
    data_dir: Path, listen: str, raft_addr: str, join_listen: str, name: str, cert_lifetime: float,
    scheduler: Mapping[str, Any] | None = None,
) -> Any:
    """`scheduler`: ManagerConfig scheduler settings (SCHEDULER_SETTINGS) to remember."""
    from manager.config import ManagerConfig
    from manager.daemon import init_cluster

    config = ManagerConfig(
        data_dir=data_dir, listen=listen, raft_addr=raft_addr, join_listen=join_listen, name=name, **(scheduler or {})
    )
    config.scheduler_config()  # refuse bad settings before creating anything
    return init_cluster(config, cert_lifetime=cert_lifetime)


def manager_join(data_dir: Path, join: str, token: str, listen: str, raft_addr: str, join_listen: str, name: str) -> Any:
    """Join an existing cluster as a manager: get a manager certificate with
    the token, ask the cluster to add this Raft member, remember it all."""
    from dockyard.errors import FailedPrecondition
    from dockyard.join import join as join_cluster
    from manager.daemon import CERTS_DIR, STATE_FILE, ClusterIdentity

    if (data_dir / STATE_FILE).exists():
        raise FailedPrecondition(f"{data_dir} already holds a Dockyard manager; start it with `dockyard manager start`")

    async def go() -> ClusterIdentity:
        import grpc

        from dockyard.api.v1 import control_pb2 as cpb
        from dockyard.api.v1 import control_pb2_grpc as cgrpc
        from dockyard.errors import Unavailable, from_status
        from dockyard.grpcutil import host_of, secure_channel

        host = host_of(listen)
        identity, managers = await join_cluster(join, token, [host])
        request = cpb.JoinManagerRequest(name=name, api_address=listen, raft_address=raft_addr, join_address=join_listen)

        async def ask_each() -> cpb.JoinManagerResponse | Exception:
            last: Exception = RuntimeError("the cluster named no manager to join through")
            for address in managers:
                try:
                    async with secure_channel(address, identity) as channel:
                        resp = await cgrpc.ControlStub(channel).JoinManager(request, timeout=30)
                except grpc.aio.AioRpcError as e:  # a follower refuses (only the leader adds members): try the next
                    last = from_status(e.code(), e.details() or "")
                    continue
                if not resp.raft_peers:
                    # Starting with no peers would make this manager a Raft group of its own.
                    last = FailedPrecondition(f"{address} answered the join with no Raft peers")
                    continue
                return resp
            return last

        # While the cluster elects a leader no manager adds members: retry a while.
        deadline = time.monotonic() + 30
        while isinstance(answer := await ask_each(), Unavailable) and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
        if isinstance(answer, Exception):
            raise answer
        resp = answer
        data_dir.mkdir(parents=True, exist_ok=True)
        identity.save(data_dir / CERTS_DIR)
        cluster = ClusterIdentity(
            cluster_id=resp.cluster_id,
            manager_id=resp.manager_id,
            raft_secret=resp.raft_secret,
            listen=listen,
            raft_addr=raft_addr,
            join_listen=join_listen,
            name=name,
            raft_peers=tuple(resp.raft_peers),
        )
        cluster.save(data_dir)
        return cluster

    return asyncio.run(go())


def load_manager(data_dir: Path, scheduler: Mapping[str, Any] | None = None, **overrides: Any) -> tuple[Any, Any]:
    """(ManagerConfig, ClusterIdentity) from a manager's data dir. Scheduler
    settings given here (by `dockyard dev`) replace the remembered seed in
    cluster.json; the cluster's own settings are replicated (manager.settings)."""
    from manager.config import ManagerConfig
    from manager.daemon import ClusterIdentity

    identity = ClusterIdentity.load(data_dir)
    if scheduler:
        identity = identity.with_scheduler(scheduler)
    config = ManagerConfig(
        data_dir=data_dir, listen=identity.listen, raft_addr=identity.raft_addr, join_listen=identity.join_listen,
        name=identity.name, **identity.scheduler, **overrides,
    )
    config.scheduler_config()  # refuse bad settings before saving them
    if scheduler:
        identity.save(data_dir)
    return config, identity


def manager_main(data_dir: Path, **overrides: Any) -> Awaitable[None]:
    from manager.daemon import Manager

    config, identity = load_manager(data_dir, **overrides)

    async def main() -> None:
        await Manager(config, identity).run()

    return main()


def agent_main(**config: Any) -> Awaitable[None]:
    from agent.config import AgentConfig
    from agent.daemon import Agent

    async def main() -> None:
        agent = await Agent.create(AgentConfig(**config))
        await agent.run()

    return main()


def dev_main(
    data_dir: Path,
    listen: str,
    raft_addr: str,
    join_listen: str,
    agent_options: dict[str, Any],
    announce: Callable[..., None],
    scheduler: Mapping[str, Any] | None = None,
) -> Awaitable[None]:
    """Manager and agent in one process and one event loop; the agent joins
    with the cluster's agent token like any other."""
    from agent.config import AgentConfig
    from agent.daemon import Agent
    from manager.ca import SECURITY_ID
    from manager.config import ManagerConfig
    from manager.daemon import ADMIN_DIR, STATE_FILE, Manager, init_cluster
    from manager.settings import update_request, update_settings

    async def main() -> None:
        mdir = data_dir / "manager"
        if not (mdir / STATE_FILE).exists():
            init_cluster(ManagerConfig(data_dir=mdir, listen=listen, raft_addr=raft_addr, join_listen=join_listen, name="dev"))
        config, identity = load_manager(mdir, scheduler)
        manager = Manager(config, identity)
        mtask = asyncio.create_task(manager.run())
        await asyncio.wait([mtask, asyncio.create_task(manager.is_leading.wait())], return_when=asyncio.FIRST_COMPLETED)
        if mtask.done():
            mtask.result()
        if scheduler:
            # A dev cluster started again with scheduler options runs with
            # them: they seed a new cluster and update an existing one.
            await update_settings(manager.store, manager.proposer, manager.settings_seed, update_request(scheduler))
        token = manager.store.view().security[SECURITY_ID].agent_token
        agent = await Agent.create(
            AgentConfig(data_dir=data_dir / "agent", join=manager.join_address, token=token, **agent_options)
        )
        atask = asyncio.create_task(agent.run())
        await agent.session.registered.wait()
        announce(manager.address, identity.cluster_id, os.getpid(), mdir / ADMIN_DIR)
        done, pending = await asyncio.wait([mtask, atask], return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            t.result()

    return main()
