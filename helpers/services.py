"""Find or start PostgreSQL and Redis, and give each notebook its own namespace in them.

In a notebook::

    import asyncpg, redis.asyncio
    from helpers import services

    ns = services.namespace(8)                 # schema "nb08_<you>", Redis keys "<you>:nb08:*"
    conn = await asyncpg.connect(services.postgres_url(), server_settings={"search_path": ns.schema})
    await services.reset_postgres(conn, ns)    # DROP + CREATE only this notebook's schema
    r = redis.asyncio.from_url(services.redis_url(), decode_responses=True)
    await services.reset_redis(r, ns)          # deletes only keys under ns.key_prefix

From a shell (the Makefile's ``make services`` runs ``up``)::

    python -m helpers services up        # Docker compose if an engine answers, else local binaries
    python -m helpers services status    # which route resolved, masked URL, does it answer
    python -m helpers services down      # stop what `up` started

``postgres_url()`` / ``redis_url()`` resolve in this order:

1. ``DATABASE_URL`` / ``REDIS_URL`` (an empty value counts as unset). If set but nothing answers,
   :class:`ServiceUnavailable` names the variable rather than silently using something else.
2. Servers started by ``services up`` from local binaries, recorded in ``.services/state.json`` at the
   repository root (git-ignored; override the folder with ``LAB_STATE_DIR``).
3. The docker compose services on 127.0.0.1 (ports ``LAB_PG_PORT``/``LAB_REDIS_PORT``, default
   55432/56379, credentials ``LAB_PG_USER``/``LAB_PG_PASSWORD``/``LAB_PG_DB``, default lab/lab/lab,
   the same defaults as docker-compose.yml). Only the process environment is read, not a ``.env`` file.
4. Otherwise :class:`ServiceUnavailable`, whose message is one line saying how to start them.

Resolution is synchronous and only makes short socket probes, so it is safe to call from a cell while
Jupyter's event loop is running.

Local servers (no Docker): PostgreSQL is initialised with a generated password and listens on a free
port on 127.0.0.1 only (no Unix socket); Redis is daemonised on 127.0.0.1 with a generated password and
no persistence. Both are daemons in their own session, so they outlive Jupyter kernel restarts until
``services down``. As root (containers, Colab, CI) PostgreSQL runs as the ``postgres`` user (else
``nobody``) with its data and log in a private 0700 folder under the system temp directory, because
PostgreSQL refuses to run as root and a repository under /root is not readable by that user.

Windows: the local-binaries route is untested there; use Docker (``docker compose up -d``) or set
``DATABASE_URL`` and ``REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import getpass
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

try:  # POSIX only; on Windows `up`/`down` simply run without a lock.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

try:
    import pwd
except ImportError:  # pragma: no cover
    pwd = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio

__all__ = [
    "Namespace",
    "ServiceUnavailable",
    "main",
    "namespace",
    "postgres_url",
    "redis_url",
    "reset",
    "reset_postgres",
    "reset_redis",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
LOOPBACK = "127.0.0.1"

# Loopback probes get an answer (or a refusal) in well under a millisecond; 0.3 s only matters when
# something is wedged. A URL from the environment may point across a network, so it gets longer.
LOCAL_PROBE_TIMEOUT = 0.3
ENV_PROBE_TIMEOUT = 1.0

START_HINT = "start it with `make services` (python -m helpers services up)"
LOG_TAIL_LINES = 20


# --------------------------------------------------------------------------------------------------
# The error a notebook sees
# --------------------------------------------------------------------------------------------------


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached; the message says, in one line, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # guarantee a single line

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the learner sees one actionable line,
        # not a wall of frames from inside this module.
        return [f"{type(self).__name__}: {self.message}"]


# --------------------------------------------------------------------------------------------------
# Namespaces: one Postgres schema and one Redis key prefix per (learner, notebook)
# --------------------------------------------------------------------------------------------------

NAME_MAX = 32  # keeps "nbNN_<name>" far below PostgreSQL's 63-byte identifier limit
_NAME_RE = re.compile(rf"[a-z][a-z0-9_]{{0,{NAME_MAX - 1}}}")


@dataclass(frozen=True)
class Namespace:
    """Where one learner's work for one notebook lives: ``schema`` in Postgres, ``key_prefix`` in Redis."""

    name: str  # learner namespace, already safe: [a-z][a-z0-9_]*
    notebook: str  # two digits, e.g. "08"

    def __post_init__(self) -> None:
        # Validated here too, so a hand-built Namespace cannot reach into someone else's keys.
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"namespace name must match [a-z][a-z0-9_]*, at most {NAME_MAX} characters: {self.name!r}"
            )
        if not re.fullmatch(r"\d{2}", self.notebook):
            raise ValueError(f"notebook must be two digits like '08': {self.notebook!r}")

    @property
    def schema(self) -> str:
        return f"nb{self.notebook}_{self.name}"

    @property
    def key_prefix(self) -> str:
        # ":" cannot occur in a name, so no learner's prefix is a prefix of another's.
        return f"{self.name}:nb{self.notebook}:"


def namespace(notebook: int | str) -> Namespace:
    """The namespace of the current learner (``LAB_NAMESPACE``, default the login name) for a notebook."""
    return Namespace(name=_learner_name(), notebook=_notebook_number(notebook))


def _learner_name() -> str:
    raw = os.environ.get("LAB_NAMESPACE", "").strip()
    if not raw:
        try:
            raw = getpass.getuser()
        except Exception:  # containers may run as a uid with no passwd entry
            raw = "learner"
    return _safe_name(raw)


def _safe_name(raw: str) -> str:
    """Lowercase ASCII letters, digits and single underscores, starting with a letter, bounded length."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")
    tag = hashlib.sha256(raw.encode()).hexdigest()[:8]
    if not name:  # e.g. a name written only in a non-Latin script: keep learners apart by a hash
        return f"u_{tag}"
    if not name[0].isalpha():
        name = f"u_{name}"
    if len(name) > NAME_MAX:  # truncate, but keep two long names that share a start distinct
        name = f"{name[: NAME_MAX - 9].rstrip('_')}_{tag}"
    return name


def _notebook_number(notebook: int | str) -> str:
    if isinstance(notebook, bool):
        raise TypeError("notebook must be a number like 8 or '08', not a bool")
    if isinstance(notebook, str) and re.fullmatch(r"\s*\d{1,2}\s*", notebook):
        notebook = int(notebook)
    if isinstance(notebook, int) and 0 <= notebook <= 99:
        return f"{notebook:02d}"
    raise ValueError(f"notebook must be a number from 0 to 99 like 8 or '08', got {notebook!r}")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def reset_postgres(conn: asyncpg.Connection | asyncpg.Pool, ns: Namespace) -> None:
    """Drop this namespace's schema with everything in it and create it empty. Other schemas are untouched."""
    schema = _quote_ident(ns.schema)
    # Without arguments asyncpg sends both statements in one simple query: one round trip, one transaction.
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")


async def reset_redis(client: redis.asyncio.Redis, ns: Namespace, *, batch: int = 500) -> int:
    """Delete the keys under ``ns.key_prefix`` (SCAN, never FLUSHDB); return how many were deleted."""
    prefix = ns.key_prefix
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"  # escape glob characters in MATCH
    deleted, pending = 0, []
    async for key in client.scan_iter(match=pattern, count=1000):
        # Belt and braces: only ever delete what really starts with our prefix.
        text = key.decode(errors="replace") if isinstance(key, bytes) else key
        if text.startswith(prefix):
            pending.append(key)
        if len(pending) >= batch:
            deleted += await client.delete(*pending)
            pending = []
    if pending:
        deleted += await client.delete(*pending)
    return deleted


async def reset(
    ns: Namespace,
    *,
    pg: asyncpg.Connection | asyncpg.Pool | None = None,
    redis: redis.asyncio.Redis | None = None,
) -> int:
    """Reset this namespace in whichever of ``pg`` / ``redis`` is given; return the Redis keys deleted."""
    if pg is None and redis is None:
        raise TypeError("reset() needs pg=<asyncpg connection or pool> and/or redis=<redis.asyncio client>")
    if pg is not None:
        await reset_postgres(pg, ns)
    return await reset_redis(redis, ns) if redis is not None else 0


# --------------------------------------------------------------------------------------------------
# Resolution: env -> local (state file) -> compose -> one clear error
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Service:
    key: str  # key in the state file
    label: str
    env_var: str
    default_port: int
    compose_port_var: str
    compose_port: int


POSTGRES = _Service("postgres", "PostgreSQL", "DATABASE_URL", 5432, "LAB_PG_PORT", 55432)
REDIS = _Service("redis", "Redis", "REDIS_URL", 6379, "LAB_REDIS_PORT", 56379)
SERVICES = (POSTGRES, REDIS)


@dataclass(frozen=True)
class Resolution:
    """What `postgres_url()`/`redis_url()` would use: route is env, local, compose or none."""

    service: _Service
    route: str
    url: str | None
    answers: bool


def postgres_url() -> str:
    """A URL of a PostgreSQL server that answers now, for ``asyncpg.connect()`` / ``create_pool()``."""
    return _url_or_raise(POSTGRES)


def redis_url() -> str:
    """A URL of a Redis server that answers now, for ``redis.asyncio.from_url()``."""
    return _url_or_raise(REDIS)


def _url_or_raise(service: _Service) -> str:
    found = _resolve(service)
    if found.answers and found.url:
        return found.url
    # `from None`: no chained context, so a notebook shows this one line and nothing else.
    raise ServiceUnavailable(_unavailable_message(found)) from None


def _unavailable_message(found: Resolution) -> str:
    s = found.service
    if found.route == "env":
        return (
            f"{s.env_var} is set but no {s.label} answers at {mask_url(found.url or '')}: "
            f"start that server, correct {s.env_var}, or unset it to use the local services."
        )
    return f"{s.label} is not running: {START_HINT}, or set {s.env_var} to a server you can use."


def resolve(kind: str) -> Resolution:
    """Which route ``"postgres"`` or ``"redis"`` resolves to right now, without raising (for diagnostics)."""
    by_key = {service.key: service for service in SERVICES}
    if kind not in by_key:
        raise ValueError(f"kind must be 'postgres' or 'redis', got {kind!r}")
    return _resolve(by_key[kind])


def _resolve(service: _Service) -> Resolution:
    env_url = os.environ.get(service.env_var, "").strip()
    if env_url:
        return Resolution(service, "env", env_url, _env_url_answers(service, env_url))
    entry = _read_state(_state_dir()).get(service.key)
    if isinstance(entry, dict) and _speaks(service, _port_of(entry)):
        return Resolution(service, "local", _local_url(service, entry), True)
    port = _compose_port(service)
    if _speaks(service, port):
        return Resolution(service, "compose", _compose_url(service, port), True)
    return Resolution(service, "none", None, False)


def _port_of(entry: Any) -> int:
    try:
        return int(entry.get("port", 0)) if isinstance(entry, dict) else 0
    except (TypeError, ValueError):
        return 0


def _compose_port(service: _Service) -> int:
    value = os.environ.get(service.compose_port_var, "").strip()
    return int(value) if value.isdigit() else service.compose_port


def _compose_url(service: _Service, port: int) -> str:
    if service is REDIS:
        return f"redis://{LOOPBACK}:{port}/0"
    user = os.environ.get("LAB_PG_USER") or "lab"
    password = os.environ.get("LAB_PG_PASSWORD") or "lab"
    db = os.environ.get("LAB_PG_DB") or "lab"
    user, password, db = (quote(part, safe="") for part in (user, password, db))
    return f"postgresql://{user}:{password}@{LOOPBACK}:{port}/{db}"


def _local_url(service: _Service, entry: dict[str, Any]) -> str:
    password = quote(str(entry["password"]), safe="")
    if service is REDIS:
        return f"redis://:{password}@{LOOPBACK}:{entry['port']}/0"
    return f"postgresql://{entry['user']}:{password}@{LOOPBACK}:{entry['port']}/{entry['database']}"


def _url_parts(url: str) -> tuple[str, str, str, str]:
    """(scheme, netloc, path, query) of a URL, split by hand; any #fragment is dropped.

    libpq accepts several hosts in one URL (``postgresql://h1:5432,[::1]:5433/db``), which
    ``urllib.parse.urlsplit`` rejects on current Python patch releases ("Invalid IPv6 URL").
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    rest, _, query = rest.partition("#")[0].partition("?")
    netloc, slash, path = rest.partition("/")
    return scheme, netloc, slash + path, query


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for printing."""
    scheme, netloc, path, query = _url_parts(url)
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


# ---- probes ------------------------------------------------------------------------------------

Endpoint = tuple[str, int] | str  # (host, port) or a Unix socket path


def _connect(endpoint: Endpoint, timeout: float) -> socket.socket | None:
    try:
        if isinstance(endpoint, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint)
            return sock
        return socket.create_connection(endpoint, timeout=timeout)
    except (OSError, ValueError):
        return None


def _speaks(service: _Service, port: int, timeout: float = LOCAL_PROBE_TIMEOUT) -> bool:
    """Does a server of this kind answer on 127.0.0.1:port? A protocol-level check that needs no password,
    so an unrelated program on the port is not mistaken for PostgreSQL or Redis."""
    if not 0 < port < 65536:
        return False
    sock = _connect((LOOPBACK, port), timeout)
    if sock is None:
        return False
    with sock:
        try:
            if service is POSTGRES:
                # SSLRequest: every PostgreSQL answers a single byte, S or N (E from very old servers);
                # a client that then hangs up is deliberately not logged by the server.
                sock.sendall(struct.pack("!ii", 8, 80877103))
                return sock.recv(1) in (b"S", b"N", b"E")
            sock.sendall(b"PING\r\n")  # +PONG, or -NOAUTH when a password is set: Redis either way
            return sock.recv(1) in (b"+", b"-")
        except OSError:
            return False


def _env_url_answers(service: _Service, url: str) -> bool:
    """Can anything be reached at the URL's host(s)? TCP only: the server may sit behind TLS or a pooler."""
    try:
        endpoints = _pg_endpoints(url) if service is POSTGRES else _redis_endpoints(url)
    except ValueError:
        return True  # a URL we cannot parse is left for the driver to judge, with its own error
    for endpoint in endpoints:
        sock = _connect(endpoint, ENV_PROBE_TIMEOUT)
        if sock is not None:
            sock.close()
            return True
    return False


def _split_host_port(item: str) -> tuple[str, int | None]:
    if item.startswith("["):  # [::1]:5432
        host, _, rest = item[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:] else None
    host, colon, port = item.rpartition(":")
    if not colon or "/" in item:  # no port, or a percent-decoded socket directory
        return item, None
    return host, int(port) if port else None


def _pg_endpoints(url: str) -> list[Endpoint]:
    """The places asyncpg would try for a libpq-style URL (multiple hosts, ?host=/socket/dir, defaults)."""
    _, netloc, _, raw_query = _url_parts(url)
    query = {k: v[-1] for k, v in parse_qs(raw_query).items()}
    hostinfo = netloc.rpartition("@")[2]
    items = [unquote(h) for h in hostinfo.split(",") if h]
    if not items:
        items = [h for h in (query.get("host") or os.environ.get("PGHOST", "")).split(",") if h]
    default_port = int(query.get("port") or os.environ.get("PGPORT") or 5432)
    if not items:  # asyncpg's own defaults on POSIX
        items = ["/run/postgresql", "/var/run/postgresql", "/tmp", "/private/tmp", "localhost"]
    endpoints: list[Endpoint] = []
    for item in items:
        host, port = _split_host_port(item)
        port = port or default_port
        endpoints.append(f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port))
    return endpoints


def _redis_endpoints(url: str) -> list[Endpoint]:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return [unquote(parts.path)]
    return [(parts.hostname or "localhost", parts.port or REDIS.default_port)]


# --------------------------------------------------------------------------------------------------
# State: .services/state.json (mode 0600, it holds the generated passwords)
# --------------------------------------------------------------------------------------------------


def _state_dir() -> Path:
    override = os.environ.get("LAB_STATE_DIR", "").strip()
    return Path(override).expanduser().resolve() if override else REPO_ROOT / ".services"


def _read_state(state_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((state_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(state_dir: Path, state: dict[str, Any]) -> None:
    path = state_dir / "state.json"
    if not state:
        path.unlink(missing_ok=True)
        return
    tmp = state_dir / "state.json.tmp"
    tmp.unlink(missing_ok=True)
    # Created 0600 from the start (never world-readable, not even briefly), then swapped in atomically
    # so a notebook resolving a URL at the same moment never reads half a file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise `up`/`down`, e.g. two kernels running `services up` at once."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is not a folder" if state_dir.exists() else exc.strerror
        raise _StartError(f"cannot keep the services' state in {state_dir} ({reason}); "
                          "set LAB_STATE_DIR to a folder you can write, or unset it") from None
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with open(state_dir / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------------------------------
# Local servers: finding binaries, running as an unprivileged user when root
# --------------------------------------------------------------------------------------------------


class _StartError(Exception):
    """`up`/`down` cannot continue; the message is printed as is."""


@dataclass(frozen=True)
class _RunAs:
    name: str
    uid: int
    gid: int


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _pg_run_as() -> _RunAs | None:
    """As root, the unprivileged account PostgreSQL runs as (it refuses to run as root); else None."""
    if not _is_root() or pwd is None:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _RunAs(name, entry.pw_uid, entry.pw_gid)
    raise _StartError("running as root, but there is no `postgres` or `nobody` user to run PostgreSQL as")


def _run(
    cmd: list[str],
    *,
    run_as: _RunAs | None = None,
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


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)) or (0,)


def _newest_first(pattern_dirs: list[Path]) -> list[Path]:
    return sorted(pattern_dirs, key=lambda p: _version_key(p.parent.name), reverse=True)


def _pg_bindir_candidates() -> list[Path]:
    """Debian/Ubuntu (newest first), PATH, Homebrew, Postgres.app, conda, RHEL/PGDG."""
    dirs = _newest_first(list(Path("/usr/lib/postgresql").glob("*/bin")))
    on_path = shutil.which("pg_ctl")
    if on_path:  # follow symlinks: initdb and postgres live next to the real pg_ctl
        dirs.append(Path(on_path).resolve().parent)
    for prefix in (Path("/opt/homebrew/opt"), Path("/usr/local/opt")):
        dirs += _newest_first(list(prefix.glob("postgresql@*/bin")))
        dirs.append(prefix / "postgresql" / "bin")
    dirs.append(Path("/Applications/Postgres.app/Contents/Versions/latest/bin"))
    if os.environ.get("CONDA_PREFIX"):
        dirs.append(Path(os.environ["CONDA_PREFIX"]) / "bin")
    dirs += _newest_first(list(Path("/").glob("usr/pgsql-*/bin")))
    return list(dict.fromkeys(dirs))  # de-duplicate, keep order


def _redis_candidates() -> list[Path]:
    found = shutil.which("redis-server")
    paths = [Path(found)] if found else []
    paths += [Path(d) / "redis-server" for d in ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")]
    if os.environ.get("CONDA_PREFIX"):
        paths.append(Path(os.environ["CONDA_PREFIX"]) / "bin" / "redis-server")
    return list(dict.fromkeys(paths))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _postgres_version(bindir: Path, run_as: _RunAs | None) -> str | None:
    """The server version, checked by running it as the user it will run as (None if it cannot run):
    as root this catches binaries the unprivileged user cannot reach, e.g. a conda env under /root."""
    try:
        out = _run([str(bindir / "postgres"), "-V"], run_as=run_as, cwd=Path("/"), timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
    return match.group(1) if match else None


def _find_pg(run_as: _RunAs | None) -> tuple[Path, str] | None:
    for bindir in _pg_bindir_candidates():
        if all(_executable(bindir / tool) for tool in ("initdb", "pg_ctl", "postgres")):
            version = _postgres_version(bindir, run_as)
            if version:
                return bindir, version
    return None


def _find_redis() -> Path | None:
    return next((p for p in _redis_candidates() if _executable(p)), None)


def _missing_binaries_message(missing: list[str]) -> str:
    what = " and ".join(missing)
    return "\n".join(
        [
            f"Cannot start local services: {what} not found "
            "(looked in /usr/lib/postgresql/*/bin, PATH, Homebrew, Postgres.app and $CONDA_PREFIX/bin).",
            "Install them with one of:",
            "  Debian/Ubuntu:  sudo apt-get install postgresql redis-server",
            "  macOS:          brew install postgresql@16 redis",
            "  conda:          conda install -c conda-forge postgresql redis-server",
            "or start Docker and run `python -m helpers services up` again (it uses docker-compose.yml),",
            "or set DATABASE_URL and REDIS_URL to servers you can use.",
        ]
    )


def _free_port() -> int:
    # Ask the kernel for a free loopback port; the tiny race until the server binds is acceptable here.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
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


def _pid_is(pid: int, program: str) -> bool:
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
        ps = subprocess.run(["ps", "-o", "command=", "-p", str(pid)],
                            capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return program in ps.stdout


def _wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# ---- where local data lives --------------------------------------------------------------------


def _pg_home(state_dir: Path, run_as: _RunAs | None) -> Path:
    """Folder holding the cluster (`pg/`) and `postgres.log`: the state dir, or as root a private temp dir.

    The temp dir name hashes the state dir, so a test's LAB_STATE_DIR never shares a cluster with the
    developer's default one.
    """
    if run_as is None:
        return state_dir
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return _system_temp() / f"asyncio-lab-{digest}"


def _system_temp() -> Path:
    # TMPDIR may point somewhere only root can enter (e.g. under /root); the unprivileged server user
    # must be able to traverse it, so fall back to /tmp in that case.
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        if base.stat().st_mode & stat.S_IXOTH:
            return base
    return Path("/tmp")


def _prepare_private_dir(path: Path, run_as: _RunAs) -> None:
    """Create `path` as a 0700 folder owned by `run_as`, refusing anything someone else planted there."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, run_as.uid):
        raise _StartError(f"{path} exists but is not a folder owned by root or {run_as.name}; "
                          "remove it and retry")
    # Checked above that it is a real folder; in the sticky temp dir only root or its owner can swap it.
    os.chown(path, run_as.uid, run_as.gid)
    os.chmod(path, 0o700)


def _remove_cluster_dir(data: Path) -> None:
    """Delete a cluster directory, but only if it is one (LAB_STATE_DIR may point at a user's folder)."""
    if not data.exists():
        return
    if data.is_symlink() or not ((data / "PG_VERSION").exists() or not any(data.iterdir())):
        raise _StartError(f"{data} exists and is not a PostgreSQL cluster; not deleting it. "
                          "Remove it and retry.")
    shutil.rmtree(data)


# ---- PostgreSQL --------------------------------------------------------------------------------


def _pg_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, ...) from the caller's shell must not redirect our private server;
    # LC_ALL=C avoids failures when the shell's locale is not installed for the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _pg_ctl(
    bindir: Path, run_as: _RunAs | None, home: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # pg_ctl, like postgres, refuses to run as root, so it always runs as the server's user.
    cmd = [str(bindir / "pg_ctl"), *args]
    return _run(cmd, run_as=run_as, env=_pg_env(), cwd=home, timeout=timeout, daemon=True)


def _postmaster_pid(data: Path) -> int:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _stop_postgres(bindir: Path, run_as: _RunAs | None, home: Path, mode: str = "fast") -> bool:
    """Stop the cluster in `home` if its postmaster still runs; True once nothing of it is running."""
    data = home / "pg"
    pid = _postmaster_pid(data)
    # The postmaster's command line holds its data directory: a stale pid file whose PID now belongs
    # to another program, or to another cluster, is never acted on.
    if not _pid_is(pid, str(data)):
        return True
    _pg_ctl(bindir, run_as, home, "stop", "-D", str(data), "-m", mode, "-w", "-t", "20", timeout=40)
    # pg_ctl -w has waited already; a zombie left for init to reap must not count as running.
    return _wait_until(lambda: not _pid_is(pid, str(data)), timeout=5)


def _start_postgres(state_dir: Path, bindir: Path, version: str, run_as: _RunAs | None) -> dict[str, Any]:
    home = _pg_home(state_dir, run_as)
    if run_as is not None:
        _prepare_private_dir(home, run_as)
    data, log = home / "pg", home / "postgres.log"
    # A previous cluster here is stale (its server did not answer): stop whatever is left, start afresh.
    _stop_postgres(bindir, run_as, home, mode="immediate")
    _remove_cluster_dir(data)
    log.unlink(missing_ok=True)
    entry: dict[str, Any] = {
        "port": _free_port(),
        "user": "lab",
        "database": "lab",
        # A generated password rather than `trust`: with trust, every account on a shared machine
        # (JupyterHub node, lab workstation) could connect to 127.0.0.1 as superuser. The password
        # lives only in the 0600 state file and in the URL that postgres_url() returns.
        "password": secrets.token_urlsafe(18),
        "bindir": str(bindir),
        "version": version,
        "home": str(home),
        "run_as": run_as.name if run_as else None,
        "log": str(log),
    }
    _initdb(bindir, run_as, home, data, entry["user"], entry["password"])
    _configure(data, entry["port"])
    started = _pg_ctl(bindir, run_as, home, "start", "-D", str(data), "-l", str(log), "-w", "-t", "30",
                      timeout=45)
    if started.returncode != 0:
        raise _StartError(f"PostgreSQL did not start ({started.stderr.strip() or started.stdout.strip()}). "
                          f"Last lines of {log}:\n{_tail(log)}")
    try:
        _create_database(entry)
    except Exception as exc:
        _stop_postgres(bindir, run_as, home)
        raise _StartError(
            f"PostgreSQL started but the database could not be created: {exc}\n{_tail(log)}"
        ) from None
    return entry


def _initdb(bindir: Path, run_as: _RunAs | None, home: Path, data: Path, user: str, password: str) -> None:
    pwfile = home / ".pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    if run_as is not None:
        os.chown(pwfile, run_as.uid, run_as.gid)
    try:
        result = _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
             "--no-sync"],  # no fsync: a throwaway cluster, and it saves seconds on slow disks
            run_as=run_as, env=_pg_env(), cwd=home, timeout=120,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise _StartError(f"initdb failed:\n{result.stderr.strip() or result.stdout.strip()}")


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

        conn = await asyncpg.connect(host=LOOPBACK, port=entry["port"], user=entry["user"],
                                     password=entry["password"], database="postgres", timeout=10)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", entry["database"]):
                await conn.execute(f"CREATE DATABASE {_quote_ident(entry['database'])}")
        finally:
            await conn.close()

    # A worker thread with its own loop: works even when `main()` is called from a notebook cell.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, create()).result(timeout=30)


# ---- Redis -------------------------------------------------------------------------------------


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words
    )


def _redis_command(port: int, password: str | None, *command: str, timeout: float = 1.0) -> bytes | None:
    """Run one command after AUTH on a fresh connection and return its first reply line: b"" if the
    server hung up (as SHUTDOWN does), None if nothing answers or AUTH is refused. AUTH is checked
    before the command is sent, so a server that is not ours (a reused port) never receives it.
    Plain sockets rather than redis-py: no retries or backoff to wait through."""
    sock = _connect((LOOPBACK, port), timeout)
    if sock is None:
        return None
    with sock, sock.makefile("rb") as replies:
        try:
            if password:
                sock.sendall(_resp("AUTH", password))
                if replies.readline().rstrip() != b"+OK":
                    return None
            sock.sendall(_resp(*command))
            return replies.readline().rstrip()
        except OSError:
            return None


def _redis_conf_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _start_redis(state_dir: Path, binary: Path) -> dict[str, Any]:
    conf, pidfile, log = state_dir / "redis.conf", state_dir / "redis.pid", state_dir / "redis.log"
    _kill_leftover_redis(pidfile)
    log.unlink(missing_ok=True)
    entry: dict[str, Any] = {
        "port": _free_port(),
        # Redis has no users here; a password keeps other local accounts out, as for PostgreSQL.
        "password": secrets.token_urlsafe(18),
        "binary": str(binary),
        "conf": str(conf),
        "pidfile": str(pidfile),
        "log": str(log),
    }
    lines = [
        f"bind {LOOPBACK}",
        f"port {entry['port']}",
        "protected-mode yes",
        "daemonize yes",
        f"pidfile {_redis_conf_value(str(pidfile))}",
        f"logfile {_redis_conf_value(str(log))}",
        f"dir {_redis_conf_value(str(state_dir))}",
        'save ""',  # teaching data: no RDB snapshots or AOF written next to the repository
        "appendonly no",
        f"requirepass {_redis_conf_value(entry['password'])}",
    ]
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the password
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    # Redis forks, detaches (setsid) and redirects its output to the log before the parent exits.
    result = _run([str(binary), str(conf)], cwd=state_dir, timeout=20, daemon=True)
    ready = result.returncode == 0 and _wait_until(
        lambda: _redis_command(entry["port"], entry["password"], "PING") == b"+PONG", timeout=10
    )
    if not ready:
        raise _StartError(f"Redis did not start ({(result.stderr or result.stdout).strip()}). "
                          f"Last lines of {log}:\n{_tail(log)}")
    _wait_until(pidfile.exists, timeout=2)
    entry["pid"] = _read_pid(pidfile)
    return entry


def _read_pid(pidfile: Path) -> int:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _kill_leftover_redis(pidfile: Path) -> None:
    pid = _read_pid(pidfile)
    if _pid_is(pid, "redis-server"):
        os.kill(pid, signal.SIGTERM)
        _wait_until(lambda: not _pid_is(pid, "redis-server"), timeout=5)
    pidfile.unlink(missing_ok=True)


def _stop_redis(entry: dict[str, Any], state_dir: Path) -> bool:
    pidfile = Path(entry.get("pidfile") or state_dir / "redis.pid")
    pid = int(entry.get("pid") or _read_pid(pidfile))
    if entry.get("port"):
        _redis_command(int(entry["port"]), entry.get("password"), "SHUTDOWN", "NOSAVE")
    if pid and not _wait_until(lambda: not _pid_is(pid, "redis-server"), timeout=5):
        _kill_leftover_redis(pidfile)  # SHUTDOWN refused or unreachable: fall back to SIGTERM by PID
    stopped = not _pid_is(pid, "redis-server")
    if stopped:
        for name in ("conf", "pidfile", "log"):
            if entry.get(name):
                Path(entry[name]).unlink(missing_ok=True)
    return stopped


# --------------------------------------------------------------------------------------------------
# Docker compose
# --------------------------------------------------------------------------------------------------


def _docker_ready() -> bool:
    """A Docker engine answers and the compose plugin exists (both checked quickly)."""
    if not shutil.which("docker"):
        return False
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=5)
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return False
    return info.returncode == 0 and bool(info.stdout.strip()) and compose.returncode == 0


def _compose(*args: str) -> int:
    # Output goes straight to the terminal: image pulls can take a while and show progress.
    cmd = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
    try:
        return subprocess.run(cmd, timeout=600, stdin=subprocess.DEVNULL).returncode
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"{' '.join(cmd)} failed: {exc}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------------------------------
# Command line: up | status | down
# --------------------------------------------------------------------------------------------------

USAGE = """usage: python -m helpers services {up [--local|--docker] | status | down}

  up      start PostgreSQL and Redis: docker compose if a Docker engine answers, else local binaries
          (--local / --docker force one route); a no-op if they are already running
  status  show which route each service resolves to, its URL (password masked), and whether it answers
  down    stop what `up` started and remove its state"""


def _line(service: _Service, url: str | None, note: str) -> str:
    return f"{service.label:<11} {mask_url(url) if url else '-'}  ({note})"


def _env_url(service: _Service) -> str | None:
    return os.environ.get(service.env_var, "").strip() or None


def _env_notes() -> None:
    for service in SERVICES:
        if os.environ.get(service.env_var, "").strip():
            print(f"note: {service.env_var} is set, so notebooks use it instead of these servers")


def _cmd_up(route: str = "auto") -> int:
    state_dir = _state_dir()
    with _locked(state_dir):
        state = _read_state(state_dir)
        local_recorded = any(service.key in state for service in SERVICES)
        all_from_env = all(_env_url(service) for service in SERVICES)
        if route == "docker" or (route == "auto" and not local_recorded and not all_from_env and _docker_ready()):
            code = _up_compose(state_dir, state)
            if code == 0 or route == "docker":
                return code
            print("docker compose did not start the services; trying local binaries instead", file=sys.stderr)
        return _up_local(state_dir, state)


def _up_compose(state_dir: Path, state: dict[str, Any]) -> int:
    if not _docker_ready():
        print("No Docker engine answers (or the compose plugin is missing): start Docker, "
              "or run `python -m helpers services up --local`.", file=sys.stderr)
        return 1
    code = _compose("up", "-d", "--wait")
    if code == 0:
        state["compose"] = {"file": str(COMPOSE_FILE)}
        _write_state(state_dir, state)
        for service in SERVICES:
            print(_line(service, _compose_url(service, _compose_port(service)), "docker compose"))
        _env_notes()
    return code


def _up_local(state_dir: Path, state: dict[str, Any]) -> int:
    pg_entry, redis_entry = state.get("postgres"), state.get("redis")
    # A service given by DATABASE_URL / REDIS_URL (CI service containers, a classroom server) is not
    # started locally: notebooks would never use it, and its binaries may not even be installed.
    pg_from_env, redis_from_env = (_env_url(service) is not None for service in (POSTGRES, REDIS))
    pg_running = pg_from_env or _speaks(POSTGRES, _port_of(pg_entry))
    redis_running = redis_from_env or _speaks(REDIS, _port_of(redis_entry))
    run_as = None if pg_running else _pg_run_as()
    pg = None if pg_running else _find_pg(run_as)
    redis_bin = None if redis_running else _find_redis()
    missing = [name for name, needed, found in (("PostgreSQL", not pg_running, pg),
                                                 ("redis-server", not redis_running, redis_bin))
               if needed and not found]
    if missing:
        print(_missing_binaries_message(missing), file=sys.stderr)
        return 1

    def start_postgres() -> tuple[dict[str, Any], str]:
        assert pg is not None
        how = f"as user {run_as.name}" if run_as else "local"
        return _start_postgres(state_dir, pg[0], pg[1], run_as), f"started PostgreSQL {pg[1]}, {how}"

    def start_redis() -> tuple[dict[str, Any], str]:
        assert redis_bin is not None
        return _start_redis(state_dir, redis_bin), f"started {redis_bin}"

    for service, from_env, running, entry, start in (
        (POSTGRES, pg_from_env, pg_running, pg_entry, start_postgres),
        (REDIS, redis_from_env, redis_running, redis_entry, start_redis),
    ):
        if from_env:
            print(_line(service, _env_url(service), f"{service.env_var} is set: nothing to start"))
        elif running:
            print(_line(service, _local_url(service, entry), "already running"))
        else:
            state[service.key], note = start()
            _write_state(state_dir, state)  # recorded at once, so `down` can stop it if the next fails
            print(_line(service, _local_url(service, state[service.key]), note))
    return 0  # no _env_notes() here: a service given by env was not started, and its line says so


def _cmd_status() -> int:
    all_answer = True
    for service in SERVICES:
        found = _resolve(service)
        all_answer &= found.answers
        if found.route == "none":
            print(f"{service.label:<11} {'none':<8} {_unavailable_message(found)}")
        else:
            source = f" (from {service.env_var})" if found.route == "env" else ""
            answer = "answers" if found.answers else "does NOT answer"
            print(f"{service.label:<11} {found.route:<8} {mask_url(found.url or '')}{source}  {answer}")
    return 0 if all_answer else 1


def _cmd_down() -> int:
    state_dir = _state_dir()
    ok = True
    with _locked(state_dir):
        state = _read_state(state_dir)
        for stop in (_down_postgres, _down_redis):
            try:
                ok &= stop(state_dir, state)
            except _StartError as exc:
                print(f"services down: {exc}", file=sys.stderr)
                ok = False
        if "compose" in state:
            if _docker_ready() and _compose("down") == 0:  # volumes are kept
                state.pop("compose")
                print("docker compose services stopped (data volume kept)")
            else:
                print("could not run `docker compose down`; is Docker running?", file=sys.stderr)
                ok = False
        _write_state(state_dir, state)
    return 0 if ok else 1


def _down_postgres(state_dir: Path, state: dict[str, Any]) -> bool:
    entry = state.get("postgres") if isinstance(state.get("postgres"), dict) else None
    # Without a state file a cluster may still be running (e.g. .services/state.json was deleted):
    # its location is deterministic, so look there too.
    run_as = _pg_run_as() if entry is None else _lookup_run_as(entry.get("run_as"))
    home = Path(entry["home"]) if entry else _pg_home(state_dir, run_as)
    if entry is None and not (home / "pg" / "PG_VERSION").exists():
        print(f"{POSTGRES.label:<11} not running")
        return True
    bindir = Path(entry["bindir"]) if entry else (_find_pg(run_as) or (None, None))[0]
    if bindir is None or not _stop_postgres(bindir, run_as, home):
        print(f"{POSTGRES.label:<11} could not be stopped; see {home / 'postgres.log'}", file=sys.stderr)
        return False
    _remove_cluster_dir(home / "pg")
    (home / "postgres.log").unlink(missing_ok=True)
    if run_as is not None and home != state_dir:
        with contextlib.suppress(OSError):
            home.rmdir()  # only if empty: never delete anything we did not create
    state.pop("postgres", None)
    print(f"{POSTGRES.label:<11} stopped")
    return True


def _lookup_run_as(name: str | None) -> _RunAs | None:
    if not name or pwd is None:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise _StartError(f"PostgreSQL was started as user {name!r}, which no longer exists") from None
    return _RunAs(name, entry.pw_uid, entry.pw_gid)


def _down_redis(state_dir: Path, state: dict[str, Any]) -> bool:
    entry = state.get("redis") if isinstance(state.get("redis"), dict) else None
    if entry is None:
        pidfile = state_dir / "redis.pid"
        if not _pid_is(_read_pid(pidfile), "redis-server"):
            pidfile.unlink(missing_ok=True)
            print(f"{REDIS.label:<11} not running")
            return True
        entry = {"pidfile": str(pidfile)}
    if not _stop_redis(entry, state_dir):
        print(f"{REDIS.label:<11} could not be stopped (pid {entry.get('pid')})", file=sys.stderr)
        return False
    state.pop("redis", None)
    print(f"{REDIS.label:<11} stopped")
    return True


def main(argv: list[str]) -> int:
    """Entry point of `python -m helpers services up|status|down`; returns the exit code."""
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    command, options = argv[0], argv[1:]
    try:
        if command == "up" and set(options) <= {"--local", "--docker"} and len(options) <= 1:
            return _cmd_up(options[0][2:] if options else "auto")
        if command in {"status", "down"} and not options:
            return _cmd_status() if command == "status" else _cmd_down()
    except _StartError as exc:  # the one place `up` and `status` report a failure that stops them
        print(f"services {command} failed: {exc}", file=sys.stderr)
        return 1
    print(f"unknown arguments: {' '.join(argv)}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
