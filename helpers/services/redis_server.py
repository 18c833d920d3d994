"""Redis (or Valkey, which speaks the same protocol) from local binaries: daemonised on a free
loopback port with a generated password and no persistence."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import binaries
from .binaries import Found
from .local import LocalServer
from .probes import redis_command
from .processes import free_port, pid_is, read_pid, run, tail, wait_until
from .state import StartError
from .urls import LOOPBACK, REDIS

PROGRAMS = ("redis-server", "valkey-server")  # what a server's command line may start with


class RedisServer(LocalServer):
    service = REDIS
    packages = {"Debian/Ubuntu": "redis-server", "macOS": "redis", "conda": "redis-server"}

    def find(self, prefer: str) -> Found | None:
        return binaries.find_redis(prefer)

    def url(self, entry: dict[str, Any]) -> str:
        return f"redis://:{quote(str(entry['password']), safe='')}@{LOOPBACK}:{entry['port']}/0"

    def start(self, state_dir: Path, found: Found) -> dict[str, Any]:
        conf, pidfile, log = state_dir / "redis.conf", state_dir / "redis.pid", state_dir / "redis.log"
        _kill_leftover(pidfile)
        log.unlink(missing_ok=True)
        entry: dict[str, Any] = {
            "port": free_port(),
            # Redis has no users here; a password keeps other local accounts out, as for PostgreSQL.
            "password": secrets.token_urlsafe(18),
            "binary": str(found.path),
            "version": found.version,
            "source": found.source,
            "where": found.where,
            "conf": str(conf),
            "pidfile": str(pidfile),
            "log": str(log),
        }
        lines = [
            f"bind {LOOPBACK}",
            f"port {entry['port']}",
            "protected-mode yes",
            "daemonize yes",
            f"pidfile {_conf_value(str(pidfile))}",
            f"logfile {_conf_value(str(log))}",
            f"dir {_conf_value(str(state_dir))}",
            'save ""',  # teaching data: no RDB snapshots or AOF written next to the repository
            "appendonly no",
            f"requirepass {_conf_value(entry['password'])}",
        ]
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the password
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        # The server forks, detaches (setsid) and redirects its output to the log before the parent exits.
        result = run([str(found.path), str(conf)], cwd=state_dir, timeout=20, daemon=True)
        ready = result.returncode == 0 and wait_until(
            lambda: redis_command(entry["port"], entry["password"], "PING") == b"+PONG", timeout=10
        )
        if not ready:
            raise StartError(
                f"Redis did not start ({(result.stderr or result.stdout).strip()}). "
                f"Last lines of {log}:\n{tail(log)}"
            )
        wait_until(pidfile.exists, timeout=2)
        entry["pid"] = read_pid(pidfile)
        return entry

    def stop(self, state_dir: Path, entry: dict[str, Any] | None) -> bool:
        if entry is None:  # no state file: a server may still run from a pid file left behind
            pidfile = state_dir / "redis.pid"
            if not _is_server(read_pid(pidfile)):
                pidfile.unlink(missing_ok=True)
                return True
            entry = {"pidfile": str(pidfile)}
        pidfile = Path(entry.get("pidfile") or state_dir / "redis.pid")
        pid = int(entry.get("pid") or read_pid(pidfile))
        if entry.get("port"):
            redis_command(int(entry["port"]), entry.get("password"), "SHUTDOWN", "NOSAVE")
        if pid and not wait_until(lambda: not _is_server(pid), timeout=5):
            _kill_leftover(pidfile)  # SHUTDOWN refused or unreachable: fall back to SIGTERM by PID
        if _is_server(pid):
            return False
        for name in ("conf", "pidfile", "log"):
            if entry.get(name):
                Path(entry[name]).unlink(missing_ok=True)
        return True


def _conf_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_server(pid: int) -> bool:
    return any(pid_is(pid, program) for program in PROGRAMS)


def _kill_leftover(pidfile: Path) -> None:
    pid = read_pid(pidfile)
    if _is_server(pid):
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _is_server(pid), timeout=5)
    pidfile.unlink(missing_ok=True)
