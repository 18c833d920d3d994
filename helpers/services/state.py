"""The state folder: ``.services/state.json`` (mode 0600, it holds the generated passwords) and its lock."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; on Windows `up`/`down` simply run without a lock.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parents[2]


class StartError(Exception):
    """`up`/`down` cannot continue; the message is printed as is."""


def state_dir() -> Path:
    """``LAB_STATE_DIR`` if set, else ``.services/`` at the repository root (git-ignored)."""
    override = os.environ.get("LAB_STATE_DIR", "").strip()
    return Path(override).expanduser().resolve() if override else REPO_ROOT / ".services"


def read_state(folder: Path) -> dict[str, Any]:
    """The recorded servers, or {} when there is no (readable, well-formed) state file."""
    try:
        data = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(folder: Path, state: dict[str, Any]) -> None:
    """Write the state file, or remove it when nothing is recorded."""
    path = folder / "state.json"
    if not state:
        path.unlink(missing_ok=True)
        return
    tmp = folder / "state.json.tmp"
    tmp.unlink(missing_ok=True)
    # Created 0600 from the start (never world-readable, not even briefly), then swapped in atomically
    # so a notebook resolving a URL at the same moment never reads half a file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Serialise `up`/`down`, e.g. two kernels running `services up` at once."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is not a folder" if folder.exists() else exc.strerror
        raise StartError(
            f"cannot keep the services' state in {folder} ({reason}); "
            "set LAB_STATE_DIR to a folder you can write, or unset it"
        ) from None
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def port_of(entry: Any) -> int:
    """The port recorded in a state entry, or 0 when there is none."""
    try:
        return int(entry.get("port", 0)) if isinstance(entry, dict) else 0
    except (TypeError, ValueError):
        return 0
