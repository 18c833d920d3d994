"""The Docker compose route: docker-compose.yml's PostgreSQL and Redis on fixed loopback ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import quote

from .state import REPO_ROOT
from .urls import LOOPBACK, REDIS, Service

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def compose_port(service: Service) -> int:
    """``LAB_PG_PORT`` / ``LAB_REDIS_PORT``, else the defaults docker-compose.yml also uses."""
    value = os.environ.get(service.compose_port_var, "").strip()
    return int(value) if value.isdigit() else service.compose_port


def compose_url(service: Service, port: int) -> str:
    """The URL of a compose service, with ``LAB_PG_USER``/``LAB_PG_PASSWORD``/``LAB_PG_DB`` (default lab)."""
    if service is REDIS:
        return f"redis://{LOOPBACK}:{port}/0"
    user = os.environ.get("LAB_PG_USER") or "lab"
    password = os.environ.get("LAB_PG_PASSWORD") or "lab"
    db = os.environ.get("LAB_PG_DB") or "lab"
    user, password, db = (quote(part, safe="") for part in (user, password, db))
    return f"postgresql://{user}:{password}@{LOOPBACK}:{port}/{db}"


def docker_ready() -> bool:
    """A Docker engine answers and the compose plugin exists (both checked quickly)."""
    if not shutil.which("docker"):
        return False
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=5
        )
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return info.returncode == 0 and bool(info.stdout.strip()) and plugin.returncode == 0


def compose(*args: str) -> int:
    """Run ``docker compose -f docker-compose.yml ARGS``; its output goes straight to the terminal."""
    cmd = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    try:  # image pulls can take a while and show progress
        return subprocess.run(cmd, timeout=600, stdin=subprocess.DEVNULL).returncode
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"{' '.join(cmd)} failed: {exc}", file=sys.stderr)
        return 1
