"""Granted files, read by the host (`[sandbox] read_only_dirs`; /proc and /sys through the
kernel view). Errors are FileError with the host's message, which names the path and the grant
to add."""

from __future__ import annotations

from typing import List

from . import _host
from ._host import FileError

__all__ = ["read", "read_text", "list_dir", "FileError"]


def read(path: str) -> bytes:
    """The whole file (at most 16 MiB)."""
    return bytes(_host.host().read_file(path))


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The whole file as text (undecodable bytes replaced)."""
    return read(path).decode(encoding, "replace")


def list_dir(path: str) -> List[str]:
    """The sorted names in a directory, without "." and ".."."""
    return list(_host.host().list_dir(path))
