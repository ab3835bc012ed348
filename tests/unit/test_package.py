"""The component package: the schema the SDK's host infers from es_cluster.package, and the
mapping of its inputs back onto stack config."""

from __future__ import annotations

import datetime as dt
import json

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.provider.experimental.component import ComponentProvider

from es_cluster import ConfigError, parse_stack_config, specs, tls, validate
from es_cluster.config import Later
from es_cluster.package import EsCluster, stack_config_from_inputs

from .test_component import RecordingMocks, by_type, settled

REF = "localhost:5000/es-kubernetes@sha256:" + "c" * 64


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(ComponentProvider([EsCluster], "es-cluster", None, "0.1.0").schema)


def test_schema_inputs_are_the_stack_config_keys(schema):
    res = schema["resources"]["es-cluster:index:EsCluster"]
    assert set(res["inputProperties"]) == {
        "nodeGroups",
        "clusterName",
        "namespace",
        "createNamespace",
        "image",
        "kubeconfig",
        "httpServiceType",
        "rolloutTimeout",
        "allowDisruptive",
        "podSecurity",
        "networkPolicy",
        "engine",
        "security",
    }
    assert res["requiredInputs"] == ["nodeGroups"]
    assert set(schema["types"]["es-cluster:index:Engine"]["properties"]) == {"distribution", "version", "allowMmap", "initialMasterNodes"}
    assert set(schema["types"]["es-cluster:index:Security"]["properties"]) == {
        "enabled",
        "httpTls",
        "password",
        "certificateSecret",
        "certificateSubject",
        "certificateDays",
        "caDays",
        "caCertificate",
        "caKey",
    }
    assert res["inputProperties"]["nodeGroups"]["additionalProperties"]["$ref"] == "#/types/es-cluster:index:NodeGroup"
    types = schema["types"]
    assert set(types["es-cluster:index:NodeGroup"]["properties"]) == {
        "roles", "replicas", "workload", "nodeSelector", "storage", "heapSize", "resources", "tolerations", "antiAffinity",
        "priorityClassName", "podSecurityContext", "maxUnavailable",
    }  # fmt: skip
    assert set(types["es-cluster:index:Storage"]["properties"]) == {"hostPath", "size", "storageClass"}
    assert set(types["es-cluster:index:Image"]["properties"]) == {
        "repository",
        "baseImage",
        "push",
        "context",
        "reference",
        "insecureRegistry",
        "registryUsername",
        "registryPassword",
    }
    assert types["es-cluster:index:Kubeconfig"]["required"] == ["hostPath"]


def test_schema_outputs_are_the_component_outputs(schema):
    res = schema["resources"]["es-cluster:index:EsCluster"]
    assert set(res["properties"]) == {
        "namespace",
        "httpService",
        "transportService",
        "httpUrl",
        "imageRef",
        "workloads",
        "elasticPassword",
        "superuser",
        "caCertificate",
        "impact",
        "record",
    }
    assert res["properties"]["workloads"]["additionalProperties"]["type"] == "string"


def test_every_schema_input_is_a_key_parse_stack_config_accepts(schema):
    # Each name the schema offers is one the config parser knows: no input is silently dropped.
    group = {k: None for k in schema["types"]["es-cluster:index:NodeGroup"]["properties"]} | {"roles": ["master"]}
    raw = {k: None for k in schema["resources"]["es-cluster:index:EsCluster"]["inputProperties"]} | {"nodeGroups": {"m": group}}
    raw["image"] = dict.fromkeys(schema["types"]["es-cluster:index:Image"]["properties"])
    raw["kubeconfig"] = {"hostPath": "/k"}
    raw["nodeGroups"]["m"]["storage"] = dict.fromkeys(schema["types"]["es-cluster:index:Storage"]["properties"])
    parse_stack_config({k: v for k, v in raw.items()})  # raises ConfigError on an unknown key
    raw["engine"] = dict.fromkeys(schema["types"]["es-cluster:index:Engine"]["properties"])
    parse_stack_config({k: v for k, v in raw.items()})


def test_inputs_map_back_to_stack_config():
    inputs = {
        "cluster_name": "logs",
        "create_namespace": False,
        "image": {"reference": REF, "base_image": "x"},
        "kubeconfig": {"host_path": "/srv/kubeconfig"},
        # Map values arrive as sent (camelCase) or renamed (snake_case); both are accepted.
        "node_groups": {
            "master": {"roles": ["master"], "replicas": 3.0, "node_selector": {"kube-system/es-master-node": "true"}},
            "data": {
                "roles": ["data"],
                "heapSize": "2g",
                "resources": {"limits": {"memory": "4Gi"}},
                "storage": {"storage_class": "ssd", "size": "9Gi"},
            },
        },
    }
    assert stack_config_from_inputs(inputs) == {
        "clusterName": "logs",
        "createNamespace": False,
        "image": {"reference": REF, "baseImage": "x"},
        "kubeconfig": {"hostPath": "/srv/kubeconfig"},
        "nodeGroups": {
            "master": {"roles": ["master"], "replicas": 3, "nodeSelector": {"kube-system/es-master-node": "true"}},
            "data": {
                "roles": ["data"],
                "heapSize": "2g",
                "resources": {"limits": {"memory": "4Gi"}},
                "storage": {"storageClass": "ssd", "size": "9Gi"},
            },
        },
    }


def test_security_inputs_keep_kubernetes_spelling_and_whole_numbers():
    inputs = {
        "pod_security": "restricted",
        "network_policy": {"http_from": [{"pod_selector": {"matchLabels": {"a_b": "c"}}}]},
        "node_groups": {"m": {"roles": ["master"], "pod_security_context": {"runAsUser": 1000.0, "fsGroup": 1000.0}}},
    }
    assert stack_config_from_inputs(inputs) == {
        "podSecurity": "restricted",
        # A peer is Kubernetes' own object: kept as sent, never renamed.
        "networkPolicy": {"httpFrom": [{"pod_selector": {"matchLabels": {"a_b": "c"}}}]},
        "nodeGroups": {"m": {"roles": ["master"], "podSecurityContext": {"runAsUser": 1000, "fsGroup": 1000}}},
    }


def test_user_keys_are_never_renamed():
    out = stack_config_from_inputs(
        {
            "node_groups": {
                "master": {"roles": ["master"], "node_selector": {"host_path": "x"}, "resources": {"requests": {"heap_size": "1"}}}
            }
        }
    )
    assert out["nodeGroups"]["master"]["nodeSelector"] == {"host_path": "x"}
    assert out["nodeGroups"]["master"]["resources"] == {"requests": {"heap_size": "1"}}


def test_a_fractional_number_stays_one_and_is_refused():
    raw = stack_config_from_inputs({"node_groups": {"master": {"roles": ["master"], "replicas": 1.5}}})
    with pytest.raises(ConfigError, match=r"nodeGroups.master.replicas: must be a whole number >= 0, got 1.5"):
        validate(parse_stack_config(raw))


@pulumi.runtime.test
def test_an_output_as_input_is_refused_with_its_key():
    with pytest.raises(ConfigError, match=r"nodeGroups.master.replicas: must be a known value"):
        stack_config_from_inputs({"node_groups": {"master": {"roles": ["master"], "replicas": pulumi.Output.from_input(3)}}})


@pulumi.runtime.test
def test_the_package_class_declares_what_stack_config_declares():
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    inputs = {
        "cluster_name": "logs",
        "image": {"reference": REF},
        "node_groups": {"all": {"roles": ["master", "data", "client"], "replicas": 1.0, "workload": "Deployment"}},
    }
    es = EsCluster("logs", inputs)
    expected = specs.workload(*_group_and_cluster(inputs), REF)

    def check(outputs):
        [deployment] = by_type(mocks, "kubernetes:apps/v1:Deployment").values()
        assert (
            deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
            == expected["spec"]["template"]["spec"]["containers"][0]["env"]
        )
        assert outputs == [REF, {"all": "logs-all"}]

    return settled(es, es.image_ref, es.workloads).apply(check)


def _group_and_cluster(inputs):
    cluster = validate(parse_stack_config(stack_config_from_inputs(inputs)))
    return cluster.groups[0], cluster


@pulumi.runtime.test
def test_an_output_at_the_top_or_inside_a_list_is_named_by_its_full_key():
    with pytest.raises(ConfigError) as e:
        stack_config_from_inputs(
            {
                "cluster_name": pulumi.Output.from_input("logs"),
                "node_groups": {"master": {"roles": ["master"], "tolerations": [{"key": pulumi.Output.from_input("x")}]}},
            }
        )
    assert [key for key, _ in e.value.problems] == ["clusterName", "nodeGroups.master.tolerations[0].key"]


def test_a_group_name_is_never_renamed_even_when_it_spells_a_field():
    out = stack_config_from_inputs({"node_groups": {"heap_size": {"roles": ["master"], "heap_size": "1g"}}})
    assert out == {"nodeGroups": {"heap_size": {"roles": ["master"], "heapSize": "1g"}}}


@pulumi.runtime.test
def test_the_package_class_passes_its_options_to_the_component():
    """A program's provider reaches every object the component declares."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    provider = k8s.Provider("target")
    inputs = {"image": {"reference": REF}, "node_groups": {"all": {"roles": ["master", "data", "client"], "replicas": 1.0}}}
    es = EsCluster("logs", inputs, pulumi.ResourceOptions(providers=[provider]))

    def check(_):
        kube = [r for r in mocks.resources if r.typ.startswith("kubernetes:") and not r.typ.startswith("pulumi:providers")]
        assert kube and all("::target::" in (r.provider or "") for r in kube), [(r.typ, r.provider) for r in kube]

    return settled(es, es.workloads).apply(check)


def secret_of(value: str) -> dict[str, str]:
    """A secret as the mocks see it registered: the engine's wrapper (rpc.py's signatures)."""
    return {pulumi.runtime.rpc._special_sig_key: pulumi.runtime.rpc._special_secret_sig, "value": value}


# Secrets another resource gives (a secret config value in a YAML program is an output here).
@pulumi.runtime.test
def test_a_secret_from_another_resource_is_taken_as_it_comes_and_only_there():
    secret = pulumi.Output.secret("from-elsewhere-1")
    out = stack_config_from_inputs(
        {
            "node_groups": {"all": {"roles": ["master"]}},
            "security": {"password": secret, "ca_key": secret},
            "image": {"registry_password": secret},
        }
    )
    assert out["security"] == {"password": Later(secret), "caKey": Later(secret)} and out["image"] == {"registryPassword": Later(secret)}
    with pytest.raises(ConfigError, match=r"security.caCertificate: must be a known value"):
        stack_config_from_inputs({"node_groups": {"all": {"roles": ["master"]}}, "security": {"ca_certificate": secret}})


@pulumi.runtime.test
def test_the_secrets_from_another_resource_reach_the_credentials_resource():
    """Validated there once known (tests/unit/test_credentials.py): the component declares
    nothing else before it."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    key = tls.new_key()
    ca = tls.cert_pem(tls.new_ca("corp", key, dt.datetime.now(dt.UTC)))
    inputs = {
        "cluster_name": "logs",
        "engine": {"distribution": "elasticsearch", "version": "8.19.0"},
        "image": {"reference": REF},
        "node_groups": {
            "all": {"roles": ["master", "data", "client"], "replicas": 3.0, "workload": "StatefulSet", "storage": {"size": "1Gi"}}
        },
        "security": {
            "password": pulumi.Output.secret("from-a-vault-1"),
            "ca_certificate": ca,
            "ca_key": pulumi.Output.secret(tls.key_pem(key)),
        },
    }
    es = EsCluster("logs", inputs)

    def check(_):
        [made] = [r for r in mocks.resources if r.name == "logs-credentials"]
        # Both reach it still secret: the engine's secret wrapper around the value.
        assert made.inputs["password"] == secret_of("from-a-vault-1")
        assert made.inputs["given_ca_key"] == secret_of(tls.key_pem(key)) and made.inputs["given_ca_crt"] == ca

    return settled(es, es.image_ref).apply(check)
