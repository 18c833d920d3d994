"""Small things several test modules need (pytest fixtures built on them live in conftest.py)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port that nothing listens on now (bound once by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
