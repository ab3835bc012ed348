"""What a change does to the running cluster: the comparison of the last deployed record with
the new config, the refusals and the override, and the roll order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from es_cluster import ConfigError, impact, parse_stack_config, validate

IMAGE = "localhost:5000/es-kubernetes:ctx-1"


def read_back(rec):
    """A record as a stack output gives it back: through JSON, numbers as floats."""
    return json.loads(json.dumps(rec), parse_int=float)


@pytest.fixture
def deployed(cluster_of):
    """The seed layout (masters 3, data 2, client 2) as last deployed, read back from a stack
    output: through JSON, where every number may come back as a float."""
    return read_back(impact.record(cluster_of(), IMAGE))


def test_first_deploy_says_so(cluster_of):
    result = impact.compare(None, cluster_of(), IMAGE, frozenset())
    assert result.first_deploy
    assert result.summary() == "es-cluster: first deploy: masters 3 (quorum 2); creates data (2), client (2), master (3)"
    assert result.output()["firstDeploy"] is True and not result.refused


def test_no_change_is_one_line(cluster_of, deployed):
    result = impact.compare(deployed, cluster_of(), IMAGE, frozenset())
    assert result.summary() == "es-cluster: no change to the running cluster"
    assert result.output()["changed"] is False


def test_scaling_masters_up_rolls_every_group_for_the_new_quorum_data_first(cluster_of, deployed):
    def five_masters(raw):
        raw["nodeGroups"]["master"]["replicas"] = 5

    result = impact.compare(deployed, cluster_of(five_masters), IMAGE, frozenset())
    assert result.summary().splitlines() == [
        "es-cluster: what this change does to the running cluster:",
        "  quorum: masters 3 (quorum 2) -> 5 (quorum 3)",
        "  data: rolling restart, one pod at a time (env MIN_MASTERS 2 -> 3)",
        "  client: rolling restart, one pod at a time (env MIN_MASTERS 2 -> 3)",
        "  master: scaled 3 -> 5; rolling restart, one pod at a time (env MIN_MASTERS 2 -> 3)",
        "  roll order: data -> client -> master, each group's rollout finishing before the next starts",
    ]
    assert result.output()["masters"] == {"before": 3, "after": 5}
    assert not result.refused


def test_a_data_only_scale_restarts_nothing(cluster_of, deployed):
    def three_data(raw):
        raw["nodeGroups"]["data"]["replicas"] = 3

    result = impact.compare(deployed, cluster_of(three_data), IMAGE, frozenset())
    assert [g.line() for g in result.groups] == ["data: scaled 2 -> 3", "client: unchanged", "master: unchanged"]
    assert result.order == ()


@pytest.mark.parametrize(
    "change, reasons",
    [
        (lambda raw: None, ["image"]),
        (lambda raw: raw["nodeGroups"]["client"].update(heapSize="512m"), ["heap 1g -> 512m"]),
        (
            lambda raw: raw["nodeGroups"]["client"].update(resources={"limits": {"memory": "3Gi"}}),
            ["resources"],
        ),
        (lambda raw: raw.pop("kubeconfig"), ["kubeconfig mount"]),
        (lambda raw: raw["nodeGroups"]["client"].update(antiAffinity="soft"), ["anti-affinity"]),
        (
            lambda raw: raw["nodeGroups"]["client"].update(tolerations=[{"key": "k", "operator": "Exists"}]),
            ["tolerations"],
        ),
    ],
    ids=["image", "heap", "resources", "kubeconfig", "anti-affinity", "tolerations"],
)
def test_a_rolling_restart_names_what_changed(cluster_of, deployed, seed_config, change, reasons):
    image = IMAGE.replace("ctx-1", "ctx-2") if reasons == ["image"] else IMAGE
    result = impact.compare(deployed, cluster_of(change), image, frozenset())
    client = next(g for g in result.groups if g.name == "client")
    assert list(client.restart) == reasons
    assert client.change == "updated"


@pytest.mark.parametrize(
    "before, after, refused",
    [(3, 1, True), (4, 2, True), (5, 2, True), (2, 1, True), (3, 2, False), (5, 3, False), (3, 5, False)],
)
def test_removing_half_or_more_of_the_masters_is_refused(cluster_of, before, after, refused):
    def masters(n):
        return lambda raw: raw["nodeGroups"]["master"].update(replicas=n)

    rec = impact.record(cluster_of(masters(before)), IMAGE)
    result = impact.compare(rec, cluster_of(masters(after)), IMAGE, frozenset())
    assert [d.kind for d in result.refused] == (["quorumLoss"] if refused else [])
    if refused:
        message = result.refused[0].refusal()
        assert message.startswith("nodeGroups.master.replicas: ")
        assert "es-cluster:allowDisruptive" in message and "quorumLoss" in message


def test_the_override_lets_a_refused_change_through_and_is_recorded(cluster_of, deployed):
    def one_master(raw):
        raw["nodeGroups"]["master"]["replicas"] = 1

    result = impact.compare(deployed, cluster_of(one_master), IMAGE, frozenset({"quorumLoss"}))
    assert not result.refused
    assert [d.kind for d in result.allowed] == ["quorumLoss"]
    assert "allowed by es-cluster:allowDisruptive (quorumLoss)" in result.summary()
    assert result.output()["allowed"] == ["quorumLoss"]
    # Allowing another kind does not allow this one.
    other = impact.compare(deployed, cluster_of(one_master), IMAGE, frozenset({"dataScaleDown"}))
    assert [d.kind for d in other.refused] == ["quorumLoss"]


@pytest.mark.parametrize("before, after, refused", [(3, 1, True), (4, 2, True), (3, 2, False), (2, 3, False)])
def test_scaling_data_down_by_more_than_one_node_is_refused(cluster_of, before, after, refused):
    def data(n):
        return lambda raw: raw["nodeGroups"]["data"].update(replicas=n)

    rec = impact.record(cluster_of(data(before)), IMAGE)
    result = impact.compare(rec, cluster_of(data(after)), IMAGE, frozenset())
    assert [(d.kind, d.keys) for d in result.refused] == ([("dataScaleDown", ("nodeGroups.data.replicas",))] if refused else [])


def test_removing_a_data_group_of_two_is_a_scale_down_by_two(cluster_of, deployed):
    def no_data_group(raw):
        del raw["nodeGroups"]["data"]
        raw["nodeGroups"]["master"]["roles"] = ["master", "data"]

    result = impact.compare(deployed, cluster_of(no_data_group), IMAGE, frozenset())
    assert [(d.kind, d.keys) for d in result.refused] == [("dataScaleDown", ("nodeGroups.data",))]
    data = next(g for g in result.groups if g.name == "data")
    assert data.line() == "data: removed, all 2 pod(s) go; its hostPath data stays on the nodes, in /tenxcloud/es_cluster_data/data_node"


def test_a_workload_kind_change_replaces_the_data_group_and_is_refused(cluster_of, deployed):
    def statefulset(raw):
        raw["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": "10Gi"})

    result = impact.compare(deployed, cluster_of(statefulset), IMAGE, frozenset())
    data = next(g for g in result.groups if g.name == "data")
    assert data.change == "replaced"
    assert data.line().startswith("data: replaced (workload kind DaemonSet -> StatefulSet): every pod of the group is down at once")
    assert [(d.kind, d.keys) for d in result.refused] == [("dataReplace", ("nodeGroups.data.workload",))]


def test_a_claim_size_change_replaces_a_statefulset_group_and_says_its_claims_stay(cluster_of):
    def sts(size):
        return lambda raw: raw["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": size})

    rec = impact.record(cluster_of(sts("10Gi")), IMAGE)
    result = impact.compare(rec, cluster_of(sts("20Gi")), IMAGE, frozenset())
    [refusal] = result.refused
    assert refusal.kind == "dataReplace" and refusal.keys == ("nodeGroups.data.storage",)
    assert "volumeClaimTemplates (10Gi -> 20Gi)" in refusal.message
    assert "volume claims are kept" in refusal.message


def test_a_namespace_change_replaces_every_group_and_loses_quorum(cluster_of, deployed):
    result = impact.compare(deployed, cluster_of(lambda raw: raw.update(namespace="logs")), IMAGE, frozenset())
    assert {g.change for g in result.groups} == {"replaced"}
    assert [(d.kind, d.keys) for d in result.refused] == [("quorumLoss", ("namespace",)), ("dataReplace", ("namespace",))]
    assert (
        impact.compare(deployed, cluster_of(lambda raw: raw.update(namespace="logs")), IMAGE, frozenset(impact.DISRUPTIONS)).refused == ()
    )


def test_an_emptydir_data_group_says_its_data_is_lost(cluster_of):
    def emptydir(workload):
        return lambda raw: raw["nodeGroups"]["data"].update(workload=workload, storage=None, nodeSelector={})

    rec = impact.record(cluster_of(emptydir("DaemonSet")), IMAGE)
    result = impact.compare(rec, cluster_of(emptydir("Deployment")), IMAGE, frozenset())
    assert "its emptyDir data is lost" in result.refused[0].message


def test_roll_order_is_data_then_client_then_masters(cluster_of):
    def mixed(raw):
        g = raw["nodeGroups"]
        g["all"] = {"roles": ["master", "data", "client"], "replicas": 0}
        g["hot"] = {"roles": ["data", "client"], "replicas": 1}

    names = [g.name for g in impact.roll_order(cluster_of(mixed))]
    assert names == ["data", "hot", "client", "all", "master"]


def test_a_record_read_back_with_float_numbers_compares_equal(cluster_of, deployed):
    assert impact.canonical(deployed) == impact.record(cluster_of(), IMAGE)


def test_an_unknown_record_version_counts_as_a_first_deploy(cluster_of, deployed):
    deployed["version"] = 99
    assert impact.compare(deployed, cluster_of(), IMAGE, frozenset()).first_deploy


@pytest.mark.parametrize(
    "value, kinds",
    [(True, set(impact.DISRUPTIONS)), (False, set()), ("true", set(impact.DISRUPTIONS)), (["quorumLoss"], {"quorumLoss"}),
     ("quorumLoss, dataScaleDown", {"quorumLoss", "dataScaleDown"})],
)  # fmt: skip
def test_allow_disruptive_accepts_true_false_or_kinds(seed_config, value, kinds):
    seed_config["allowDisruptive"] = value
    assert validate(parse_stack_config(seed_config)).allow_disruptive == kinds


@pytest.mark.parametrize("value", [["quorumloss"], "yes", 3, [["quorumLoss"]], {"quorumLoss": True}])
def test_allow_disruptive_rejects_anything_else_by_key(seed_config, value):
    seed_config["allowDisruptive"] = value
    with pytest.raises(ConfigError) as e:
        validate(parse_stack_config(seed_config))
    assert [k for k, _ in e.value.problems] == ["allowDisruptive"]


def test_the_documented_examples_are_what_the_code_prints(cluster_of, deployed):
    page = (Path(__file__).resolve().parents[2] / "docs" / "changing.md").read_text()
    section = page.split("# Changing a running cluster", 1)[1].split("\n## ", 1)[0]
    blocks = [" ".join(b.split()) for b in re.findall(r"```\n(.*?)```", section, re.S)]

    def five_masters(raw):
        raw["nodeGroups"]["master"]["replicas"] = 5

    def client_heap(raw):
        raw["nodeGroups"]["client"]["heapSize"] = "512m"

    def data_statefulset(raw):
        raw["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": "50Gi"})

    printed = [
        impact.compare(deployed, cluster_of(five_masters), IMAGE, frozenset()).summary(),
        impact.compare(deployed, cluster_of(client_heap), IMAGE, frozenset()).summary(),
        "error: " + impact.compare(deployed, cluster_of(data_statefulset), IMAGE, frozenset()).refused[0].refusal(),
    ]
    assert blocks[:3] == [" ".join(p.split()) for p in printed]
