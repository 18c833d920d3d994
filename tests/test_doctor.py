"""`python -m helpers doctor`: all ✓ when everything works; exit 1 with a fix when a service is down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from support import services_running


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers", "doctor"], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.mark.services
@pytest.mark.skipif(not services_running(), reason="needs `python -m helpers services up`")
def test_doctor_passes_when_everything_answers() -> None:
    done = _doctor(dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✗" not in done.stdout
    for name in ("Python", "aiohttp", "PostgreSQL", "Redis", "lab server"):
        assert f"✓ {name}" in done.stdout


def test_doctor_fails_with_a_fix_when_postgres_is_unreachable() -> None:
    env = dict(os.environ, DATABASE_URL=f"postgresql://lab:lab@127.0.0.1:{_closed_port()}/lab")
    done = _doctor(env)
    assert done.returncode == 1
    line = next(text for text in done.stdout.splitlines() if text.startswith("✗ PostgreSQL"))
    assert "DATABASE_URL is set but no PostgreSQL answers" in line
    assert "fix: run `make services`" in done.stdout


def test_cli_lists_commands_and_rejects_unknown_ones() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0 and "services" in help_text.stdout and "doctor" in help_text.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "helpers", "frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def test_a_notebook_cell_does_not_need_jupyterlab_but_the_command_line_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Colab and VS Code bring their own front end: only the `make lab` route needs JupyterLab.
    from importlib import metadata

    from helpers import doctor

    real_version = metadata.version

    def without_jupyterlab(name: str) -> str:
        if name == "jupyterlab":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(doctor.metadata, "version", without_jupyterlab)
    assert all(f.ok for f in doctor.check_packages(doctor.KERNEL_PACKAGES))
    frontend = doctor.check_packages(doctor.FRONTEND_PACKAGES)
    assert [(f.what, f.ok) for f in frontend] == [("jupyterlab", False)]
