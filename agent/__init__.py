"""The Dockyard agent daemon: a session with the leader's dispatcher, task
runtimes (docker, fake), resource probing and the agent's log service.

May import `dockyard` (wire contract, shared helpers) and `netoverlay`; must not
import `manager` or `scheduler`.
"""
