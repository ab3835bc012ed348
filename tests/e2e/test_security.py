"""Pod Security admission and the NetworkPolicy, through the real CLI against the real API
server (whose PodSecurity admission is on by default): a hardened layout is admitted under
`restricted`, a pod that breaks the level is refused, and the NetworkPolicy selects exactly
the cluster's ES pods and ports. kwok nodes: nothing here needs a container to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import PREBUILT_IMAGE, Kube, Stack, wait_until

NS = "hardened"
NON_ROOT = {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}


def config() -> dict[str, Any]:
    """No hostPath, no kubeconfig mount, the image started as its own user; emptyDir, since
    kwok nodes bind no volume claims."""
    group = {"workload": "Deployment", "heapSize": "256m", "podSecurityContext": NON_ROOT}
    return {
        "clusterName": "hard",
        "namespace": NS,
        "image": {"reference": PREBUILT_IMAGE},
        "networkPolicy": {"httpFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shippers"}}}]},
        "nodeGroups": {
            "master": {**group, "roles": ["master"], "replicas": 3},
            "data": {**group, "roles": ["data"], "replicas": 1},
            "client": {**group, "roles": ["client"], "replicas": 1},
        },
    }


@pytest.fixture(scope="module")
def stack(make_stack) -> Stack:
    s = make_stack("hardened", config())
    s.up()
    return s


def test_the_hardened_layout_is_admitted_under_restricted(stack: Stack, kube: Kube):
    labels = kube.get("namespace", NS)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = wait_until("5 running pods", lambda: (p := kube.items("pods", "-n", NS)) and len(p) == 5 and p)
    for pod in pods:
        assert pod["spec"]["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # No ReplicaSet was refused a pod.
    events = kube.items("events", "-n", NS, "--field-selector", "reason=FailedCreate")
    assert events == [], [e["message"] for e in events]


@pytest.mark.parametrize(
    "container_security, volume, why",
    [
        ({"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}, "allowPrivilegeEscalation": False, "runAsNonRoot": True}, None, "CHOWN"),
        (
            {"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False, "runAsNonRoot": True},
            {"hostPath": {"path": "/d"}},
            "hostPath",
        ),
    ],
    ids=["root-start capability", "hostPath volume"],
)
def test_a_pod_that_breaks_the_level_is_refused_by_the_real_admission(
    kube: Kube, tmp_path: Path, stack: Stack, container_security, volume, why
):
    spec: dict[str, Any] = {
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, **NON_ROOT},
        "containers": [{"name": "es", "image": PREBUILT_IMAGE, "securityContext": container_security}],
    }
    if volume:
        spec["volumes"] = [{"name": "data", **volume}]
    body = tmp_path / "pod.json"
    body.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "breaks-level", "namespace": NS}, "spec": spec}))
    proc = kube.run("create", "-f", str(body), check=False)
    assert proc.returncode != 0, proc.stdout
    assert 'violates PodSecurity "restricted:latest"' in proc.stderr and why in proc.stderr, proc.stderr


def test_the_network_policy_selects_exactly_the_clusters_es_pods_and_ports(stack: Stack, kube: Kube):
    policy = kube.get("networkpolicy", "hard-es", "-n", NS)
    selector = ",".join(f"{k}={v}" for k, v in policy["spec"]["podSelector"]["matchLabels"].items())
    selected = {p["metadata"]["name"] for p in kube.items("pods", "-n", NS, "-l", selector)}
    es_pods = {p["metadata"]["name"] for p in kube.items("pods", "-n", NS, "-l", "app.kubernetes.io/managed-by=es-cluster")}
    assert selected == es_pods and len(es_pods) == 5
    transport, http = policy["spec"]["ingress"]
    assert transport["ports"] == [{"protocol": "TCP", "port": 9300}]
    assert transport["from"] == [{"podSelector": policy["spec"]["podSelector"]}]
    assert http == {
        "ports": [{"protocol": "TCP", "port": 9200}],
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shippers"}}}],
    }
    assert policy["spec"]["policyTypes"] == ["Ingress"]
