"""Elasticsearch 7+ and OpenSearch from the same component: the field report's layout with one
setting changed (es-cluster:engine), deployed through the real CLI, then run as the real engine.

A. The real Pulumi CLI, providers and API server, on kwok nodes: `pulumi up` of Pulumi.<stack>.yaml's
   layout builds images/modern/ with pulumi-docker on the stand-in of the official image
   (scripts/base-image.sh) and pushes it; the API server holds the bootstrap list on the first
   deploy only, the 7+ env, no RBAC; a second `up` empties the list and touches no workload; a
   downgrade is refused at preview.
B. The engine for real: the image A pushed, run as containers by the session's Docker engine,
   each with the env the API server holds for its pod (fieldRefs filled in as a kubelet would)
   and the bootstrap list as the ConfigMap held it. One cluster per engine carries every check.

Stand-in, and why: these engines cannot run on this machine's real nodes. A 7+ node that binds a
pod address runs in production mode, where the bootstrap checks are enforced, and one fails
here: "max file descriptors [20000] for elasticsearch process is too low, increase to at least
[65535]". Every process here inherits a hard limit of 20000 open files, and none may raise it
(the machine grants no CAP_SYS_RESOURCE). So B's containers share the host's network and bind
127.0.0.1, where the engines run in development mode and that check only warns; seed_hosts then
lists the masters' loopback transport ports instead of the headless Service's DNS name (what
Kubernetes' DNS would resolve it to), and ports are set with -E. Everything else, the image,
its user, entrypoint, template, data paths and the component's env, is what a pod gets.

ES_CLUSTER_E2E_ENGINES picks the engines: one per distribution in `make test`, all five in
`make test-engines` (docs/tests.md)."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from es_cluster import constants as c
from es_cluster import engines, tls
from es_cluster.stack import config_from_file

from .conftest import REGISTRY_PORT, ROOT, Kube, Stack, run, wait_until

# stack file -> engine, for every modern stack; which run comes from the env.
STACKS = {
    "es7": ("elasticsearch", "7.17.28"),
    "es8": ("elasticsearch", "8.19.0"),
    "es9": ("elasticsearch", "9.1.0"),
    "opensearch": ("opensearch", "2.19.4"),
    "opensearch3": ("opensearch", "3.3.0"),
}
IN_MAKE_TEST = "es8,opensearch"
SELECTED = [s for s in os.environ.get("ES_CLUSTER_E2E_ENGINES", IN_MAKE_TEST).split(",") if s]
KWOK_MASTERS = [f"kwok-node-{i}" for i in range(3)]
KWOK_DATA = ["kwok-node-3"]
HTTP_BASE, TRANSPORT_BASE = 19210, 19310
DOCS = 200
# What ES 8+ logs at each start of a node locked into a cluster whose config still names the
# first masters (OpenSearch says nothing: only _nodes/settings shows it there).
BOOTSTRAP_WARNING = "remove this setting to avoid possible data loss caused by subsequent cluster bootstrap attempts"


def kwok_config(stack: str, base: str) -> dict[str, Any]:
    """Pulumi.<stack>.yaml as it is, on the e2e cluster's kwok nodes (the field report's labels),
    building on the stand-in base and pushing to the session's registry."""
    config = config_from_file(ROOT / f"Pulumi.{stack}.yaml")
    config["namespace"] = f"e2e-{stack}"
    config["engine"]["initialMasterNodes"] = KWOK_MASTERS
    config["image"] = {"repository": f"localhost:{REGISTRY_PORT}/e2e-{stack}", "baseImage": base, "push": True, "insecureRegistry": True}
    return config


class Engine:
    """One stack's engine: its deploy (A) and its nodes (B)."""

    def __init__(self, stack: str, make_stack, docker_env: dict[str, str], kube: Kube, tmp: Path):
        self.stack_name = stack
        self.distribution, self.version = STACKS[stack]
        self.kube = kube
        self.docker_env = docker_env
        self.tmp = tmp
        self.base = run(
            [str(ROOT / "scripts" / "base-image.sh"), self.distribution, self.version], env=docker_env, timeout=1800
        ).stdout.split()[-1]
        self.config = kwok_config(stack, self.base)
        self.ns = self.config["namespace"]
        self.name = self.config["clusterName"]
        # The context is the engine's default: images/modern/ as the program's copy of the package holds it.
        self.stack: Stack = make_stack(stack, self.config)
        self.stack.env.update(DOCKER_HOST=docker_env["DOCKER_HOST"])
        self.nodes: dict[str, Node] = {}
        self.first_list = ""
        # Secrets the pods mount: name -> the folder the harness keeps as a kubelet keeps one.
        self.secret_dirs: dict[str, Path] = {}
        # The superuser clients authenticate as: elastic, or OpenSearch's admin.
        self.superuser = engines.for_version(self.distribution, self.version).superuser

    # --- A: what the API server holds
    def bootstrap_list(self) -> str:
        return self.kube.get("configmap", f"{self.name}-bootstrap", "-n", self.ns)["data"]["initial-masters"]

    def workload(self, kind: str, group: str) -> dict[str, Any]:
        return self.kube.get(kind, f"{self.name}-{group}", "-n", self.ns)

    def container_env(self, kind: str, group: str, node_name: str, pod_name: str) -> dict[str, str]:
        """The ES container's env as the kubelet would give pod `pod_name` on `node_name`."""
        [container] = self.workload(kind, group)["spec"]["template"]["spec"]["containers"]
        # The containers share the host's network and bind 127.0.0.1 (the module's docstring says why).
        filled = {"metadata.name": pod_name, "spec.nodeName": node_name, "metadata.namespace": self.ns, "status.podIP": "127.0.0.1"}
        # An empty value is dropped by the API server, and a kubelet sets the variable to "".
        return {
            e["name"]: filled[e["valueFrom"]["fieldRef"]["fieldPath"]] if "valueFrom" in e else e.get("value", "") for e in container["env"]
        }

    def secured(self) -> bool:
        return self.container_env("Deployment", "client", "n", "p").get("ES_CLUSTER_SECURITY") == "true"

    def secret(self, name: str) -> dict[str, bytes]:
        data = self.kube.get("secret", name, "-n", self.ns).get("data") or {}
        return {k: base64.b64decode(v) for k, v in data.items()}

    def password(self) -> str:
        """The superuser's password as clients in the cluster read it: the elastic-user Secret."""
        self._password = self.secret(f"{self.name}-elastic-user")[self.superuser].decode()
        return self._password

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the nodes against the cluster's CA, as the stack output hands it to clients
        (read once: a CLI call takes seconds, and the CA never changes)."""
        if not hasattr(self, "_tls"):
            self._tls = ssl.create_default_context(cadata=self.stack.outputs()["caCertificate"])
        return self._tls

    def cached_password(self) -> str:
        return getattr(self, "_password", None) or self.password()

    def secret_mounts(self, kind: str, group: str) -> list[tuple[Path, str]]:
        """(the harness's folder, mountPath) for each Secret volume of the group's pods."""
        spec = self.workload(kind, group)["spec"]["template"]["spec"]
        secrets = {v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        [container] = spec["containers"]
        out = []
        for m in container.get("volumeMounts", []):
            if m["name"] in secrets:
                name = secrets[m["name"]]
                self.secret_dirs.setdefault(name, self.tmp / f"secret-{name}")
                out.append((self.secret_dirs[name], m["mountPath"]))
        return out

    # The workloads the layout deploys, by (kind, group).
    workload_kinds = (("DaemonSet", "master"), ("DaemonSet", "data"), ("Deployment", "client"))

    def certificates_dir(self) -> Path:
        """The harness's folder of the Secret the nodes' certificates come from."""
        return self.secret_dirs[f"{self.name}-certs"]

    def sync_secrets(self) -> None:
        """Each mounted Secret's files as a kubelet writes them (atomic_writer.go's layout): a
        new timestamped folder, the `..data` link swapped to it in one rename, and each key a
        link through `..data`, so a node sees every file of an update at once."""
        for name, folder in self.secret_dirs.items():
            folder.mkdir(exist_ok=True)
            stamp = folder / f"..{time.time_ns()}"
            stamp.mkdir()
            files = self.secret(name)
            for key, value in files.items():
                (stamp / key).write_bytes(value)
                (stamp / key).chmod(0o644)
            stamp.chmod(0o755)
            (folder / "..data_tmp").symlink_to(stamp.name)
            (folder / "..data_tmp").rename(folder / "..data")
            for key in files:
                if not (folder / key).is_symlink():
                    (folder / key).symlink_to(f"..data/{key}")

    # --- B: the nodes
    def start_nodes(self) -> None:
        image = self.stack.outputs()["imageRef"]
        plan = [("DaemonSet", "master", n, n) for n in KWOK_MASTERS]
        plan += [("DaemonSet", "data", n, n) for n in KWOK_DATA]
        plan.append(("Deployment", "client", "kwok-node-5", f"{self.name}-client-7d9c-x2k4p"))
        masters = [TRANSPORT_BASE + i for i in range(len(KWOK_MASTERS))]
        for index, (kind, group, node_name, pod) in enumerate(plan):
            env = self.container_env(kind, group, node_name, pod)
            self.nodes[env["NODE_NAME"]] = Node(self, index, env, image, group, masters, self.secret_mounts(kind, group))
        self.sync_secrets()
        for node in self.nodes.values():
            node.start(self.first_list)

    def masters(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.group == "master"]

    def client(self) -> Node:
        return next(n for n in self.nodes.values() if n.group == "client")

    def explain(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.logs()[-2500:]}" for n in self.nodes.values())

    def remove(self) -> None:
        for n in self.nodes.values():
            n.remove()


class Node:
    """One container of the image, as one pod of the layout."""

    def __init__(
        self,
        engine: Engine,
        index: int,
        env: dict[str, str],
        image: str,
        group: str,
        master_ports: list[int],
        mounts: list[tuple[Path, str]] = (),  # type: ignore[assignment]
    ):
        self.engine = engine
        self.mounts = list(mounts)
        self.name = env["NODE_NAME"]
        self.group = group
        self.env = env
        self.image = image
        self.http = HTTP_BASE + index
        self.transport = TRANSPORT_BASE + index
        self.container = f"e2e-{engine.stack_name}-{index}"
        self.home = f"/usr/share/{engine.distribution}"
        self.data = engine.tmp / f"data-{index}"
        self.bootstrap = engine.tmp / f"bootstrap-{index}"
        for d in (self.data, self.bootstrap):
            d.mkdir(exist_ok=True)
            os.chown(d, 1000, 0)
        self.seed_hosts = ",".join(f"127.0.0.1:{p}" for p in master_ports)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["docker", *args], env=self.engine.docker_env, check=check, timeout=300)

    def start(self, bootstrap_list: str, seed_hosts: str | None = None, *settings: str) -> None:
        """Start the container; `bootstrap_list` is what the mounted ConfigMap holds; `settings`
        are more -E settings."""
        (self.bootstrap / "initial-masters").write_text(bootstrap_list)
        self.docker("rm", "-f", self.container, check=False)
        env_args = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        secret_args = [a for folder, path in self.mounts for a in ("-v", f"{folder}:{path}:ro")]
        self.docker(
            "run", "-d", "--name", self.container, "--network", "host",
            "-v", f"{self.data}:{self.home}/data", "-v", f"{self.bootstrap}:/etc/es-cluster/bootstrap:ro",
            *secret_args, *env_args, self.image,
            "-Enetwork.host=127.0.0.1", f"-Ehttp.port={self.http}", f"-Etransport.port={self.transport}",
            f"-Ediscovery.seed_hosts={seed_hosts or self.seed_hosts}", f"-E{NO_DISK_WATERMARKS}", *(f"-E{s}" for s in settings),
        )  # fmt: skip

    def stop(self) -> None:
        self.docker("stop", "-t", "60", self.container, check=False)

    def kill(self) -> None:
        self.docker("kill", self.container, check=False)

    def remove(self) -> None:
        self.docker("rm", "-f", self.container, check=False)

    def logs(self) -> str:
        proc = self.docker("logs", self.container, check=False)
        return proc.stdout + proc.stderr

    @property
    def https(self) -> bool:
        return self.env.get("ES_CLUSTER_HTTP_TLS") == "true"

    def url(self, path: str, scheme: str | None = None) -> str:
        # localhost: a name the node certificate carries (a port-forward's), checked by the client.
        scheme = scheme or ("https" if self.https else "http")
        return f"{scheme}://localhost:{self.http}{path}" if scheme == "https" else f"http://127.0.0.1:{self.http}{path}"

    def request(self, path: str, body: Any = None, method: str | None = None, password: str | None = None, scheme: str | None = None):
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        req = urllib.request.Request(self.url(path, scheme), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-ndjson" if path.startswith("/_bulk") else "application/json")
        if password is not None:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{self.engine.superuser}:{password}".encode()).decode())
        context = self.engine.tls_context() if req.type == "https" else None
        return urllib.request.urlopen(req, timeout=30, context=context)

    def get(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """The answer to an authenticated request (when the cluster is secured)."""
        password = self.engine.cached_password() if self.env.get("ES_CLUSTER_SECURITY") == "true" else None
        with self.request(path, body, method, password) as resp:
            return json.loads(resp.read().decode())

    def try_get(self, path: str) -> Any:
        try:
            return self.get(path)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, ssl.SSLError):
            return None


@pytest.fixture(scope="module", params=SELECTED)
def engine(request, make_stack, docker_env, kube, tmp_path_factory):
    e = Engine(request.param, make_stack, docker_env, kube, tmp_path_factory.mktemp(request.param))
    yield e
    e.remove()
    shutil.rmtree(e.tmp, ignore_errors=True)


def green(node: Node, count: int) -> Any:
    health = node.try_get("/_cluster/health")
    return health if health and health["status"] == "green" and health["number_of_nodes"] == count else None


def wait_green(engine: Engine, count: int, timeout: float = 240) -> dict[str, Any]:
    return wait_until(
        f"{engine.stack_name} green with {count} nodes", lambda: green(engine.client(), count), timeout, explain=engine.explain
    )


def cluster_uuid(node: Node) -> str:
    return node.get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"]["cluster_uuid"]


def bootstrap_carriers(node: Node, setting: str) -> list[str]:
    """The nodes whose settings name the first masters, as `_nodes/settings` reports them."""
    nodes = node.get("/_nodes/settings")["nodes"].values()
    key = setting.split(".")
    out = []
    for n in nodes:
        value: Any = n["settings"]
        for k in key:
            value = value.get(k) if isinstance(value, dict) else None
        # Flat or nested, as the engine reports it.
        if value is not None or setting in n["settings"]:
            out.append(n["name"])
    return sorted(out)


def setting_name(engine: Engine) -> str:
    """The bootstrap setting as the engine's profile names it."""
    profile = engines.for_version(engine.distribution, engine.version)
    assert profile is not None
    return profile.bootstrap_setting


# --- A: through the real CLI, at the API server ----------------------------------------------


def test_up_declares_the_layout_for_the_engine_and_lists_the_first_masters_once(engine: Engine):
    proc = engine.stack.up()
    engine.cli_output = proc.stdout + proc.stderr
    engine.first_list = engine.bootstrap_list()
    assert engine.first_list == ",".join(KWOK_MASTERS)
    env = engine.container_env("DaemonSet", "master", "kwok-node-0", "x")
    assert env["NODE_NAME"] == "kwok-node-0"
    assert env["DISCOVERY_SERVICE"] == f"{engine.name}-transport.{engine.ns}.svc"
    assert "MIN_MASTERS" not in env and "DISCOVERY_SERVICE" in env
    assert engine.kube.items("role", "-n", engine.ns) == []
    image = engine.stack.outputs()["imageRef"]
    assert image.startswith(f"localhost:{REGISTRY_PORT}/e2e-{engine.stack_name}@sha256:")
    built = run(["docker", "image", "inspect", image, "--format", "{{json .Config.Entrypoint}}"], env=engine.docker_env).stdout
    assert json.loads(built) == ["/usr/local/bin/es-cluster-entrypoint"]


def test_a_second_up_empties_the_list_and_restarts_no_workload(engine: Engine):
    generations = {
        g: engine.workload(k, g)["metadata"]["generation"]
        for k, g in [("DaemonSet", "master"), ("DaemonSet", "data"), ("Deployment", "client")]
    }
    password = engine.password() if engine.secured() else None
    proc = engine.stack.up()
    engine.cli_output += proc.stdout + proc.stderr
    assert engine.bootstrap_list() == ""
    if password is not None:
        assert engine.password() == password, "the generated password changed on a second up"
    after = {
        g: engine.workload(k, g)["metadata"]["generation"]
        for k, g in [("DaemonSet", "master"), ("DaemonSet", "data"), ("Deployment", "client")]
    }
    assert after == generations


# A change each stack's upgrade rules forbid: (distribution, version, the key, the rule's words).
FORBIDDEN = {
    "es7": ("elasticsearch", "9.1.0", "engine.version", "skips a major version"),
    "es8": ("elasticsearch", "7.17.28", "engine.version", "a downgrade"),
    "es9": ("elasticsearch", "8.19.0", "engine.version", "a downgrade"),
    "opensearch": ("elasticsearch", "8.19.0", "engine.distribution", "changes distribution"),
    "opensearch3": ("opensearch", "2.19.4", "engine.version", "a downgrade"),
}


def preview_with(engine: Engine, change) -> tuple[int, str]:
    """`pulumi preview` of the stack's config with `change` applied: its exit status and what it
    printed; the stack file is put back either way."""
    config = engine.stack.config()
    change(config)
    engine.stack.write_config(config)
    try:
        proc = engine.stack.pulumi("preview", check=False)
    finally:
        engine.stack.write_config(engine.config)
    return proc.returncode, proc.stdout + proc.stderr


def refused_preview(engine: Engine, change) -> str:
    """What `pulumi preview` prints for the stack's config with `change` applied, having failed."""
    status, out = preview_with(engine, change)
    assert status != 0, out
    return out


def test_a_change_the_upgrade_rules_forbid_is_refused_at_preview_with_the_key_and_the_rule(engine: Engine):
    distribution, version, key, rule = FORBIDDEN[engine.stack_name]
    out = refused_preview(engine, lambda config: config["engine"].update(distribution=distribution, version=version))
    assert f"{key}: {engine.distribution} {engine.version} -> {distribution} {version}: " in out, out
    assert rule in out and "Refused, with no override." in out, out


# The next major each stack may go to in place (the upgrade rules allow it).
UPGRADE = {"es7": "8.19.0", "es8": "9.1.0", "es9": None, "opensearch": "3.3.0", "opensearch3": None}


def test_an_allowed_upgrade_previews_as_a_rolling_upgrade_data_first_masters_last(engine: Engine):
    """The preview of the next major (its version and its image) names the versions and the
    order the groups go in: data nodes first, then coordinating nodes, master-eligible nodes last
    (ES's upgrade order)."""
    target = UPGRADE[engine.stack_name]
    if target is None:
        pytest.skip(f"{engine.stack_name}: no newer major deployed here")

    def upgrade(config: dict[str, Any]) -> None:
        config["engine"]["version"] = target
        # The image of the new version: the official image's tag follows engine.version by itself;
        # the stand-in base is named here (a preview builds nothing, so it need not exist yet).
        config["image"]["baseImage"] = f"es-cluster/{engine.distribution}-base:{target}"

    status, out = preview_with(engine, upgrade)
    assert status == 0, out
    assert f"engine: rolling upgrade {engine.distribution} {engine.version} -> {engine.distribution} {target}" in out, out
    assert "roll order: data -> client -> master, each group's rollout finishing before the next starts" in out, out


def test_the_next_version_with_the_image_left_as_it_was_is_refused_at_preview(engine: Engine):
    """The stacks pin image.baseImage to their version's stand-in: moving engine.version alone
    would restart nothing, so the preview refuses it and names both keys."""
    target = UPGRADE[engine.stack_name]
    if target is None:
        pytest.skip(f"{engine.stack_name}: no newer major deployed here")
    out = refused_preview(engine, lambda config: config["engine"].update(version=target))
    assert f"engine.version, image.baseImage: {engine.distribution} {engine.version} -> {engine.distribution} {target}, " in out, out
    assert f"but the image stays {engine.base} (image.baseImage): no node would restart" in out, out


# Stacks whose stand-in base has no security plugin, and turn security off (docs/security.md).
UNSECURED = {"opensearch3": "Maven Central serves no opensearch-security plugin for 3.3.0"}


def secured(engine: Engine) -> None:
    """Every modern engine is secured by default; a stack whose base lacks the plugin is not."""
    if engine.stack_name in UNSECURED:
        assert not engine.secured()
        pytest.skip(f"security is off on {engine.stack_name}: {UNSECURED[engine.stack_name]}")
    assert engine.secured(), f"{engine.stack_name}: {engine.distribution} {engine.version} deployed without security"


def test_switching_security_in_a_running_cluster_is_refused_at_preview_as_quorum_loss(engine: Engine):
    secured(engine)
    out = refused_preview(engine, lambda config: config.update(security={"enabled": False}))
    assert "security.enabled: turns security off in a running cluster." in out, out
    assert "set es-cluster:allowDisruptive to [quorumLoss] (or true) for this change" in out, out


# --- B: the engine itself -----------------------------------------------------------------


def test_the_cluster_forms_green_with_the_configured_roles(engine: Engine):
    engine.start_nodes()
    health = wait_green(engine, len(engine.nodes))
    assert health["cluster_name"] == engine.name
    rows = engine.client().get("/_cat/nodes?format=json&h=name,node.role,master")
    roles = {r["name"]: r["node.role"] for r in rows}
    assert roles == {**{m: "m" for m in KWOK_MASTERS}, **{d: "d" for d in KWOK_DATA}, engine.client().name: "-"}, rows
    elected = [r["name"] for r in rows if r["master"] == "*"]
    assert len(elected) == 1 and elected[0] in KWOK_MASTERS


def test_documents_indexed_through_the_coordinating_node_are_found(engine: Engine):
    client = engine.client()
    client.get("/logs", {"settings": {"number_of_shards": 2, "number_of_replicas": 0}}, method="PUT")
    lines = "".join(
        json.dumps({"index": {"_index": "logs", "_id": str(i)}}) + "\n" + json.dumps({"n": i, "msg": f"line {i}"}) + "\n"
        for i in range(DOCS)
    )
    result = client.get("/_bulk?refresh=true", lines.encode(), method="POST")
    assert result["errors"] is False
    assert client.get("/logs/_count")["count"] == DOCS
    hits = client.get("/logs/_search", {"query": {"match": {"msg": "17"}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["17"]


# What each engine logs when plain HTTP reaches its HTTPS port.
PLAINTEXT_REFUSED = {
    "elasticsearch": "received plaintext http traffic on an https channel",
    "opensearch": "not an SSL/TLS record",
}


def test_plaintext_http_to_9200_is_refused(engine: Engine):
    secured(engine)
    client = engine.client()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        client.request("/", scheme="http", password=engine.password())
    wait_until(
        "the node to log the plaintext request",
        lambda: PLAINTEXT_REFUSED[engine.distribution] in client.logs(),
        30,
        explain=lambda: client.logs()[-2000:],
    )


def test_https_without_credentials_gets_401_and_a_wrong_password_too(engine: Engine):
    secured(engine)
    for password in (None, "not-the-password"):
        with pytest.raises(urllib.error.HTTPError) as e:
            engine.client().request("/_cluster/health", password=password)
        assert e.value.code == 401


def test_the_password_is_the_stack_output_and_never_plaintext_in_the_state_or_the_cli_output(engine: Engine):
    secured(engine)
    password = engine.password()
    shown = engine.stack.pulumi("stack", "output", "elasticPassword", "--show-secrets").stdout.strip()
    assert shown == password
    assert engine.stack.pulumi("stack", "output", "elasticPassword").stdout.strip() == "[secret]"
    state = engine.stack.pulumi("stack", "export").stdout
    key_body = engine.secret(f"{engine.name}-certs")["tls.key"].decode().splitlines()[1]
    for text, where in ((state, "the state"), (engine.cli_output, "the CLI's output")):
        assert password not in text, f"the password is in {where}"
        assert key_body not in text, f"the node's private key is in {where}"
    assert '"ciphertext"' in state  # the secrets are there, encrypted


# Every container shares this machine's disk with its caches: above 85% full the engines' disk
# watermarks would leave replicas unassigned (a cold CI run's OpenSearch stayed yellow so), which
# is this machine's state, not the cluster's.
NO_DISK_WATERMARKS = "cluster.routing.allocation.disk.threshold_enabled=false"

# For a node meant to stay out of the cluster: how long it waits to join before it says "started"
# anyway (30 s by default), which is all these tests wait for once it has failed to.
ALONE_SOON = "discovery.initial_state_timeout=3s"

# What a JVM logs when a TLS peer's certificate does not chain to its CA, or the peer refused ours.
REFUSED_HANDSHAKE = ("PKIX path", "unable to find valid certification path", "certificate_unknown", "bad_certificate")


def test_a_node_with_a_certificate_of_another_ca_does_not_join(engine: Engine, tmp_path):
    """Transport verifies the peer's certificate against the cluster's CA: a node whose
    certificate another CA signed (same names, same password, same settings) stays out."""
    secured(engine)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = tls.new_key(), tls.new_key()
    ca = tls.new_ca("intruder", ca_key, now)
    foreign = tmp_path / "certs"
    foreign.mkdir()
    (foreign / "ca.crt").write_text(tls.cert_pem(ca))
    (foreign / "tls.crt").write_text(tls.cert_pem(tls.new_node_cert("intruder", ["localhost"], key, ca, ca_key, now)))
    (foreign / "tls.key").write_text(tls.key_pem(key))
    for f in foreign.iterdir():
        f.chmod(0o644)
    foreign.chmod(0o755)
    data = next(n for n in engine.nodes.values() if n.group == "data")
    mounts = [(foreign, path) if path.endswith("/certs") else (folder, path) for folder, path in data.mounts]
    extra = Node(
        engine, 8, {**data.env, "NODE_NAME": "foreign-certificate"}, data.image, "data", [TRANSPORT_BASE + i for i in range(3)], mounts
    )
    try:
        extra.start("", None, ALONE_SOON)
        # The node's own log: its TLS handshakes with the masters fail on the certificates.
        wait_until(
            "the node's handshakes with the masters to fail on the certificates",
            lambda: any(s in extra.logs() for s in REFUSED_HANDSHAKE),
            150,
            explain=lambda: extra.logs()[-3000:],
        )
        wait_until("the node to start", lambda: "] started" in extra.logs(), 150, explain=lambda: extra.logs()[-3000:])
        names = [r["name"] for r in engine.client().get("/_cat/nodes?format=json&h=name")]
        assert extra.name not in names and len(names) == len(engine.nodes)
        # Seen from the node itself (its own users, its HTTPS on the other CA): alone.
        assert_alone(extra, ssl.create_default_context(cafile=foreign / "ca.crt"))
    finally:
        extra.remove()


def test_no_zen1_setting_on_any_node(engine: Engine):
    for n in engine.client().get("/_nodes/settings")["nodes"].values():
        text = json.dumps(n["settings"])
        assert "minimum_master_nodes" not in text and '"zen"' not in text, n["name"]


def test_masters_restarted_after_the_second_up_carry_no_bootstrap_setting_and_warn_of_none(engine: Engine):
    """What the first deploy's masters were started with goes with their first restart: the
    list they now read is the emptied one (the second up)."""
    uuid = cluster_uuid(engine.client())
    assert bootstrap_carriers(engine.client(), setting_name(engine)) == KWOK_MASTERS
    for master in engine.masters():
        master.stop()
        master.start(engine.bootstrap_list())
        wait_green(engine, len(engine.nodes))
    assert bootstrap_carriers(engine.client(), setting_name(engine)) == []
    assert cluster_uuid(engine.client()) == uuid
    for master in engine.masters():
        assert BOOTSTRAP_WARNING not in master.logs()


def test_losing_the_elected_master_elects_another_and_keeps_the_uuid_and_documents(engine: Engine):
    client = engine.client()
    uuid = cluster_uuid(client)
    [row] = client.get("/_cat/master?format=json")
    lost = engine.nodes[row["node"]]
    lost.kill()

    def new_master():
        rows = client.try_get("/_cat/master?format=json")
        return rows and rows[0]["node"] not in (lost.name, "-") and rows[0]["node"]

    assert wait_until("a new elected master", new_master, 120, explain=engine.explain) in KWOK_MASTERS
    lost.start(engine.bootstrap_list())  # the DaemonSet's new pod on the same node
    wait_green(engine, len(engine.nodes))
    assert cluster_uuid(client) == uuid
    assert client.get("/logs/_count")["count"] == DOCS


def test_a_reinstall_over_kept_data_comes_back_as_the_same_cluster(engine: Engine):
    """`pulumi destroy` then `up` over the hostPath data the DaemonSets leave on the nodes (the
    OpenSearch operator's #965): the new stack's first deploy lists the first masters again, and
    nodes that already belong to a cluster ignore the list. The same UUID and documents come
    back. The undo of the fix is visible too: the masters now carry the setting, which is what
    the test above checks is gone, and ES 8+ warns of it at start."""
    uuid = cluster_uuid(engine.client())
    for n in engine.nodes.values():
        n.stop()
        n.remove()
    for n in engine.nodes.values():
        n.start(engine.first_list)
    wait_green(engine, len(engine.nodes))
    assert cluster_uuid(engine.client()) == uuid
    assert engine.client().get("/logs/_count")["count"] == DOCS
    assert bootstrap_carriers(engine.client(), setting_name(engine)) == KWOK_MASTERS
    if engine.distribution == "elasticsearch" and int(engine.version.split(".")[0]) >= 8:
        assert all(BOOTSTRAP_WARNING in m.logs() for m in engine.masters())


def test_a_node_whose_seed_hosts_are_the_http_ports_finds_no_cluster(engine: Engine):
    """The field report's lesson on 7+: discovery dialling 9200 finds nobody. A coordinating node
    seeded with the masters' HTTP ports is answered in HTTP, says so, and stays alone."""
    extra = Node(
        engine, 9, {**engine.client().env, "NODE_NAME": "seeded-on-http"}, engine.client().image, "client", [], engine.client().mounts
    )
    engine.nodes[extra.name] = extra
    try:
        extra.start("", ",".join(f"127.0.0.1:{HTTP_BASE + i}" for i in range(3)), ALONE_SOON)
        wait_until(
            "the node to start having dialled the HTTP ports",
            lambda: "received HTTP response on transport port" in (log := extra.logs()) and "] started" in log,
            150,
            explain=lambda: extra.logs()[-3000:],
        )
        assert_alone(extra)
        names = [r["name"] for r in engine.client().get("/_cat/nodes?format=json&h=name")]
        assert extra.name not in names
    finally:
        extra.remove()
        del engine.nodes[extra.name]


def assert_alone(node: Node, context: ssl.SSLContext | None = None) -> None:
    """The node sees no cluster. A secured OpenSearch node alone has no security index, so it
    authenticates no one and says why (503), which it could not say in a cluster."""
    auth = {"Authorization": "Basic " + base64.b64encode(f"{node.engine.superuser}:{node.engine.cached_password()}".encode()).decode()}
    req = urllib.request.Request(node.url("/_cluster/health?local=true"), headers=auth if node.engine.secured() else {})
    context = context or (node.engine.tls_context() if req.type == "https" else None)
    if node.engine.distribution == "opensearch" and node.engine.secured():
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30, context=context)
        assert e.value.code == 503 and "OpenSearch Security not initialized" in e.value.read().decode()
        return
    with urllib.request.urlopen(req, timeout=30, context=context) as resp:
        assert json.loads(resp.read())["number_of_nodes"] == 1


def test_a_password_set_in_config_takes_effect_without_a_restart(engine: Engine):
    """`pulumi config set --secret` changes the password: the superuser's Secrets change, the
    kubelet's update reaches the running nodes' mounted folders, and no workload is restarted.
    Elasticsearch reloads its file realm; OpenSearch keeps its users in its security index, so
    the first pod whose readiness probe sees the new Secret changes the password there with the
    previous one, mounted beside it. The old password is refused from then on."""
    secured(engine)
    old = engine.password()
    new = "e2e-" + old[::-1][:20]
    generations = {g: engine.workload(k, g)["metadata"]["generation"] for k, g in [("DaemonSet", "master"), ("Deployment", "client")]}
    engine.stack.pulumi("config", "set", "--secret", "--path", "es-cluster:security.password", new)
    proc = engine.stack.up()
    assert new not in proc.stdout + proc.stderr
    assert engine.password() == new
    assert {
        g: engine.workload(k, g)["metadata"]["generation"] for k, g in [("DaemonSet", "master"), ("Deployment", "client")]
    } == generations
    engine.sync_secrets()
    if engine.distribution == "opensearch":
        assert engine.secret(f"{engine.name}-elastic-user")[engine.superuser + c.PREVIOUS_PASSWORD_SUFFIX].decode() == old
        # The users file is read only when the cluster first forms: the new one changes nothing.
        assert answers_on(engine.client(), old) and not answers_on(engine.client(), new)
        # As the kubelet runs the readiness probe, on one pod.
        node = engine.masters()[0]
        probe = node.docker("exec", "-e", f"ES_CLUSTER_HTTP_PORT={node.http}", node.container, c.PROBE_COMMAND, "ready", check=False)
        assert "password from the stack config is now in force" in probe.stderr, probe.stderr
        assert "password from the stack config is now in force" in node.logs()
        assert new not in probe.stdout + probe.stderr + node.logs()

    def answers(password: str) -> bool:
        try:
            with engine.client().request("/_cluster/health", password=password):
                return True
        except urllib.error.HTTPError as e:
            assert e.code == 401
            return False

    wait_until(
        "every node to take the new password", lambda: all(answers_on(n, new) for n in engine.nodes.values()), 60, explain=engine.explain
    )
    assert not answers(old)
    stack_file = (engine.stack.dir / f"Pulumi.{engine.stack_name}.yaml").read_text()
    assert "secure:" in stack_file and new not in stack_file


def answers_on(node: Node, password: str) -> bool:
    try:
        with node.request("/_cluster/health?local=true", password=password):
            return True
    except urllib.error.HTTPError:
        return False


def presented_serial(node: Node, transport: bool) -> int:
    """The serial of the certificate a node presents to a new connection: on HTTP, verified as a
    client verifies it; on transport, as a peer node connects (with the node certificate)."""
    if transport:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # verification_mode certificate: the CA's signature, not the name
        certs = node.engine.certificates_dir()
        context.load_verify_locations(certs / "ca.crt")
        context.load_cert_chain(certs / "tls.crt", certs / "tls.key")
        host, port = "127.0.0.1", node.transport
    else:
        context, host, port = node.engine.tls_context(), "localhost", node.http
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host) as tls_socket:
        der = tls_socket.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def wait_presented(engine: Engine, cert: x509.Certificate, what: str) -> None:
    """Until every node presents `cert` to new connections on HTTP and transport (once the
    Secret's update has reached it and the engine has reloaded the files)."""
    wait_until(
        f"every node to present {what} on HTTP and transport",
        lambda: {presented_serial(n, t) for n in engine.nodes.values() for t in (False, True)} == {cert.serial_number},
        90,
        explain=engine.explain,
    )


class HealthPoller(threading.Thread):
    """Cluster health through the coordinating node, every second, until stopped."""

    def __init__(self, node: Node):
        super().__init__(daemon=True)
        self.node, self.seen, self.halt = node, [], threading.Event()

    def run(self) -> None:
        while not self.halt.wait(1):
            try:
                self.seen.append(self.node.get("/_cluster/health")["status"])
            except Exception as e:  # noqa: BLE001 - every failure is a finding here
                self.seen.append(f"error: {e!r}")


@contextlib.contextmanager
def green_throughout_with_no_restart(engine: Engine, what: str) -> Iterator[None]:
    """Health through the coordinating node at every second while the block runs: green each
    time; and no workload's generation changed by it."""
    kinds = engine.workload_kinds
    generations = {g: engine.workload(k, g)["metadata"]["generation"] for k, g in kinds}
    poller = HealthPoller(engine.client())
    poller.start()
    try:
        yield
    finally:
        poller.halt.set()
        poller.join()
    assert poller.seen and set(poller.seen) == {"green"}, poller.seen
    assert {g: engine.workload(k, g)["metadata"]["generation"] for k, g in kinds} == generations
    print(f"\n{what}: health polled {len(poller.seen)} times, all green")


def test_a_renewed_certificate_reaches_the_running_nodes_without_a_restart_and_green_throughout(engine: Engine):
    """Renewal: a new validity (security.certificateDays) reissues the node certificate from the
    same CA at `up`; the kubelet's update of the mounted Secret reaches the running nodes, which
    reload it. Every new connection, on HTTP and transport, then gets the new certificate; no
    workload changes; health, polled every second throughout, is green every time."""
    secured(engine)
    certs = f"{engine.name}-certs"
    before = engine.secret(certs)
    old = tls.load_cert(before["tls.crt"].decode()).serial_number
    assert {presented_serial(n, t) for n in engine.nodes.values() for t in (False, True)} == {old}
    with green_throughout_with_no_restart(engine, "certificate renewal"):
        # Longer than the first one's: OpenSearch reloads only a certificate that expires later.
        engine.stack.pulumi("config", "set", "--path", "es-cluster:security.certificateDays", "400")
        engine.stack.up()
        after = engine.secret(certs)
        assert after["ca.crt"] == before["ca.crt"] and after["tls.crt"] != before["tls.crt"]
        new = tls.load_cert(after["tls.crt"].decode())
        assert tls.validity_days(new) == 400
        engine.sync_secrets()
        wait_presented(engine, new, "the new certificate")


def transport_accepts(node: Node, cert: Path, key: Path) -> bool:
    """Whether the node's transport port takes a peer presenting `cert`: after the handshake a
    node that refused the certificate alerts and closes; one that took it waits for the peer's
    first message."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only the node's verdict on ours matters here
    context.load_cert_chain(cert, key)
    try:
        with socket.create_connection(("127.0.0.1", node.transport), timeout=10) as raw, context.wrap_socket(raw) as peer:
            peer.settimeout(3)
            return peer.recv(1) != b""
    except TimeoutError:
        return True
    except (ssl.SSLError, ConnectionError):
        return False


def test_the_ca_rotates_in_three_ups_with_no_restart_and_green_throughout(engine: Engine, tmp_path):
    """A new security.caDays rotates the CA: trust (both CAs in ca.crt), sign (node certificates
    from the new CA), retire (the new CA alone), each an `up` and the kubelet's update of the
    mounted Secret. Health polled every second is green throughout, no workload changes, every
    node presents a certificate of the new CA after step 2, and after step 3 a peer presenting a
    certificate of the old CA is refused on transport, which it was not before."""
    secured(engine)
    certs = f"{engine.name}-certs"
    before = engine.secret(certs)
    [old_ca] = tls.load_certs(before["ca.crt"].decode())
    (tmp_path / "old.crt").write_bytes(before["tls.crt"])
    (tmp_path / "old.key").write_bytes(before["tls.key"])
    old_cert = (tmp_path / "old.crt", tmp_path / "old.key")
    assert all(transport_accepts(n, *old_cert) for n in engine.masters())
    # The steps need not wait here: the harness brings every pod the Secret's update at once.
    engine.stack.env["ES_CLUSTER_CA_SETTLE_SECONDS"] = "0"
    with green_throughout_with_no_restart(engine, "CA rotation"):
        engine.stack.pulumi("config", "set", "--path", "es-cluster:security.caDays", "1000")
        # 1. trust: both CAs; clients verifying with the stack output keep working.
        out = engine.stack.up()
        assert "CA rotation, step 1 of 3 done" in out.stdout + out.stderr, out.stdout
        trusted = tls.load_certs(engine.secret(certs)["ca.crt"].decode())
        assert len(trusted) == 2 and trusted[1] == old_ca
        new_ca = trusted[0]
        engine._tls = ssl.create_default_context(cadata=engine.stack.outputs()["caCertificate"])
        engine.sync_secrets()
        # 2. sign: every node presents a certificate of the new CA, on HTTP and transport.
        out = engine.stack.up()
        assert "CA rotation, step 2 of 3 done" in out.stdout + out.stderr, out.stdout
        signed = tls.load_cert(engine.secret(certs)["tls.crt"].decode())
        signed.verify_directly_issued_by(new_ca)
        engine.sync_secrets()
        wait_presented(engine, signed, "a certificate of the new CA")
        assert all(transport_accepts(n, *old_cert) for n in engine.masters()), "step 2 still trusts the old CA"
        # 3. retire: the old CA's certificates are refused.
        engine.stack.up()
        assert tls.load_certs(engine.secret(certs)["ca.crt"].decode()) == [new_ca]
        engine.sync_secrets()
        wait_until(
            "every master to refuse a certificate of the old CA",
            lambda: not any(transport_accepts(n, *old_cert) for n in engine.masters()),
            90,
        )
        assert tls.load_certs(engine.stack.outputs()["caCertificate"]) == [new_ca]
