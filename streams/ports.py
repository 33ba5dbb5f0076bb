"""Loopback ports for the servers crmstream starts itself (local broker, demo worker, tests)."""

from __future__ import annotations

import socket
from collections.abc import Collection

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Bind as a server would (SO_REUSEADDR), so TIME_WAIT leftovers do not count as in use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(exclude: Collection[int] = (), host: str = LOOPBACK) -> int:
    """A port the kernel considers free now (``exclude`` lets servers get distinct ones)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        if port not in exclude:
            return port
