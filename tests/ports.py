"""
Ports for the test servers that are given a port rather than binding port 0 (the api-server, the
webserver, redis, a fault front that stops and starts listening) and for "nothing listens here".

A port that the kernel handed out and that was closed again can be handed out again at once: to an
outgoing connection, or to a sandbox of another pytest-xdist worker binding port 0. So these ports
come from below the kernel's ephemeral range, which it never hands out by itself, and each xdist
worker draws from a slice of its own: nothing else in the run picks them between the check and the
bind. (Any other program on the machine may still: a server that fails to bind says so.)
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

#: Where the slices are cut from: the ports just below the ephemeral range.
SPAN = 12_000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _worker_slice() -> range:
    top = _ephemeral_start()
    bottom = max(1024, top - SPAN)
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = (top - bottom) // workers
    start = bottom + size * (worker % workers)
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on or connects from right now, for a server to bind."""
    ports = _worker_slice()
    for _ in range(200):
        port = random.choice(ports)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port in {ports.start}-{ports.stop - 1} on 127.0.0.1")


def closed_port() -> int:
    """A TCP port on 127.0.0.1 where a connection is refused: nothing listens, nothing will."""
    return free_port()
