"""Another stack imports the installed es_cluster package and deploys two clusters with it,
through the real engine against the local cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Kube, run, wait_until

EXAMPLE = ROOT / "examples" / "two-clusters"
IMAGE = "localhost:5000/es-kubernetes@sha256:" + "0" * 64


@dataclass
class Consumer:
    site: Path
    work: Path
    pulumi: Any


@pytest.fixture(scope="module")
def consumer(cluster_env, tmp_path_factory):
    work = tmp_path_factory.mktemp("consumer")
    project = work / "project"
    shutil.copytree(EXAMPLE, project)
    # A real pip install of the package, into a folder of its own: the program can import
    # es_cluster only from there (its dependencies come from the test venv).
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(ROOT)], check=True)
    (project / ".venv").symlink_to(sys.prefix)
    env = {**cluster_env, "PYTHONPATH": str(site), "PULUMI_BACKEND_URL": f"file://{work}"}

    def pulumi(*args: str, check: bool = True):
        return run(["pulumi", *args, "--stack", "test", "--non-interactive"], env=env, cwd=project, check=check)

    run(["pulumi", "stack", "init", "test", "--non-interactive"], env=env, cwd=project)
    pulumi("config", "set", "imageReference", IMAGE)
    try:
        yield Consumer(site=site, work=work, pulumi=pulumi)
    finally:
        pulumi("destroy", "--yes", "--skip-preview", check=False)


def test_installed_package_carries_its_image_context(consumer: Consumer, cluster_env):
    code = "import es_cluster.config as c; print(c.DEFAULT_IMAGE_CONTEXT)"
    proc = run([sys.executable, "-c", code], env={**cluster_env, "PYTHONPATH": str(consumer.site)}, cwd=consumer.work)
    context = Path(proc.stdout.strip())
    assert context.is_relative_to(consumer.site), context
    for name in ("Dockerfile", "elasticsearch.yml", "java.policy"):
        assert (context / name).read_bytes() == (ROOT / "image" / name).read_bytes()


def test_two_clusters_in_one_stack_deploy_and_destroy(consumer: Consumer, kube: Kube):
    consumer.pulumi("up", "--yes", "--skip-preview")
    outputs = json.loads(consumer.pulumi("stack", "output", "--json").stdout)
    assert outputs["logsUrl"] == "http://logs-http.logging.svc:9200"
    assert outputs["metricsUrl"] == "http://metrics-http.metrics.svc:9200"
    assert outputs["workloads"] == {
        "logs": {"master": "logs-master", "data": "logs-data", "client": "logs-client"},
        "metrics": {"all": "metrics-all"},
    }
    for ns, deployments in (("logging", {"logs-master": 3, "logs-data": 2, "logs-client": 2}), ("metrics", {"metrics-all": 1})):
        live = {d["metadata"]["name"]: d["status"].get("readyReplicas", 0) for d in kube.items("deployments", "-n", ns)}
        assert live == deployments
    env = kube.get("deployment", "metrics-all", "-n", "metrics")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MIN_MASTERS", "value": "1"} in env
    env = kube.get("deployment", "logs-master", "-n", "logging")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MIN_MASTERS", "value": "2"} in env
    consumer.pulumi("destroy", "--yes", "--skip-preview")
    for ns in ("logging", "metrics"):
        wait_until(f"namespace {ns} gone", lambda ns=ns: not kube.exists("namespace", ns), timeout=120)
