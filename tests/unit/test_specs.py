"""The spec builders, asserted on the exact objects they return."""

from __future__ import annotations

import pytest

from es_cluster import ConfigError, parse_stack_config, specs, validate
from es_cluster import constants as c

IMAGE = "localhost:5000/es-kubernetes@sha256:" + "0" * 64


def load(raw):
    return validate(parse_stack_config(raw))


def env_of(container) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def workloads(cluster):
    return {m["metadata"]["name"]: m for m in specs.manifests(cluster, IMAGE) if m["kind"] in c.WORKLOADS}


def test_discovery_service_exposes_only_transport_port_on_master_pods(seed_config):
    cluster = load(seed_config)
    svc = specs.transport_service(cluster)
    assert svc["metadata"]["name"] == "es-logging-transport"
    assert svc["spec"]["ports"] == [{"name": "transport", "port": 9300, "targetPort": 9300, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/instance": "es-logging", "es-cluster.io/role-master": "true"}
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["publishNotReadyAddresses"] is True


def test_http_service_exposes_only_9200_on_client_pods(seed_config):
    cluster = load(seed_config)
    svc = specs.http_service(cluster)
    assert svc["metadata"]["name"] == "es-logging-http"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 9200, "targetPort": 9200, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/instance": "es-logging", "es-cluster.io/role-client": "true"}
    assert svc["spec"]["type"] == "ClusterIP"


def test_no_service_exposes_both_ports(seed_config):
    for m in specs.manifests(load(seed_config), IMAGE):
        if m["kind"] == "Service":
            assert len({p["port"] for p in m["spec"]["ports"]}) == 1


def test_every_es_container_names_the_transport_service_for_discovery(seed_config):
    cluster = load(seed_config)
    for w in workloads(cluster).values():
        [container] = w["spec"]["template"]["spec"]["containers"]
        assert env_of(container)["DISCOVERY_SERVICE"] == specs.transport_service_name(cluster)


def test_pod_env_for_the_seed_master_group(seed_config):
    cluster = load(seed_config)
    env = specs.pod_env(cluster.group("master"), cluster)
    assert env == [
        {"name": "CLUSTER_NAME", "value": "es-logging"},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE_MASTER", "value": "true"},
        {"name": "NODE_DATA", "value": "false"},
        {"name": "HTTP_ENABLE", "value": "false"},
        {"name": "NETWORK_HOST", "value": "_site_"},
        {"name": "DISCOVERY_SERVICE", "value": "es-logging-transport"},
        {"name": "MIN_MASTERS", "value": "2"},
        {"name": "ES_HEAP_SIZE", "value": "1g"},
        {"name": "KUBERNETES_AUTH_TRYKUBECONFIG", "value": "true"},
        {"name": "KUBECONFIG", "value": "/kubeconfig"},
    ]


@pytest.mark.parametrize(
    "roles, master, data, http",
    [
        (["master"], "true", "false", "false"),
        (["data"], "false", "true", "false"),
        (["client"], "false", "false", "true"),
        (["master", "data", "client"], "true", "true", "true"),
    ],
)
def test_role_flags_follow_roles(roles, master, data, http):
    groups = {"g": {"roles": roles}}
    if "master" not in roles:
        groups["m"] = {"roles": ["master"]}
    cluster = load({"nodeGroups": groups})
    env = env_of(specs.es_container(cluster.group("g"), cluster, IMAGE))
    assert (env["NODE_MASTER"], env["NODE_DATA"], env["HTTP_ENABLE"]) == (master, data, http)


@pytest.mark.parametrize("masters", range(1, 10))
def test_min_masters_env_is_the_quorum(masters):
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "replicas": masters}, "d": {"roles": ["data"]}}})
    for group in cluster.groups:
        assert env_of(specs.es_container(group, cluster, IMAGE))["MIN_MASTERS"] == str(masters // 2 + 1)


def test_kubeconfig_mount_is_read_only_hostpath_with_env(seed_config):
    cluster = load(seed_config)
    for w in workloads(cluster).values():
        pod = w["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert {"name": "kubeconfig", "hostPath": {"path": "/srv/kubernetes/kubeconfig", "type": "File"}} in pod["volumes"]
        assert {"name": "kubeconfig", "mountPath": "/kubeconfig", "readOnly": True} in container["volumeMounts"]
        assert env_of(container)["KUBERNETES_AUTH_TRYKUBECONFIG"] == "true"
        assert env_of(container)["KUBECONFIG"] == "/kubeconfig"


def test_without_kubeconfig_nothing_of_it_is_declared(seed_config):
    seed_config.pop("kubeconfig")
    cluster = load(seed_config)
    for w in workloads(cluster).values():
        pod = w["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert all(v["name"] != "kubeconfig" for v in pod["volumes"])
        assert all(m["mountPath"] != "/kubeconfig" for m in container["volumeMounts"])
        assert not {"KUBERNETES_AUTH_TRYKUBECONFIG", "KUBECONFIG"} & set(env_of(container))


def test_seed_daemonsets_are_placed_by_node_labels_with_hostpath_storage(seed_config):
    cluster = load(seed_config)
    ws = workloads(cluster)
    for name, label, path in [
        ("es-logging-master", "kube-system/es-master-node", "/tenxcloud/es_cluster_data/master_node"),
        ("es-logging-data", "kube-system/es-data-node", "/tenxcloud/es_cluster_data/data_node"),
    ]:
        ds = ws[name]
        assert ds["kind"] == "DaemonSet" and ds["apiVersion"] == "apps/v1"
        pod = ds["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {label: "true"}
        assert {"name": "storage", "hostPath": {"path": path, "type": "DirectoryOrCreate"}} in pod["volumes"]
        assert {"name": "storage", "mountPath": "/data"} in pod["containers"][0]["volumeMounts"]
        assert "replicas" not in ds["spec"]
        assert "affinity" not in pod
    client = ws["es-logging-client"]
    assert client["kind"] == "Deployment" and client["spec"]["replicas"] == 2
    assert {"name": "storage", "emptyDir": {}} in client["spec"]["template"]["spec"]["volumes"]


def test_statefulset_gets_volume_claims_and_the_discovery_service():
    cluster = load({"nodeGroups": {"m": {"roles": ["master", "data"], "storage": {"size": "50Gi", "storageClass": "fast-ssd"}}}})
    sts = workloads(cluster)["elasticsearch-m"]
    assert sts["kind"] == "StatefulSet"
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == "elasticsearch-transport"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["volumeClaimTemplates"] == [
        {
            "metadata": {"name": "storage"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}, "storageClassName": "fast-ssd"},
        }
    ]
    pod = sts["spec"]["template"]["spec"]
    assert all(v["name"] != "storage" for v in pod["volumes"])
    assert {"name": "storage", "mountPath": "/data"} in pod["containers"][0]["volumeMounts"]


@pytest.mark.parametrize(
    "mode, key", [("hard", "requiredDuringSchedulingIgnoredDuringExecution"), ("soft", "preferredDuringSchedulingIgnoredDuringExecution")]
)
def test_non_daemonset_groups_spread_over_nodes(mode, key):
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "antiAffinity": mode}}})
    affinity = workloads(cluster)["elasticsearch-m"]["spec"]["template"]["spec"]["affinity"]
    assert list(affinity["podAntiAffinity"]) == [key]
    assert "app.kubernetes.io/component" in str(affinity)


def test_container_ports_probes_and_capabilities(seed_config):
    cluster = load(seed_config)
    master = specs.es_container(cluster.group("master"), cluster, IMAGE)
    client = specs.es_container(cluster.group("client"), cluster, IMAGE)
    assert [p["containerPort"] for p in master["ports"]] == [9200, 9300]
    assert master["image"] == IMAGE
    # Root start-up (the seed's base image): every capability dropped, three added back.
    assert master["securityContext"] == {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "SETGID", "SETUID"]},
    }
    assert master["readinessProbe"]["tcpSocket"] == {"port": 9300}
    assert client["readinessProbe"]["httpGet"] == {"path": "/_cluster/health?local=true", "port": 9200}
    assert master["livenessProbe"]["tcpSocket"] == client["livenessProbe"]["tcpSocket"] == {"port": 9300}
    assert master["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}


def test_pod_template_carries_tolerations_and_service_account():
    tol = {"key": "dedicated", "operator": "Equal", "value": "es", "effect": "NoSchedule"}
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "tolerations": [tol]}}})
    pod = workloads(cluster)["elasticsearch-m"]["spec"]["template"]["spec"]
    assert pod["tolerations"] == [tol]
    assert pod["serviceAccountName"] == "elasticsearch"


# Non-master groups: a pod that is not ready may always be evicted, so it never blocks a drain.
EVICT_UNHEALTHY = {"unhealthyPodEvictionPolicy": "AlwaysAllow"}


@pytest.mark.parametrize(
    "groups, expected",
    [
        ({"m": {"roles": ["master"], "replicas": 3}}, {"m": {"minAvailable": 2}}),
        ({"m": {"roles": ["master"], "replicas": 5}}, {"m": {"minAvailable": 3}}),
        ({"m": {"roles": ["master"], "replicas": 1}}, {"m": {"minAvailable": 1}}),
        # 3 + 2 master-eligible, quorum 3: with md fully up, m may drop to 1; with m up, md to 0.
        (
            {"m": {"roles": ["master"], "replicas": 3}, "md": {"roles": ["master", "data"], "replicas": 2}},
            {"m": {"minAvailable": 1}, "md": {"minAvailable": 0}},
        ),
        # Non-master groups: one at a time, independent of replicas (no update when they change)...
        (
            {"m": {"roles": ["master"]}, "d": {"roles": ["data"], "replicas": 4}},
            {"m": {"minAvailable": 2}, "d": {"maxUnavailable": 1, **EVICT_UNHEALTHY}},
        ),
        # ...except DaemonSets, whose budget the disruption controller can only count in pods.
        (
            {"m": {"roles": ["master"]}, "d": {"roles": ["data"], "replicas": 4, "workload": "DaemonSet", "storage": {"hostPath": "/d"}}},
            {"m": {"minAvailable": 2}, "d": {"minAvailable": 3, **EVICT_UNHEALTHY}},
        ),
        # Masters keep the default unhealthy-pod policy, whatever their other roles.
        ({"all": {"roles": ["master", "data", "client"], "replicas": 3}}, {"all": {"minAvailable": 2}}),
    ],
)
def test_disruption_budgets_never_allow_less_than_quorum(groups, expected):
    cluster = load({"nodeGroups": groups})
    got = {g.name: {k: v for k, v in specs.disruption_budget(g, cluster)["spec"].items() if k != "selector"} for g in cluster.groups}
    assert got == expected


def test_groups_with_no_replicas_get_no_disruption_budget():
    cluster = load({"nodeGroups": {"m": {"roles": ["master"]}, "c": {"roles": ["client"], "replicas": 0}}})
    pdbs = [m["metadata"]["name"] for m in specs.manifests(cluster, IMAGE) if m["kind"] == "PodDisruptionBudget"]
    assert pdbs == ["elasticsearch-m"]


def test_rbac_is_namespaced_and_reads_only_endpoints(seed_config):
    cluster = load(seed_config)
    kinds = {m["kind"] for m in specs.manifests(cluster, IMAGE)}
    assert not {"ClusterRole", "ClusterRoleBinding"} & kinds
    role = specs.discovery_role(cluster)
    assert role["metadata"]["namespace"] == "elasticsearch"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]}]
    binding = specs.discovery_role_binding(cluster)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "es-logging", "namespace": "elasticsearch"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_only_current_api_versions_are_used(seed_config):
    allowed = {"v1", "apps/v1", "policy/v1", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1"}
    assert {m["apiVersion"] for m in specs.manifests(load(seed_config), IMAGE)} <= allowed


def test_existing_namespace_is_not_declared(seed_config):
    seed_config["createNamespace"] = False
    kinds = [m["kind"] for m in specs.manifests(load(seed_config), IMAGE)]
    assert "Namespace" not in kinds
    assert kinds[0] == "ServiceAccount"


def test_workload_selectors_are_disjoint_and_match_their_pods(seed_config):
    cluster = load(seed_config)
    ws = list(workloads(cluster).values())
    for w in ws:
        sel = w["spec"]["selector"]["matchLabels"]
        assert sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        others = [o for o in ws if o is not w]
        assert all(not sel.items() <= o["spec"]["template"]["metadata"]["labels"].items() for o in others)


def test_http_url_points_at_the_http_service(seed_config):
    assert specs.http_url(load(seed_config)) == "http://es-logging-http.elasticsearch.svc:9200"


def test_a_priority_class_reaches_the_pods_and_is_validated_as_a_name():
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "priorityClassName": "es-critical"}, "c": {"roles": ["client"]}}})
    pods = {name: w["spec"]["template"]["spec"] for name, w in workloads(cluster).items()}
    assert pods["elasticsearch-m"]["priorityClassName"] == "es-critical"
    assert "priorityClassName" not in pods["elasticsearch-c"]
    with pytest.raises(ConfigError) as e:
        load({"nodeGroups": {"m": {"roles": ["master"], "priorityClassName": "Not_A_Name"}}})
    assert [k for k, _ in e.value.problems] == ["nodeGroups.m.priorityClassName"]


def test_http_service_is_not_awaited_unless_it_is_a_load_balancer(seed_config):
    # pulumi-kubernetes' Service await ends 10 s after the Endpoints last changed; the client
    # workload's await already proves the selected pods ready. A LoadBalancer's await waits
    # for its address, which a user asking for one wants `up` to see.
    for kind in ("ClusterIP", "NodePort"):
        svc = specs.http_service(load({**seed_config, "httpServiceType": kind}))
        assert svc["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    svc = specs.http_service(load({**seed_config, "httpServiceType": "LoadBalancer"}))
    assert "annotations" not in svc["metadata"]
    assert "annotations" not in specs.transport_service(load(seed_config))["metadata"]
