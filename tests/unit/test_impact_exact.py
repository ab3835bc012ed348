"""What a change does to the running cluster, to the word and the number: the survivors of a
mutation run over es_cluster/impact.py (issue 14), each killed by a test named for what a user
would see go wrong. Exact texts, outputs and keys: a changed count, key or sentence fails here."""

from __future__ import annotations

import pytest

from es_cluster import ConfigError, impact, parse_stack_config, validate

from .test_impact import IMAGE, read_back

FATE_HOSTPATH = "its hostPath data stays on the nodes, in /tenxcloud/es_cluster_data/data_node"
FATE_CLAIMS = "its volume claims are kept; only a StatefulSet of the same name and namespace uses them again"


def compare(cluster_of, old=lambda raw: None, new=lambda raw: None, allow=frozenset(), edit=None):
    rec = impact.record(cluster_of(old), IMAGE)
    if edit is not None:
        edit(rec)
    return impact.compare(read_back(rec), cluster_of(new), IMAGE, allow)


def group(result, name):
    return next(g for g in result.groups if g.name == name)


def two_master_groups(raw):
    """Masters split in two groups: ma (2) and mb (3), five master-eligible nodes."""
    m = raw["nodeGroups"].pop("master")
    raw["nodeGroups"]["ma"] = {**m, "replicas": 2}
    raw["nodeGroups"]["mb"] = {**m, "replicas": 3}


# --- the record a stack keeps -------------------------------------------------------------------


def test_the_record_names_each_groups_workload_and_storage_as_deployed_stacks_hold_them(cluster_of):
    # Stacks hold this record; renaming a key would misjudge the next change of every stack.
    def kinds(raw):
        raw["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": "10Gi", "storageClass": "fast"})
        raw["nodeGroups"]["client"]["storage"] = {}

    rec = impact.record(cluster_of(kinds), IMAGE)
    assert {name: (g["kind"], g["workload"], g["storage"]) for name, g in rec["groups"].items()} == {
        "master": ("DaemonSet", "es-logging-master", {"type": "hostPath", "path": "/tenxcloud/es_cluster_data/master_node"}),
        "data": ("StatefulSet", "es-logging-data", {"type": "volumeClaim", "size": "10Gi", "storageClass": "fast"}),
        "client": ("Deployment", "es-logging-client", {"type": "emptyDir"}),
    }


# --- the structured output and the summary's lines ----------------------------------------------


def test_the_impact_output_of_a_mixed_change_is_exact(cluster_of):
    def change(raw):
        raw["nodeGroups"]["data"].update(heapSize="512m", maxUnavailable=2, replicas=3)
        raw["nodeGroups"]["client"].update(heapSize="512m", replicas=3)
        raw["nodeGroups"]["aux"] = {"roles": ["client"], "replicas": 2, "workload": "Deployment"}

    result = compare(cluster_of, new=change)
    out = result.output()
    del out["summary"]
    assert out == {
        "firstDeploy": False,
        "changed": True,
        "masters": {"before": 3, "after": 3},
        "groups": {
            "data": {"change": "updated", "scaled": [2, 3], "restart": ["heap 1g -> 512m"], "maxUnavailable": [1, 2]},
            "aux": {"change": "added"},
            "client": {"change": "updated", "scaled": [2, 3], "restart": ["heap 1g -> 512m"]},
            "master": {"change": "unchanged"},
        },
        "rollOrder": ["data", "client"],
        "allowed": [],
    }
    assert result.summary().splitlines() == [
        "es-cluster: what this change does to the running cluster:",
        "  quorum: unchanged, masters 3 (quorum 2)",
        "  data: scaled 2 -> 3; maxUnavailable 1 -> 2 (no restart by itself); rolling restart, 2 pods at a time (heap 1g -> 512m)",
        "  aux: added, 2 pod(s)",
        "  client: scaled 2 -> 3; rolling restart, one pod at a time (heap 1g -> 512m)",
        "  master: unchanged",
        "  roll order: data -> client, each group's rollout finishing before the next starts",
    ]


def test_the_first_deploy_output_lists_every_group_as_added(cluster_of):
    out = impact.compare(None, cluster_of(), IMAGE, frozenset()).output()
    assert (out["firstDeploy"], out["changed"], out["groups"], out["rollOrder"]) == (
        True,
        True,
        {"data": {"change": "added"}, "client": {"change": "added"}, "master": {"change": "added"}},
        [],
    )


def test_a_later_deploy_says_it_is_not_the_first(cluster_of):
    assert compare(cluster_of).output()["firstDeploy"] is False


def test_one_group_restarting_has_no_roll_order_and_a_scale_alone_is_not_in_it(cluster_of):
    def change(raw):
        raw["nodeGroups"]["data"]["heapSize"] = "512m"
        raw["nodeGroups"]["client"]["replicas"] = 3

    result = compare(cluster_of, new=change)
    assert result.order == ()
    assert result.output()["rollOrder"] == []
    assert "roll order" not in result.summary()


def test_a_replaced_group_says_what_was_replaced_and_what_becomes_of_its_data(cluster_of):
    def statefulset(raw):
        raw["nodeGroups"]["data"].update(workload="StatefulSet", storage={"size": "10Gi"})

    result = compare(cluster_of, new=statefulset, allow=frozenset({"dataReplace"}))
    assert result.output()["groups"]["data"] == {
        "change": "replaced",
        "replaced": ["workload kind DaemonSet -> StatefulSet"],
        "data": FATE_HOSTPATH,
    }


def test_renaming_the_cluster_and_moving_namespace_names_both_and_refuses_both_ways(cluster_of):
    def move(raw):
        raw.update(namespace="logs", clusterName="es-logs")

    result = compare(cluster_of, new=move)
    assert group(result, "data").line() == (
        "data: replaced (namespace elasticsearch -> logs, clusterName es-logging -> es-logs): every pod of the group is "
        f"down at once; {FATE_HOSTPATH}"
    )
    assert [d.refusal() for d in result.refused] == [
        "namespace: this takes 3 of the 3 master-eligible nodes away at once, and the 0 left cannot reach the quorum of 2 "
        "they run with, so no master can be elected until the change completes, or ever if it fails. Refused; to do it "
        "anyway, set es-cluster:allowDisruptive to [quorumLoss] (or true) for this change.",
        "namespace, clusterName: replacing data group data (namespace elasticsearch -> logs, clusterName es-logging -> "
        f"es-logs) takes all 2 of its pods down at once; {FATE_HOSTPATH}. Refused; to do it anyway, set "
        "es-cluster:allowDisruptive to [dataReplace] (or true) for this change.",
    ]


def test_a_removed_group_line_counts_its_pods(cluster_of):
    def no_client(raw):
        del raw["nodeGroups"]["client"]
        raw["nodeGroups"]["master"]["roles"] = ["master", "client"]

    result = compare(cluster_of, new=no_client, allow=frozenset({"quorumLoss"}))
    assert group(result, "client").line() == "client: removed, all 2 pod(s) go; its emptyDir data is lost"


# --- quorum: every way masters go at once adds up ------------------------------------------------


def test_master_groups_replaced_together_count_all_their_nodes(cluster_of):
    def move(raw):
        two_master_groups(raw)
        raw["namespace"] = "logs"

    result = compare(cluster_of, old=two_master_groups, new=move)
    quorum = result.refused[0]
    assert quorum.kind == "quorumLoss" and quorum.keys == ("namespace",)
    assert quorum.message.startswith(
        "this takes 5 of the 5 master-eligible nodes away at once, and the 0 left cannot reach the quorum of 3"
    )


def test_a_replaced_master_group_and_a_scaled_one_add_up_to_quorum_loss(cluster_of):
    def change(raw):
        two_master_groups(raw)
        raw["nodeGroups"]["ma"].update(workload="StatefulSet", storage={"size": "10Gi"})
        raw["nodeGroups"]["mb"]["replicas"] = 2

    result = compare(cluster_of, old=two_master_groups, new=change)
    [quorum] = [d for d in result.refused if d.kind == "quorumLoss"]
    assert quorum.keys == ("nodeGroups.ma.workload", "nodeGroups.mb.replicas")
    assert quorum.message.startswith(
        "this takes 3 of the 5 master-eligible nodes away at once, and the 2 left cannot reach the quorum of 3"
    )


def test_removing_a_master_group_counts_its_nodes_under_its_key(cluster_of):
    def without_mb(raw):
        two_master_groups(raw)
        del raw["nodeGroups"]["mb"]
        raw["nodeGroups"]["ma"]["replicas"] = 3

    result = compare(cluster_of, old=two_master_groups, new=without_mb)
    [quorum] = result.refused
    assert quorum.keys == ("nodeGroups.mb",)
    assert quorum.message.startswith("this takes 3 of the 5 master-eligible nodes away at once, and the 2 left")


# --- data: what is lost and what is not ---------------------------------------------------------


def test_a_data_scale_down_message_gives_both_counts(cluster_of):
    result = compare(
        cluster_of,
        old=lambda raw: raw["nodeGroups"]["data"].update(replicas=4),
        new=lambda raw: raw["nodeGroups"]["data"].update(replicas=2),
    )
    assert [d.message for d in result.refused] == [
        "data group data goes from 4 to 2 nodes in one change; the shards of every node removed at once are lost unless "
        "each has a replica elsewhere. Scale down one node at a time, waiting for green in between."
    ]


def test_removing_a_data_group_of_two_says_two_to_zero(cluster_of):
    def no_data(raw):
        del raw["nodeGroups"]["data"]
        raw["nodeGroups"]["master"]["roles"] = ["master", "data"]

    [refusal] = compare(cluster_of, new=no_data).refused
    assert refusal.message.startswith("data group data goes from 2 to 0 nodes in one change;")


def test_removing_a_one_node_data_group_or_a_client_group_is_not_refused(cluster_of):
    def one_data(raw):
        raw["nodeGroups"]["data"]["replicas"] = 1

    def no_data(raw):
        del raw["nodeGroups"]["data"]
        raw["nodeGroups"]["master"]["roles"] = ["master", "data"]

    def no_client(raw):
        del raw["nodeGroups"]["client"]
        raw["nodeGroups"]["master"]["roles"] = ["master", "client"]

    assert compare(cluster_of, old=one_data, new=no_data).refused == ()
    assert compare(cluster_of, new=no_client).refused == ()


def test_a_claim_change_names_size_and_class_and_that_the_claims_stay(cluster_of):
    def claims(size, cls=None):
        storage = {"size": size, **({"storageClass": cls} if cls else {})}
        return lambda raw: raw["nodeGroups"]["data"].update(workload="StatefulSet", storage=storage)

    result = compare(cluster_of, old=claims("10Gi", "fast"), new=claims("20Gi", "fast"), allow=frozenset({"dataReplace"}))
    assert group(result, "data").line() == (
        f"data: replaced (volumeClaimTemplates (10Gi, class fast -> 20Gi, class fast)): every pod of the group is down at once; {FATE_CLAIMS}"
    )


def test_a_selector_changed_by_an_older_version_replaces_the_group(cluster_of):
    def older(rec):
        rec["groups"]["client"]["selector"] = {"matchLabels": {"app": "es-client"}}

    result = compare(cluster_of, edit=older)
    client = group(result, "client")
    assert (client.change, client.replaced) == ("replaced", ("selector",))
    assert result.refused == ()


def test_a_maxunavailable_kept_is_no_change(cluster_of):
    two = lambda raw: raw["nodeGroups"]["data"].update(maxUnavailable=2)  # noqa: E731
    assert compare(cluster_of, old=two, new=two).unchanged


# --- why the pods restart -------------------------------------------------------------------------


def test_moving_the_kubeconfig_on_the_host_is_a_kubeconfig_mount_change(cluster_of):
    result = compare(cluster_of, new=lambda raw: raw.update(kubeconfig={"hostPath": "/etc/kubernetes/kubelet.conf"}))
    assert [list(g.restart) for g in result.groups] == [["kubeconfig mount"]] * 3


def test_the_heap_comes_first_among_the_reasons(cluster_of):
    def change(raw):
        raw["nodeGroups"]["data"]["heapSize"] = "512m"
        raw["nodeGroups"]["master"]["replicas"] = 5

    assert list(group(compare(cluster_of, new=change), "data").restart) == ["heap 1g -> 512m", "env MIN_MASTERS 2 -> 3"]


def test_an_env_var_one_side_lacks_shows_as_unset(cluster_of):
    def older(rec):
        for g in rec["groups"].values():
            [cont] = g["template"]["spec"]["containers"]
            cont["env"] = [e for e in cont["env"] if e["name"] != "NETWORK_HOST"] + [{"name": "OLD_SETTING", "value": "x"}]

    result = compare(cluster_of, edit=older)
    assert list(group(result, "data").restart) == ["env NETWORK_HOST (unset) -> _site_", "env OLD_SETTING x -> (unset)"]


def test_a_change_no_part_names_is_a_pod_template_change(cluster_of):
    def older(rec):
        rec["groups"]["data"]["template"]["spec"]["terminationGracePeriodSeconds"] = 1

    assert list(group(compare(cluster_of, edit=older), "data").restart) == ["pod template"]


# --- allowDisruptive's errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        (
            ["quorumLoss", "nope", "never"],
            "unknown kind 'nope', 'never'; the kinds are quorumLoss, dataReplace, dataScaleDown, oldIndices",
        ),
        (5, "must be true, false or a list of quorumLoss, dataReplace, dataScaleDown, oldIndices, got 5"),
    ],
)
def test_allow_disruptive_errors_are_exact(value, message):
    assert impact.parse_allow(value) == (None, message)


def test_allow_disruptive_error_reaches_the_user_under_its_key(seed_config):
    with pytest.raises(ConfigError) as err:
        validate(parse_stack_config({**seed_config, "allowDisruptive": ["nope"]}))
    assert "allowDisruptive" in str(err.value) and "unknown kind 'nope'" in str(err.value)


# --- a DaemonSet on other than its planned nodes ------------------------------------------------


def test_masters_down_to_exactly_the_quorum_are_not_called_leaderless(cluster_of):
    cluster = cluster_of()
    warning = impact.daemonset_drift(cluster.group("master"), cluster, 2)
    assert warning.endswith(
        "the quorum (MIN_MASTERS 2) was set for 3 master-eligible nodes, and 2 run; set nodeGroups.master.replicas to 2 and run "
        "pulumi up (a master group's count sets the quorum, so it must be exact), or label nodes to match."
    )


def test_a_one_node_data_group_on_two_nodes_has_a_budget_of_zero(cluster_of):
    cluster = cluster_of(lambda raw: raw["nodeGroups"]["data"].update(replicas=1))
    warning = impact.daemonset_drift(cluster.group("data"), cluster, 2)
    assert "its disruption budget (minAvailable 0) lets 2 pod(s) be evicted at once, not 1;" in warning


def test_a_restart_line_lists_every_reason(cluster_of):
    def change(raw):
        raw["nodeGroups"]["data"]["heapSize"] = "512m"
        raw["nodeGroups"]["master"]["replicas"] = 5

    assert group(compare(cluster_of, new=change), "data").line() == (
        "data: rolling restart, one pod at a time (heap 1g -> 512m, env MIN_MASTERS 2 -> 3)"
    )


def test_a_group_added_before_the_others_does_not_hide_them(cluster_of):
    def change(raw):
        raw["nodeGroups"] = {"aux": {"roles": ["client"], "replicas": 2, "workload": "Deployment"}, **raw["nodeGroups"]}
        raw["nodeGroups"]["data"]["heapSize"] = "512m"

    result = compare(cluster_of, new=change)
    assert sorted(g.name for g in result.groups) == ["aux", "client", "data", "master"]
    assert list(group(result, "data").restart) == ["heap 1g -> 512m"]


def test_a_replaced_and_a_removed_master_group_add_up(cluster_of):
    def change(raw):
        two_master_groups(raw)
        raw["nodeGroups"]["ma"].update(workload="StatefulSet", storage={"size": "10Gi"})
        raw["nodeGroups"]["mc"] = {**raw["nodeGroups"].pop("mb")}

    [quorum] = [d for d in compare(cluster_of, old=two_master_groups, new=change).refused if d.kind == "quorumLoss"]
    assert quorum.keys == ("nodeGroups.ma.workload", "nodeGroups.mb")
    assert quorum.message.startswith("this takes 5 of the 5 master-eligible nodes away at once")


def test_a_data_groups_selector_from_an_older_version_is_refused_under_the_groups_key(cluster_of):
    def older(rec):
        rec["groups"]["data"]["selector"] = {"matchLabels": {"app": "es-data"}}

    [refusal] = compare(cluster_of, edit=older).refused
    assert (refusal.kind, refusal.keys) == ("dataReplace", ("nodeGroups.data",))
