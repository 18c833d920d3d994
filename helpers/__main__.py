"""Command line: python -m helpers {labserver|services|doctor|class|board} ... (maintainer tools: python -m tools)."""

from __future__ import annotations

import sys

from helpers.cli import dispatch

COMMANDS = {
    "labserver": ("helpers.labserver", "run the local lab server in the foreground"),
    "services": ("helpers.services", "up|status|down: local PostgreSQL and Redis"),
    "doctor": ("helpers.doctor", "check Python, packages, services and the lab server"),
    "class": ("helpers.classroom", "check --learners N: will the shared PostgreSQL/Redis carry a class?"),
    "board": ("helpers.progress", "--class ID [--serve]: the class's live progress board"),
}


def main(argv: list[str] | None = None) -> int:
    return dispatch("python -m helpers", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
