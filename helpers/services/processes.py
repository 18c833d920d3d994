"""Running server programs: as an unprivileged user when root, detached from the caller, found by PID."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .state import StartError
from .urls import LOOPBACK

try:
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class RunAs:
    """An account to run a server as."""

    name: str
    uid: int
    gid: int


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def server_user() -> RunAs | None:
    """As root, the unprivileged account PostgreSQL runs as (it refuses to run as root); else None."""
    if not is_root() or pwd is None:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return lookup_user(name)
    raise StartError("running as root, but there is no `postgres` or `nobody` user to run PostgreSQL as")


def lookup_user(name: str) -> RunAs:
    """The account called `name` (KeyError if there is none)."""
    if pwd is None:  # pragma: no cover - Windows
        raise KeyError(name)
    entry = pwd.getpwnam(name)
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def run(
    cmd: list[str],
    *,
    run_as: RunAs | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    daemon: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output, optionally as another user.

    Switching user uses Popen's user/group/extra_groups (setgid/setgroups/setuid in the child, done by
    the stdlib without a preexec_fn, so it is thread-safe and needs neither runuser nor su). ``daemon``
    starts the child in its own session, so whatever it leaves running does not share the process
    group of a Jupyter kernel and survives the kernel's restart.
    """
    kwargs: dict[str, Any] = {}
    if run_as is not None:
        kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=[], umask=0o077)
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        start_new_session=daemon,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def free_port() -> int:
    """A free loopback port; the tiny race until the server binds it is acceptable here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, indented, for an error message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:]) or f"(empty log {path})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_is(pid: int, program: str) -> bool:
    """Is `pid` alive and running `program`? Guards every kill, so a recycled PID is never signalled."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    if Path("/proc/self").exists():
        # An exited process that init has not reaped yet (a zombie) has an empty cmdline: gone.
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return program in raw.replace(b"\0", b" ").decode(errors="replace")
    try:  # macOS has no /proc
        ps = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return program in ps.stdout


def read_pid(pidfile: Path) -> int:
    """The first number in a pid file, or 0."""
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
