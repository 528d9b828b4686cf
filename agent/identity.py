"""The agent's node identity: its certificate (and so its node id) and the
managers it knows, kept in its data dir. The first start joins the cluster
with a token; later starts reuse what is there."""

from __future__ import annotations

import json
from pathlib import Path

from agent.config import AgentConfig
from dockyard.errors import FailedPrecondition
from dockyard.grpcutil import host_of
from dockyard.join import join
from dockyard.pki import NodeIdentity

CERTS_DIR = "certs"
MANAGERS_FILE = "managers.json"


def save_managers(data_dir: Path, managers: list[str]) -> None:
    path = data_dir / MANAGERS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(set(managers))))
    tmp.replace(path)


def load_managers(data_dir: Path) -> list[str]:
    path = data_dir / MANAGERS_FILE
    return list(json.loads(path.read_text())) if path.exists() else []


async def obtain_identity(config: AgentConfig) -> tuple[NodeIdentity, list[str]]:
    certs = config.data_dir / CERTS_DIR
    if (certs / "node.pem").exists():
        identity = NodeIdentity.load(certs)
        managers = config.managers or load_managers(config.data_dir)
        if not managers:
            raise FailedPrecondition(f"no manager address known; pass one (--manager) or remove {certs} and join again")
        return identity, managers
    if not (config.join and config.token):
        raise FailedPrecondition("this agent has not joined a cluster yet: give --join MANAGER_JOIN_ADDRESS and --token AGENT_TOKEN")
    sans = [host_of(config.advertise or config.listen)]
    identity, managers = await join(config.join, config.token, sans)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    identity.save(certs)
    managers = config.managers or managers
    if not managers:
        raise FailedPrecondition(f"the manager at {config.join} named no manager API address to connect to")
    save_managers(config.data_dir, managers)
    return identity, managers
