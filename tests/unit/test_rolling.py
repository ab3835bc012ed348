"""maxUnavailable per group: how many pods a rolling update restarts at once, what it does to the
workloads, the disruption budgets and `up`'s wait, the quorum bound on master groups; and the
warning when a DaemonSet group's planned count differs from the nodes it runs on."""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from es_cluster import ConfigError, EsCluster, k8s, parse_stack_config, specs, validate
from es_cluster.impact import compare, daemonset_drift, record

from .test_component import RecordingMocks

DIGEST_REF = "localhost:5000/es-kubernetes@sha256:" + "b" * 64


def scaled_seed(seed: dict[str, Any], **groups: dict[str, Any]):
    """The seed config with per-group settings merged in, validated."""
    config = copy.deepcopy(seed)
    config["image"] = {"reference": DIGEST_REF}
    for name, extra in groups.items():
        config["nodeGroups"][name].update(extra)
    return validate(parse_stack_config(config))


def problems(seed: dict[str, Any], **groups: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as e:
        scaled_seed(seed, **groups)
    return [f"{k}: {m}" for k, m in e.value.problems]


# --- the rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (1, None),
        (400, None),
        ("1%", None),
        ("100%", None),
        (0, "must be at least 1 (or a percentage such as '25%')"),
        (-2, "must be at least 1 (or a percentage such as '25%')"),
        (2**31 - 1, None),
        (2**31, "must be at most 2147483647 (Kubernetes' int32)"),
        ("0%", "must be a percentage from 1% to 100%"),
        ("101%", "must be a percentage from 1% to 100%"),
        ("25", "must be a whole number such as 2, or a percentage such as '25%'"),
        ("25 %", "must be a whole number such as 2, or a percentage such as '25%'"),
        ("1000%", "must be a whole number such as 2, or a percentage such as '25%'"),
        (True, "must be a whole number such as 2, or a percentage such as '25%'"),
        (1.5, "must be a whole number such as 2, or a percentage such as '25%'"),
        (None, "must be a whole number such as 2, or a percentage such as '25%'"),
    ],
)
def test_int_or_percent_rule(value, why):
    assert k8s.int_or_percent(value) == why


@pytest.mark.parametrize(
    ("value", "total", "up", "down"),
    [(1, 400, 1, 1), (3, 2, 3, 3), ("10%", 400, 40, 40), ("10%", 48, 5, 4), ("1%", 3, 1, 0), ("100%", 7, 7, 7), ("33%", 3, 1, 0)],
)
def test_percentages_resolve_as_the_controllers_do(value, total, up, down):
    # DaemonSet, StatefulSet and the disruption controller round up; a Deployment rounds down.
    assert k8s.scaled(value, total, round_up=True) == up
    assert k8s.scaled(value, total, round_up=False) == down


def test_config_key_errors_name_the_group(seed_config):
    assert problems(seed_config, data={"maxUnavailable": 0}) == [
        "nodeGroups.data.maxUnavailable: must be at least 1 (or a percentage such as '25%'), got 0"
    ]
    assert problems(seed_config, client={"maxUnavailable": "half"}) == [
        "nodeGroups.client.maxUnavailable: must be a whole number such as 2, or a percentage such as '25%', got 'half'"
    ]


def test_config_set_path_strings_are_numbers(seed_config):
    # `pulumi config set --path nodeGroups.data.maxUnavailable 3` stores "3".
    assert scaled_seed(seed_config, data={"maxUnavailable": "3", "replicas": 10}).group("data").max_unavailable == 3


def test_default_is_one_and_renders_as_before(seed_config):
    cluster = scaled_seed(seed_config)
    assert all(g.max_unavailable == 1 for g in cluster.groups)
    ds = specs.workload(cluster.group("data"), cluster, DIGEST_REF)
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    deploy = specs.workload(cluster.group("client"), cluster, DIGEST_REF)
    assert deploy["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


# --- masters keep their quorum --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "value", "refused"),
    [
        (3, 1, None),
        (3, "33%", None),
        (3, 2, "2 restarts 2 of the 3 master-eligible nodes at once, leaving 1, below the quorum of 2: at most 1 may restart together"),
        (
            3,
            "34%",
            "'34%' restarts 2 of the 3 master-eligible nodes at once, leaving 1, below the quorum of 2: at most 1 may restart together",
        ),
        (5, 2, None),
        (5, "40%", None),
        (5, 3, "3 restarts 3 of the 5 master-eligible nodes at once, leaving 2, below the quorum of 3: at most 2 may restart together"),
        (1, 5, None),  # one master: its only pod restarts, as with 1
        (2, 2, "2 restarts 2 of the 2 master-eligible nodes at once, leaving 0, below the quorum of 2: at most 1 may restart together"),
    ],
)
def test_a_master_group_never_restarts_past_its_quorum(seed_config, replicas, value, refused):
    groups = {"master": {"replicas": replicas, "maxUnavailable": value}}
    if refused is None:
        assert scaled_seed(seed_config, **groups).group("master").max_unavailable == value
    else:
        assert problems(seed_config, **groups) == [f"nodeGroups.master.maxUnavailable: {refused}"]


# --- workloads, budgets, timeouts ------------------------------------------------------------------


def test_a_large_data_daemonset_rolls_and_drains_ten_percent_at_a_time(seed_config):
    cluster = scaled_seed(seed_config, data={"replicas": 400, "maxUnavailable": "10%"})
    data = cluster.group("data")
    assert data.roll_batch == 40
    ds = specs.workload(data, cluster, DIGEST_REF)
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": "10%"}
    assert specs.disruption_limit(data, cluster) == {"minAvailable": 360}
    # 400 pods, 40 at a time: 10 steps of rolloutTimeout (5m).
    assert specs.rollout_timeout(data, cluster) == "3000s"


def test_default_budget_of_a_daemonset_is_one_pod_of_the_planned_count(seed_config):
    cluster = scaled_seed(seed_config, data={"replicas": 400})
    assert specs.disruption_limit(cluster.group("data"), cluster) == {"minAvailable": 399}
    assert specs.rollout_timeout(cluster.group("data"), cluster) == "120000s"


def test_a_deployment_rounds_a_percentage_down_and_its_budget_follows(seed_config):
    cluster = scaled_seed(seed_config, client={"replicas": 50, "maxUnavailable": "25%"})
    client = cluster.group("client")
    assert client.roll_batch == 12
    deploy = specs.workload(client, cluster, DIGEST_REF)
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": 0}
    assert specs.disruption_limit(client, cluster) == {"maxUnavailable": "25%"}
    assert specs.rollout_timeout(client, cluster) == "1500s"  # ceil(50 / 12) = 5 steps


def test_a_statefulset_gets_max_unavailable_only_when_asked(seed_config):
    config = copy.deepcopy(seed_config)
    config["image"] = {"reference": DIGEST_REF}
    config["nodeGroups"]["data"] = {"roles": ["data"], "replicas": 6, "storage": {"size": "50Gi"}}
    cluster = validate(parse_stack_config(config))
    sts = specs.workload(cluster.group("data"), cluster, DIGEST_REF)
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    config["nodeGroups"]["data"]["maxUnavailable"] = 2
    cluster = validate(parse_stack_config(config))
    sts = specs.workload(cluster.group("data"), cluster, DIGEST_REF)
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}
    assert specs.disruption_limit(cluster.group("data"), cluster) == {"maxUnavailable": 2}
    assert specs.rollout_timeout(cluster.group("data"), cluster) == "900s"


def test_the_change_summary_says_how_many_pods_restart_at_once(seed_config):
    before = scaled_seed(seed_config, data={"replicas": 40})
    after = scaled_seed(seed_config, data={"replicas": 40, "maxUnavailable": "10%", "heapSize": "512m"})
    lines = compare(record(before, DIGEST_REF), after, DIGEST_REF, frozenset()).summary().splitlines()
    assert "  data: maxUnavailable 1 -> 10% (no restart by itself); rolling restart, 4 pods at a time (heap 1g -> 512m)" in lines


# --- a DaemonSet's planned count against the nodes it runs on -------------------------------------


def test_no_warning_when_the_count_matches(seed_config):
    cluster = scaled_seed(seed_config)
    assert daemonset_drift(cluster.group("data"), cluster, 2) is None
    assert daemonset_drift(cluster.group("master"), cluster, 3) is None
    assert daemonset_drift(cluster.group("client"), cluster, 7) is None  # a Deployment: not counted


def test_a_data_daemonset_on_more_nodes_than_planned(seed_config):
    cluster = scaled_seed(seed_config, data={"replicas": 48})
    assert daemonset_drift(cluster.group("data"), cluster, 50) == (
        "nodeGroups.data.replicas is 48, but 50 node(s) match the nodeSelector of DaemonSet elasticsearch/es-logging-data: "
        "its disruption budget (minAvailable 47) lets 3 pod(s) be evicted at once, not 1; "
        "set nodeGroups.data.replicas to 50 and run pulumi up."
    )


def test_a_data_daemonset_on_fewer_nodes_blocks_drains(seed_config):
    cluster = scaled_seed(seed_config, data={"replicas": 48, "maxUnavailable": 4})
    assert daemonset_drift(cluster.group("data"), cluster, 40) == (
        "nodeGroups.data.replicas is 48, but 40 node(s) match the nodeSelector of DaemonSet elasticsearch/es-logging-data: "
        "its disruption budget (minAvailable 44) allows no eviction at all, so a node drain waits forever; "
        "set nodeGroups.data.replicas to 40 and run pulumi up."
    )


def test_more_masters_than_planned_is_a_split_brain_warning(seed_config):
    cluster = scaled_seed(seed_config)
    assert daemonset_drift(cluster.group("master"), cluster, 5) == (
        "nodeGroups.master.replicas is 3, but 5 node(s) match the nodeSelector of DaemonSet elasticsearch/es-logging-master: "
        "with 5 master-eligible nodes, the quorum it runs with (MIN_MASTERS 2) is not a majority (3), so a network split "
        "can elect two masters (split-brain); set nodeGroups.master.replicas to 5 and run pulumi up (a master group's count "
        "sets the quorum, so it must be exact), or label nodes to match."
    )


def test_fewer_masters_than_planned(seed_config):
    cluster = scaled_seed(seed_config, master={"replicas": 5})
    lost = daemonset_drift(cluster.group("master"), cluster, 2)
    assert lost is not None and "only 2 master-eligible node(s) run, fewer than the quorum of 3: no master can be elected" in lost
    # Planned 5, four labelled: a majority of four is still the quorum of five, but say so.
    short = daemonset_drift(cluster.group("master"), cluster, 4)
    assert short is not None and "the quorum (MIN_MASTERS 3) was set for 5 master-eligible nodes, and 4 run" in short


class CountingMocks(RecordingMocks):
    """DaemonSets come back with the node count their controller would report."""

    def __init__(self, scheduled: dict[str, int]):
        super().__init__()
        self.scheduled = scheduled

    def new_resource(self, args):
        rid, outputs = super().new_resource(args)
        if args.typ == "kubernetes:apps/v1:DaemonSet":
            outputs["status"] = {"desiredNumberScheduled": self.scheduled[args.inputs["metadata"]["name"]]}
        return [rid, outputs]


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, resource=None, **_: seen.append(msg))
    return seen


def test_the_component_warns_from_the_daemonsets_status(seed_config, warnings):
    pulumi.runtime.set_mocks(CountingMocks({"es-logging-master": 3, "es-logging-data": 3}), preview=False)

    @pulumi.runtime.test
    def program():
        EsCluster("es-logging", scaled_seed(seed_config))

    program()  # returns once every output, the status checks included, has resolved
    assert [w for w in warnings if "node(s) match the nodeSelector" in w] == [
        "nodeGroups.data.replicas is 2, but 3 node(s) match the nodeSelector of DaemonSet elasticsearch/es-logging-data: "
        "its disruption budget (minAvailable 1) lets 2 pod(s) be evicted at once, not 1; "
        "set nodeGroups.data.replicas to 3 and run pulumi up."
    ]


def test_the_package_takes_max_unavailable_as_a_string(seed_config):
    # The component package's schema types it as a string; "2" is the number 2, as in stack config.
    from es_cluster.package import stack_config_from_inputs

    inputs = {"node_groups": {"m": {"roles": ["master", "data", "client"], "replicas": 5.0, "max_unavailable": "2"}}}
    cluster = validate(parse_stack_config(stack_config_from_inputs(inputs)))
    assert cluster.group("m").max_unavailable == 2 and cluster.group("m").roll_batch == 2


def test_the_change_summary_names_a_new_max_unavailable(seed_config):
    before = scaled_seed(seed_config, data={"replicas": 40})
    after = scaled_seed(seed_config, data={"replicas": 40, "maxUnavailable": "10%"})
    result = compare(record(before, DIGEST_REF), after, DIGEST_REF, frozenset())
    assert "  data: maxUnavailable 1 -> 10% (no restart by itself)" in result.summary().splitlines()
    assert result.output()["groups"]["data"] == {"change": "updated", "maxUnavailable": [1, "10%"]}
    # A record from before the setting existed is read as 1: no change reported for the default.
    old = record(before, DIGEST_REF)
    for g in old["groups"].values():
        del g["maxUnavailable"]
    assert compare(old, before, DIGEST_REF, frozenset()).unchanged


def test_a_percentage_rounds_up_to_the_next_whole_pod_however_little_it_exceeds(seed_config):
    # 43% of 7 is 3.01 pods: a DaemonSet's controller takes 4 at a time, and the budget follows.
    cluster = scaled_seed(seed_config, data={"replicas": 7, "maxUnavailable": "43%"})
    data = cluster.group("data")
    assert data.roll_batch == 4
    assert specs.disruption_limit(data, cluster) == {"minAvailable": 3}
