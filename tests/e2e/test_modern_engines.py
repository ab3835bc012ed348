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

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from es_cluster import engines
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

    # --- A: what the API server holds
    def bootstrap_list(self) -> str:
        return self.kube.get("configmap", f"{self.name}-bootstrap", "-n", self.ns)["data"]["initial-masters"]

    def workload(self, kind: str, group: str) -> dict[str, Any]:
        return self.kube.get(kind, f"{self.name}-{group}", "-n", self.ns)

    def container_env(self, kind: str, group: str, node_name: str, pod_name: str) -> dict[str, str]:
        """The ES container's env as the kubelet would give pod `pod_name` on `node_name`."""
        [container] = self.workload(kind, group)["spec"]["template"]["spec"]["containers"]
        filled = {"metadata.name": pod_name, "spec.nodeName": node_name, "metadata.namespace": self.ns}
        # An empty value is dropped by the API server, and a kubelet sets the variable to "".
        return {
            e["name"]: filled[e["valueFrom"]["fieldRef"]["fieldPath"]] if "valueFrom" in e else e.get("value", "") for e in container["env"]
        }

    # --- B: the nodes
    def start_nodes(self) -> None:
        image = self.stack.outputs()["imageRef"]
        plan = [("DaemonSet", "master", n, n) for n in KWOK_MASTERS]
        plan += [("DaemonSet", "data", n, n) for n in KWOK_DATA]
        plan.append(("Deployment", "client", "kwok-node-5", f"{self.name}-client-7d9c-x2k4p"))
        masters = [TRANSPORT_BASE + i for i in range(len(KWOK_MASTERS))]
        for index, (kind, group, node_name, pod) in enumerate(plan):
            env = self.container_env(kind, group, node_name, pod)
            self.nodes[env["NODE_NAME"]] = Node(self, index, env, image, group, masters)
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

    def __init__(self, engine: Engine, index: int, env: dict[str, str], image: str, group: str, master_ports: list[int]):
        self.engine = engine
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

    def start(self, bootstrap_list: str, seed_hosts: str | None = None) -> None:
        """Start the container; `bootstrap_list` is what the mounted ConfigMap holds."""
        (self.bootstrap / "initial-masters").write_text(bootstrap_list)
        self.docker("rm", "-f", self.container, check=False)
        env_args = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        self.docker(
            "run", "-d", "--name", self.container, "--network", "host",
            "-v", f"{self.data}:{self.home}/data", "-v", f"{self.bootstrap}:/etc/es-cluster/bootstrap:ro",
            *env_args, self.image,
            "-Enetwork.host=127.0.0.1", f"-Ehttp.port={self.http}", f"-Etransport.port={self.transport}",
            f"-Ediscovery.seed_hosts={seed_hosts or self.seed_hosts}",
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

    def get(self, path: str, body: Any = None, method: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-ndjson" if path.startswith("/_bulk") else "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read().decode())

    def try_get(self, path: str) -> Any:
        try:
            return self.get(path)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
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
    engine.stack.up()
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
    engine.stack.up()
    assert engine.bootstrap_list() == ""
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


def test_a_change_the_upgrade_rules_forbid_is_refused_at_preview_with_the_key_and_the_rule(engine: Engine):
    distribution, version, key, rule = FORBIDDEN[engine.stack_name]
    config = engine.stack.config()
    config["engine"].update(distribution=distribution, version=version)
    engine.stack.write_config(config)
    try:
        proc = engine.stack.pulumi("preview", check=False)
    finally:
        engine.stack.write_config(engine.config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"{key}: {engine.distribution} {engine.version} -> {distribution} {version}: " in out, out
    assert rule in out and "Refused, with no override." in out, out


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
    extra = Node(engine, 9, {**engine.client().env, "NODE_NAME": "seeded-on-http"}, engine.client().image, "client", [])
    engine.nodes[extra.name] = extra
    try:
        extra.start("", seed_hosts=",".join(f"127.0.0.1:{HTTP_BASE + i}" for i in range(3)))
        wait_until(
            "the node to start having dialled the HTTP ports",
            lambda: "received HTTP response on transport port" in (log := extra.logs()) and "] started" in log,
            150,
            explain=lambda: extra.logs()[-3000:],
        )
        assert extra.get("/_cluster/health?local=true")["number_of_nodes"] == 1
        names = [r["name"] for r in engine.client().get("/_cat/nodes?format=json&h=name")]
        assert extra.name not in names
    finally:
        extra.remove()
        del engine.nodes[extra.name]
