"""The scheduler lab: replay workloads and public traces through the real
``scheduler.Scheduler`` in a discrete-event simulation, and compare placement
policies (packing, stranding, fairness, latency) side by side.

It drives the scheduler only through the public API of ``scheduler`` (never
its private modules) and may use ``dockyard.units`` for human units. It must
not import ``manager``, ``agent`` or ``netoverlay``: the lab simulates a
cluster, it does not run one.
"""

from __future__ import annotations
