"""Small things several test modules need (pytest fixtures built on them live in conftest.py)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

# Every variable that steers which services a subprocess finds.
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "LAB_STATE_DIR",
    "LAB_NAMESPACE",
    "LAB_BINARIES",
    "LAB_PG_PORT",
    "LAB_REDIS_PORT",
    "LAB_PG_USER",
    "LAB_PG_PASSWORD",
    "LAB_PG_DB",
)


def free_port() -> int:
    """A loopback port that nothing listens on now (bound once by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without service or pytest variables, this venv first on PATH,
    plus ``extra``: what a subprocess (the services CLI, make, Binder's start) should see."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS and not k.startswith("PYTEST")}
    path = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "PATH": path, **extra}


def services_running() -> bool:
    """Do PostgreSQL and Redis answer where the notebooks would look for them?"""
    from helpers import services

    try:
        services.postgres_url(), services.redis_url()
    except services.ServiceUnavailable:
        return False
    return True
