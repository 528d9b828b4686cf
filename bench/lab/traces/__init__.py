"""Readers that turn public cluster traces into lab workloads.

Users bring the trace files themselves (none is shipped). Each reader takes
the trace's own file layout and returns a ``bench.lab.workload.Workload``;
it imports nothing beyond the standard library and ``bench.lab.workload``.
"""

from __future__ import annotations

from bench.lab.traces.alibaba2018 import read_alibaba2018
from bench.lab.traces.common import TraceError
from bench.lab.traces.google2011 import read_google2011
from bench.lab.traces.openb2023 import read_openb2023

__all__ = ["TraceError", "read_alibaba2018", "read_google2011", "read_openb2023"]
