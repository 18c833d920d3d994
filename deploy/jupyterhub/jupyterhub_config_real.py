# NOT RUN HERE. A jupyterhub_config.py for a real class on one server with system users.
#
# Written from the JupyterHub 6 and jupyterhub-systemdspawner documentation and from the simulated
# configuration beside it (jupyterhub_config.py, which IS tested); this file itself has never been
# started. Check it on the class server before the workshop (see README.md, "A real class").
#
# Assumptions: Linux, JupyterHub run as root by systemd; one system account per learner (PAM logins);
# the course checked out in /srv/asyncio-lab with its venv (.venv, the locked install) readable by
# everyone; the class's PostgreSQL and Redis reachable at the two URLs below (secrets from the
# environment of the jupyterhub service, not from this file); TLS terminated by a reverse proxy in
# front of the hub, or by JupyterHub itself (ssl_key / ssl_cert).
import os
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by JupyterHub when it loads this file

COURSE = Path("/srv/asyncio-lab")

c.JupyterHub.bind_url = "http://127.0.0.1:8000"  # behind nginx/caddy with TLS; or https://:443 with ssl_*
c.JupyterHub.db_url = "sqlite:////var/lib/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/var/lib/jupyterhub/jupyterhub_cookie_secret"

# Learners log in with their system password; only the class may log in.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(Path("/etc/jupyterhub/class.txt").read_text().split())
c.Authenticator.admin_users = {"instructor"}
# Only names that are their own namespace: helpers.safe_name turns other characters into "_", so
# "ada.l", "ada-l" and "ada_l" would share schemas and keys (and reset each other's). The hub refuses
# them (400 on the REST API, an error at login); tests/test_namespaces.py checks the pattern.
c.Authenticator.username_pattern = r"^(?=.{1,32}$)[a-z][a-z0-9]*(_[a-z0-9]+)*$"

# One systemd unit per learner's server, with limits, so one runaway kernel cannot starve the class
# (pip install jupyterhub-systemdspawner). LocalProcessSpawner works too, without the limits:
#   c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.SystemdSpawner.mem_limit = "1G"  # measured: about 0.3 GiB per learner running 08/09/12/18 (README.md)
c.SystemdSpawner.cpu_limit = 1.0
c.SystemdSpawner.isolate_tmp = True
c.SystemdSpawner.unit_name_template = "jupyter-{USERNAME}"

c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/asyncio-lab/00_start_here.ipynb"
c.Spawner.environment = {
    "DATABASE_URL": os.environ["CLASS_DATABASE_URL"],  # e.g. postgresql://lab:SECRET@classroom-db:5432/lab
    "REDIS_URL": os.environ["CLASS_REDIS_URL"],  # e.g. redis://:SECRET@classroom-db:6379/0
    "LAB_NAMESPACE": lambda spawner: spawner.user.name,
    "JUPYTER_PATH": "/usr/local/share/jupyter",  # the course's kernelspec first (below)
}


def copy_notebooks(spawner) -> None:  # type: ignore[no-untyped-def]
    """Each learner's own copy of the learner edition, written once (later logins keep their work)."""
    import pwd
    import shutil

    account = pwd.getpwnam(spawner.user.name)
    target = Path(account.pw_dir) / "asyncio-lab"
    if not target.exists():
        shutil.copytree(COURSE / "learner", target)
        for path in [target, *target.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)


c.Spawner.pre_spawn_hook = copy_notebooks

# The single-user servers come from the hub's environment; the kernels from the course's venv, through a
# kernelspec installed once as root:
#   /srv/asyncio-lab/.venv/bin/python -m ipykernel install --prefix /usr/local --name python3 \
#       --display-name "Python 3 (asyncio lab)"
# JUPYTER_PATH (above) puts it before the python3 kernel of the hub's own venv, as in jupyterhub_config.py.
