"""The policy pack's wiring (policy/__main__.py) without the engine: which rules the pack
declares, at which enforcement level, and what each rule's validate function reports for the
resources the engine hands it. The rules themselves are test_policy_rules.py's; the pack run by
the real CLI is tests/e2e/test_policy.py's."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pulumi_policy
import pytest
from pulumi_policy import EnforcementLevel, PolicyResource, ResourceValidationArgs, StackValidationArgs

from policy import es_rules

from .test_policy_rules import TYPES, workloads
from .test_policy_rules import es_container as container

RESOURCE_RULES = {
    "es-heap-size": es_rules.heap_violations,
    "es-image-digest": es_rules.digest_violations,
    "es-no-privilege": es_rules.privilege_violations,
    "es-kubeconfig-read-only": es_rules.kubeconfig_violations,
}
# What `pulumi preview` prints beside each violation.
DESCRIPTIONS = {
    "es-master-count": "Each cluster has an odd number of master-eligible nodes, and at least 3 when production is set.",
    "es-min-masters": "Every node's MIN_MASTERS is masters/2+1 of its cluster.",
    "es-heap-size": "ES_HEAP_SIZE is at most half the memory limit and below 32 GiB.",
    "es-image-digest": "Elasticsearch images are pinned by digest.",
    "es-no-privilege": "No container runs privileged or adds a capability beyond CHOWN, SETGID, SETUID (and IPC_LOCK).",
    "es-kubeconfig-read-only": "The kubelet kubeconfig is mounted read-only.",
}


class Recorded:
    """Stands in for pulumi_policy.PolicyPack, whose constructor serves the engine forever."""

    packs: list[dict] = []

    def __init__(self, **kwargs):
        Recorded.packs.append(kwargs)


@pytest.fixture
def pack(monkeypatch) -> dict:
    """policy/__main__.py loaded from beside es_rules (under mutmut, the mutated copy), with the
    PolicyPack it declares recorded instead of served."""
    Recorded.packs = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", Recorded)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the pack puts its own folder first
    had = sys.modules.get("es_rules")
    # Named as mutmut names the file's functions (module policy.__main__), so its runs can tell
    # which tests reach them.
    spec = importlib.util.spec_from_file_location("policy.__main__", Path(es_rules.__file__).with_name("__main__.py"))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        if had is None:
            sys.modules.pop("es_rules", None)
    assert len(Recorded.packs) == 1
    return Recorded.packs[0]


def policy(pack: dict, name: str):
    return next(p for p in pack["policies"] if p.name == name)


def resource_report(pack: dict, name: str, resource_type: str, props: dict) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, "urn:pulumi:dev::es::" + resource_type + "::x", "x", None, None)
    policy(pack, name).validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_report(pack: dict, name: str, resources: list[tuple[str, dict]], config=None) -> list[str]:
    found: list[str] = []
    args = StackValidationArgs(
        [PolicyResource(t, props, f"urn:{i}", f"r{i}", None, None, None, [], {}) for i, (t, props) in enumerate(resources)], config
    )
    policy(pack, name).validate(args, lambda message, urn=None: found.append(message))
    return found


def broken(seed_config) -> dict:
    """The seed's client Deployment breaking every resource rule at once."""
    w = copy.deepcopy(next(w for kind, w in workloads(seed_config) if kind == "Deployment"))
    c = container(w)
    c["image"] = "localhost:5000/es-kubernetes:latest"
    c["securityContext"]["privileged"] = True
    next(e for e in c["env"] if e["name"] == "ES_HEAP_SIZE")["value"] = "40g"
    w["spec"]["template"]["spec"]["volumes"].append({"name": "kubeconfig", "hostPath": {"path": "/var/lib/kubelet/kubeconfig"}})
    c["volumeMounts"].append({"name": "kubeconfig", "mountPath": "/kubeconfig"})
    return w


def test_the_pack_is_es_cluster_and_every_rule_is_mandatory(pack):
    assert pack["name"] == "es-cluster"
    assert pack["enforcement_level"] is EnforcementLevel.MANDATORY
    assert {p.name: p.description for p in pack["policies"]} == DESCRIPTIONS
    assert len(pack["policies"]) == len(DESCRIPTIONS)
    assert all(p.enforcement_level is None for p in pack["policies"])  # each takes the pack's


def test_only_master_count_takes_config_and_production_json_sets_it(pack):
    schema = policy(pack, "es-master-count").config_schema
    assert schema.properties == {"production": {"type": "boolean", "default": False}}
    assert all(p.config_schema is None for p in pack["policies"] if p.name != "es-master-count")
    production = json.loads(Path(es_rules.__file__).with_name("production.json").read_text())
    assert production == {"es-master-count": {"production": True}}


@pytest.mark.parametrize("name", sorted(RESOURCE_RULES))
def test_each_resource_rule_reports_its_rules_messages_on_an_elasticsearch_workload(pack, seed_config, name):
    w = broken(seed_config)
    expected = RESOURCE_RULES[name]("Deployment", w)
    assert expected, "the workload must break the rule"
    assert resource_report(pack, name, TYPES["Deployment"], w) == expected


@pytest.mark.parametrize("name", sorted(RESOURCE_RULES))
def test_resource_rules_pass_over_what_is_not_an_elasticsearch_workload(pack, seed_config, name):
    w = broken(seed_config)
    # Not an apps/v1 workload type the pack knows, though the props would break the rule.
    assert resource_report(pack, name, "kubernetes:core/v1:Pod", w) == []
    assert resource_report(pack, name, "kubernetes:apps/v1beta1:Deployment", w) == []
    # A workload, but not Elasticsearch: no ES label and no MIN_MASTERS.
    del w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    container(w)["env"] = [e for e in container(w)["env"] if e["name"] != "MIN_MASTERS"]
    assert not es_rules.is_elasticsearch(w)
    assert resource_report(pack, name, TYPES["Deployment"], w) == []


def test_master_count_demands_three_only_with_production(pack):
    one = [(TYPES[k], w) for k, w in workloads({"nodeGroups": {"all": {"roles": ["master", "data", "client"], "replicas": 1}}})]
    resources = [("kubernetes:core/v1:Service", {}), *one]
    assert stack_report(pack, "es-master-count", resources) == []
    assert stack_report(pack, "es-master-count", resources, {"production": False}) == []
    assert stack_report(pack, "es-master-count", resources, {"production": True}) == [
        "cluster elasticsearch/elasticsearch: 1 master-eligible node(s) in a production stack; use at least 3"
    ]


def test_master_count_reads_every_workload_kind_and_skips_other_resources(pack, seed_config):
    seed_config["nodeGroups"]["master"]["replicas"] = 2
    ws = workloads(seed_config)
    assert {k for k, _ in ws} == {"DaemonSet", "Deployment"}
    resources = [("kubernetes:core/v1:Service", {}), *[(TYPES[k], w) for k, w in ws]]
    assert stack_report(pack, "es-master-count", resources) == [
        "cluster elasticsearch/es-logging: 2 master-eligible nodes is an even number; use an odd count (3 is usual)"
    ]


def test_min_masters_reports_a_stale_quorum_among_other_resources(pack, seed_config):
    ws = workloads(seed_config)
    client = next(w for k, w in ws if k == "Deployment")
    next(e for e in container(client)["env"] if e["name"] == "MIN_MASTERS")["value"] = "1"
    resources = [("kubernetes:core/v1:Service", {}), *[(TYPES[k], w) for k, w in ws]]
    assert stack_report(pack, "es-min-masters", resources) == [
        "cluster elasticsearch/es-logging: Deployment elasticsearch/es-logging-client container elasticsearch sets "
        "MIN_MASTERS=1, but 3 master-eligible node(s) need 2 (3/2+1)"
    ]
    assert stack_report(pack, "es-min-masters", [(TYPES[k], w) for k, w in workloads(seed_config)]) == []
