"""The policy pack's rules on the component's own manifests: they pass what the component
builds from valid config, and each fires on the violation it exists for."""

from __future__ import annotations

import copy

import pytest

from es_cluster import constants as c
from es_cluster import parse_stack_config, specs, validate
from policy import es_rules

IMAGE = "localhost:5000/es-kubernetes@sha256:" + "0" * 64
TYPES = {kind: t for t, kind in es_rules.WORKLOAD_TYPES.items()}


def workloads(raw, image=IMAGE) -> list[tuple[str, dict]]:
    cluster = validate(parse_stack_config(raw))
    return [(m["kind"], m) for m in specs.manifests(cluster, image) if m["kind"] in c.WORKLOADS]


def named(ws, name: str) -> dict:
    return next(w for _, w in ws if w["metadata"]["name"] == name)


def es_container(w: dict) -> dict:
    return w["spec"]["template"]["spec"]["containers"][0]


def resource_violations(ws) -> list[str]:
    rules = (es_rules.heap_violations, es_rules.digest_violations, es_rules.privilege_violations, es_rules.kubeconfig_violations)
    return [v for kind, w in ws for rule in rules for v in rule(kind, w)]


def test_the_annotation_the_policy_reads_is_the_one_the_component_writes():
    assert es_rules.PLANNED_REPLICAS_ANNOTATION == c.PLANNED_REPLICAS_ANNOTATION
    assert es_rules.KUBECONFIG_MOUNT_PATH == c.KUBECONFIG_MOUNT_PATH


def test_every_rule_passes_the_seed_layout_even_in_production(seed_config):
    ws = workloads(seed_config)
    assert {kind for kind, _ in ws} == {"DaemonSet", "Deployment"}
    assert all(es_rules.is_elasticsearch(w) for _, w in ws)
    assert resource_violations(ws) == []
    assert es_rules.master_count_violations(ws, production=True) == []
    assert es_rules.min_masters_violations(ws) == []


def test_the_daemonset_carries_its_planned_count(seed_config):
    master = named(workloads(seed_config), "es-logging-master")
    assert master["metadata"]["annotations"] == {"es-cluster.io/replicas": "3"}
    assert es_rules.planned_replicas("DaemonSet", master) == 3


@pytest.mark.parametrize(
    "masters, production, fires",
    [(1, False, False), (1, True, True), (2, False, True), (3, True, False), (4, True, True), (5, True, False)],
)
def test_master_count(seed_config, masters, production, fires):
    seed_config["nodeGroups"]["master"]["replicas"] = masters
    found = es_rules.master_count_violations(workloads(seed_config), production)
    assert bool(found) == fires, found
    if fires:
        assert found[0].startswith("cluster elasticsearch/es-logging: ")


def test_masters_are_counted_across_groups_and_per_cluster(seed_config):
    seed_config["nodeGroups"]["data"]["roles"] = ["master", "data"]  # 3 + 2 = 5 master-eligible
    ws = workloads(seed_config)
    assert es_rules.master_count_violations(ws, production=True) == []
    other = copy.deepcopy(seed_config)
    other["clusterName"] = "metrics"
    other["nodeGroups"]["master"]["replicas"] = 2
    both = ws + workloads(other)
    assert es_rules.master_count_violations(both, production=False) == [
        "cluster elasticsearch/metrics: 4 master-eligible nodes is an even number; use an odd count (3 is usual)"
    ]


@pytest.mark.parametrize("replicas, fires", [(1.0, False), (3.0, False), (2.0, True)])
def test_deployment_masters_are_counted_when_replicas_arrive_as_floats(replicas, fires):
    # How a policy pack receives numbers: replicas: 3 arrives as 3.0.
    ws = workloads({"nodeGroups": {"m": {"roles": ["master"], "replicas": 3, "workload": "Deployment"}}})
    for _, w in ws:
        w["spec"]["replicas"] = replicas
    assert bool(es_rules.master_count_violations(ws, production=False)) is fires


def test_a_daemonset_that_does_not_say_its_count_is_reported(seed_config):
    ws = workloads(seed_config)
    del named(ws, "es-logging-master")["metadata"]["annotations"]
    assert es_rules.master_count_violations(ws, production=False) == [
        "cluster elasticsearch/es-logging: DaemonSet elasticsearch/es-logging-master holds masters but does not say how many "
        "(annotation es-cluster.io/replicas)"
    ]


def test_min_masters_must_be_the_quorum(seed_config):
    ws = workloads(seed_config)
    client = next(w for kind, w in ws if kind == "Deployment")
    env = es_container(client)["env"]
    next(e for e in env if e["name"] == "MIN_MASTERS")["value"] = "1"
    assert es_rules.min_masters_violations(ws) == [
        "cluster elasticsearch/es-logging: Deployment elasticsearch/es-logging-client container elasticsearch sets "
        "MIN_MASTERS=1, but 3 master-eligible node(s) need 2 (3/2+1)"
    ]
    env[:] = [e for e in env if e["name"] != "MIN_MASTERS"]
    assert es_rules.min_masters_violations(ws) == [
        "cluster elasticsearch/es-logging: Deployment elasticsearch/es-logging-client sets no MIN_MASTERS; it needs 2 (3/2+1)"
    ]


@pytest.mark.parametrize(
    "heap, limit, message",
    [
        ("1g", "2Gi", None),
        ("1025m", "2Gi", "ES_HEAP_SIZE 1025m is more than half the memory limit 2Gi; Lucene needs the rest"),
        ("31g", "64Gi", None),
        ("32g", "64Gi", "ES_HEAP_SIZE 32g is 32 GiB or more; the JVM loses compressed object pointers, stay below 31g"),
        ("512m", None, "ES_HEAP_SIZE 512m is set but the container has no memory limit to hold it to half of"),
    ],
)
def test_heap_size(seed_config, heap, limit, message):
    group = seed_config["nodeGroups"]["client"]
    group["heapSize"] = heap
    group["resources"] = {"limits": {"memory": limit}} if limit else {}
    found = es_rules.heap_violations("Deployment", named(workloads(seed_config), "es-logging-client"))
    assert found == ([] if message is None else [f"Deployment elasticsearch/es-logging-client container elasticsearch: {message}"])


@pytest.mark.parametrize("q, n", [("2Gi", 2 * 2**30), ("1.5G", 1.5e9), ("512Mi", 512 * 2**20), ("1000", 1000), ("2gb", None)])
def test_quantities(q, n):
    assert es_rules.quantity_bytes(q) == n


def test_images_must_be_pinned_by_digest(seed_config):
    found = resource_violations(workloads(seed_config, image="localhost:5000/es-kubernetes:ctx-abc"))
    assert len(found) == 3
    assert found[0] == (
        "DaemonSet elasticsearch/es-logging-master container elasticsearch: image 'localhost:5000/es-kubernetes:ctx-abc' "
        "is not pinned by digest (repository@sha256:...)"
    )


def test_privileged_and_extra_capabilities_fire(seed_config):
    kind, w = workloads(seed_config)[0]
    sc = es_container(w)["securityContext"]
    sc["capabilities"]["add"] += ["SYS_ADMIN", "NET_ADMIN"]
    sc["privileged"] = True
    assert es_rules.privilege_violations(kind, w) == [
        "DaemonSet elasticsearch/es-logging-master container elasticsearch: runs privileged; Elasticsearch needs at most CHOWN, IPC_LOCK, SETGID, SETUID",
        "DaemonSet elasticsearch/es-logging-master container elasticsearch: adds capabilities NET_ADMIN, SYS_ADMIN; only CHOWN, IPC_LOCK, SETGID, SETUID are allowed",
    ]


def test_init_containers_are_held_to_the_same_rules(seed_config):
    kind, w = workloads(seed_config)[0]
    w["spec"]["template"]["spec"]["initContainers"] = [{"name": "sysctl", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
    assert len(es_rules.privilege_violations(kind, w)) == 1
    assert len(es_rules.digest_violations(kind, w)) == 1


def test_kubeconfig_must_be_mounted_read_only(seed_config):
    kind, w = workloads(seed_config)[0]
    mount = next(m for m in es_container(w)["volumeMounts"] if m["mountPath"] == "/kubeconfig")
    mount["readOnly"] = False
    assert es_rules.kubeconfig_violations(kind, w) == [
        "DaemonSet elasticsearch/es-logging-master container elasticsearch: the kubeconfig at /kubeconfig is mounted writable; set readOnly: true"
    ]
    del mount["readOnly"]
    assert len(es_rules.kubeconfig_violations(kind, w)) == 1


def test_other_workloads_are_left_alone():
    nginx = {
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1", "securityContext": {"privileged": True}}]},
            }
        },
    }
    assert not es_rules.is_elasticsearch(nginx)
    assert es_rules.master_count_violations([("Deployment", nginx)], production=True) == []


# --- hand-written workloads: what mutation testing found the rules above never exercised --------


def hand_written(name: str, env: dict[str, str], *, labels: dict | None = None, namespace: str | None = None, replicas=None, **container):
    spec: dict = {"template": {"metadata": {"labels": labels or {}}, "spec": {"containers": [{"name": "es", "image": IMAGE, **container}]}}}
    spec["template"]["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if replicas is not None:
        spec["replicas"] = replicas
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "spec": spec}


def test_a_workload_is_elasticsearch_by_its_name_label_or_its_min_masters_env():
    assert es_rules.is_elasticsearch(hand_written("a", {"MIN_MASTERS": "2"}))
    assert es_rules.is_elasticsearch(hand_written("a", {}, labels={"app.kubernetes.io/name": "elasticsearch"}))
    assert not es_rules.is_elasticsearch(hand_written("a", {"CLUSTER_NAME": "x"}))


def test_clusters_are_told_apart_by_namespace_and_instance_label_then_cluster_name():
    labelled = hand_written("a", {"CLUSTER_NAME": "env-name"}, labels={"app.kubernetes.io/instance": "label-name"}, namespace="ns1")
    assert es_rules.cluster_key(labelled) == ("ns1", "label-name")
    assert es_rules.cluster_key(hand_written("a", {"CLUSTER_NAME": "env-name"}, namespace="ns1")) == ("ns1", "env-name")
    assert es_rules.cluster_key(hand_written("a", {})) == ("default", "?")
    assert es_rules.describe("Deployment", {}) == "Deployment default/?"


def test_two_hand_written_clusters_of_one_name_in_two_namespaces_are_judged_apart():
    env = {"NODE_MASTER": "true", "MIN_MASTERS": "2", "CLUSTER_NAME": "logs"}
    ws = [("Deployment", hand_written("m", env, namespace=ns, replicas=3)) for ns in ("a", "b")]
    assert es_rules.min_masters_violations(ws) == []
    # Counted together they would be six masters, needing 4.
    ws.append(("Deployment", hand_written("m2", {**env, "MIN_MASTERS": "2"}, namespace="a", replicas=2)))
    assert es_rules.min_masters_violations(ws) == [
        "cluster a/logs: Deployment a/m container es sets MIN_MASTERS=2, but 5 master-eligible node(s) need 3 (5/2+1)",
        "cluster a/logs: Deployment a/m2 container es sets MIN_MASTERS=2, but 5 master-eligible node(s) need 3 (5/2+1)",
    ]


@pytest.mark.parametrize("replicas, planned", [(None, 1), (3, 3), (3.0, 3), (2.5, None), (True, None), ("3", None)])
def test_a_deployment_stands_for_its_replicas_one_by_default(replicas, planned):
    assert es_rules.planned_replicas("Deployment", hand_written("a", {}, replicas=replicas)) == planned


@pytest.mark.parametrize(
    "size, n",
    [
        ("1024", 1024),
        ("2k", 2048),
        ("3K", 3 * 2**10),
        ("5m", 5 * 2**20),
        ("2g", 2 * 2**30),
        (" 1g ", 2**30),
        ("1t", None),
        ("g", None),
        (512, None),
    ],
)
def test_jvm_sizes(size, n):
    assert es_rules.jvm_bytes(size) == n


def test_every_container_s_heap_is_checked_and_a_bad_one_is_named():
    w = hand_written("a", {"MIN_MASTERS": "1"}, resources={"limits": {"memory": "1Gi"}})
    first = w["spec"]["template"]["spec"]["containers"][0]
    first["env"].append({"name": "ES_HEAP_SIZE", "value": "lots"})
    second = {**copy.deepcopy(first), "name": "es2", "env": [{"name": "ES_HEAP_SIZE", "value": "1g"}]}
    sidecar = {"name": "side", "image": IMAGE}
    w["spec"]["template"]["spec"]["containers"][:0] = [sidecar]
    w["spec"]["template"]["spec"]["containers"].append(second)
    assert es_rules.heap_violations("Deployment", w) == [
        "Deployment default/a container es: ES_HEAP_SIZE 'lots' is not a JVM size such as 2g or 512m",
        "Deployment default/a container es2: ES_HEAP_SIZE 1g is more than half the memory limit 1Gi; Lucene needs the rest",
    ]


def test_a_kubeconfig_mounted_where_the_kubeconfig_env_points_must_be_read_only():
    w = hand_written(
        "a", {"MIN_MASTERS": "1", "KUBECONFIG": "/etc/kube/config"}, volumeMounts=[{"name": "k", "mountPath": "/etc/kube/config"}]
    )
    assert es_rules.kubeconfig_violations("Deployment", w) == [
        "Deployment default/a container es: the kubeconfig at /etc/kube/config is mounted writable; set readOnly: true"
    ]


def test_a_cluster_of_unknown_size_does_not_stop_the_checks_of_the_next():
    """Clusters are judged one by one: a DaemonSet that does not say its count is reported for
    its own cluster, and the next cluster's wrong MIN_MASTERS and even count are still found."""
    unknown = hand_written("m", {"NODE_MASTER": "true", "MIN_MASTERS": "2", "CLUSTER_NAME": "logs"}, namespace="a")
    wrong = hand_written("m", {"NODE_MASTER": "true", "MIN_MASTERS": "1", "CLUSTER_NAME": "logs"}, namespace="b", replicas=2)
    ws = [("DaemonSet", unknown), ("Deployment", wrong)]
    assert es_rules.min_masters_violations(ws) == [
        "cluster b/logs: Deployment b/m container es sets MIN_MASTERS=1, but 2 master-eligible node(s) need 2 (2/2+1)"
    ]
    assert es_rules.master_count_violations(ws, production=False) == [
        f"cluster a/logs: DaemonSet a/m holds masters but does not say how many (annotation {es_rules.PLANNED_REPLICAS_ANNOTATION})",
        "cluster b/logs: 2 master-eligible nodes is an even number; use an odd count (3 is usual)",
    ]


def test_min_masters_is_checked_in_the_es_container_after_a_sidecar():
    w = hand_written("m", {"NODE_MASTER": "true", "MIN_MASTERS": "1"}, replicas=3)
    w["spec"]["template"]["spec"]["containers"].insert(0, {"name": "side", "image": IMAGE})
    assert es_rules.min_masters_violations([("Deployment", w)]) == [
        "cluster default/?: Deployment default/m container es sets MIN_MASTERS=1, but 3 master-eligible node(s) need 2 (3/2+1)"
    ]


@pytest.mark.parametrize("stack", ["es7", "es8", "es9", "opensearch", "opensearch3"])
def test_every_rule_passes_the_modern_stacks_even_in_production(stack):
    from es_cluster.stack import config_from_file

    from .conftest import ROOT

    ws = workloads(config_from_file(ROOT / f"Pulumi.{stack}.yaml"))
    # Their masters are counted from NODE_ROLES, and no MIN_MASTERS is asked of 7+ nodes.
    assert sum(es_rules.planned_replicas(k, w) for k, w in ws if es_rules.is_master(w)) == 3
    assert resource_violations(ws) == []
    assert es_rules.master_count_violations(ws, production=True) == []
    assert es_rules.min_masters_violations(ws) == []


def test_a_7_plus_heap_is_read_from_its_java_options(seed_config):
    seed_config["engine"] = {"distribution": "opensearch", "version": "2.19.4", "initialMasterNodes": ["a", "b", "c"]}
    del seed_config["kubeconfig"]
    seed_config["nodeGroups"]["data"].update(heapSize="2g", resources={"limits": {"memory": "3Gi"}})
    ws = workloads(seed_config)
    assert resource_violations(ws) == [
        "DaemonSet elasticsearch/es-logging-data container elasticsearch: OPENSEARCH_JAVA_OPTS -Xmx 2g is more than half the memory "
        "limit 3Gi; Lucene needs the rest"
    ]
    assert es_rules.master_count_violations(ws, production=True) == []


def test_a_7_plus_group_holding_several_roles_is_counted_as_master():
    both = hand_written("m", {"NODE_ROLES": "cluster_manager,data"}, labels={"app.kubernetes.io/name": "elasticsearch"}, replicas=3)
    assert es_rules.is_master(both)
    assert not es_rules.is_master(hand_written("d", {"NODE_ROLES": "data,ingest"}, labels={"app.kubernetes.io/name": "elasticsearch"}))
    assert not es_rules.is_master(hand_written("c", {"NODE_ROLES": ""}, labels={"app.kubernetes.io/name": "elasticsearch"}))


def test_a_7_plus_workload_is_skipped_and_the_2_x_ones_after_it_are_still_judged():
    labels = {"app.kubernetes.io/name": "elasticsearch", "app.kubernetes.io/instance": "mixed"}
    zen2 = hand_written("new", {"NODE_ROLES": "master"}, labels=labels, replicas=3)
    zen1 = hand_written("old", {"NODE_MASTER": "false"}, labels=labels, replicas=2)
    assert es_rules.min_masters_violations([("Deployment", zen2), ("Deployment", zen1)]) == [
        "cluster default/mixed: Deployment default/old sets no MIN_MASTERS; it needs 2 (3/2+1)"
    ]
