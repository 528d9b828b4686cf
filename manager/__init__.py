"""The Dockyard manager daemon: the Raft-replicated store, the gRPC control
API and dispatcher, and the leader's reconcile loops (orchestrators and the
scheduling loop that drives the `scheduler` library).

May import `scheduler`, `netoverlay` and `dockyard`; nothing but the CLI's
daemon entry point imports `manager`.
"""
