"""Version upgrades that lose nothing: a secured cluster of 3 masters, 3 data nodes and a
coordinating node, an index with one replica, and a writer indexing through the HTTP Service's
node the whole time; then `pulumi up` of the next version, and every pod replaced the way a
kubelet replaces it.

A. The real CLI, providers and API server on kwok nodes, as in test_modern_engines.py: `pulumi
   up` builds the new version's image on its stand-in base, pushes it, and updates the
   workloads one group at a time; its summary names the roll order.
B. The engine for real (the same stand-in as test_modern_engines.py, whose docstring says why
   the containers bind 127.0.0.1): the harness is the kubelet. In the order the `up` reported,
   one pod at a time, it runs the pod's preStop hook in the old container, stops it with the
   pod's grace period, starts the new image with the env the API server now holds for the pod,
   on the same data folder, and runs the pod's readiness probe until it passes before it goes
   on, as a StatefulSet or DaemonSet rolling update waits for a Ready pod. The hooks are the
   image's own (images/modern/probe.sh).

Checked after each step: green on the new version on every node, every acknowledged document
found, the cluster's UUID unchanged, health never red at any 1-s poll, and every shard copy on
the node that held it before (the allocation hold). Printed: the seconds writes were refused,
and the shard recoveries by type with the bytes they copied.

ES_CLUSTER_E2E_UPGRADES picks the chains (`make test-upgrades`: es8, 8.19.0 -> 9.1.0); unset,
this module is skipped (docs/tests.md says why it is outside `make test`)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest

from es_cluster import engines

from .conftest import REGISTRY_PORT, Kube, run, wait_until
from .test_modern_engines import KWOK_MASTERS, Engine, Node, kwok_config

# chain -> the stack file it starts from (its layout and security), its distribution, and the
# versions it goes through. OpenSearch's runs unsecured: the security plugin is served for 2.19.4
# only, and 3.x takes its cluster from 2.19 (docs/security.md).
CHAINS = {
    "es8": ("es8", "elasticsearch", ["8.19.0", "9.1.0"]),
    "es7": ("es7", "elasticsearch", ["7.17.28", "8.19.0", "9.1.0"]),
    "opensearch": ("opensearch3", "opensearch", ["2.19.6", "3.3.0"]),
}
SELECTED = [s for s in os.environ.get("ES_CLUSTER_E2E_UPGRADES", "").split(",") if s]
pytestmark = pytest.mark.skipif(not SELECTED, reason="upgrades run in `make test-upgrades` (ES_CLUSTER_E2E_UPGRADES; docs/tests.md)")

# kwok-node-5 is unlabelled (for scale-out tests): labelled a data node here, so three data nodes
# hold the index and a copy that left could be rebuilt elsewhere, were allocation not held.
DATA_NODES = ["kwok-node-3", "kwok-node-4", "kwok-node-5"]
# The node the coordinating pod is said to run on (only its env names it).
CLIENT_NODE = "kwok-node-5"
DATA_LABEL = "kube-system/es-data-node"
INDEX = "writes"  # the alias the writer writes through
FIRST_INDEX = "writes-1"  # the index behind it from the start
SHARDS = 6
MAX_DOCS = 200_000


class Upgrade(Engine):
    """One chain's cluster: deployed by the CLI (A), run and rolled by the harness (B)."""

    def __init__(self, chain: str, make_stack, docker_env: dict[str, str], kube: Kube, tmp: Path):
        stack_file, self.distribution, self.versions = CHAINS[chain]
        self.stack_name = f"upgrade-{chain}"
        self.kube, self.docker_env, self.tmp = kube, docker_env, tmp
        self.version = self.versions[0]
        self.config = kwok_config(stack_file, self.base_for(self.version))
        self.config["namespace"] = f"e2e-{self.stack_name}"
        self.config["engine"]["version"] = self.version
        self.config["image"]["repository"] = f"localhost:{REGISTRY_PORT}/e2e-{self.stack_name}"
        self.config["nodeGroups"]["data"]["replicas"] = len(DATA_NODES)
        self.ns, self.name = self.config["namespace"], self.config["clusterName"]
        self.stack = make_stack(self.stack_name, self.config)
        self.stack.env.update(DOCKER_HOST=docker_env["DOCKER_HOST"])
        self.nodes: dict[str, Node] = {}
        self.first_list = ""
        self.secret_dirs: dict[str, Path] = {}
        self.superuser = engines.for_version(self.distribution, self.version).superuser
        self.roll_order: list[str] = []

    def base_for(self, version: str) -> str:
        script = Path(__file__).resolve().parents[2] / "scripts" / "base-image.sh"
        return run([str(script), self.distribution, version], env=self.docker_env, timeout=1800).stdout.split()[-1]

    # --- B
    def pods(self) -> list[tuple[str, str, str, str]]:
        """(kind, group, node name, pod name) of every pod the harness runs, by index."""
        plan = [("DaemonSet", "master", n, n) for n in KWOK_MASTERS]
        plan += [("DaemonSet", "data", n, n) for n in DATA_NODES]
        return [*plan, ("Deployment", "client", CLIENT_NODE, self.client_pod())]

    def client_pod(self) -> str:
        """The coordinating node's pod name: a Deployment's replaced pod gets a new one."""
        return f"{self.name}-client-{self.version.replace('.', '-')}"

    def node_for(self, index: int, kind: str, group: str, node_name: str, pod: str) -> Node:
        env = self.container_env(kind, group, node_name, pod)
        node = Node(self, index, env, self.stack.outputs()["imageRef"], group, [19310 + i for i in range(len(KWOK_MASTERS))])
        node.mounts = self.secret_mounts(kind, group)
        # The engine's HTTP port is set with -E here (not 9200): the hooks are told it.
        node.env["ES_CLUSTER_HTTP_PORT"] = str(node.http)
        planned = self.kube.get("configmap", f"{self.name}-bootstrap", "-n", self.ns)["data"]["nodes"]
        (node.bootstrap / "nodes").write_text(planned)
        node.kind = kind  # type: ignore[attr-defined]
        node.node_name = node_name  # type: ignore[attr-defined]
        node.index = index  # type: ignore[attr-defined]
        return node

    def start_nodes(self) -> None:
        for index, (kind, group, node_name, pod) in enumerate(self.pods()):
            node = self.node_for(index, kind, group, node_name, pod)
            self.nodes[node.name] = node
        self.sync_secrets()
        for node in self.nodes.values():
            node.start(self.first_list)

    def pod_spec(self, kind: str, group: str) -> dict[str, Any]:
        return self.workload(kind, group)["spec"]["template"]["spec"]

    def exec_hook(self, node: Node, command: list[str]) -> subprocess.CompletedProcess:
        return node.docker("exec", node.container, *command, check=False)

    def replace(self, node: Node) -> Node:
        """What a kubelet does to replace the pod: preStop, stop with the grace period, start
        the new spec on the same data, then the readiness probe until it passes."""
        spec = self.pod_spec(node.kind, node.group)  # type: ignore[attr-defined]
        [container] = spec["containers"]
        hook = self.exec_hook(node, container["lifecycle"]["preStop"]["exec"]["command"])
        assert hook.returncode == 0, hook.stdout + hook.stderr
        node.docker("stop", "-t", str(spec["terminationGracePeriodSeconds"]), node.container)
        del self.nodes[node.name]
        pod = self.client_pod() if node.group == "client" else node.name
        new = self.node_for(node.index, node.kind, node.group, node.node_name, pod)  # type: ignore[attr-defined]
        self.nodes[new.name] = new
        new.start("")
        probe = container["readinessProbe"]
        time.sleep(probe["initialDelaySeconds"])
        wait_until(
            f"{new.name} ready on {self.version}",
            lambda: self.exec_hook(new, probe["exec"]["command"]).returncode == 0,
            timeout=900,
            interval=probe["periodSeconds"],
            explain=self.explain,
        )
        return new

    def roll(self) -> None:
        by_group: dict[str, list[Node]] = {}
        for node in self.nodes.values():
            by_group.setdefault(node.group, []).append(node)
        for group in self.roll_order:
            for node in sorted(by_group[group], key=lambda n: n.name):
                self.replace(node)


class Writer:
    """Indexes documents through the coordinating node (the HTTP Service's only endpoint) in a
    bounded loop, one id after another, each retried until acknowledged; and polls health
    every second from any node that answers."""

    def __init__(self, upgrade: Upgrade):
        self.upgrade = upgrade
        self.acked: list[int] = []
        self.refused_seconds = 0.0
        self.statuses: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.write, daemon=True), threading.Thread(target=self.poll, daemon=True)]
        for t in self.threads:
            t.start()

    def write(self) -> None:
        doc = 0
        while doc < MAX_DOCS and not self.stop.is_set():
            started = time.monotonic()
            try:
                self.upgrade.client().get(f"/{INDEX}/_doc/{doc}", {"n": doc}, method="PUT")
                self.acked.append(doc)
                doc += 1
            # StopIteration/RuntimeError: no client node, or the harness swapping it just then.
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, StopIteration, RuntimeError):
                self.refused_seconds += time.monotonic() - started
                time.sleep(0.2)
                self.refused_seconds += 0.2

    def poll(self) -> None:
        while not self.stop.is_set():
            try:
                nodes = list(self.upgrade.nodes.values())
            except RuntimeError:  # the harness swapping a node just then
                nodes = []
            for node in nodes:
                health = node.try_get("/_cluster/health")
                if health:
                    self.statuses.append((time.monotonic(), health["status"]))
                    break
            self.stop.wait(1)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


@pytest.fixture(scope="module", params=SELECTED)
def upgrade(request, make_stack, docker_env, kube, tmp_path_factory):
    kube.run("label", "node", "--overwrite", DATA_NODES[-1], f"{DATA_LABEL}=true")
    u = Upgrade(request.param, make_stack, docker_env, kube, tmp_path_factory.mktemp(request.param))
    try:
        yield u
    finally:
        u.remove()
        kube.run("label", "node", DATA_NODES[-1], f"{DATA_LABEL}-", check=False)


def green_on(upgrade: Upgrade, version: str) -> Any:
    health = upgrade.client().try_get("/_cluster/health")
    if not health or health["status"] != "green" or health["number_of_nodes"] != len(upgrade.nodes):
        return None
    versions = upgrade.client().get("/_nodes?filter_path=nodes.*.version")["nodes"]
    return health if {v["version"] for v in versions.values()} == {version} else None


def shard_homes(upgrade: Upgrade) -> set[tuple[str, str, str]]:
    rows = upgrade.client().get(f"/_cat/shards/{INDEX}?format=json&h=index,shard,prirep,node,state")
    assert all(r["state"] == "STARTED" for r in rows), rows
    return {(r["index"], r["shard"], r["node"]) for r in rows}


def move_writes_off_the_first_index(upgrade: Upgrade, settings: dict[str, Any]) -> None:
    """What the oldIndices refusal asks of an index created on the first major, done as a user
    with writes in flight would: a new index (created on this version) takes the alias's writes
    in one atomic alias change, then the first index gets a write block through the add-index-block
    API (the next major keeps it, read-only). Nothing is copied; every document stays where it was acknowledged."""
    client = upgrade.client()
    new = f"{INDEX}-{upgrade.version.split('.')[0]}"
    client.get(f"/{new}", {"settings": settings}, method="PUT")
    wait_until(f"{new} green", lambda: green_on(upgrade, upgrade.version), 300, explain=upgrade.explain)
    actions = [
        {"add": {"index": new, "alias": INDEX, "is_write_index": True}},
        {"add": {"index": FIRST_INDEX, "alias": INDEX, "is_write_index": False}},
    ]
    client.get("/_aliases", {"actions": actions}, method="POST")
    # The add-index-block API marks it verified read-only, which 9.x asks for (the setting alone
    # is not enough: the chain's second run stopped on it).
    client.get(f"/{FIRST_INDEX}/_block/write", method="PUT")


def recoveries(upgrade: Upgrade) -> dict[str, Any]:
    rows = upgrade.client().get(f"/_cat/recovery/{INDEX}?format=json&bytes=b&h=shard,type,stage,source_node,target_node,bytes_recovered")
    by_type: dict[str, int] = {}
    for r in rows:
        by_type[r["type"]] = by_type.get(r["type"], 0) + 1
    copied = sum(int(r["bytes_recovered"] or 0) for r in rows if r["type"] == "peer")
    moved = [r for r in rows if r["type"] == "peer" and r["source_node"] == r["target_node"]]
    return {"by_type": by_type, "peer_bytes_copied": copied, "rows": len(rows), "odd": moved}


def test_the_chain_upgrades_in_place_with_writes_in_flight_and_loses_nothing(upgrade: Upgrade):
    upgrade.stack.up()
    upgrade.first_list = upgrade.bootstrap_list()
    assert upgrade.first_list == ",".join(KWOK_MASTERS)
    # Secured as every modern engine by default, unless the stack file says otherwise.
    assert upgrade.secured() == (upgrade.config.get("security") or {}).get("enabled", True)
    upgrade.start_nodes()
    wait_until(f"green on {upgrade.version}", lambda: green_on(upgrade, upgrade.version), 600, explain=upgrade.explain)
    # No delay before a departed node's copies are rebuilt elsewhere (the engines wait a minute by
    # default, which would hide a missing hold whenever a restart is quicker): only the hold keeps
    # the copies where they are.
    settings = {"number_of_shards": SHARDS, "number_of_replicas": 1, "index.unassigned.node_left.delayed_timeout": "0s"}
    upgrade.client().get(f"/{FIRST_INDEX}", {"settings": settings, "aliases": {INDEX: {"is_write_index": True}}}, method="PUT")
    wait_until("the index green", lambda: green_on(upgrade, upgrade.version), 300, explain=upgrade.explain)
    uuid = upgrade.client().get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"]["cluster_uuid"]
    # The second up of the first version empties the bootstrap list, as every stack's does.
    upgrade.stack.up()

    writer = Writer(upgrade)
    try:
        wait_until("the first writes acknowledged", lambda: len(writer.acked) >= 50, 120)
        first_major = engines.parse_version(upgrade.versions[0])[0]  # type: ignore[index]
        for version in upgrade.versions[1:]:
            config = upgrade.stack.config()
            config["engine"]["version"] = version
            config["image"]["baseImage"] = upgrade.base_for(version)
            upgrade.stack.write_config(config)
            if engines.parse_version(version)[0] >= first_major + 2:  # type: ignore[index]
                # Two majors past the first: refused at preview until the first major's index is
                # dealt with, then allowed for this change alone.
                proc = upgrade.stack.pulumi("preview", check=False)
                said = proc.stdout + proc.stderr
                assert proc.returncode != 0, said
                assert f"while an index created on {first_major}.x can still be written" in said, said
                assert "set es-cluster:allowDisruptive to [oldIndices]" in said, said
                move_writes_off_the_first_index(upgrade, settings)
                config["allowDisruptive"] = ["oldIndices"]
                upgrade.stack.write_config(config)
            homes = shard_homes(upgrade)
            refused_before, started = writer.refused_seconds, time.monotonic()
            out = upgrade.stack.up()
            config.pop("allowDisruptive", None)
            upgrade.stack.write_config(config)
            printed = out.stdout + out.stderr
            before = upgrade.version
            dist = upgrade.distribution
            assert f"engine: rolling upgrade {dist} {before} -> {dist} {version}" in printed, printed
            line = next(x for x in printed.splitlines() if "roll order: " in x)
            upgrade.roll_order = line.split("roll order: ")[1].split(",")[0].split(" -> ")
            assert upgrade.roll_order == ["data", "client", "master"], line
            upgrade.version = version
            upgrade.roll()
            wait_until(f"green on {version}", lambda v=version: green_on(upgrade, v), 600, explain=upgrade.explain)
            seen = len(writer.acked)
            wait_until("writes acknowledged on the new version", lambda s=seen: len(writer.acked) > s + 50, 120)
            after_uuid = upgrade.client().get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"]["cluster_uuid"]
            assert after_uuid == uuid, "the upgrade made a new cluster"
            assert shard_homes(upgrade) == homes, "a shard copy moved to another node during the restarts"
            rec = recoveries(upgrade)
            print(
                f"\nupgrade {before} -> {version}: {time.monotonic() - started:.0f} s, "
                f"writes refused for {writer.refused_seconds - refused_before:.1f} s, "
                f"{len(writer.acked)} documents acknowledged so far; recoveries by type {rec['by_type']}, "
                f"peer recoveries copied {rec['peer_bytes_copied']} bytes"
            )
    finally:
        writer.finish()
    reds = [s for s in writer.statuses if s[1] == "red"]
    assert not reds, f"health was red at {len(reds)} of {len(writer.statuses)} polls"
    assert len(writer.statuses) > 60, "health was hardly polled"
    upgrade.client().get(f"/{INDEX}/_refresh", method="POST")
    missing = []
    for start in range(0, len(writer.acked), 1000):
        ids = [str(i) for i in writer.acked[start : start + 1000]]
        # By id across every index behind the alias (_mget takes one index).
        query = {"query": {"ids": {"values": ids}}, "size": 2 * len(ids), "_source": False}
        found = {h["_id"] for h in upgrade.client().get(f"/{INDEX}/_search", query)["hits"]["hits"]}
        missing += [i for i in ids if i not in found]
    print(f"{len(writer.acked)} documents acknowledged, {len(missing)} lost")
    assert missing == [], f"{len(missing)} acknowledged documents lost: {missing[:20]}"


# Master scale 3 -> 5 -> 3 on the same cluster, after its upgrades: two more Kubernetes nodes
# labelled for masters, then two masters taken away at once, one of them the elected master.
NEW_MASTER_NODES = ["e2e-master-6", "e2e-master-7"]
MASTER_LABEL = "kube-system/es-master-node"


def kwok_node(name: str) -> bytes:
    """A Node kwok runs, as scripts/cluster.sh makes them, labelled for the master DaemonSet."""
    return (
        f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n"
        '  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}\n'
        f'  labels: {{kubernetes.io/hostname: {name}, kubernetes.io/os: linux, type: kwok, {MASTER_LABEL}: "true"}}\n'
        'status:\n  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}\n  capacity: {cpu: "32", memory: 256Gi, pods: "110"}\n'
    ).encode()


def voting_names(upgrade: Upgrade) -> set[str]:
    """The node names in the cluster's committed voting configuration."""
    state = upgrade.client().get("/_cluster/state/metadata?filter_path=metadata.cluster_coordination.last_committed_config")
    ids = state["metadata"]["cluster_coordination"]["last_committed_config"]
    names = {i: n["name"] for i, n in upgrade.client().get("/_nodes?filter_path=nodes.*.name")["nodes"].items()}
    return {names.get(i, i) for i in ids}


def elected(upgrade: Upgrade) -> str | None:
    """The elected master's node name, as the coordinating node sees it (None: none)."""
    path = "/_cat/cluster_manager?format=json" if upgrade.distribution == "opensearch" else "/_cat/master?format=json"
    return ((upgrade.client().try_get(path) or [{}])[0] or {}).get("node")


def documents(upgrade: Upgrade) -> int:
    upgrade.client().get(f"/{INDEX}/_refresh", method="POST")
    return upgrade.client().get(f"/{INDEX}/_count")["count"]


def set_masters(upgrade: Upgrade, names: list[str]) -> str:
    """The master DaemonSet's planned nodes, as a user states them: its replicas, and the nodes'
    names (the validator asks for both to agree; only a first deploy bootstraps with them)."""
    config = upgrade.stack.config()
    config["nodeGroups"]["master"]["replicas"] = len(names)
    config["engine"]["initialMasterNodes"] = names
    upgrade.stack.write_config(config)
    out = upgrade.stack.up()
    return out.stdout + out.stderr


def test_masters_scaled_3_to_5_to_3_keep_the_cluster_and_its_documents(upgrade: Upgrade, kube: Kube):
    """Two `up`s, and the label changes that place DaemonSet masters. Removing two of five at once
    needs no voting-configuration exclusions: three of five are a majority, and the engine then
    shrinks its voting configuration to the three left. Shown by stopping one more master after
    that: the two left still elect one (were the voting configuration still five, they could not:
    the OpenSearch operator's issue #1448)."""
    assert len(upgrade.nodes) == 7, "runs after the chain, on its cluster"
    version = upgrade.version
    uuid = upgrade.client().get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"]["cluster_uuid"]
    count = documents(upgrade)
    assert count > 0
    originals = sorted(n.name for n in upgrade.masters())
    try:
        # 3 -> 5: the nodes labelled, the DaemonSet's new pods started as a kubelet starts them.
        for name in NEW_MASTER_NODES:
            run(["kubectl", "apply", "-f", "-"], env=kube.env, input_bytes=kwok_node(name))
        printed = set_masters(upgrade, originals + NEW_MASTER_NODES)
        assert upgrade.kube.get("configmap", f"{upgrade.name}-bootstrap", "-n", upgrade.ns)["data"]["nodes"] == "9", printed
        for offset, name in enumerate(NEW_MASTER_NODES):
            node = upgrade.node_for(len(upgrade.pods()) + offset, "DaemonSet", "master", name, name)
            upgrade.nodes[node.name] = node
            upgrade.sync_secrets()
            node.start("")
        wait_until("green with 5 masters", lambda: green_on(upgrade, version), 600, explain=upgrade.explain)
        wait_until("5 masters voting", lambda: voting_names(upgrade) == set(originals + NEW_MASTER_NODES), 120, explain=upgrade.explain)
        assert documents(upgrade) == count

        # 5 -> 3: the config first (the preview accepts 2 of 5), then two masters taken away at
        # once, one of them the elected one.
        master = elected(upgrade)
        leaving = [master if master in originals else originals[0], NEW_MASTER_NODES[0]]
        printed = set_masters(upgrade, [n for n in originals + NEW_MASTER_NODES if n not in leaving])
        assert "quorum" in printed, printed
        kube.run("label", "node", leaving[0], f"{MASTER_LABEL}-")
        kube.run("delete", "node", leaving[1])
        stops = [threading.Thread(target=upgrade.nodes[name].stop) for name in leaving]
        for t in stops:
            t.start()
        for t in stops:
            t.join()
        for name in leaving:
            upgrade.nodes.pop(name).remove()
        remaining = {n.name for n in upgrade.masters()}
        wait_until("green with 3 masters", lambda: green_on(upgrade, version), 300, explain=upgrade.explain)
        wait_until("the voting configuration shrunk to the 3 left", lambda: voting_names(upgrade) == remaining, 120)
        after = upgrade.client().get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")["metadata"]["cluster_uuid"]
        assert after == uuid, "the scale made a new cluster"
        assert documents(upgrade) == count

        # The elected master stopped too: the two left are a majority of three, and elect another.
        third = elected(upgrade)
        assert third in remaining
        upgrade.nodes[third].stop()
        wait_until(
            "a master among the two left",
            lambda: elected(upgrade) in remaining - {third},
            120,
            explain=upgrade.explain,
        )
        upgrade.client().get(f"/{INDEX}/_doc/scaled", {"n": -1}, method="PUT")
        upgrade.nodes[third].start("")
        wait_until("green again", lambda: green_on(upgrade, version), 300, explain=upgrade.explain)
        assert documents(upgrade) == count + 1
        print(f"\nmasters 3 -> 5 -> 3 on {version}: {count} documents before and after, voting configuration {sorted(remaining)}")
    finally:
        for name in NEW_MASTER_NODES:
            kube.run("delete", "node", name, "--ignore-not-found", check=False)
        for name in originals:
            kube.run("label", "node", "--overwrite", name, f"{MASTER_LABEL}=true", check=False)
