"""Shared helpers for the asyncio notebooks: lab server, services, timelines, checks.

    import helpers
    server = helpers.labserver.start()      # the local "internet"
    url = helpers.services.postgres_url()   # a real PostgreSQL for notebook 08

Submodules are imported lazily so that ``import helpers`` stays cheap.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["labserver", "crawlsite", "services", "timeline", "cpu", "checks", "doctor"]
__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    # Lazy import: `helpers.timeline` works after a bare `import helpers`.
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
