"""Process and system resources (psutil) as observable instruments, read at collection time."""

from __future__ import annotations

import os
from collections.abc import Iterable

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from amas_telemetry import semconv as sc
from amas_telemetry.catalog import spec

__all__ = ["register_system_metrics"]

_IGNORED_FS_TYPES = frozenset(
    {"tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup2", "nsfs"}
)


class _SystemReadings:
    """One psutil reader per handle; CPU percentages are deltas since the previous read."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        psutil.cpu_percent(None)
        self._process.cpu_percent(None)

    def cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(psutil.cpu_percent(None) / 100.0)

    def process_cpu(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self._process.cpu_percent(None) / 100.0 / (psutil.cpu_count() or 1))

    def process_memory(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self._process.memory_info().rss)

    def memory(self, options: CallbackOptions) -> Iterable[Observation]:
        vm = psutil.virtual_memory()
        yield Observation(vm.total - vm.available, {sc.SYSTEM_MEMORY_STATE: "used"})
        yield Observation(vm.available, {sc.SYSTEM_MEMORY_STATE: "free"})

    def memory_utilization(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(psutil.virtual_memory().percent / 100.0)

    def filesystem(self, options: CallbackOptions) -> Iterable[Observation]:
        for part in psutil.disk_partitions(all=False):
            if part.fstype in _IGNORED_FS_TYPES:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            mount = {sc.SYSTEM_FILESYSTEM_MOUNTPOINT: part.mountpoint}
            yield Observation(usage.used, {**mount, sc.SYSTEM_FILESYSTEM_STATE: "used"})
            yield Observation(usage.free, {**mount, sc.SYSTEM_FILESYSTEM_STATE: "free"})

    def network(self, options: CallbackOptions) -> Iterable[Observation]:
        counters = psutil.net_io_counters()
        yield Observation(counters.bytes_sent, {sc.NETWORK_IO_DIRECTION: "transmit"})
        yield Observation(counters.bytes_recv, {sc.NETWORK_IO_DIRECTION: "receive"})


def register_system_metrics(meter: Meter) -> None:
    readings = _SystemReadings()
    for name, callback in (
        (sc.SYSTEM_CPU_UTILIZATION, readings.cpu),
        (sc.PROCESS_CPU_UTILIZATION, readings.process_cpu),
        (sc.PROCESS_MEMORY_USAGE, readings.process_memory),
        (sc.SYSTEM_MEMORY_USAGE, readings.memory),
        (sc.SYSTEM_MEMORY_UTILIZATION, readings.memory_utilization),
        (sc.SYSTEM_FILESYSTEM_USAGE, readings.filesystem),
        (sc.SYSTEM_NETWORK_IO, readings.network),
    ):
        spec(name).observe(meter, [callback])
