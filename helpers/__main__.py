"""Command line: python -m helpers {labserver|services|doctor|execute|edition|pages|links} ..."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "labserver": ("helpers.labserver", "run the local lab server in the foreground"),
    "services": ("helpers.services", "up|status|down: local PostgreSQL and Redis"),
    "doctor": ("helpers.doctor", "check Python, packages, services and the lab server"),
    "execute": ("helpers.execute", "really execute notebooks and store their outputs"),
    "edition": ("helpers.edition", "write the learner edition of the notebooks"),
    "pages": ("helpers.pages", "render the notebooks into a static HTML site"),
    "links": ("helpers.links", "print Binder/Colab launch links for the published repository"),
}


def usage() -> str:
    lines = ["usage: python -m helpers COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
