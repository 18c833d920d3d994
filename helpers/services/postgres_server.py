"""PostgreSQL from local binaries: a throwaway cluster on a free loopback port, with a password.

As root (containers, Colab, CI) the server runs as the ``postgres`` user (else ``nobody``), with its
data and log in a private 0700 folder under the system temp directory: PostgreSQL refuses to run as
root, and a repository under /root is not readable by that user.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import secrets
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import binaries
from .binaries import Found
from .local import LocalServer
from .namespaces import quote_ident
from .processes import RunAs, free_port, lookup_user, pid_is, read_pid, run, server_user, tail, wait_until
from .state import StartError
from .urls import LOOPBACK, POSTGRES


class PostgresServer(LocalServer):
    service = POSTGRES
    packages = {"Debian/Ubuntu": "postgresql", "macOS": "postgresql@17", "conda": "postgresql"}

    def find(self, prefer: str) -> Found | None:
        return binaries.find_postgres(server_user(), prefer)

    def url(self, entry: dict[str, Any]) -> str:
        password = quote(str(entry["password"]), safe="")
        return f"postgresql://{entry['user']}:{password}@{LOOPBACK}:{entry['port']}/{entry['database']}"

    def start(self, state_dir: Path, found: Found) -> dict[str, Any]:
        run_as = server_user()
        home = _home(state_dir, run_as)
        if run_as is not None:
            _prepare_private_dir(home, run_as)
        data, log = home / "pg", home / "postgres.log"
        # A previous cluster here is stale (its server did not answer): stop whatever is left, start afresh.
        _stop_cluster(found.path, run_as, home, mode="immediate")
        _remove_cluster_dir(data)
        log.unlink(missing_ok=True)
        entry: dict[str, Any] = {
            "port": free_port(),
            "user": "lab",
            "database": "lab",
            # A generated password rather than `trust`: with trust, every account on a shared machine
            # (JupyterHub node, lab workstation) could connect to 127.0.0.1 as superuser. The password
            # lives only in the 0600 state file and in the URL that postgres_url() returns.
            "password": secrets.token_urlsafe(18),
            "bindir": str(found.path),
            "version": found.version,
            "source": found.source,
            "where": found.where,
            "home": str(home),
            "run_as": run_as.name if run_as else None,
            "log": str(log),
        }
        _initdb(found.path, run_as, home, data, entry["user"], entry["password"])
        _configure(data, entry["port"])
        started = _pg_ctl(
            found.path, run_as, home, "start", "-D", str(data), "-l", str(log), "-w", "-t", "30", timeout=45
        )
        if started.returncode != 0:
            why = started.stderr.strip() or started.stdout.strip()
            raise StartError(f"PostgreSQL did not start ({why}). Last lines of {log}:\n{tail(log)}")
        try:
            _create_database(entry)
        except Exception as exc:  # noqa: BLE001 - any failure: stop the server, then report it
            _stop_cluster(found.path, run_as, home)
            raise StartError(
                f"PostgreSQL started but the database could not be created: {exc}\n{tail(log)}"
            ) from None
        return entry

    def stop(self, state_dir: Path, entry: dict[str, Any] | None) -> bool:
        # Without a state file a cluster may still be running (e.g. .services/state.json was deleted):
        # its location is deterministic, so look there too.
        run_as = server_user() if entry is None else _recorded_user(entry.get("run_as"))
        home = Path(entry["home"]) if entry else _home(state_dir, run_as)
        if entry is None and not (home / "pg" / "PG_VERSION").exists():
            return True
        found = None if entry else binaries.find_postgres(run_as)
        bindir = Path(entry["bindir"]) if entry else (found.path if found else None)
        if bindir is None or not _stop_cluster(bindir, run_as, home):
            return False
        _remove_cluster_dir(home / "pg")
        (home / "postgres.log").unlink(missing_ok=True)
        if run_as is not None and home != state_dir:
            with contextlib.suppress(OSError):
                home.rmdir()  # only if empty: never delete anything we did not create
        return True


def _recorded_user(name: str | None) -> RunAs | None:
    if not name:
        return None
    try:
        return lookup_user(name)
    except KeyError:
        raise StartError(f"PostgreSQL was started as user {name!r}, which no longer exists") from None


# ---- where the cluster lives ---------------------------------------------------------------------


def _home(state_dir: Path, run_as: RunAs | None) -> Path:
    """Folder holding the cluster (`pg/`) and `postgres.log`: the state dir, or as root a private temp dir.

    The temp dir name hashes the state dir, so a test's LAB_STATE_DIR never shares a cluster with the
    developer's default one.
    """
    if run_as is None:
        return state_dir
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return binaries.system_temp() / f"asyncio-lab-{digest}"


def _prepare_private_dir(path: Path, run_as: RunAs) -> None:
    """Create `path` as a 0700 folder owned by `run_as`, refusing anything someone else planted there."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, run_as.uid):
        raise StartError(
            f"{path} exists but is not a folder owned by root or {run_as.name}; remove it and retry"
        )
    # Checked above that it is a real folder; in the sticky temp dir only root or its owner can swap it.
    os.chown(path, run_as.uid, run_as.gid)
    os.chmod(path, 0o700)


def _remove_cluster_dir(data: Path) -> None:
    """Delete a cluster directory, but only if it is one (LAB_STATE_DIR may point at a user's folder)."""
    if not data.exists():
        return
    if data.is_symlink() or not ((data / "PG_VERSION").exists() or not any(data.iterdir())):
        raise StartError(
            f"{data} exists and is not a PostgreSQL cluster; not deleting it. Remove it and retry."
        )
    shutil.rmtree(data)


# ---- pg_ctl, initdb ------------------------------------------------------------------------------


def _pg_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, ...) from the caller's shell must not redirect our private server;
    # LC_ALL=C avoids failures when the shell's locale is not installed for the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _pg_ctl(
    bindir: Path, run_as: RunAs | None, home: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # pg_ctl, like postgres, refuses to run as root, so it always runs as the server's user.
    cmd = [str(bindir / "pg_ctl"), *args]
    return run(cmd, run_as=run_as, env=_pg_env(), cwd=home, timeout=timeout, daemon=True)


def _stop_cluster(bindir: Path, run_as: RunAs | None, home: Path, mode: str = "fast") -> bool:
    """Stop the cluster in `home` if its postmaster still runs; True once nothing of it is running."""
    data = home / "pg"
    pid = read_pid(data / "postmaster.pid")
    # The postmaster's command line holds its data directory: a stale pid file whose PID now belongs
    # to another program, or to another cluster, is never acted on.
    if not pid_is(pid, str(data)):
        return True
    _pg_ctl(bindir, run_as, home, "stop", "-D", str(data), "-m", mode, "-w", "-t", "20", timeout=40)
    # pg_ctl -w has waited already; a zombie left for init to reap must not count as running.
    return wait_until(lambda: not pid_is(pid, str(data)), timeout=5)


def _initdb(bindir: Path, run_as: RunAs | None, home: Path, data: Path, user: str, password: str) -> None:
    pwfile = home / ".pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if run_as is not None:
        os.chown(pwfile, run_as.uid, run_as.gid)
    try:
        result = run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],  # no fsync: a throwaway cluster, and it saves seconds on slow disks
            run_as=run_as,
            env=_pg_env(),
            cwd=home,
            timeout=120,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise StartError(f"initdb failed:\n{result.stderr.strip() or result.stdout.strip()}")


def _configure(data: Path, port: int) -> None:
    # Appended settings override initdb's defaults. No Unix socket: the compiled-in socket directory
    # (/var/run/postgresql on Debian) is often not writable by us, and TCP on loopback is all we need.
    settings = (
        f"\n# asyncio-lab\nlisten_addresses = '{LOOPBACK}'\nport = {port}\nunix_socket_directories = ''\n"
    )
    with open(data / "postgresql.conf", "a") as fh:
        fh.write(settings)


def _create_database(entry: dict[str, Any]) -> None:
    """CREATE DATABASE over a real authenticated connection, which doubles as the readiness check."""

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(
            host=LOOPBACK,
            port=entry["port"],
            user=entry["user"],
            password=entry["password"],
            database="postgres",
            timeout=10,
        )
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", entry["database"]):
                await conn.execute(f"CREATE DATABASE {quote_ident(entry['database'])}")
        finally:
            await conn.close()

    # A worker thread with its own loop: works even when `main()` is called from a notebook cell.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result(timeout=30)
