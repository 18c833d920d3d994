"""Taking turns on one machine: tests share it, a test marked ``solo`` has it to itself.

Every test holds a shared file lock while it runs, a solo test an exclusive one; a turnstile lock in
front keeps a waiting solo test from being starved by the other workers' stream of tests. Only
pytest-xdist workers take the locks (one process has nobody to share with), and only where ``fcntl``
exists (not on Windows, where the rule is then not enforced).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def taking_turns(item: Any) -> Iterator[None]:
    workerinput = getattr(item.config, "workerinput", None)
    if workerinput is None or fcntl is None:  # one process (or Windows): nothing runs beside us
        yield
        return
    stem = Path(tempfile.gettempdir()) / f"asyncio-lab-tests-{workerinput['testrunuid']}"
    with open(f"{stem}.turnstile", "a") as turnstile, open(f"{stem}.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            solo = item.get_closest_marker("solo") is not None
            fcntl.flock(lock, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
