"""End-to-end harness: the real Pulumi CLI and kubernetes provider from scripts/toolchain.sh,
against the local control plane from scripts/cluster.sh, with a file state backend in a temp
folder. Each helper returns what it saw, so a failing test shows Pulumi's and kubectl's words."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from es_cluster.stack import config_from_file

ROOT = Path(__file__).resolve().parents[2]
# Its own state folder, ports, pod network and registry, so a developer's `make cluster` is left
# alone (only one cluster with real nodes can run at a time: scripts/cluster-nodes.sh says so).
STATE = ROOT / ".state" / "e2e"
PORT_BASE = "16460"
REGISTRY_PORT = "15000"
# Three real nodes, tainted so that only tests that ask for them land there; kwok's six keep the
# field report's labels for the tests of placement and rollout.
REAL_NODES = 3
REAL_NODE_ENV = {"REAL_NODES": str(REAL_NODES), "REAL_NODE_TAINT": "1", "ES_CLUSTER_POD_NET": "10.90"}
PROGRAM_FILES = ["Pulumi.yaml", "__main__.py", "es_cluster", "image", "requirements.txt"]


def run(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    check: bool = True,
    timeout: int = 900,
    input_bytes: bytes | None = None,
    binary: bool = False,
) -> subprocess.CompletedProcess:
    """Run a command; with check, fail showing its output. Text output unless `binary`."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, input=input_bytes, timeout=timeout, check=False)
    if not binary:
        proc.stdout, proc.stderr = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]!s}\n--- stderr\n{proc.stderr[-6000:]!s}"
        )
    return proc


def wait_until(
    what: str, probe: Callable[[], Any], timeout: float = 180, interval: float = 1.0, explain: Callable[[], str] | None = None
) -> Any:
    """Poll `probe` until it returns something truthy; fail with its last value, and what
    `explain` says of the cluster then, otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    detail = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw: {last!r}{detail}")


def toolchain_env(passphrase: str) -> dict[str, str]:
    """PATH with the pinned toolchain and this venv's Python (policy/run and the examples'
    helper commands use the first python on PATH; stack programs run in their .venv), and a
    Pulumi home, no update check, and a passphrase for file-backend stacks."""
    bin_dir = run([str(ROOT / "scripts" / "toolchain.sh")], env=dict(os.environ), timeout=5400).stdout.strip().splitlines()[-1]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([bin_dir, str(Path(sys.executable).parent), env["PATH"]])
    env["PULUMI_HOME"] = env.get("PULUMI_HOME") or str(Path(bin_dir).parent / "pulumi-home")
    env["PULUMI_SKIP_UPDATE_CHECK"] = "1"
    env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    env.pop("PULUMI_BACKEND_URL", None)
    return env


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    return toolchain_env("es-cluster-e2e")


@pytest.fixture(scope="session")
def cluster_env(tool_env) -> dict[str, str]:
    """The local cluster, started for this session and stopped after it."""
    env = {
        **tool_env,
        **REAL_NODE_ENV,
        "ES_CLUSTER_STATE": str(STATE),
        "ES_CLUSTER_PORT_BASE": PORT_BASE,
        "ES_CLUSTER_REGISTRY_PORT": REGISTRY_PORT,
    }
    script = str(ROOT / "scripts" / "cluster.sh")
    run([script, "down"], env=env)  # a clean start, whatever an interrupted run left
    try:
        run([script, "up"], env=env, timeout=900)
        yield {**env, "KUBECONFIG": str(STATE / "kubeconfig")}
    finally:
        run([script, "down"], env=env, check=False)


class Kube:
    def __init__(self, env: dict[str, str]):
        self.env = env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["kubectl", *args], env=self.env, check=check)

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.run("get", *args, "-o", "json").stdout)

    def items(self, *args: str) -> list[dict[str, Any]]:
        return self.get(*args)["items"]

    def exists(self, *args: str) -> bool:
        return self.run("get", *args, check=False).returncode == 0

    def describe(self, namespace: str) -> str:
        """What is in the namespace, for failure messages."""
        return self.run("get", "all,endpoints,pdb,sa,role,rolebinding", "-n", namespace, "-o", "wide", check=False).stdout


@pytest.fixture(scope="session")
def kube(cluster_env) -> Kube:
    return Kube(cluster_env)


@pytest.fixture(scope="session")
def docker_env(cluster_env) -> dict[str, str]:
    """A Docker engine and the registry on REGISTRY_PORT (scripts/docker.sh), for the session."""
    env = {**cluster_env, "ES_CLUSTER_STATE": str(STATE)}
    script = str(ROOT / "scripts" / "docker.sh")
    run([script, "up"], env=env, timeout=600)
    env["DOCKER_HOST"] = run([script, "env"], env=env).stdout.split('"')[1]
    try:
        yield env
    finally:
        run([script, "down"], env=env, check=False)


@pytest.fixture(scope="session")
def base_image(docker_env) -> str:
    """The project's stand-in for the pires base (scripts/base-image.sh), by its content tag."""
    return run([str(ROOT / "scripts" / "base-image.sh")], env=docker_env, timeout=1800).stdout.strip().splitlines()[-1]


STAND_IN_BASE = "es-cluster-e2e/stand-in-base:1"


@pytest.fixture(scope="session")
def stand_in_base(docker_env) -> str:
    """A base image holding just the folders our Dockerfile copies into."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in [
            "elasticsearch",
            "elasticsearch/config",
            "usr",
            "usr/lib",
            "usr/lib/jvm",
            "usr/lib/jvm/default-jvm",
            "usr/lib/jvm/default-jvm/jre",
            "usr/lib/jvm/default-jvm/jre/lib",
            "usr/lib/jvm/default-jvm/jre/lib/security",
        ]:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
    proc = run(["docker", "import", "-", STAND_IN_BASE], env=docker_env, check=False, input_bytes=buf.getvalue())
    assert proc.returncode == 0, proc.stderr
    return STAND_IN_BASE


def registry_digest(name: str, tag: str) -> str:
    """The digest the session's registry serves for name:tag."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{REGISTRY_PORT}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"]


@pytest.fixture(scope="session")
def es_image(docker_env, base_image) -> str:
    """image/ built on that base and pushed to the registry: repository@sha256 as pods pull it."""
    repo = f"localhost:{REGISTRY_PORT}/es-proof"
    run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base_image}", "-t", f"{repo}:e2e", str(ROOT / "image")], env=docker_env)
    run(["docker", "push", "-q", f"{repo}:e2e"], env=docker_env)
    digests = json.loads(run(["docker", "image", "inspect", f"{repo}:e2e", "-f", "{{json .RepoDigests}}"], env=docker_env).stdout)
    return next(d for d in digests if d.startswith(repo + "@"))


def building_from_own_copy(stack: Stack, docker_env: dict[str, str]) -> Stack:
    """`stack` set to build the image from its own copy of image/, with the session's engine, so
    a test may change bytes there without touching the repository."""
    stack.env.update(DOCKER_HOST=docker_env["DOCKER_HOST"])
    config = stack.config()
    config["image"]["context"] = str(stack.dir / "image")
    stack.write_config(config)
    return stack


def on_real_nodes(config: dict[str, Any]) -> dict[str, Any]:
    """A stack config whose groups run on the session's real nodes: the field report's node
    labels under es-cluster.io/ (scripts/cluster-nodes.sh), and the real nodes' taint tolerated."""
    for group in config["nodeGroups"].values():
        group["nodeSelector"] = {
            k.replace("kube-system/", "es-cluster.io/"): v
            for k, v in (group.get("nodeSelector") or {"es-cluster.io/real-node": "true"}).items()
        }
        group["tolerations"] = [{"key": "es-cluster.io/real-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    return config


class Stack:
    """A copy of the program in a temp folder with its own file backend and one stack."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, config: dict[str, Any]):
        self.dir = workdir
        self.name = name
        for f in PROGRAM_FILES:
            src = ROOT / f
            (shutil.copytree if src.is_dir() else shutil.copy)(src, workdir / f)
        # Pulumi.yaml names .venv; the language host runs the Python found there.
        (workdir / ".venv").symlink_to(Path(sys.prefix))
        (workdir / "state").mkdir()
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}"}
        self.write_config(config)
        run(["pulumi", "stack", "init", name, "--non-interactive"], env=self.env, cwd=self.dir)

    def write_config(self, config: dict[str, Any]) -> None:
        doc = {"config": {f"es-cluster:{k}": v for k, v in config.items()}}
        (self.dir / f"Pulumi.{self.name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def config(self) -> dict[str, Any]:
        return config_from_file(self.dir / f"Pulumi.{self.name}.yaml")

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        flags = ["--stack", self.name, "--non-interactive"]
        # Flags go before a `--` that ends them (as in `config set ... -- -1`).
        cut = args.index("--") if "--" in args else len(args)
        return run(["pulumi", *args[:cut], *flags, *args[cut:]], env=self.env, cwd=self.dir, check=check)

    def up(self) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--skip-preview")

    def preview_steps(self) -> list[dict[str, Any]]:
        """The steps of `pulumi preview --json` that change something (not the component's read
        of its own stack's record)."""
        out = self.pulumi("preview", "--json").stdout
        return [s for s in json.loads(out).get("steps", []) if s["op"] not in ("same", "read")]

    def export(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export").stdout)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json").stdout)

    def remove(self) -> None:
        """Delete what the stack holds, and the stack: its namespaces go with everything in them
        (the namespace controller does not wait on each Deployment's foreground deletion, as
        `pulumi destroy` does, which was up to 100 s per stack), then the stack is dropped.
        `test_stack_lifecycle` and the consumer tests prove `destroy` itself leaves nothing."""
        resources = self.export()["deployment"].get("resources") or []
        namespaces = {
            r["outputs"]["metadata"]["name"] if r["type"] == "kubernetes:core/v1:Namespace" else r["outputs"]["metadata"].get("namespace")
            for r in resources
            if r["type"].startswith("kubernetes:") and "pulumi:providers" not in r["type"] and r.get("outputs", {}).get("metadata")
        } - {None, "default", "kube-system"}
        if namespaces:
            run(
                ["kubectl", "delete", "namespace", "--ignore-not-found", "--wait=true", "--timeout=600s", *sorted(namespaces)], env=self.env
            )
        self.pulumi("stack", "rm", "--force", "--yes")


@pytest.fixture(scope="module")
def make_stack(cluster_env, tmp_path_factory):
    stacks: list[Stack] = []

    def make(name: str, config: dict[str, Any]) -> Stack:
        stack = Stack(tmp_path_factory.mktemp(name), cluster_env, name, config)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:  # never leave objects behind, even when a test failed half-way
        stack.remove()


# kwok's simulated nodes pull nothing, so the kwok-node tests skip the build: any digest will do.
PREBUILT_IMAGE = "localhost:5000/es-kubernetes@sha256:" + "0" * 64


def seed_config() -> dict[str, Any]:
    """The local stack's config (the field report's layout), with a prebuilt image reference."""
    config = config_from_file(ROOT / "Pulumi.local.yaml")
    config["image"] = {"reference": PREBUILT_IMAGE}
    return config
