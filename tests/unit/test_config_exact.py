"""The words of parse errors, exactly: the key each problem names, the hint it gives and how it
shows the value it got. Users read these to fix their stack files (docs/errors.md, what each failure
means); the mutation run of es_cluster.config found them unpinned."""

from __future__ import annotations

import pytest

from es_cluster import ConfigError, EsClusterArgs, NodeGroupArgs, parse_stack_config, validate
from es_cluster.config import _TOP_KEYS, _show
from es_cluster.model import NetworkPolicy

GROUP = {"roles": ["master", "data", "client"], "replicas": 1}
TOP_ALLOWED = ", ".join(sorted(_TOP_KEYS))


def parse_problems(raw) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as e:
        parse_stack_config(raw)
    return e.value.problems


def test_the_error_text_is_a_header_then_one_indented_key_and_problem_per_line():
    err = ConfigError([("a", "first"), ("b.c", "second")])
    assert str(err) == "invalid es-cluster configuration; nothing was deployed:\n  a: first\n  b.c: second"


def test_an_unknown_top_level_key_is_named_without_a_prefix_with_a_hint_and_the_allowed_keys():
    assert parse_problems({"clusterNmae": "x", "nodeGroups": {"all": GROUP}}) == [
        ("clusterNmae", f"unknown setting (did you mean 'clusterName'?); allowed: {TOP_ALLOWED}")
    ]


def test_an_unknown_key_like_none_of_the_allowed_gets_no_hint():
    assert parse_problems({"zzz": 1, "nodeGroups": {"all": GROUP}}) == [("zzz", f"unknown setting; allowed: {TOP_ALLOWED}")]


def test_a_key_that_is_not_a_string_is_an_unknown_setting_not_a_crash():
    assert parse_problems({1: 2, "nodeGroups": {"all": GROUP}}) == [("1", f"unknown setting; allowed: {TOP_ALLOWED}")]


def test_a_flat_dotted_key_names_the_path_to_set_and_the_object_it_nests_under():
    assert parse_problems({"image.repository": "r", "nodeGroups": {"all": GROUP}}) == [
        ("image.repository", "a flat key: set it with `pulumi config set --path image.repository <value>`, which nests it under 'image'")
    ]
    nested = {"nodeGroups": {"all": {**GROUP, "storage.hostPath.x": "/d"}}}
    assert parse_problems(nested) == [
        (
            "nodeGroups.all.storage.hostPath.x",
            "a flat key: set it with `pulumi config set --path nodeGroups.all.storage.hostPath.x <value>`, which nests it under 'storage'",
        )
    ]


@pytest.mark.parametrize("raw", [5, None, [1, 2], "nodeGroups"])
def test_a_stack_config_that_is_not_an_object_is_named_as_the_stack_config(raw):
    assert parse_problems(raw) == [
        ("es-cluster", f"the stack config must be an object of settings such as clusterName and nodeGroups, got {raw!r}")
    ]


def test_network_policy_problems_are_named_under_network_policy():
    assert parse_problems({"networkPolicy": 5, "nodeGroups": {"all": GROUP}}) == [("networkPolicy", "must be an object, got 5")]
    [(key, msg)] = parse_problems({"networkPolicy": {"enabeld": True}, "nodeGroups": {"all": GROUP}})
    assert key == "networkPolicy.enabeld" and msg.startswith("unknown setting (did you mean 'enabled'?); allowed: ")


def test_node_groups_missing_or_not_a_map():
    assert parse_problems({}) == [("nodeGroups", "required: a map of group name to node group")]
    assert parse_problems({"nodeGroups": [1]}) == [("nodeGroups", "must be a map of group name to node group, got [1]")]


def test_storage_problems_are_named_under_the_groups_storage():
    [(key, msg)] = parse_problems({"nodeGroups": {"all": {**GROUP, "storage": {"hostpath": "/d"}}}})
    assert key == "nodeGroups.all.storage.hostpath" and msg.startswith("unknown setting (did you mean 'hostPath'?); allowed: ")
    assert parse_problems({"nodeGroups": {"all": {**GROUP, "storage": 7}}}) == [("nodeGroups.all.storage", "must be an object, got 7")]


def test_a_group_without_roles_gets_exactly_one_problem():
    assert parse_problems({"nodeGroups": {"all": {"replicas": 1}}}) == [
        ("nodeGroups.all.roles", "required: a non-empty list of master, data, client")
    ]


def test_values_are_shown_escaped_and_quoted_so_hostile_text_cannot_pass_as_output():
    assert _show("naïve\u202e\n") == "'na\\xefve\\u202e\\n'"
    assert _show("it's") == "'it's'"  # always in single quotes, where repr would switch to double
    assert _show(["x"]) == "['x']"


def test_values_are_shown_up_to_120_characters_then_cut_to_117_and_an_ellipsis():
    exactly = "a" * 118  # 120 with its quotes
    assert _show(exactly) == f"'{exactly}'"
    longer = "a" * 119
    assert _show(longer) == "'" + "a" * 116 + "..."
    assert len(_show(longer)) == 120


def validate_problems(raw) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as e:
        validate(parse_stack_config(raw))
    return e.value.problems


def test_a_group_that_is_not_a_node_group_is_named_with_what_it_got():
    with pytest.raises(ConfigError) as e:
        validate(EsClusterArgs(node_groups={"g": "x"}))
    assert e.value.problems == [("nodeGroups.g", "must be a node group, got 'x'")]


def test_a_group_name_too_long_for_its_workload_names_says_why_the_limit_is_lower():
    name = "g" * 42  # the default clusterName "elasticsearch" leaves 52 - 13 - 1 = 38
    assert validate_problems({"nodeGroups": {name: GROUP}}) == [
        (
            f"nodeGroups.{name}",
            "group name must be at most 38 characters, not 42 (workload names are <clusterName>-<group>, at most 52 characters), "
            f"got '{name}'",
        )
    ]


def test_with_an_invalid_cluster_name_a_group_name_is_held_to_the_label_limit_alone():
    bad_cluster = "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit, got 'Bad_'"
    assert validate_problems({"clusterName": "Bad_", "nodeGroups": {"g" * 63: GROUP}}) == [("clusterName", bad_cluster)]
    assert validate_problems({"clusterName": "Bad_", "nodeGroups": {"g" * 64: GROUP}}) == [
        ("clusterName", bad_cluster),
        (f"nodeGroups.{'g' * 64}", f"group name must be at most 63 characters, not 64, got '{'g' * 64}'"),
    ]


def test_a_group_name_invalid_in_itself_gets_no_note_about_workload_names():
    assert validate_problems({"nodeGroups": {"Bad_Name": GROUP}}) == [
        (
            "nodeGroups.Bad_Name",
            "group name must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit, got 'Bad_Name'",
        )
    ]


def test_roles_and_workload_problems_list_what_is_allowed_and_show_what_was_given():
    assert validate_problems({"nodeGroups": {"g": {**GROUP, "roles": "master"}}}) == [
        ("nodeGroups.g.roles", "must be a non-empty list drawn from master, data, client, got 'master'")
    ]
    assert validate_problems({"nodeGroups": {"g": {**GROUP, "roles": ["master", "boss"]}}}) == [
        ("nodeGroups.g.roles", "unknown role 'boss'; allowed: master, data, client")
    ]
    assert validate_problems({"nodeGroups": {"g": {**GROUP, "workload": "Job"}}}) == [
        ("nodeGroups.g.workload", "must be one of DaemonSet, Deployment, StatefulSet, got 'Job'")
    ]


def test_replicas_up_to_int32_max_are_accepted():
    cluster = validate(parse_stack_config({"nodeGroups": {"g": GROUP, "d": {"roles": ["data"], "replicas": 2**31 - 1}}}))
    assert cluster.group("d").replicas == 2**31 - 1


def test_a_null_node_selector_is_no_selector():
    cluster = validate(parse_stack_config({"nodeGroups": {"g": {**GROUP, "nodeSelector": None}}}))
    assert cluster.group("g").node_selector == {}


def test_a_heap_in_upper_case_gigabytes_is_gigabytes():
    raw = {"nodeGroups": {"g": {**GROUP, "heapSize": "2G", "resources": {"limits": {"memory": "1Gi"}}}}}
    assert validate_problems(raw) == [
        (
            "nodeGroups.g.heapSize",
            "2G does not fit in the memory limit 1Gi; the pod would be OOM-killed. Keep the heap at most half the limit",
        )
    ]


def group_problems(**extra) -> list[tuple[str, str]]:
    return validate_problems({"nodeGroups": {"g": {**GROUP, **extra}}})


def top(**settings) -> dict:
    return {"nodeGroups": {"all": GROUP}, **settings}


QUANTITY = "must be a Kubernetes quantity given as a string, such as 500m, 2Gi or 50Gi"
KNOWN = "is not a container resource es-cluster knows; allowed: cpu, memory, ephemeral-storage, hugepages-<size>"


def test_resources_problems_name_the_section_or_resource_and_show_what_was_given():
    assert group_problems(resources={"requests": {"cpu": "1"}, "extra": {}}) == [
        ("nodeGroups.g.resources", "must be an object with requests and/or limits, got {'requests': {'cpu': '1'}, 'extra': {}}")
    ]
    # A bad section does not stop the next one being checked.
    assert group_problems(resources={"requests": 5, "limits": {"cpu": "x"}}) == [
        ("nodeGroups.g.resources.requests", "must be a map such as {cpu: 500m, memory: 2Gi}, got 5"),
        ("nodeGroups.g.resources.limits.cpu", f"{QUANTITY}, got 'x'"),
    ]
    assert group_problems(resources={"requests": {"cpus": "1"}}) == [
        ("nodeGroups.g.resources.requests", f"'cpus' {KNOWN} (did you mean 'cpu'?)")
    ]
    assert group_problems(resources={"requests": {"zzzz.io/q": "1"}}) == [("nodeGroups.g.resources.requests", f"'zzzz.io/q' {KNOWN}")]
    assert group_problems(heapSize="big") == [("nodeGroups.g.heapSize", "must be a JVM size such as 512m or 2g, got 'big'")]


def test_storage_problems_name_the_field_and_show_what_was_given():
    with pytest.raises(ConfigError) as e:
        validate(EsClusterArgs(node_groups={"g": NodeGroupArgs(roles=["master", "data", "client"], replicas=1, storage=5)}))
    assert e.value.problems == [("nodeGroups.g.storage", "must be an object with hostPath, or size and storageClass, got 5")]
    assert group_problems(workload="StatefulSet", storage={"size": "-1Gi", "storageClass": "Bad_"}) == [
        ("nodeGroups.g.storage.size", "must not be negative, got '-1Gi'"),
        (
            "nodeGroups.g.storage.storageClass",
            "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit, got 'Bad_'",
        ),
    ]
    assert group_problems(workload="StatefulSet", storage={"storageClass": "fast"}) == [
        ("nodeGroups.g.storage.size", "required for a StatefulSet: the size of each pod's volume claim, e.g. 50Gi")
    ]


@pytest.mark.parametrize("workload", ["DaemonSet", "Deployment"])
def test_a_volume_claim_size_on_a_daemonset_or_deployment_is_refused(workload):
    extra = {"workload": workload, "storage": {"size": "1Gi"}}
    extra.update({"nodeSelector": {"a": "b"}} if workload == "DaemonSet" else {"roles": ["client"]})
    assert group_problems(**extra) == [
        ("nodeGroups.g.storage.size", f"volume claims need workload StatefulSet; a {workload} takes storage.hostPath")
    ]


def test_a_node_selector_that_is_not_a_map_is_named_with_what_it_got():
    assert group_problems(nodeSelector=["a=b"]) == [("nodeGroups.g.nodeSelector", "must be a map of label key to value, got ['a=b']")]


def test_a_zero_memory_limit_is_one_problem_and_the_heap_is_not_weighed_against_it():
    assert group_problems(resources={"limits": {"memory": "0"}}) == [
        ("nodeGroups.g.resources.limits.memory", "must be greater than zero: Elasticsearch cannot start without memory")
    ]


def test_a_one_byte_memory_limit_is_weighed_against_the_heap():
    assert group_problems(heapSize="1m", resources={"limits": {"memory": "1"}}) == [
        (
            "nodeGroups.g.heapSize",
            "1m does not fit in the memory limit 1; the pod would be OOM-killed. Keep the heap at most half the limit",
        )
    ]


def test_node_selector_keys_and_values_are_named_with_what_was_given():
    assert group_problems(nodeSelector={"bad key!": "x"}) == [
        (
            "nodeGroups.g.nodeSelector",
            "'bad key!' is not a valid label key: must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit",
        )
    ]
    assert group_problems(nodeSelector={"a": "bad value!"}) == [
        (
            "nodeGroups.g.nodeSelector.a",
            "label value must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit, got 'bad value!'",
        )
    ]


EMPTY_DIR = "nodeGroups.g: a data group on emptyDir loses its shards whenever a pod is rescheduled; set storage.hostPath or storage.size"


def test_a_daemonset_without_node_selector_is_warned_that_it_runs_on_every_node():
    def warnings(**extra):
        return validate(parse_stack_config({"nodeGroups": {"g": {**GROUP, **extra}}})).warnings

    assert warnings(workload="DaemonSet") == (EMPTY_DIR, "nodeGroups.g: a DaemonSet without nodeSelector runs one pod on every node")
    assert warnings(workload="DaemonSet", nodeSelector={"a": "b"}) == (EMPTY_DIR,)
    assert warnings(workload="Deployment") == (EMPTY_DIR,)


@pytest.mark.parametrize("given, shown", [(5, "5"), ("abc", "'abc'"), ({"key": "k"}, "{'key': 'k'}")])
def test_tolerations_that_are_not_a_list_are_one_problem_showing_what_was_given(given, shown):
    assert group_problems(tolerations=given) == [("nodeGroups.g.tolerations", f"must be a list of tolerations, got {shown}")]


def test_an_unknown_anti_affinity_lists_the_allowed_and_shows_what_was_given():
    assert group_problems(antiAffinity="always") == [("nodeGroups.g.antiAffinity", "must be one of hard, soft, got 'always'")]


def test_pod_security_context_and_priority_class_problems_are_named_with_their_reason():
    assert group_problems(podSecurityContext={"runAsUser": "x"}) == [
        ("nodeGroups.g.podSecurityContext.runAsUser", "must be a whole number from 0 to 9223372036854775807")
    ]
    assert group_problems(priorityClassName="Bad_") == [
        (
            "nodeGroups.g.priorityClassName",
            "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit, got 'Bad_'",
        )
    ]


def test_none_from_a_python_caller_means_the_default_for_security_context_and_max_unavailable():
    group = NodeGroupArgs(roles=["master", "data", "client"], replicas=1, pod_security_context=None, max_unavailable=None)
    g = validate(EsClusterArgs(node_groups={"g": group})).group("g")
    assert g.pod_security_context == {}
    assert g.max_unavailable == 1


def test_network_policy_enabled_without_http_from_is_the_default_policy_and_disabled_is_none():
    def policy(raw):
        return validate(parse_stack_config(top(networkPolicy=raw))).network_policy

    peers = [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    assert policy({"enabled": True}) == NetworkPolicy(http_from=None)
    assert policy({"enabled": False}) is None
    assert policy({"enabled": True, "httpFrom": peers}) == NetworkPolicy(http_from=({"ipBlock": {"cidr": "10.0.0.0/8"}},))
    assert policy({"enabled": False, "httpFrom": peers}) is None


DNS = "lower-case letters, digits and '-'"
DURATION = "must be a duration from 10s to 24h such as 5m, 90s or 1h30m"
HOST_DATA = {**GROUP, "workload": "DaemonSet", "nodeSelector": {"a": "b"}, "storage": {"hostPath": "/data"}}


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            top(clusterName="Bad_Name"),
            ("clusterName", f"must be {DNS}, starting with a letter and ending with a letter or digit, got 'Bad_Name'"),
        ),
        (top(namespace="Bad_NS"), ("namespace", f"must be {DNS}, starting and ending with a letter or digit, got 'Bad_NS'")),
        (top(createNamespace="yes"), ("createNamespace", "must be true or false, got 'yes'")),
        (top(httpServiceType="Ingress"), ("httpServiceType", "must be one of ClusterIP, NodePort, LoadBalancer, got 'Ingress'")),
        (top(image={"push": "yes"}), ("image.push", "must be true or false, got 'yes'")),
        (top(image={"reference": "bad"}), ("image.reference", "must be pinned by digest, as repository@sha256:<64 hex digits>, got 'bad'")),
        (
            top(image={"repository": "Bad Repo!"}),
            (
                "image.repository",
                "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host), got 'Bad Repo!'",
            ),
        ),
        (top(image={"baseImage": "??"}), ("image.baseImage", "must be an image reference such as registry.example.com/es:2.3.4, got '??'")),
        (top(image={"context": "/nonexistent"}), ("image.context", "must be a folder holding a Dockerfile, got '/nonexistent'")),
        (top(image={"context": 5}), ("image.context", "must be a folder holding a Dockerfile, got 5")),
        # is_file() is False for a path holding NUL.
        (top(image={"context": "image\0"}), ("image.context", "must be a folder holding a Dockerfile, got 'image\\x00'")),
        (top(image={"insecureRegistry": "no"}), ("image.insecureRegistry", "must be true or false, got 'no'")),
        (top(image={"registryUsername": "", "registryPassword": "p"}), ("image.registryUsername", "must be a non-empty string")),
        (top(image={"registryUsername": "u\0", "registryPassword": "p"}), ("image.registryUsername", "must be a non-empty string")),
        (top(image={"registryUsername": "u", "registryPassword": ""}), ("image.registryPassword", "must be a non-empty string")),
        (
            top(image={"registryUsername": "u"}),
            ("image.registryPassword", "must be set together with image.registryUsername (and the other way round)"),
        ),
        (top(rolloutTimeout="9s"), ("rolloutTimeout", f"{DURATION}, got '9s'")),
        (top(rolloutTimeout="24h1s"), ("rolloutTimeout", f"{DURATION}, got '24h1s'")),
        (top(rolloutTimeout="soon"), ("rolloutTimeout", f"{DURATION}, got 'soon'")),
        (
            top(allowDisruptive=["bogus"]),
            ("allowDisruptive", "unknown kind 'bogus'; the kinds are quorumLoss, dataReplace, dataScaleDown, oldIndices"),
        ),
        (
            top(kubeconfig={"hostPath": "relative"}),
            ("kubeconfig.hostPath", "must be an absolute path on the node, starting with /, got 'relative'"),
        ),
        (
            {"nodeGroups": {"d": {"roles": ["data", "client"], "replicas": 1}}},
            ("nodeGroups", "no group has the master role: add 'master' to some group's roles"),
        ),
        (
            {"nodeGroups": {"m": {"roles": ["master"], "replicas": 0}, "d": {"roles": ["data", "client"], "replicas": 1}}},
            ("nodeGroups", "the master-eligible groups have 0 replicas in all: a cluster needs at least one master"),
        ),
        (top(networkPolicy={"enabled": "yes"}), ("networkPolicy.enabled", "must be true or false, got 'yes'")),
        (
            top(networkPolicy={"httpFrom": 5}),
            ("networkPolicy.httpFrom", "must be a list of peers (podSelector, namespaceSelector, ipBlock), got 5"),
        ),
        (
            top(networkPolicy={"httpFrom": [{"bogus": 1}]}),
            ("networkPolicy.httpFrom[0]", "unknown peer field 'bogus'; allowed: podSelector, namespaceSelector, ipBlock"),
        ),
        (top(podSecurity="strict"), ("podSecurity", "must be one of privileged, baseline, restricted, got 'strict'")),
        (
            {"podSecurity": "baseline", "nodeGroups": {"all": HOST_DATA}},
            ("podSecurity", "baseline cannot be met by this layout: nodeGroups.all.storage.hostPath needs privileged"),
        ),
        (
            {"podSecurity": "restricted", "kubeconfig": {"hostPath": "/var/lib/kubelet/kubeconfig"}, "nodeGroups": {"all": GROUP}},
            (
                "podSecurity",
                "restricted cannot be met by this layout: kubeconfig.hostPath needs privileged; "
                "nodeGroups.all.podSecurityContext.runAsUser needs baseline",
            ),
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else None,
)
def test_each_cluster_level_problem_is_named_under_its_key_with_its_exact_reason(raw, expected):
    assert validate_problems(raw) == [expected]


@pytest.mark.parametrize(
    "args, expected",
    [
        (5, ("args", "EsCluster's args must be an EsClusterArgs (or the Cluster that validate returns), got 5")),
        (None, ("args", "EsCluster's args must be an EsClusterArgs (or the Cluster that validate returns), got None")),
        ([1], ("args", "EsCluster's args must be an EsClusterArgs (or the Cluster that validate returns), got [1]")),
        (EsClusterArgs(image=5, node_groups={"all": NodeGroupArgs(**GROUP)}), ("image", "must be an object, got 5")),
        (
            EsClusterArgs(kubeconfig=5, node_groups={"all": NodeGroupArgs(**GROUP)}),
            ("kubeconfig", "must be null or an object with hostPath, got 5"),
        ),
        (
            EsClusterArgs(network_policy=5, node_groups={"all": NodeGroupArgs(**GROUP)}),
            ("networkPolicy", "must be an object with enabled and httpFrom, got 5"),
        ),
        (
            EsClusterArgs(node_groups={}),
            ("nodeGroups", "must name at least one node group, and one of them must hold the master role"),
        ),
    ],
    ids=["not-args", "none", "a-list", "image", "kubeconfig", "network-policy", "no-groups"],
)
def test_what_a_python_caller_can_pass_wrong_is_named_too(args, expected):
    with pytest.raises(ConfigError) as e:
        validate(args)
    assert e.value.problems == [expected]


@pytest.mark.parametrize(
    "masters, warning",
    [
        (
            2,
            "nodeGroups: 2 master-eligible nodes is an even number; use an odd count (3 is usual). A quorum (minimum_master_nodes) "
            "of 2 survives the loss of only 0 of them, the same as 1 masters would, and only an odd count makes a network split "
            "always leave one side with a majority and never two (split-brain).",
        ),
        (
            4,
            "nodeGroups: 4 master-eligible nodes is an even number; use an odd count (3 is usual). A quorum (minimum_master_nodes) "
            "of 3 survives the loss of only 1 of them, the same as 3 masters would, and only an odd count makes a network split "
            "always leave one side with a majority and never two (split-brain).",
        ),
    ],
)
def test_an_even_master_count_is_warned_word_for_word(masters, warning):
    cluster = validate(parse_stack_config({"nodeGroups": {"m": {"roles": ["master", "client"], "replicas": masters}}}))
    assert cluster.warnings == (warning,)


def test_a_layout_without_clients_is_warned_that_the_http_service_selects_nothing():
    no_client = validate(parse_stack_config({"nodeGroups": {"m": {"roles": ["master", "data"], "replicas": 1}}}))
    assert no_client.warnings == ("nodeGroups: no group has the client role, so the HTTP service selects no pods",)


def test_the_layout_rules_wait_until_every_field_is_valid():
    # No master role, but the bad clusterName is all that is reported: the layout is judged only
    # once each field is valid on its own.
    assert validate_problems({"clusterName": "Bad_", "nodeGroups": {"d": {"roles": ["data", "client"], "replicas": 1}}}) == [
        ("clusterName", "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit, got 'Bad_'")
    ]


def test_master_eligible_replicas_may_add_up_to_int32_max_but_not_beyond():
    def groups(extra: int) -> dict:
        m = {"roles": ["master"], "replicas": 2**31 - 1 - extra, "workload": "Deployment"}
        n = {"roles": ["master", "client"], "replicas": 1, "workload": "Deployment"}
        return {"nodeGroups": {"m": m, "n": n}}

    assert validate(parse_stack_config(groups(1))).group("m").replicas == 2**31 - 2
    assert validate_problems(groups(0)) == [
        ("nodeGroups", "the master-eligible groups have 2147483648 replicas in all, beyond Kubernetes' int32")
    ]
