"""Preflight check: Python, packages, PostgreSQL, Redis and a lab-server round trip.

    python -m helpers doctor            # exit 0 when everything works, 1 with fixes otherwise

    report = await helpers.doctor.check_all()    # from a notebook cell (a loop is running)
    assert report.ok, report

Each finding is one line: ``✓ what: detail`` or ``✗ what: problem`` followed by ``fix: …``.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from importlib import metadata

# What the notebooks' kernel imports. JupyterLab is only the front end: Colab, VS Code or a JupyterHub
# may show the notebooks with their own, so a notebook cell does not ask for it; the command line does.
KERNEL_PACKAGES = [
    "ipykernel",
    "ipywidgets",
    "nest-asyncio",
    "aiohttp",
    "asyncpg",
    "redis",
    "matplotlib",
    "tqdm",
    "tenacity",
]
FRONTEND_PACKAGES = ["jupyterlab"]
INSTALL_FIX = (
    "run `make lab` (or: .venv/bin/pip install -c constraints.txt -e '.[test]') from the project folder"
)
SERVICES_FIX = "run `make services` (python -m helpers services up), or set DATABASE_URL / REDIS_URL"


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"{'✓' if self.ok else '✗'} {self.what}: {self.detail}"
        return line if self.ok or not self.fix else f"{line}\n    fix: {self.fix}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def __str__(self) -> str:
        return "\n".join(map(str, self.findings))


def check_python() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = (3, 11) <= sys.version_info[:2]
    return Finding("Python", ok, version, "" if ok else "install Python 3.11, 3.12 or 3.13")


def check_packages(names: list[str]) -> list[Finding]:
    findings = []
    for name in names:
        try:
            findings.append(Finding(name, True, metadata.version(name)))
        except metadata.PackageNotFoundError:
            findings.append(Finding(name, False, "not installed", INSTALL_FIX))
    return findings


async def check_postgres() -> Finding:
    from helpers import services

    try:
        import asyncpg

        url = services.postgres_url()
        conn = await asyncpg.connect(url, timeout=5)
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return Finding("PostgreSQL", True, f"server {version} ({services.resolve('postgres').route})")
    except (TimeoutError, services.ServiceUnavailable, OSError, ImportError) as exc:
        return Finding("PostgreSQL", False, _one_line(exc), SERVICES_FIX)
    except Exception as exc:  # noqa: BLE001 - asyncpg's auth/protocol errors: report, don't crash
        return Finding("PostgreSQL", False, f"{type(exc).__name__}: {_one_line(exc)}", SERVICES_FIX)


async def check_redis() -> Finding:
    from helpers import services

    try:
        import redis.asyncio as redis

        async with redis.from_url(services.redis_url(), socket_connect_timeout=5) as client:
            info = await client.info("server")
        # Valkey reports a Redis-compatible redis_version, and its own version beside it.
        server = f"Valkey {info['valkey_version']}" if "valkey_version" in info else info["redis_version"]
        return Finding("Redis", True, f"server {server} ({services.resolve('redis').route})")
    except (services.ServiceUnavailable, OSError, ImportError) as exc:
        return Finding("Redis", False, _one_line(exc), SERVICES_FIX)
    except Exception as exc:  # noqa: BLE001 - redis-py's connection errors: report, don't crash
        return Finding("Redis", False, f"{type(exc).__name__}: {_one_line(exc)}", SERVICES_FIX)


async def check_labserver() -> Finding:
    from helpers import labserver

    try:
        import aiohttp

        with labserver.start() as server:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                async with session.get(f"{server.url}/get") as response:
                    response.raise_for_status()
                    await response.json()
        return Finding("lab server", True, "GET /get answered 200")
    except Exception as exc:  # noqa: BLE001 - any failure here means the notebooks cannot run
        return Finding("lab server", False, f"{type(exc).__name__}: {_one_line(exc)}", INSTALL_FIX)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def check_all(*, frontend: bool = False) -> Report:
    """Every check; ``frontend=True`` also wants JupyterLab (the `make lab` route) in this environment."""
    packages = FRONTEND_PACKAGES + KERNEL_PACKAGES if frontend else KERNEL_PACKAGES
    report = Report([check_python(), *check_packages(packages)])
    report.findings += await asyncio.gather(check_postgres(), check_redis(), check_labserver())
    return report


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m helpers doctor", file=sys.stderr)
        return 2
    report = asyncio.run(check_all(frontend=True))
    print(report)
    print(
        "all good: open the notebooks with `make lab`"
        if report.ok
        else "\nsome checks failed: see the fixes above"
    )
    return 0 if report.ok else 1
