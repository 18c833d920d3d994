"""The local servers `services up` can run, one per kind of service."""

from __future__ import annotations

from .local import LocalServer
from .postgres_server import PostgresServer
from .redis_server import RedisServer

SERVERS: tuple[LocalServer, ...] = (PostgresServer(), RedisServer())
BY_KEY = {server.service.key: server for server in SERVERS}
