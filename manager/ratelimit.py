"""A token bucket per caller, for certificate issuance and registration: a
misbehaving or hostile joiner cannot make the CA sign (or the store record)
without bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class RateLimiter:
    # 10 at once, then 2 per second per caller: far above what a fleet of
    # agents restarting together needs from one host, far below abuse.
    burst: float = 10.0
    rate: float = 2.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget idle callers
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        return True


def caller_host(peer: str) -> str:
    """grpc's peer string ("ipv4:127.0.0.1:5555", "ipv6:[::1]:5555") without the port."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0]
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else peer
