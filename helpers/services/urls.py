"""The two kinds of service, their URLs, and URL handling that libpq's rules need (masking, endpoints)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Service:
    """One kind of service the notebooks use, with the variables and ports that locate it."""

    key: str  # key in the state file, and the name `resolve()` takes
    label: str
    env_var: str
    default_port: int
    compose_port_var: str
    compose_port: int


POSTGRES = Service("postgres", "PostgreSQL", "DATABASE_URL", 5432, "LAB_PG_PORT", 55432)
REDIS = Service("redis", "Redis", "REDIS_URL", 6379, "LAB_REDIS_PORT", 56379)
SERVICES = (POSTGRES, REDIS)

Endpoint = tuple[str, int] | str  # (host, port) or a Unix socket path


def env_url(service: Service) -> str | None:
    """The service's URL from the environment (an empty value counts as unset)."""
    return os.environ.get(service.env_var, "").strip() or None


def url_parts(url: str) -> tuple[str, str, str, str]:
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
    scheme, netloc, path, query = url_parts(url)
    userinfo, at, hostinfo = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostinfo}"
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", query)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _split_host_port(item: str) -> tuple[str, int | None]:
    if item.startswith("["):  # [::1]:5432
        host, _, rest = item[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:] else None
    host, colon, port = item.rpartition(":")
    if not colon or "/" in item:  # no port, or a percent-decoded socket directory
        return item, None
    return host, int(port) if port else None


def pg_endpoints(url: str) -> list[Endpoint]:
    """The places asyncpg would try for a libpq-style URL (multiple hosts, ?host=/socket/dir, defaults)."""
    _, netloc, _, raw_query = url_parts(url)
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


def redis_endpoints(url: str) -> list[Endpoint]:
    """Where redis-py would connect for a ``redis://``, ``rediss://`` or ``unix://`` URL."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return [unquote(parts.path)]
    return [(parts.hostname or "localhost", parts.port or REDIS.default_port)]
