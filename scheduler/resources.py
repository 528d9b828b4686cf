"""Resource vectors: what a task demands and what a node offers."""

from __future__ import annotations

from dataclasses import dataclass

# Order of the scalar dimensions in every numpy array of the package.
DIMENSIONS: tuple[str, ...] = ("cpu", "memory", "disk")

# CPU and device shares are scheduled in thousandths (millicores, as in
# Kubernetes) so that sums are exact integers: 0.1 + 0.2 cores must never
# look bigger than 0.3 cores and leave a node "over-committed" by 1e-16.
MILLI = 1000


def to_milli(value: float) -> int:
    """Cores or device shares as integer thousandths."""
    return round(value * MILLI)


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A task's need for devices of one kind.

    Either ``count`` whole devices (each gets its own id) or ``share`` of a
    single device (0 < share <= 1, e.g. 0.3 of a GPU), not both.
    """

    kind: str
    count: int = 0
    share: float = 0.0

    def __post_init__(self) -> None:
        if not self.kind:
            raise ValueError("device request needs a kind, e.g. 'gpu'")
        if self.count < 0 or self.share < 0:
            raise ValueError(f"device request for {self.kind!r} must not be negative")
        if (self.count > 0) == (self.share > 0):
            raise ValueError(f"device request for {self.kind!r} must set exactly one of count or share")
        if self.share > 1.0:
            raise ValueError(
                f"device share for {self.kind!r} is {self.share}; a share is at most 1.0 "
                "(ask for count=N to get N whole devices)"
            )

    @property
    def milli_share(self) -> int:
        """Share of one device in thousandths; 0 for whole-device requests."""
        return to_milli(self.share)


@dataclass(frozen=True, slots=True)
class Device:
    """One device on a node, e.g. Device("GPU-0", "gpu"), with its free share."""

    id: str
    kind: str
    share_free: float = 1.0  # 1.0 = unused; fractional tasks take part of it


@dataclass(frozen=True, slots=True)
class Resources:
    """Scalar resources (cores, bytes, bytes) plus device requests.

    Arithmetic and ``fits_in`` work on the scalar dimensions; devices are
    matched against a node's ``NodeInfo.devices`` by the scheduler, not
    against another Resources. ``a + b`` keeps the device requests of both,
    ``a - b`` keeps those of ``a``.
    """

    cpu: float = 0.0
    memory: int = 0
    disk: int = 0
    devices: tuple[DeviceRequest, ...] = ()

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu + other.cpu,
            self.memory + other.memory,
            self.disk + other.disk,
            self.devices + other.devices,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu - other.cpu,
            self.memory - other.memory,
            self.disk - other.disk,
            self.devices,
        )

    def milli_vector(self) -> tuple[int, int, int]:
        """(millicores, memory bytes, disk bytes): the package's exact integer form."""
        return (to_milli(self.cpu), int(self.memory), int(self.disk))

    def fits_in(self, available: Resources) -> bool:
        """True when every scalar dimension of self is at most that of available."""
        return not self.lacking(available)

    def lacking(self, available: Resources) -> tuple[str, ...]:
        """Names of the dimensions in which ``available`` falls short of self."""
        return tuple(
            name for name, need, have in zip(DIMENSIONS, self.milli_vector(), available.milli_vector()) if need > have
        )

    def is_negative(self) -> bool:
        return any(v < 0 for v in self.milli_vector())
