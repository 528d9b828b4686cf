"""The CLI's entry points into the daemons: the only place `dockyard` reaches
into `manager` and `agent`, lazily, so the client side stays light."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable
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


def manager_init(data_dir: Path, listen: str, raft_addr: str) -> str:
    from manager.config import ManagerConfig
    from manager.daemon import init_cluster

    return init_cluster(ManagerConfig(data_dir=data_dir, listen=listen, raft_addr=raft_addr)).cluster_id


def manager_main(data_dir: Path, **overrides: Any) -> Awaitable[None]:
    from manager.config import ManagerConfig
    from manager.daemon import ClusterIdentity, Manager

    async def main() -> None:
        identity = ClusterIdentity.load(data_dir)
        config = ManagerConfig(data_dir=data_dir, listen=identity.listen, raft_addr=identity.raft_addr, **overrides)
        await Manager(config, identity).run()

    return main()


def agent_main(**config: Any) -> Awaitable[None]:
    from agent.config import AgentConfig
    from agent.daemon import Agent

    async def main() -> None:
        await Agent(AgentConfig(**config)).run()

    return main()


def dev_main(data_dir: Path, listen: str, raft_addr: str, agent_options: dict[str, Any], announce: Any) -> Awaitable[None]:
    """Manager and agent in one process and one event loop."""
    from agent.config import AgentConfig
    from agent.daemon import Agent
    from manager.config import ManagerConfig
    from manager.daemon import STATE_FILE, ClusterIdentity, Manager, init_cluster

    async def main() -> None:
        mdir = data_dir / "manager"
        if not (mdir / STATE_FILE).exists():
            init_cluster(ManagerConfig(data_dir=mdir, listen=listen, raft_addr=raft_addr))
        identity = ClusterIdentity.load(mdir)
        manager = Manager(ManagerConfig(data_dir=mdir, listen=identity.listen, raft_addr=identity.raft_addr), identity)
        mtask = asyncio.create_task(manager.run())
        await asyncio.wait([mtask, asyncio.create_task(manager.is_leading.wait())], return_when=asyncio.FIRST_COMPLETED)
        if mtask.done():
            mtask.result()
        agent = Agent(AgentConfig(data_dir=data_dir / "agent", managers=[manager.address], **agent_options))
        atask = asyncio.create_task(agent.run())
        await agent.session.registered.wait()
        announce(manager.address, identity.cluster_id, os.getpid())
        done, pending = await asyncio.wait([mtask, atask], return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            t.result()

    return main()
