"""Least privilege: the exact security contexts, Pod Security labels and NetworkPolicy for the
seed layout and a hardened one, and the config errors."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from es_cluster import ConfigError, parse_stack_config, security, specs, validate

from .test_render import K8S_VERSIONS

IMAGE = "localhost:5000/es-kubernetes@sha256:" + "0" * 64
NON_ROOT = {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}


def hardened() -> dict:
    """PVC storage, no kubeconfig mount, the image started as its elasticsearch user."""
    return {
        "nodeGroups": {
            "master": {"roles": ["master"], "storage": {"size": "5Gi"}, "podSecurityContext": dict(NON_ROOT)},
            "data": {"roles": ["data"], "storage": {"size": "50Gi"}, "podSecurityContext": dict(NON_ROOT)},
            "client": {"roles": ["client"], "podSecurityContext": dict(NON_ROOT)},
        }
    }


def load(raw):
    return validate(parse_stack_config(raw))


def by_kind(cluster, kind):
    return {m["metadata"]["name"]: m for m in specs.manifests(cluster, IMAGE) if m["kind"] == kind}


def test_the_seed_layout_drops_every_capability_but_what_its_root_start_uses(seed_config):
    cluster = load(seed_config)
    for w in [*by_kind(cluster, "DaemonSet").values(), *by_kind(cluster, "Deployment").values()]:
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert pod["containers"][0]["securityContext"] == {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "SETGID", "SETUID"]},
        }


def test_the_seed_layout_needs_privileged_and_its_namespace_says_so(seed_config):
    cluster = load(seed_config)
    assert cluster.pod_security_level == "privileged"
    labels = by_kind(cluster, "Namespace")["elasticsearch"]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
    }


def test_a_hardened_layout_runs_without_any_capability_under_restricted():
    cluster = load(hardened())
    assert cluster.pod_security_level == "restricted"
    for w in by_kind(cluster, "StatefulSet").values():
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}, **NON_ROOT}
        assert pod["containers"][0]["securityContext"] == {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        }
    ns = by_kind(cluster, "Namespace")["elasticsearch"]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"


def test_root_start_without_host_paths_fits_baseline():
    raw = hardened()
    del raw["nodeGroups"]["client"]["podSecurityContext"]
    assert load(raw).pod_security_level == "baseline"


@pytest.mark.parametrize(
    "change, asked, message",
    [
        (
            lambda raw: None,
            "restricted",
            "restricted cannot be met by this layout: kubeconfig.hostPath needs privileged; "
            "nodeGroups.master.storage.hostPath needs privileged; nodeGroups.master.podSecurityContext.runAsUser needs baseline; "
            "nodeGroups.data.storage.hostPath needs privileged; nodeGroups.data.podSecurityContext.runAsUser needs baseline; "
            "nodeGroups.client.podSecurityContext.runAsUser needs baseline",
        ),
        (
            lambda raw: raw.pop("kubeconfig"),
            "baseline",
            "baseline cannot be met by this layout: nodeGroups.master.storage.hostPath needs privileged; "
            "nodeGroups.data.storage.hostPath needs privileged",
        ),
    ],
)
def test_asking_for_a_level_the_layout_cannot_meet_names_what_breaks_it(seed_config, change, asked, message):
    change(seed_config)
    seed_config["podSecurity"] = asked
    with pytest.raises(ConfigError) as e:
        load(seed_config)
    assert e.value.problems == [("podSecurity", message)]


def test_asking_for_a_lower_level_than_needed_is_allowed():
    raw = hardened()
    raw["podSecurity"] = "baseline"
    assert load(raw).pod_security_level == "baseline"


@pytest.mark.parametrize(
    "context, key",
    [
        ({"runAsUser": -1}, "nodeGroups.m.podSecurityContext.runAsUser"),
        ({"runAsUser": "1000"}, "nodeGroups.m.podSecurityContext.runAsUser"),
        ({"runAsNonRoot": True}, "nodeGroups.m.podSecurityContext.runAsNonRoot"),
        ({"runAsNonRoot": "yes"}, "nodeGroups.m.podSecurityContext.runAsNonRoot"),
        ({"privileged": True}, "nodeGroups.m.podSecurityContext"),
        ({"fsGroupChangePolicy": "Never"}, "nodeGroups.m.podSecurityContext.fsGroupChangePolicy"),
        ({"supplementalGroups": [1, -2]}, "nodeGroups.m.podSecurityContext.supplementalGroups"),
        ([1000], "nodeGroups.m.podSecurityContext"),
    ],
)
def test_a_bad_pod_security_context_is_refused_by_key(context, key):
    with pytest.raises(ConfigError) as e:
        load({"nodeGroups": {"m": {"roles": ["master"], "podSecurityContext": context}}})
    assert [k for k, _ in e.value.problems] == [key]


def test_the_network_policy_lets_transport_in_only_from_the_clusters_pods(seed_config):
    [policy] = by_kind(load(seed_config), "NetworkPolicy").values()
    own = {"matchLabels": {"app.kubernetes.io/name": "elasticsearch", "app.kubernetes.io/instance": "es-logging"}}
    assert policy["spec"] == {
        "podSelector": own,
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"podSelector": own}], "ports": [{"protocol": "TCP", "port": 9300}]},
            {"ports": [{"protocol": "TCP", "port": 9200}]},
        ],
    }


def test_http_sources_can_be_listed_and_the_policy_turned_off(seed_config):
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "logging"}}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]
    raw = copy.deepcopy(seed_config)
    raw["networkPolicy"] = {"httpFrom": peers}
    [policy] = by_kind(load(raw), "NetworkPolicy").values()
    assert policy["spec"]["ingress"][1] == {"from": peers, "ports": [{"protocol": "TCP", "port": 9200}]}
    seed_config["networkPolicy"] = {"enabled": False}
    assert by_kind(load(seed_config), "NetworkPolicy") == {}


@pytest.mark.parametrize(
    "peers, key",
    [
        ("everyone", "networkPolicy.httpFrom"),
        ([{"podSelector": {"matchLabels": {"app": "bad value!"}}}], "networkPolicy.httpFrom[0].podSelector.matchLabels.app"),
        ([{"ipBlock": {"cidr": "10.0.0.1"}}], "networkPolicy.httpFrom[0].ipBlock.cidr"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}], "networkPolicy.httpFrom[0].ipBlock.except[0]"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}], "networkPolicy.httpFrom[0].ipBlock"),
        ([{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}],
         "networkPolicy.httpFrom[0].podSelector.matchExpressions[0].values"),
        ([{}], "networkPolicy.httpFrom[0]"),
    ],
)  # fmt: skip
def test_bad_http_sources_are_refused_by_key(seed_config, peers, key):
    seed_config["networkPolicy"] = {"httpFrom": peers}
    with pytest.raises(ConfigError) as e:
        load(seed_config)
    assert [k for k, _ in e.value.problems] == [key]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_hardened_layout_and_listed_http_sources_pass_the_kubernetes_schema(version):
    raw = hardened()
    raw["networkPolicy"] = {"httpFrom": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "shipper"}}}]}
    for manifest in specs.manifests(load(raw), IMAGE):
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("user, root", [({}, True), ({"runAsUser": 0}, True), ({"runAsUser": 1}, False), ({"runAsUser": 1000}, False)])
def test_an_explicit_run_as_user_0_is_root_and_keeps_the_start_up_capabilities(user, root):
    """runAsUser 0 is root, as no runAsUser is: a runAsNonRoot beside it would make the kubelet
    refuse the pod, and without CHOWN the start script could not hand /data over."""
    ctx = security.container_security_context(user)
    if root:
        assert ctx["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN", "SETGID", "SETUID"]}
        assert "runAsNonRoot" not in ctx
    else:
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["runAsNonRoot"] is True
