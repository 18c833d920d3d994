# JupyterHub configuration for a SIMULATED class on one machine (tested: `python -m tools classroom simulate`).
#
# Every learner is a hub user without a system account (SimpleLocalProcessSpawner runs all single-user
# servers as the user who starts the hub), logs in with DummyAuthenticator (any name; the shared
# password CLASS_HUB_PASSWORD if set), gets their own copy of the notebooks in a home folder of
# their own, and works in their own namespace (LAB_NAMESPACE = user name) on the class's one
# PostgreSQL and Redis (DATABASE_URL, REDIS_URL). Everything listens on 127.0.0.1 only.
#
# Not for a real class: anyone who reaches the port can log in as anyone. For a real class see
# jupyterhub_config_real.py (system users) or README.md (The Littlest JupyterHub).
#
# Read from the environment (tools/classroom.py sets them all; a person can too):
#   CLASS_HUB_PORT        public port of the proxy (default 8000); the hub and the proxy's API use the
#                         next two ports, CLASS_HUB_PORT+1 and CLASS_HUB_PORT+2
#   CLASS_HUB_TOKEN       API token of the "classroom" service, which has the admin role (required)
#   CLASS_STATE_DIR       hub database, cookie secret, learners' homes, kernelspec (default .class/ here)
#   CLASS_NOTEBOOKS       folder copied into each new learner's home (default: the learner edition)
#   CLASS_KERNEL_PYTHON   the Python with the course installed, for the kernels (default: ../../.venv)
#   DATABASE_URL, REDIS_URL   the class's shared servers, passed on to every learner unchanged
import json
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.auth import DummyAuthenticator
from jupyterhub.spawner import SimpleLocalProcessSpawner

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by JupyterHub when it loads this file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent  # the repository
PORT = int(os.environ.get("CLASS_HUB_PORT", "8000"))
STATE = Path(os.environ.get("CLASS_STATE_DIR", HERE / ".class")).resolve()
NOTEBOOKS = Path(os.environ.get("CLASS_NOTEBOOKS", ROOT / "learner")).resolve()
KERNEL_PYTHON = os.environ.get("CLASS_KERNEL_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
HOMES = STATE / "homes"
JUPYTER_PATH = STATE / "jupyter"  # holds the "python3" kernelspec: the course's Python, not the hub's
for folder in (STATE, HOMES, JUPYTER_PATH):
    folder.mkdir(parents=True, exist_ok=True)

# --- network: the proxy is the only public port; all on loopback --------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(HERE / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.Spawner.ip = "127.0.0.1"

# --- state: kept out of the repository's tracked files ------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server (and the proxy)

# --- who may do what ------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = DummyAuthenticator
c.Authenticator.allow_all = True  # any name may log in: simulated class only
# Only names that are their own namespace: helpers.safe_name turns other characters into "_", so
# "ada.l", "ada-l" and "ada_l" would share schemas and keys (and reset each other's). The hub refuses
# them (400 on the REST API, an error at login); tests/test_namespaces.py checks the pattern.
c.Authenticator.username_pattern = r"^(?=.{1,32}$)[a-z][a-z0-9]*(_[a-z0-9]+)*$"
if os.environ.get("CLASS_HUB_PASSWORD"):
    c.DummyAuthenticator.password = os.environ["CLASS_HUB_PASSWORD"]
c.JupyterHub.services = [{"name": "classroom", "api_token": os.environ["CLASS_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "admin", "services": ["classroom"]}]  # creates users, starts servers

# --- each learner: their own server, home, copy of the notebooks and namespace --------------------
c.JupyterHub.spawner_class = SimpleLocalProcessSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(HOMES / "{username}")
c.Spawner.notebook_dir = str(HOMES / "{username}")
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = f"/lab/tree/{NOTEBOOKS.name}/00_start_here.ipynb"
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []  # containers and CI run as root
c.Spawner.start_timeout = 180  # many servers starting at once on two cores take a while
c.Spawner.http_timeout = 180
c.JupyterHub.concurrent_spawn_limit = 40
c.Spawner.environment = {
    "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
    "REDIS_URL": os.environ.get("REDIS_URL", ""),
    "LAB_NAMESPACE": lambda spawner: spawner.user.name,
    # The instructor's progress board (helpers/progress.py): set LAB_CLASS=<class id> before starting
    # the hub to record every learner's checks; empty (the default) records nothing.
    "LAB_CLASS": os.environ.get("LAB_CLASS", ""),
    "JUPYTER_PATH": str(JUPYTER_PATH),
    "PYTHONHASHSEED": "0",
}


def copy_notebooks(spawner: SimpleLocalProcessSpawner) -> None:
    """Before a learner's first start: their own copy of the notebooks (later starts keep their work)."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    target = home / NOTEBOOKS.name
    if not target.exists():
        shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))


c.Spawner.pre_spawn_hook = copy_notebooks

# The kernels run the course's Python (helpers, asyncpg, redis, ... from the lock); the single-user
# servers run the hub's venv. JUPYTER_PATH comes before the hub venv's own "python3" kernel.
kernel = JUPYTER_PATH / "kernels" / "python3"
kernel.mkdir(parents=True, exist_ok=True)
(kernel / "kernel.json").write_text(
    json.dumps(
        {
            "argv": [KERNEL_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (asyncio lab)",
            "language": "python",
            "metadata": {"debugger": True},
        },
        indent=1,
    )
)
