"""Real Elasticsearch 2.3.4 nodes (the distribution from Maven Central, on JDK 17) started with
image/elasticsearch.yml and the env the component gives the seed layout's pods: the quorum it
computes is the one the nodes enforce.

Stand-ins, each because this machine cannot do the real thing (docs/deploys.md, "The image"): the nodes
run as processes on 127.0.0.1, not in the built image on a pod network (`network.host`, ports
and paths are set with -Des overrides); they find each other by zen unicast, since the
io.fabric8 kubernetes discovery plugin is not served here; the start script's CMS flags are
dropped (ES_GC_OPTS), which Java 17 rejects; nodes report started after 3 s without a cluster,
not 30. Everything else comes from our file and our env."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, seed_config, wait_until
from .es_java import ES_VERSION, java_env, mvn, pod_env, require_java

HTTP_BASE, TRANSPORT_BASE = 19200, 19300
PODS = [f"es-logging-master-{i}" for i in range(3)]
CLIENT = "es-logging-client-0"
# Discovery reaches the master-eligible nodes only, as the transport service selects only them.
UNICAST = ",".join(f"127.0.0.1:{TRANSPORT_BASE + i}" for i in range(3))


@pytest.fixture(scope="module")
def es_home(tmp_path_factory) -> Path:
    """Elasticsearch 2.3.4 unpacked, with our elasticsearch.yml as its config."""
    require_java()
    work = tmp_path_factory.mktemp("es")
    artifact = f"org.elasticsearch.distribution.tar:elasticsearch:{ES_VERSION}:tar.gz"
    mvn("dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={work}", "-Dmdep.useBaseVersion=true")
    with tarfile.open(work / f"elasticsearch-{ES_VERSION}.tar.gz") as tar:
        tar.extractall(work, filter="tar")
    home = work / f"elasticsearch-{ES_VERSION}"
    shutil.copy(ROOT / "image" / "elasticsearch.yml", home / "config" / "elasticsearch.yml")
    return home


class Node:
    def __init__(self, home: Path, index: int, env: dict[str, str]):
        self.http = HTTP_BASE + index
        self.dir = home.parent / f"node-{index}"
        self.dir.mkdir(exist_ok=True)
        overrides = {
            "network.host": "127.0.0.1",
            "http.port": self.http,
            "transport.tcp.port": TRANSPORT_BASE + index,
            "discovery.type": "zen",
            "discovery.zen.ping.unicast.hosts": UNICAST,
            "path.data": self.dir / "data",
            "path.logs": self.dir / "log",
            "path.work": self.dir / "work",
            "path.plugins": home / "plugins",
            "insecure.allow.root": "true",
            # A node waits this long for a cluster before it reports started (30 s by default).
            "discovery.initial_state_timeout": "3s",
            # "not enough master nodes" is logged only at TRACE: the lone-master test counts it.
            "logger.discovery.zen": "TRACE",
            "logger.discovery.zen.ping": "INFO",  # not every refused connection of every ping
        }
        self.log = open(self.dir / "stdout.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [str(home / "bin" / "elasticsearch"), *[f"-Des.{k}={v}" for k, v in overrides.items()]],
            env={**java_env(), **env, "ES_GC_OPTS": " "}, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=10) as resp:
            body = resp.read().decode()
        return json.loads(body) if body.startswith(("{", "[")) else body

    def try_get(self, path: str) -> Any:
        try:
            return self.get(path)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return None

    def output(self) -> str:
        return self.full_output()[-4000:]

    def full_output(self) -> str:
        return (self.dir / "stdout.log").read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wait_for(what: str, probe, nodes: list[Node], timeout: float = 90) -> Any:
    """conftest.wait_until, failing at once when a node's process has exited."""

    def alive_and(probe=probe):
        for n in nodes:
            if n.proc.poll() is not None:
                raise AssertionError(f"node on {n.http} exited {n.proc.returncode}:\n{n.output()}")
        return probe()

    return wait_until(what, alive_and, timeout=timeout, explain=lambda: "\n".join(n.output() for n in nodes))


@pytest.fixture(scope="module")
def es_home_min_masters_1(es_home, tmp_path_factory) -> Path:
    """The mutation docs/tests.md names, on a copy: elasticsearch.yml with `${MIN_MASTERS}` replaced by 1."""
    home = tmp_path_factory.mktemp("es-mutant") / es_home.name
    shutil.copytree(es_home, home, symlinks=True)
    yml = home / "config" / "elasticsearch.yml"
    text = yml.read_text()
    assert "${MIN_MASTERS}" in text
    yml.write_text(text.replace("${MIN_MASTERS}", "1"))
    return home


@pytest.fixture
def cluster(es_home):
    yield from start_nodes(es_home)


@pytest.fixture
def cluster_min_masters_1(es_home_min_masters_1):
    yield from start_nodes(es_home_min_masters_1)


def start_nodes(es_home: Path):
    """Starts pods of the seed layout (3 master-eligible, MIN_MASTERS=2): masters 0-2 (HTTP off,
    as the component sets for master-only groups) and the client (index 3), which serves HTTP."""
    config = seed_config()
    for group in ("master", "client"):
        config["nodeGroups"][group]["heapSize"] = "256m"  # four JVMs on a 2-core CI machine
    started: list[Node] = []

    def start(index: int) -> Node:
        group, pod = ("client", CLIENT) if index == 3 else ("master", PODS[index])
        node = Node(es_home, index, pod_env(config, group, pod))
        started.append(node)
        wait_for(f"{pod} to start", lambda: "] started" in node.full_output(), [node])
        return node

    yield start
    for node in started:
        node.stop()


MASTER = "/_cat/master?format=json&local=true"


def named_master(rows: Any) -> str | None:
    """The master a `_cat/master` answer names; None when it names none ("-") or is empty."""
    name = rows[0]["node"] if rows else None
    return None if name in (None, "-") else name


def master_of(node: Node) -> str | None:
    """The elected master's name as `node` knows it; None while there is none or the node does
    not answer yet."""
    return named_master(node.try_get(MASTER))


def names_no_master(node: Node) -> bool:
    """The node answered (200) and named no master: not merely an HTTP error."""
    rows = node.get(MASTER)
    return bool(rows) and named_master(rows) is None


def discovery_rounds_without_enough_masters(node: Node) -> int:
    return node.full_output().count("not enough master nodes")


def test_a_node_loads_the_quorum_from_min_masters(cluster):
    client = cluster(3)
    [(_, info)] = client.get("/_nodes/_local/settings")["nodes"].items()
    assert info["name"] == CLIENT
    settings = info["settings"]
    assert settings["discovery"]["zen"]["minimum_master_nodes"] == "2"
    assert settings["cloud"]["kubernetes"] == {"service": "es-logging-transport", "namespace": "elasticsearch"}
    assert (settings["node"]["master"], settings["node"]["data"], settings["http"]["enabled"]) == ("false", "false", "true")


def test_a_lone_master_is_not_elected_and_two_elect_one(cluster):
    client = cluster(3)
    lone = cluster(0)
    # A quorum of 2 keeps one master-eligible node from electing itself: it pings (3 s), finds
    # too few masters, and pings again. After three such rounds the client answers and names none.
    wait_for("three discovery rounds without enough masters", lambda: discovery_rounds_without_enough_masters(lone) >= 3, [lone, client])
    assert names_no_master(client), client.output()
    cluster(1)
    elected = wait_for("a master once two of three are up", lambda: master_of(client), [client])
    assert elected in PODS[:2]


def test_with_min_masters_replaced_by_1_a_lone_master_elects_itself(cluster_min_masters_1):
    """The mutation docs/tests.md names, run on a copy of elasticsearch.yml: the test above fails
    under it, because the lone master no longer waits for a second."""
    client = cluster_min_masters_1(3)
    lone = cluster_min_masters_1(0)
    elected = wait_for("the lone master to elect itself", lambda: master_of(client), [lone, client])
    assert elected == PODS[0]
    assert discovery_rounds_without_enough_masters(lone) == 0


def test_three_masters_and_a_client_form_one_cluster(cluster):
    client = cluster(3)
    nodes = [cluster(i) for i in range(3)]
    rows = wait_for(
        "four nodes in one cluster", lambda: (r := client.try_get("/_cat/nodes?format=json")) and len(r) == 4 and r, [client, *nodes]
    )
    assert sorted(r["name"] for r in rows) == sorted([*PODS, CLIENT])
    assert [r["master"] for r in rows].count("*") == 1
    assert next(r for r in rows if r["master"] == "*")["name"] in PODS
    health = client.get("/_cluster/health")
    assert (health["cluster_name"], health["number_of_nodes"], health["status"]) == ("es-logging", 4, "green")
