"""Stack config and typed args -> validated model: defaults, coercion, and every bad input."""

from __future__ import annotations

import pytest

from es_cluster import (
    ConfigError,
    EsClusterArgs,
    ImageArgs,
    NodeGroupArgs,
    StorageArgs,
    parse_stack_config,
    validate,
)
from es_cluster.model import Storage, master_quorum


def load(raw):
    return validate(parse_stack_config(raw))


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as e:
        load(raw)
    return dict(e.value.problems)


def test_seed_layout_parses_to_the_field_reports_cluster(seed_config):
    cluster = load(seed_config)
    assert cluster.name == "es-logging"
    assert cluster.namespace == "elasticsearch"
    assert cluster.kubeconfig_host_path == "/srv/kubernetes/kubeconfig"
    assert cluster.image.repository == "localhost:5000/es-kubernetes"
    assert cluster.image.base_image == "quay.io/pires/docker-elasticsearch-kubernetes:2.3.4"
    assert cluster.image.push is True
    by_name = {g.name: g for g in cluster.groups}
    assert list(by_name) == ["master", "data", "client"]
    master, data, client = by_name["master"], by_name["data"], by_name["client"]
    assert (master.roles, master.replicas, master.workload) == (("master",), 3, "DaemonSet")
    assert master.node_selector == {"kube-system/es-master-node": "true"}
    assert master.storage == Storage(host_path="/tenxcloud/es_cluster_data/master_node")
    assert (data.roles, data.replicas, data.workload) == (("data",), 2, "DaemonSet")
    assert data.node_selector == {"kube-system/es-data-node": "true"}
    assert data.storage == Storage(host_path="/tenxcloud/es_cluster_data/data_node")
    assert (client.roles, client.replicas, client.workload) == (("client",), 2, "Deployment")
    assert client.storage == Storage()
    assert cluster.quorum == 2
    assert cluster.warnings == ()


@pytest.mark.parametrize("masters, quorum", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), (8, 5), (9, 5)])
def test_quorum_is_a_strict_majority_of_master_eligible_nodes(masters, quorum):
    assert master_quorum(masters) == quorum
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "replicas": masters}}})
    assert cluster.quorum == quorum
    assert 2 * cluster.quorum > masters >= 2 * (cluster.quorum - 1)


def test_quorum_counts_master_eligible_nodes_of_every_group():
    cluster = load(
        {
            "nodeGroups": {
                "m": {"roles": ["master"], "replicas": 3},
                "md": {"roles": ["master", "data"], "replicas": 2, "storage": {"size": "5Gi"}},
                "d": {"roles": ["data"], "replicas": 4},
            }
        }
    )
    assert cluster.master_eligible == 5
    assert cluster.quorum == 3


def test_defaults_depend_on_roles():
    cluster = load({"nodeGroups": {"all": {"roles": ["master", "data", "client"]}, "c": {"roles": ["client"]}}})
    combined, client = cluster.groups
    assert (combined.replicas, combined.workload, combined.storage.size) == (3, "StatefulSet", "10Gi")
    assert (client.replicas, client.workload, client.storage) == (2, "Deployment", Storage())
    assert combined.heap_size == "1g"
    assert combined.resources["limits"]["memory"] == "2Gi"
    assert combined.anti_affinity == "hard"
    assert cluster.name == "elasticsearch" and cluster.namespace == "elasticsearch"
    assert cluster.create_namespace is True and cluster.kubeconfig_host_path is None


def test_values_set_with_pulumi_config_set_path_arrive_as_strings_and_are_accepted():
    cluster = load({"createNamespace": "false", "nodeGroups": {"m": {"roles": ["master"], "replicas": "5"}}})
    assert cluster.groups[0].replicas == 5
    assert cluster.create_namespace is False


def test_even_master_count_is_allowed_with_a_split_brain_warning():
    cluster = load({"nodeGroups": {"m": {"roles": ["master"], "replicas": 4}}})
    assert cluster.quorum == 3
    [warning] = [w for w in cluster.warnings if "even" in w]
    assert "split-brain" in warning and "odd" in warning


@pytest.mark.parametrize(
    "raw, key, words",
    [
        ({"nodeGroups": {"d": {"roles": ["data"]}}}, "nodeGroups", "no group has the master role"),
        ({"nodeGroups": {"m": {"roles": ["master"], "replicas": -1}}}, "nodeGroups.m.replicas", "whole number >= 0"),
        ({"nodeGroups": {"m": {"roles": ["master", "ingest"]}}}, "nodeGroups.m.roles", "unknown role 'ingest'"),
        ({"nodeGroups": {"m": {"roles": []}}}, "nodeGroups.m.roles", "non-empty list"),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "workload": "ReplicaSet"}}},
            "nodeGroups.m.workload",
            "DaemonSet, Deployment, StatefulSet",
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "workload": "DaemonSet", "storage": {"hostPath": "data/es"}}}},
            "nodeGroups.m.storage.hostPath",
            "absolute path",
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "workload": "StatefulSet", "storage": {"storageClass": "fast"}}}},
            "nodeGroups.m.storage.size",
            "required for a StatefulSet",
        ),
        ({"clusterName": "ES_Logging", "nodeGroups": {"m": {"roles": ["master"]}}}, "clusterName", "lower-case letters"),
        ({"clusterName": "9lives", "nodeGroups": {"m": {"roles": ["master"]}}}, "clusterName", "starting with a letter"),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "nodeSelector": {"bad key!": "true"}}}},
            "nodeGroups.m.nodeSelector",
            "not a valid label key",
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "nodeSelector": {"es-node": True}}}},
            "nodeGroups.m.nodeSelector.es-node",
            'quote "true"',
        ),
        ({"nodeGroups": {}}, "nodeGroups", "at least one node group"),
        ({}, "nodeGroups", "required"),
        ({"nodeGroups": {"m": {"roles": ["master"], "replica": 3}}}, "nodeGroups.m.replica", "did you mean 'replicas'"),
        ({"nodegroups": {}}, "nodegroups", "did you mean 'nodeGroups'"),
        ({"nodeGroups": {"m": {"roles": ["master"], "heapSize": "4g"}}}, "nodeGroups.m.heapSize", "does not fit in the memory limit"),
        ({"nodeGroups": {"m": {"roles": ["master"], "heapSize": "1GB"}}}, "nodeGroups.m.heapSize", "512m or 2g"),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "workload": "Deployment", "storage": {"size": "5Gi"}}}},
            "nodeGroups.m.storage.size",
            "need workload StatefulSet",
        ),
        ({"nodeGroups": {"Master": {"roles": ["master"]}}}, "nodeGroups.Master", "group name must be"),
        ({"nodeGroups": {"m": {"roles": ["master"], "replicas": 0}}}, "nodeGroups", "0 replicas"),
        ({"kubeconfig": {"hostPath": "kubeconfig"}, "nodeGroups": {"m": {"roles": ["master"]}}}, "kubeconfig.hostPath", "absolute path"),
        (
            {"image": {"repository": "reg/es:latest"}, "nodeGroups": {"m": {"roles": ["master"]}}},
            "image.repository",
            "must not carry a tag",
        ),
        ({"image": {"reference": "reg/es:2.3.4"}, "nodeGroups": {"m": {"roles": ["master"]}}}, "image.reference", "pinned by digest"),
        ({"image": {"insecureRegistry": "maybe"}, "nodeGroups": {"m": {"roles": ["master"]}}}, "image.insecureRegistry", "true or false"),
        ({"image": {"registryUsername": "ci"}, "nodeGroups": {"m": {"roles": ["master"]}}}, "image.registryPassword", "together"),
        ({"image": {"registryPassword": "x"}, "nodeGroups": {"m": {"roles": ["master"]}}}, "image.registryPassword", "together"),
        (
            {"image": {"registryUsername": "", "registryPassword": "x"}, "nodeGroups": {"m": {"roles": ["master"]}}},
            "image.registryUsername",
            "non-empty string",
        ),
        (
            {"httpServiceType": "Ingress", "nodeGroups": {"m": {"roles": ["master"]}}},
            "httpServiceType",
            "ClusterIP, NodePort, LoadBalancer",
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "resources": {"limits": {"memory": 2048}}}}},
            "nodeGroups.m.resources.limits.memory",
            "quantity given as a string",
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "tolerations": [{"key": "a", "colour": "red"}]}}},
            "nodeGroups.m.tolerations[0]",
            "unknown toleration field 'colour'",
        ),
    ],
)
def test_bad_input_is_rejected_naming_the_key_and_what_is_allowed(raw, key, words):
    found = problems(raw)
    assert key in found, found
    assert words in found[key]


def test_all_problems_are_reported_at_once():
    found = problems(
        {
            "clusterName": "BAD",
            "nodeGroups": {
                "m": {"roles": ["master"], "replicas": -1},
                "d": {"roles": ["data"], "workload": "Pod"},
            },
        }
    )
    assert {"clusterName", "nodeGroups.m.replicas", "nodeGroups.d.workload"} <= set(found)


def test_error_message_lists_each_key_on_its_own_line():
    with pytest.raises(ConfigError) as e:
        load({"nodeGroups": {"m": {"roles": ["master"], "replicas": -1}}})
    assert "nodeGroups.m.replicas: must be a whole number >= 0, got -1" in str(e.value).splitlines()[1]
    assert "nothing was deployed" in str(e.value)


def test_typed_args_are_validated_like_stack_config():
    args = EsClusterArgs(
        cluster_name="logs",
        node_groups={
            "master": NodeGroupArgs(
                roles=["master"], replicas=3, workload="StatefulSet", storage=StorageArgs(size="20Gi", storage_class="fast")
            ),
            "client": NodeGroupArgs(roles=("client",)),
        },
        image=ImageArgs(reference="reg.example/es@sha256:" + "a" * 64),
    )
    cluster = validate(args)
    assert cluster.groups[0].storage == Storage(size="20Gi", storage_class="fast")
    assert cluster.image.reference.endswith("a" * 64)
    with pytest.raises(ConfigError) as e:
        validate(EsClusterArgs(node_groups={"m": NodeGroupArgs(roles=["master"], replicas="3")}))
    assert "nodeGroups.m.replicas" in dict(e.value.problems)


def test_data_on_empty_dir_warns():
    cluster = load({"nodeGroups": {"m": {"roles": ["master"]}, "d": {"roles": ["data"], "workload": "Deployment"}}})
    assert any("nodeGroups.d" in w and "emptyDir" in w for w in cluster.warnings)


def test_group_names_must_leave_room_for_workload_names():
    found = problems({"clusterName": "a" * 40, "nodeGroups": {"master-eligible-nodes": {"roles": ["master"]}}})
    assert "at most 11 characters" in found["nodeGroups.master-eligible-nodes"]


@pytest.mark.parametrize("value, seconds", [(None, 300), ("90s", 90), ("1h30m", 5400), ("10s", 10), ("24h", 86400)])
def test_rollout_timeout_is_a_duration_per_pod(value, seconds):
    raw = {"nodeGroups": {"m": {"roles": ["master", "data", "client"], "replicas": 3, "workload": "Deployment"}}}
    if value is not None:
        raw["rolloutTimeout"] = value
    cluster = load(raw)
    assert cluster.rollout_timeout_seconds == seconds
    from es_cluster import specs

    # The workload's bound is one rolloutTimeout per pod restarted one at a time.
    assert specs.rollout_timeout(cluster.groups[0], cluster) == f"{3 * seconds}s"
    deployment = specs.workload(cluster.groups[0], cluster, "img")
    assert deployment["spec"]["progressDeadlineSeconds"] == seconds


@pytest.mark.parametrize("value", ["5", "9s", "25h", "5 m", "5m\n", "-5m", "", 300, "1d"])
def test_rollout_timeout_refuses_what_is_not_a_duration_in_range(value):
    assert "rolloutTimeout" in problems({"rolloutTimeout": value, "nodeGroups": {"m": {"roles": ["master"]}}})
