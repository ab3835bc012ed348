"""The image's two files against the real software that reads them, on this machine's JDK 17:

- image/elasticsearch.yml through Elasticsearch 2.3.4's own start-up settings loader
  (InternalSettingsPreparer, from Maven Central), with the env the component gives each pod;
- image/java.policy through the JVM's policy, as the security manager consults it.

Issue #4's fuller proof, Elasticsearch itself starting from the built image and the discovery
plugin reading the kubeconfig, needs the io.fabric8 discovery plugin, which no registry here
serves (see docs/deploys.md, "The image"); these tests prove the part of the contract that does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from . import es_java
from .conftest import ROOT, seed_config
from .es_java import JAVA_HOME, java_env, mvn, require_java

PROBES = Path(__file__).resolve().parent / "es_contract"
POD = "es-logging-master-x7k2p"


@pytest.fixture(scope="module")
def probes(tmp_path_factory) -> dict[str, str]:
    """The probes compiled against Elasticsearch 2.3.4's classpath; returns that classpath."""
    require_java()
    out = tmp_path_factory.mktemp("probes")
    cp_file = out / "classpath.txt"
    mvn("-f", str(PROBES / "pom.xml"), "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}")
    classpath = cp_file.read_text().strip()
    assert "elasticsearch-2.3.4.jar" in classpath, classpath
    subprocess.run(
        ["javac", "-d", str(out), "-cp", classpath, str(PROBES / "SettingsProbe.java"), str(PROBES / "PolicyProbe.java")],
        check=True, env=java_env(), timeout=300,
    )  # fmt: skip
    return {"classpath": f"{out}:{classpath}", "dir": str(out)}


def pod_env(config) -> dict[str, str]:
    return es_java.pod_env(config, "master", POD)


def es_settings(probes, tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess:
    home = tmp_path / "es-home"
    (home / "config").mkdir(parents=True)
    shutil.copy(ROOT / "image" / "elasticsearch.yml", home / "config" / "elasticsearch.yml")
    return subprocess.run(
        ["java", "-cp", probes["classpath"], "SettingsProbe", str(home)],
        env={**java_env(), **env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def parse(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def test_es_reads_the_quorum_and_discovery_service_from_the_pod_env(probes, tmp_path):
    proc = es_settings(probes, tmp_path, pod_env(seed_config()))
    assert proc.returncode == 0, proc.stderr
    settings = parse(proc.stdout)
    assert {k: settings.get(k) for k in (
        "cluster.name", "node.name", "node.master", "node.data", "http.enabled", "network.host",
        "discovery.type", "discovery.zen.minimum_master_nodes", "cloud.kubernetes.service", "cloud.kubernetes.namespace",
        "path.data", "bootstrap.mlockall",
    )} == {
        "cluster.name": "es-logging", "node.name": POD, "node.master": "true", "node.data": "false", "http.enabled": "false",
        "network.host": "_site_", "discovery.type": "kubernetes", "discovery.zen.minimum_master_nodes": "2",
        "cloud.kubernetes.service": "es-logging-transport", "cloud.kubernetes.namespace": "elasticsearch",
        "path.data": "/data/data", "bootstrap.mlockall": "true",
    }  # fmt: skip
    assert not [v for v in settings.values() if "${" in v], settings


@pytest.mark.parametrize("masters, quorum", [(1, "1"), (3, "2"), (5, "3"), (7, "4")])
def test_minimum_master_nodes_follows_the_master_count(probes, tmp_path, masters, quorum):
    config = seed_config()
    config["nodeGroups"]["master"]["replicas"] = masters
    proc = es_settings(probes, tmp_path, pod_env(config))
    assert proc.returncode == 0, proc.stderr
    assert parse(proc.stdout)["discovery.zen.minimum_master_nodes"] == quorum


def test_a_node_without_min_masters_refuses_to_start(probes, tmp_path):
    # No silent default of 1 (split-brain): ES stops on the unresolved placeholder.
    env = pod_env(seed_config())
    del env["MIN_MASTERS"]
    proc = es_settings(probes, tmp_path, env)
    assert proc.returncode != 0
    assert "Could not resolve placeholder 'MIN_MASTERS'" in proc.stderr, proc.stderr


def policy_check(probes, cwd: Path, policy: Path, *paths: str) -> dict[str, str]:
    # `==` makes the file the whole policy, as the image's copy replaces the JRE's default one.
    proc = subprocess.run(
        ["java", "-Djava.security.manager", f"-Djava.security.policy=={policy}", "-cp", probes["dir"], "PolicyProbe", *paths],
        cwd=cwd, env=java_env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return {path: verdict for verdict, path in (line.split(" ", 1) for line in proc.stdout.splitlines())}


def test_our_policy_lets_the_plugin_read_the_kubeconfig(probes, tmp_path):
    got = policy_check(probes, tmp_path, ROOT / "image" / "java.policy", "/kubeconfig", str(tmp_path / "config" / "x"), "/etc/shadow")
    # /kubeconfig by name; files under the working directory by "-" (the pires image runs ES
    # from /, where "-" covers every file); nothing else outside it.
    assert got == {"/kubeconfig": "granted", str(tmp_path / "config" / "x"): "granted", "/etc/shadow": "denied"}


def test_the_stock_policy_denies_it(probes, tmp_path):
    stock = JAVA_HOME / "conf" / "security" / "java.policy"
    assert policy_check(probes, tmp_path, stock, "/kubeconfig") == {"/kubeconfig": "denied"}
