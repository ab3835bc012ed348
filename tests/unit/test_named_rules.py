"""The rules and behaviours a mutation audit (issue 14) found could be deleted with no test
failing, each pinned by a test named for what a user would notice. Exact keys and values: a rule
removed or a number changed fails here."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from es_cluster import image as image_module
from es_cluster import specs
from es_cluster.image import context_tag, identity
from es_cluster.model import Image

from .test_config import load, problems

M = {"roles": ["master"], "replicas": 3}
IMAGE = "repo/es@sha256:" + "0" * 64


def group(**over):
    return {"nodeGroups": {"m": {**M, **over}}}


# --- validation rules ---------------------------------------------------------------------------


def test_a_hostpath_climbing_out_with_dotdot_is_refused():
    assert problems(group(workload="DaemonSet", storage={"hostPath": "/data/../etc"})) == {
        "nodeGroups.m.storage.hostPath": "must not contain '..' components, got '/data/../etc'"
    }


def test_a_role_listed_twice_is_refused():
    assert problems(group(roles=["master", "master"])) == {"nodeGroups.m.roles": "lists a role twice: ['master', 'master']"}


def test_hostpath_together_with_a_claim_size_is_refused():
    p = problems(group(workload="DaemonSet", storage={"hostPath": "/d", "size": "1Gi"}))
    assert p["nodeGroups.m.storage"] == "set either hostPath or size/storageClass, not both"


def test_a_statefulset_on_hostpath_is_refused():
    assert problems(group(workload="StatefulSet", storage={"hostPath": "/d"})) == {
        "nodeGroups.m.storage": "a StatefulSet keeps its data in volume claims: set storage.size, or use workload DaemonSet for hostPath"
    }


@pytest.mark.parametrize("value", ["x" * 64, "x y", "-x", "x-", "x/y"])
def test_a_node_selector_value_kubernetes_refuses_is_refused(value):
    p = problems(group(nodeSelector={"a": value}))
    assert list(p) == ["nodeGroups.m.nodeSelector.a"]
    assert p["nodeGroups.m.nodeSelector.a"].startswith("label value must be at most 63")


@pytest.mark.parametrize("value", ["x" * 63, "", "a.b_c-d", "1"])
def test_a_node_selector_value_kubernetes_accepts_is_accepted(value):
    assert load(group(nodeSelector={"a": value})).groups[0].node_selector == {"a": value}


def test_a_kubeconfig_without_its_host_path_is_refused():
    assert problems({"kubeconfig": {}, "nodeGroups": {"m": M}}) == {"kubeconfig.hostPath": "required when kubeconfig is set"}


def test_cluster_name_is_at_most_40_characters():
    assert load({"clusterName": "a" * 40, "nodeGroups": {"m": M}}).name == "a" * 40
    assert problems({"clusterName": "a" * 41, "nodeGroups": {"m": M}}) == {
        "clusterName": "must be at most 40 characters, not 41, got '" + "a" * 41 + "'"
    }


def test_a_heap_above_half_the_memory_limit_is_a_warning_and_half_is_not():
    over = load(group(heapSize="1025m", resources={"limits": {"memory": "2Gi"}}))
    assert (
        "nodeGroups.m.heapSize: 1025m is more than half the memory limit 2Gi; Lucene needs the rest for the file-system cache"
        in over.warnings
    )
    half = load(group(heapSize="1g", resources={"limits": {"memory": "2Gi"}}))
    assert not [w for w in half.warnings if "heapSize" in w]


def test_a_heap_of_32g_is_a_warning_and_31g_is_not():
    res = {"requests": {"memory": "64Gi"}, "limits": {"memory": "64Gi"}}
    assert any("32g is 32 GiB or more" in w for w in load(group(heapSize="32g", resources=res)).warnings)
    assert not [w for w in load(group(heapSize="31g", resources=res)).warnings if "heapSize" in w]


def test_a_heap_that_fills_the_memory_limit_is_refused():
    assert problems(group(heapSize="2g", resources={"limits": {"memory": "2Gi"}})) == {
        "nodeGroups.m.heapSize": "2g does not fit in the memory limit 2Gi; the pod would be OOM-killed. Keep the heap at most half the limit"
    }


# --- rendered behaviour -------------------------------------------------------------------------


def seed(seed_config):
    cluster = load(seed_config)
    return cluster, {(m["kind"], m["metadata"]["name"]): m for m in specs.manifests(cluster, IMAGE)}


def pod_spec(m):
    return m["spec"]["template"]["spec"]


def test_the_services_select_the_pod_role_labels_the_pods_carry(seed_config):
    cluster, objs = seed(seed_config)
    http = objs[("Service", "es-logging-http")]["spec"]["selector"]
    transport = objs[("Service", "es-logging-transport")]["spec"]["selector"]
    assert http == {"app.kubernetes.io/instance": "es-logging", "es-cluster.io/role-client": "true"}
    assert transport == {"app.kubernetes.io/instance": "es-logging", "es-cluster.io/role-master": "true"}
    labels = {name: m["spec"]["template"]["metadata"]["labels"] for (kind, name), m in objs.items() if kind in ("DaemonSet", "Deployment")}
    selected_by = {
        name: [s for s, sel in (("http", http), ("transport", transport)) if sel.items() <= lab.items()] for name, lab in labels.items()
    }
    assert selected_by == {"es-logging-master": ["transport"], "es-logging-data": [], "es-logging-client": ["http"]}


@pytest.mark.parametrize("kind", ["ClusterIP", "NodePort", "LoadBalancer"])
def test_http_service_type_sets_the_9200_service_only(seed_config, kind):
    _, objs = seed({**seed_config, "httpServiceType": kind})
    assert objs[("Service", "es-logging-http")]["spec"]["type"] == kind
    assert objs[("Service", "es-logging-transport")]["spec"]["clusterIP"] == "None"
    assert (
        "type" not in objs[("Service", "es-logging-transport")]["spec"]
        or objs[("Service", "es-logging-transport")]["spec"]["type"] == "ClusterIP"
    )


def test_anti_affinity_spreads_pods_over_nodes_by_hostname():
    cluster = load({"nodeGroups": {"m": {**M, "antiAffinity": "hard"}, "c": {"roles": ["client"], "antiAffinity": "soft"}}})
    objs = {m["metadata"]["name"]: m for m in specs.manifests(cluster, IMAGE) if "template" in m.get("spec", {})}
    hard = pod_spec(objs["elasticsearch-m"])["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    soft = pod_spec(objs["elasticsearch-c"])["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert [t["topologyKey"] for t in hard] == ["kubernetes.io/hostname"]
    assert [t["podAffinityTerm"]["topologyKey"] for t in soft] == ["kubernetes.io/hostname"]


def test_rolling_updates_replace_one_pod_at_a_time_and_never_surge(seed_config):
    _, objs = seed(seed_config)
    for name in ("es-logging-master", "es-logging-data"):
        assert objs[("DaemonSet", name)]["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    assert objs[("Deployment", "es-logging-client")]["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    sts = load({"nodeGroups": {"m": {**M, "storage": {"size": "1Gi"}}}})
    [ss] = [m for m in specs.manifests(sts, IMAGE) if m["kind"] == "StatefulSet"]
    assert ss["spec"]["updateStrategy"] == {"type": "RollingUpdate"}  # one pod at a time, highest ordinal first
    assert ss["spec"]["podManagementPolicy"] == "Parallel"  # masters must start together to elect


def test_pods_get_120_seconds_to_stop(seed_config):
    _, objs = seed(seed_config)
    assert {pod_spec(m)["terminationGracePeriodSeconds"] for (k, _), m in objs.items() if k in ("DaemonSet", "Deployment")} == {120}


def test_probe_timings(seed_config):
    _, objs = seed(seed_config)
    data = pod_spec(objs[("DaemonSet", "es-logging-data")])["containers"][0]
    client = pod_spec(objs[("Deployment", "es-logging-client")])["containers"][0]
    timings = {"initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
    assert data["readinessProbe"] == {"tcpSocket": {"port": 9300}, **timings}
    assert client["readinessProbe"] == {"httpGet": {"path": "/_cluster/health?local=true", "port": 9200}, **timings}
    liveness = {"tcpSocket": {"port": 9300}, "initialDelaySeconds": 90, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 5}
    assert data["livenessProbe"] == client["livenessProbe"] == liveness


def test_the_image_tag_changes_with_the_base_image_and_with_any_byte_of_the_context(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_text("a")
    tag = context_tag(str(tmp_path), "base:1")
    assert tag == context_tag(str(tmp_path), "base:1")
    assert context_tag(str(tmp_path), "base:2") != tag
    (tmp_path / "sub" / "f").write_text("b")
    assert context_tag(str(tmp_path), "base:1") != tag
    (tmp_path / "sub" / "f").write_text("a")
    (tmp_path / "sub" / "f").rename(tmp_path / "sub" / "g")  # same bytes, another name
    assert context_tag(str(tmp_path), "base:1") != tag


def test_the_image_tag_of_an_unchanged_context_is_the_same_in_every_release(tmp_path: Path):
    # Deployed stacks hold the tag: a new way of hashing would rebuild the image and roll every
    # ES node on the first `up` after upgrading es-cluster, with not one byte changed. This is
    # sha256 over each file's relative path and bytes, each ended by NUL, in sorted order, then
    # the base image; its first 20 hex digits.
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_text("a")
    assert context_tag(str(tmp_path), "base:1") == "ctx-cb8183ba6194adae5d97"
    # A modern engine's build arguments follow, each as NUL, key, '=', value: ENGINE=opensearch.
    assert context_tag(str(tmp_path), "base:1", (("ENGINE", "opensearch"),)) == "ctx-60ec56254b998108be17"


def test_the_image_identity_a_preview_compares_is_the_reference_the_build_is_named(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    built = Image(repository="registry.example:5000/es", base_image="base:1", push=True, context=str(tmp_path))
    assert identity(built) == "registry.example:5000/es:" + context_tag(str(tmp_path), "base:1")
    given = Image(repository="unused", base_image="base:1", push=True, context=str(tmp_path), reference="r/es@sha256:" + "1" * 64)
    assert identity(given) == "r/es@sha256:" + "1" * 64


def test_moving_the_checkout_does_not_rebuild_the_image(tmp_path: Path, monkeypatch):
    # The build's context is a path, which differs between checkouts and machines; its content
    # is in the tag. tests/e2e/test_image.py moves the context for real; here, what is declared.
    declared = {}

    class Recorder:
        def __init__(self, resource_name, **kwargs):
            declared[resource_name] = kwargs
            self.name = kwargs["name"]

    monkeypatch.setattr(image_module.docker, "RemoteImage", Recorder)
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    image = Image(repository="localhost:5000/es", base_image="base:1", push=False, context=str(tmp_path))
    ref = image_module.image_ref("es", image, pulumi.ResourceOptions())
    assert ref == "localhost:5000/es:" + context_tag(str(tmp_path), "base:1")
    assert declared["es-image-build"]["opts"].ignore_changes == ["build.context"]
