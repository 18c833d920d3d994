"""Command line: python -m tools {catalog|execute|edition|pages|links|lock|connections|classroom} ..."""

from __future__ import annotations

import sys

from helpers.cli import dispatch

COMMANDS = {
    "catalog": ("tools.catalog", "check or regenerate what the course catalog generates"),
    "execute": ("tools.execute", "really execute notebooks and store their outputs"),
    "edition": ("tools.edition", "write or check the learner edition (learner/: stubs, no outputs)"),
    "pages": ("tools.pages", "render the notebooks into a static HTML site"),
    "links": ("tools.links", "print Binder/Colab launch links for the published repository"),
    "lock": ("tools.lock", "check or refresh the lock (constraints.txt)"),
    "connections": (
        "tools.connection_peaks",
        "measure each service notebook's peak PostgreSQL/Redis connections",
    ),
    "classroom": ("tools.classroom", "simulate a class of N learners on a local JupyterHub"),
}


def main(argv: list[str] | None = None) -> int:
    return dispatch("python -m tools", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
