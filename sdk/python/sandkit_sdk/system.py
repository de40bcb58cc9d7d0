"""Facts about the host that WASI does not expose."""

from __future__ import annotations

from dataclasses import dataclass

from . import _host


@dataclass
class FsUsage:
    total: int
    available: int
    free: int
    inodes_total: int
    inodes_free: int


def statfs(path: str) -> FsUsage:
    """Usage of the filesystem mounted at `path` (needs `[sandbox] statfs = true`)."""
    u = _host.host().statfs(path)
    if isinstance(u, FsUsage):
        return u
    return FsUsage(u.total, u.available, u.free, u.inodes_total, u.inodes_free)


def hostname() -> str:
    return _host.host().hostname()
