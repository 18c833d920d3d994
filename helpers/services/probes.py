"""Short socket probes: does a PostgreSQL or Redis answer here? Synchronous, safe inside a running loop."""

from __future__ import annotations

import socket
import struct

from .urls import LOOPBACK, POSTGRES, Endpoint, Service, pg_endpoints, redis_endpoints

# Loopback probes get an answer (or a refusal) in well under a millisecond; 0.3 s only matters when
# something is wedged. A URL from the environment may point across a network, so it gets longer.
LOCAL_PROBE_TIMEOUT = 0.3
ENV_PROBE_TIMEOUT = 1.0


def connect(endpoint: Endpoint, timeout: float) -> socket.socket | None:
    """A connected socket to (host, port) or a Unix socket path, or None."""
    try:
        if isinstance(endpoint, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint)
            return sock
        return socket.create_connection(endpoint, timeout=timeout)
    except (OSError, ValueError):
        return None


def speaks(service: Service, port: int, timeout: float = LOCAL_PROBE_TIMEOUT) -> bool:
    """Does a server of this kind answer on 127.0.0.1:port? A protocol-level check that needs no password,
    so an unrelated program on the port is not mistaken for PostgreSQL or Redis."""
    if not 0 < port < 65536:
        return False
    sock = connect((LOOPBACK, port), timeout)
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


def env_url_answers(service: Service, url: str) -> bool:
    """Can anything be reached at the URL's host(s)? TCP only: the server may sit behind TLS or a pooler."""
    try:
        endpoints = pg_endpoints(url) if service is POSTGRES else redis_endpoints(url)
    except ValueError:
        return True  # a URL we cannot parse is left for the driver to judge, with its own error
    for endpoint in endpoints:
        sock = connect(endpoint, ENV_PROBE_TIMEOUT)
        if sock is not None:
            sock.close()
            return True
    return False


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words
    )


def redis_command(port: int, password: str | None, *command: str, timeout: float = 1.0) -> bytes | None:
    """Run one command after AUTH on a fresh connection and return its first reply line: b"" if the
    server hung up (as SHUTDOWN does), None if nothing answers or AUTH is refused. AUTH is checked
    before the command is sent, so a server that is not ours (a reused port) never receives it.
    Plain sockets rather than redis-py: no retries or backoff to wait through."""
    sock = connect((LOOPBACK, port), timeout)
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
