"""The objects' details a mutation run over es_cluster/specs.py (issue 14) found no test would
notice changing: each pinned by a test named for what would go wrong in a cluster."""

from __future__ import annotations

from es_cluster import specs

from .test_specs import IMAGE

GROUP_LABELS = {
    "app.kubernetes.io/name": "elasticsearch",
    "app.kubernetes.io/instance": "es-logging",
    "app.kubernetes.io/managed-by": "es-cluster",
    "app.kubernetes.io/component": "client",
    "es-cluster.io/role-master": "false",
    "es-cluster.io/role-data": "false",
    "es-cluster.io/role-client": "true",
}


def test_a_groups_workload_and_budget_carry_its_role_labels(cluster_of):
    # kubectl get -l es-cluster.io/role-client=true finds the workload and its budget, not only pods.
    cluster = cluster_of()
    group = cluster.group("client")
    assert specs.workload(group, cluster, IMAGE)["metadata"]["labels"] == GROUP_LABELS
    assert specs.disruption_budget(group, cluster)["metadata"]["labels"] == GROUP_LABELS


def test_the_discovery_role_binding_refers_to_the_rbac_role(cluster_of):
    # A roleRef the API server cannot resolve leaves discovery without rights to read Endpoints.
    binding = specs.discovery_role_binding(cluster_of())
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "es-logging-discovery"}


def test_the_es_container_names_its_ports_and_pulls_only_when_missing(cluster_of):
    cluster = cluster_of()
    [container] = specs.workload(cluster.group("data"), cluster, IMAGE)["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [
        {"name": "http", "containerPort": 9200, "protocol": "TCP"},
        {"name": "transport", "containerPort": 9300, "protocol": "TCP"},
    ]
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_soft_anti_affinity_has_the_highest_weight_kubernetes_accepts(cluster_of):
    # Kubernetes accepts weights 1-100; 101 is refused by the API server.
    cluster = cluster_of(lambda raw: raw["nodeGroups"]["client"].update(antiAffinity="soft"))
    [term] = specs.anti_affinity(cluster.group("client"), cluster)["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["weight"] == 100


def test_a_one_pod_group_waits_one_rollout_timeout_and_has_a_budget(cluster_of):
    cluster = cluster_of(lambda raw: raw["nodeGroups"]["client"].update(replicas=1))
    group = cluster.group("client")
    assert specs.rollout_timeout(group, cluster) == "300s"
    assert [m["kind"] for m in specs.group_manifests(group, cluster, IMAGE)] == ["Deployment", "PodDisruptionBudget"]


def test_a_one_node_data_daemonset_can_be_drained(cluster_of):
    # minAvailable 1 on a one-pod DaemonSet would make every node drain wait forever.
    cluster = cluster_of(lambda raw: raw["nodeGroups"]["data"].update(replicas=1))
    assert specs.disruption_limit(cluster.group("data"), cluster) == {"minAvailable": 0}
