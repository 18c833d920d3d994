"""deploy/kubernetes: the Zero to JupyterHub configuration, checked offline. It has never been deployed.

No cluster runs here, so these tests check what a file can show without one: that the Helm values and
the manifests parse; that learners get the variables the tested single-machine hub gives them
(deploy/jupyterhub/jupyterhub_config.py); that the memory, CPU and connection limits follow from the
measured figures in deploy/kubernetes/README.md and fit helpers.classroom's connection budget; and that
the files agree with each other (the chart version, the Secret's keys, the services' names and ports).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import classroom, progress
from helpers.services import namespaces
from helpers.services.urls import POSTGRES, REDIS

yaml = pytest.importorskip("yaml", reason="PyYAML reads the Helm values and the manifests")

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
VALUES = K8S / "values.yaml"
SERVICES = K8S / "class-services.yaml"
README = K8S / "README.md"
DOCKERFILE = K8S / "Dockerfile.singleuser"
TESTED_HUB = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"

# The tested hub needs JUPYTER_PATH because its servers and kernels run in two venvs; the image has one
# Python for both (README.md, "Each learner's environment").
NOT_NEEDED_IN_THE_IMAGE = {"JUPYTER_PATH"}


# ---- reading the files ---------------------------------------------------------------------------------


def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(SERVICES.read_text()) if doc]


def manifest(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"class-services.yaml should hold one {kind} named {name}, found {len(found)}"
    return found[0]


def extra_env() -> dict[str, Any]:
    return values()["singleuser"]["extraEnv"]


def container(kind: str, name: str) -> dict[str, Any]:
    (only,) = manifest(kind, name)["spec"]["template"]["spec"]["containers"]
    return only


def env_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in spec.get("env", [])}


def secret_ref(entry: Any) -> tuple[str, str]:
    """(Secret name, key) of an env entry that reads a Secret (values.yaml's or a manifest's form)."""
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def postgres_settings() -> dict[str, str]:
    """The `-c name=value` settings the PostgreSQL container starts with."""
    args = container("StatefulSet", "class-postgres")["args"]
    settings = [args[i + 1] for i, arg in enumerate(args) if arg == "-c"]
    return dict(setting.split("=", 1) for setting in settings)


def valkey_option(name: str) -> str:
    args = container("Deployment", "class-redis")["args"]
    return args[args.index(f"--{name}") + 1]


def environment_of_the_tested_hub() -> set[str]:
    """The variable names of `c.Spawner.environment = {...}` in the tested hub's configuration."""
    for node in ast.walk(ast.parse(TESTED_HUB.read_text())):
        if (
            isinstance(node, ast.Assign)
            and ast.unparse(node.targets[0]) == "c.Spawner.environment"
            and isinstance(node.value, ast.Dict)
        ):
            return {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    raise AssertionError(f"no c.Spawner.environment = {{...}} in {TESTED_HUB}")


def chart_line() -> tuple[str, str]:
    """(chart version, JupyterHub version) from values.yaml's first line, the one place they are written."""
    first = VALUES.read_text().splitlines()[0]
    match = re.fullmatch(r"# chart: jupyterhub (\d+\.\d+\.\d+) \(JupyterHub (\d+\.\d+\.\d+)\)", first)
    assert match, (
        f"values.yaml should start with '# chart: jupyterhub X.Y.Z (JupyterHub A.B.C)', not {first!r}"
    )
    return match.group(1), match.group(2)


def measured_rows() -> list[dict[str, str]]:
    """The README's table of measured figures (between its sizing:measured markers), as dicts."""
    text = README.read_text()
    block = text.split("<!-- sizing:measured -->", 1)[1].split("<!-- /sizing:measured -->", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.startswith("|")]
    header, rows = lines[0], lines[2:]  # lines[1] is the |---| row
    names = [cell.strip() for cell in header.strip("|").split("|")]
    return [dict(zip(names, (c.strip() for c in row.strip("|").split("|")), strict=True)) for row in rows]


def mib(cell: str) -> int:
    match = re.fullmatch(r"(\d+) MiB", cell)
    assert match, f"expected a figure like '366 MiB', got {cell!r}"
    return int(match.group(1))


def hub_idle_mib() -> int:
    match = re.search(r"hub and proxy used (\d+) MiB when idle", README.read_text())
    assert match, "README.md should say what the hub and proxy used when idle"
    return int(match.group(1))


def learners_sized_for() -> int:
    match = re.search(r"Sized for \*\*(\d+) learners\*\*", README.read_text())
    assert match, "README.md should say how many learners the sizing is for ('Sized for **N learners**')"
    return int(match.group(1))


def byte_spec(value: int | str) -> int:
    """Bytes of a KubeSpawner memory value: as jupyterhub.traitlets.ByteSpecification reads it (K, M, G,
    T are powers of 1024), which is how the chart passes singleuser.memory on."""
    if isinstance(value, int):
        return value
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    return int(float(value[:-1]) * units[value[-1]])


# ---- the tests -------------------------------------------------------------------------------------------


def test_the_files_parse_into_what_helm_and_kubectl_expect() -> None:
    assert {"hub", "singleuser", "cull", "scheduling"} <= set(values())
    docs = manifests()
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc) and doc["metadata"]["name"], doc
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["Secret", "ConfigMap", "StatefulSet", "Service", "Deployment", "Service", "NetworkPolicy"]
    )


def test_the_chart_version_is_written_once_and_every_other_mention_agrees() -> None:
    chart, hub = chart_line()
    readme = README.read_text()
    # Every `--version` in the README and in values.yaml's own usage comment is the pinned one.
    pinned = re.findall(r"--version[ =](\S+)", readme + VALUES.read_text())
    assert pinned and set(pinned) == {chart}, f"--version mentions {pinned}, the chart line says {chart}"
    assert f"Chart `jupyterhub` {chart}, which ships JupyterHub {hub}" in readme
    # The single-user image carries the hub's JupyterHub, for jupyterhub-singleuser.
    match = re.search(r"^ARG JUPYTERHUB_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match and match.group(1) == hub, "Dockerfile.singleuser's JupyterHub differs from the chart's"


def test_learners_get_the_variables_the_tested_hub_gives_them() -> None:
    tested = environment_of_the_tested_hub()
    # The names the helpers read: the tested hub sets them, so this file must too.
    assert {POSTGRES.env_var, REDIS.env_var, "LAB_NAMESPACE", progress.CLASS_VAR} <= tested
    missing = tested - NOT_NEEDED_IN_THE_IMAGE - set(extra_env())
    assert not missing, f"singleuser.extraEnv lacks what the tested hub sets: {sorted(missing)}"


@pytest.mark.parametrize(
    ("variable", "scheme", "workload"),
    [
        (POSTGRES.env_var, "postgresql", ("StatefulSet", "class-postgres")),
        (REDIS.env_var, "redis", ("Deployment", "class-redis")),
    ],
)
def test_each_url_names_a_class_service_and_takes_its_password_from_the_secret(
    variable: str, scheme: str, workload: tuple[str, str]
) -> None:
    env = extra_env()
    match = re.fullmatch(r"(\w+)://(\w*):\$\((\w+)\)@([\w-]+):(\d+)/(\w+)", env[variable])
    assert match, f"{variable} should look like {scheme}://user:$(PASSWORD_VAR)@service:port/db"
    got_scheme, user, password_var, host, port, database = match.groups()
    assert got_scheme == scheme
    # The password comes from the Secret, through a variable the kubelet expands into the URL...
    secret_name, key = secret_ref(env[password_var])
    assert key in manifest("Secret", secret_name)["stringData"]
    # ...the host is a Service of class-services.yaml, on the port it serves...
    service_ports = [p["port"] for p in manifest("Service", host)["spec"]["ports"]]
    assert int(port) in service_ports, f"Service {host} serves {service_ports}, {variable} says {port}"
    selector = manifest("Service", host)["spec"]["selector"]
    kind, name = workload
    assert manifest(kind, name)["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
    # ...and the server itself takes its password from the same Secret key.
    server_env = env_of(container(kind, name))
    assert (secret_name, key) in [secret_ref(e) for e in server_env.values() if "valueFrom" in e]
    if scheme == "postgresql":  # the learners' role and database are the ones the init script creates
        script = "\n".join(manifest("ConfigMap", "class-postgres-init")["data"].values())
        assert f"CREATE ROLE {user} LOGIN" in script and f"CREATE DATABASE {database} OWNER {user}" in script
        assert '"$CLASS_PG_PASSWORD"' in script
        assert secret_ref(server_env["CLASS_PG_PASSWORD"]) == (secret_name, key)
    else:
        secret_var = next(
            n for n, e in server_env.items() if "valueFrom" in e and secret_ref(e) == (secret_name, key)
        )
        assert valkey_option("requirepass") == f"$({secret_var})"


def test_each_learner_works_in_kubespawners_escaped_user_name() -> None:
    assert extra_env()["LAB_NAMESPACE"] == "{username}"
    # What KubeSpawner's {username} gives (its "Templated fields" documentation; "ada.l" and "ada_l"
    # computed the same way: sha256 of the name, 8 hex digits). helpers must accept each and keep them apart.
    slugs = [
        "username",
        "has-hyphen",
        "capital---1a1cf792",
        "user-email-com---0925f997",
        "a-very-long-name-that-is-too-long-for---29ac5fd2",
        "ada-l",
        "ada-l---8debcb8d",  # ada.l
        "ada-l---f41d8dbd",  # ada_l
    ]
    names = [namespaces.Namespace(name=namespaces.safe_name(slug), notebook="08").name for slug in slugs]
    assert len(set(names)) == len(names), dict(zip(slugs, names, strict=True))


def test_kubespawner_can_format_every_string_it_formats() -> None:
    # KubeSpawner runs str.format over extraEnv values and init containers: a stray brace fails the spawn.
    fields = dict.fromkeys(
        ["username", "unescaped_username", "servername", "user_server", "userid", "pod_name", "pvc_name"],
        "x",
    )
    fields |= {"namespace": "x", "hubnamespace": "x", "safe_username": "x", "escaped_username": "x"}

    def strings(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [s for v in node.values() for s in strings(v)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return []

    singleuser = values()["singleuser"]
    for text in strings(singleuser["extraEnv"]) + strings(singleuser["initContainers"]):
        try:
            text.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            pytest.fail(f"KubeSpawner could not format {text!r}: {exc!r}")


def test_the_progress_board_records_under_the_class_id_the_readme_names() -> None:
    cid = extra_env()[progress.CLASS_VAR]
    # Non-empty, and already in the safe form helpers.progress uses, so `--class` takes the same text.
    assert progress.class_id(cid) == cid
    assert f"python -m helpers board --class {cid}" in README.read_text()


def test_the_measured_table_adds_up() -> None:
    rows = measured_rows()
    assert len(rows) >= 4
    idle = hub_idle_mib()
    for row in rows:
        per_learner = (mib(row["peak RSS"]) - idle) / int(row["learners"])
        assert abs(mib(row["RSS per learner"]) - per_learner) < 1, row


def test_memory_comes_from_the_measured_rss() -> None:
    largest = max(mib(row["RSS per learner"]) for row in measured_rows()) * 1024**2
    memory = values()["singleuser"]["memory"]
    assert byte_spec(memory["guarantee"]) >= largest, (
        "the guarantee is below what a learner was measured using"
    )
    assert byte_spec(memory["limit"]) >= 2 * largest, "the limit leaves less than twice the measured use"


def test_cpu_lets_notebook_10_use_two_cores() -> None:
    cpu = values()["singleuser"]["cpu"]
    assert 0 < cpu["guarantee"] <= cpu["limit"]
    assert cpu["limit"] >= 2  # notebook 10's process pool runs two workers at once


def test_postgres_max_connections_fits_the_class() -> None:
    settings = postgres_settings()
    budget = classroom.budget(
        "PostgreSQL",
        "max_connections",
        learners=learners_sized_for(),
        per_learner=classroom.peak_per_learner("postgres"),
        limit=int(settings["max_connections"]),
        reserved=int(settings.get("superuser_reserved_connections", "3")),
    )
    assert budget.ok, str(budget)
    # The server version the per-learner peaks were measured with (helpers/classroom.py).
    image = container("StatefulSet", "class-postgres")["image"]
    assert image.rsplit(":", 1)[1].startswith("15."), f"{image}: the peaks were measured on PostgreSQL 15"


def test_redis_maxclients_fits_the_class() -> None:
    budget = classroom.budget(
        "Redis",
        "maxclients",
        learners=learners_sized_for(),
        per_learner=classroom.peak_per_learner("redis"),  # the progress board's connection included
        limit=int(valkey_option("maxclients")),
    )
    assert budget.ok, str(budget)


def test_user_pods_may_reach_the_class_services_and_only_they_may() -> None:
    # The chart blocks user pods from private addresses; values.yaml opens exactly the two servers.
    opened = set()
    for rule in values()["singleuser"]["networkPolicy"]["egress"]:
        (peer,) = rule["to"]
        (label,) = peer["podSelector"]["matchLabels"].items()
        opened |= {(label, port["port"]) for port in rule["ports"]}
    served = set()
    for kind, name in [("StatefulSet", "class-postgres"), ("Deployment", "class-redis")]:
        labels = manifest(kind, name)["spec"]["template"]["metadata"]["labels"]
        label = ("app.kubernetes.io/name", labels["app.kubernetes.io/name"])
        served |= {(label, port["containerPort"]) for port in container(kind, name)["ports"]}
    assert opened == served
    # And class-services.yaml admits only learners' pods (KubeSpawner's label) on those ports.
    (ingress,) = manifest("NetworkPolicy", "class-services")["spec"]["ingress"]
    assert ingress["from"] == [{"podSelector": {"matchLabels": {"component": "singleuser-server"}}}]
    assert {p["port"] for p in ingress["ports"]} == {port for _, port in served}


@pytest.mark.skipif(shutil.which("sh") is None, reason="runs the init container's shell script")
def test_the_notebooks_are_copied_once_and_the_learners_work_is_kept(tmp_path: Path) -> None:
    singleuser = values()["singleuser"]
    (init,) = singleuser["initContainers"]
    image = singleuser["image"]
    assert init["image"] == f"{image['name']}:{image['tag']}", "the init container should use the same image"
    home = singleuser["storage"]["homeMountPath"]
    assert init["volumeMounts"] == [{"name": "volume-{user_server}", "mountPath": home}]
    # The first page the hub opens is inside the folder the script writes, and exists in the edition.
    folder = re.fullmatch(r"/lab/tree/([\w.-]+)/(\w+\.ipynb)", singleuser["defaultUrl"])
    assert folder and (ROOT / "learner" / folder.group(2)).exists()
    source = re.search(r"^COPY learner/ (\S+?)/?$", DOCKERFILE.read_text(), re.MULTILINE)
    assert source, "Dockerfile.singleuser should copy learner/ into the image"

    # Run the script itself, with the image's paths moved under tmp_path.
    edition = tmp_path / "image" / "learner"
    (edition / "sub").mkdir(parents=True)
    (edition / "00_start_here.ipynb").write_text("{}")
    (edition / "sub" / "data.txt").write_text("data")
    learner_home = tmp_path / "home"
    learner_home.mkdir()
    sh, flag, script = init["command"]
    script = script.replace(home, str(learner_home)).replace(source.group(1), str(edition))

    def start() -> list[str]:
        subprocess.run([sh, flag, script], check=True, timeout=30)
        return sorted(p.relative_to(learner_home).as_posix() for p in learner_home.rglob("*"))

    copy = learner_home / folder.group(1)
    first = start()
    assert first == [
        folder.group(1),
        f"{folder.group(1)}/00_start_here.ipynb",
        f"{folder.group(1)}/sub",
        f"{folder.group(1)}/sub/data.txt",
    ]  # the whole edition, where the first page points, and no half-done leftovers
    (copy / "00_start_here.ipynb").write_text("the learner's answers")
    assert start() == first  # the next start adds nothing...
    assert (copy / "00_start_here.ipynb").read_text() == "the learner's answers"  # ...and overwrites nothing


def test_no_password_is_committed() -> None:
    secret = manifest("Secret", "class-services")["stringData"]
    readme = README.read_text()
    for key, value in secret.items():
        assert value.startswith("REPLACE-ME"), f"class-services.yaml holds a real value for {key}"
        assert f"s/{value}/$(openssl rand -hex 24)/" in readme, f"README.md's step 2 does not replace {value}"
