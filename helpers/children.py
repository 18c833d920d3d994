"""Small child programs for notebook 15 (subprocesses), run by path with the kernel's own Python.

    from helpers import children
    proc = await asyncio.create_subprocess_exec(*children.command("lines", 3, 0.1), stdout=PIPE)

``command(name, *args)`` returns the argv list ``[sys.executable, this file, name, *args]``, so it
works in any virtual environment and never imports the ``helpers`` package in the child (fast start).
Every program takes ``--pid-dir DIR`` first (optional): it then writes an empty file named after its
pid into DIR as it starts, so a check can count the children alive at once. The programs:

- ``lines N DELAY [WORD]``: print ``WORD i`` (default ``line``) N times, DELAY seconds apart, flushing;
  ``N`` may be ``forever``. ``--no-flush`` before the name leaves Python's block buffering on.
- ``flood BYTES``: write BYTES bytes of text (lines of 63 ``x`` + newline) to stdout, then exit 0.
- ``job SECONDS CODE [TEXT]``: sleep SECONDS, print TEXT (default ``done``), exit with CODE.
- ``args ARG...``: print each argument on a line of its own (what the child really received).
Nothing is written to stderr: a kernel shows its children's inherited stderr in the cell's output.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

__all__ = ["command"]


def command(
    name: str, *args: object, pid_dir: str | os.PathLike[str] | None = None, flush: bool = True
) -> list[str]:
    """The argv that runs child program ``name`` with ``args`` (see the module docstring)."""
    options = [] if pid_dir is None else ["--pid-dir", os.fspath(pid_dir)]
    options += [] if flush else ["--no-flush"]
    return [sys.executable, __file__, *options, name, *map(str, args)]


def _lines(count: str, delay: str, word: str = "line", *, flush: bool) -> None:
    i = 0
    while count == "forever" or i < int(count):
        i += 1
        print(f"{word} {i}", flush=flush)
        time.sleep(float(delay))


def _flood(size: str) -> None:
    line = b"x" * 63 + b"\n"
    total = int(size)
    for _ in range(total // len(line)):
        sys.stdout.buffer.write(line)
    sys.stdout.buffer.write(b"x" * (total % len(line)))
    sys.stdout.flush()


def _job(seconds: str, code: str, text: str = "done") -> None:
    time.sleep(float(seconds))
    print(text, flush=True)
    sys.exit(int(code))


def main(argv: list[str]) -> None:
    flush = True
    while argv and argv[0].startswith("--"):
        if argv[0] == "--pid-dir":
            (Path(argv[1]) / str(os.getpid())).touch()
            argv = argv[2:]
        elif argv[0] == "--no-flush":
            flush, argv = False, argv[1:]
        else:
            raise SystemExit(f"unknown option {argv[0]}")
    name, *args = argv
    if name == "lines":
        _lines(*args, flush=flush)
    elif name == "flood":
        _flood(*args)
    elif name == "job":
        _job(*args)
    elif name == "args":
        print(*args, sep="\n")
    else:
        raise SystemExit(f"unknown child program {name!r}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (BrokenPipeError, KeyboardInterrupt):
        # The parent closed our stdout or interrupted us: end quietly (no traceback on stderr).
        os._exit(1)
