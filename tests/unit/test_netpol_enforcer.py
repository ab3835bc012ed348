"""The local cluster's NetworkPolicy enforcer (scripts/netpol/enforcer.py): its reading of the
API's contract, on the component's own policy and on the contract's other cases. The real
filtering, on the real nodes' bridge, is proven in tests/e2e/test_real_cluster.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from es_cluster import parse_stack_config, specs, validate

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("enforcer", ROOT / "scripts" / "netpol" / "enforcer.py")
enforcer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(enforcer)

ALLOW = "-j MARK --set-xmark 0x20000/0x20000"
HEAD = ["-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN", "-j MARK --set-xmark 0x0/0x20000"]


def pod(name, ip, labels, ns="es", ports=(), host_network=False, phase="Running"):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"hostNetwork": host_network, "containers": [{"ports": [{"name": n, "containerPort": p} for n, p in ports]}]},
        "status": {"podIP": ip, "phase": phase},
    }


def component_policy(**network_policy):
    raw = {"clusterName": "logs", "namespace": "es", "nodeGroups": {"all": {"roles": ["master", "data", "client"], "replicas": 1}}}
    if network_policy:
        raw["networkPolicy"] = network_policy
    return specs.network_policy(validate(parse_stack_config(raw)))


ES = {"app.kubernetes.io/name": "elasticsearch", "app.kubernetes.io/instance": "logs"}


def test_the_components_policy_isolates_its_pods_transport_from_its_own_pods_http_from_anywhere():
    pods = [pod("es-0", "10.0.0.1", ES), pod("es-1", "10.0.0.2", ES), pod("other", "10.0.0.9", {"app": "x"})]
    assert enforcer.rules([component_policy()], pods, {"es": {}}) == [
        *HEAD,
        f"-s 10.0.0.1/32 -d 10.0.0.1/32 -p tcp -m tcp --dport 9300 {ALLOW}",
        f"-s 10.0.0.2/32 -d 10.0.0.1/32 -p tcp -m tcp --dport 9300 {ALLOW}",
        f"-d 10.0.0.1/32 -p tcp -m tcp --dport 9200 {ALLOW}",
        f"-s 10.0.0.1/32 -d 10.0.0.2/32 -p tcp -m tcp --dport 9300 {ALLOW}",
        f"-s 10.0.0.2/32 -d 10.0.0.2/32 -p tcp -m tcp --dport 9300 {ALLOW}",
        f"-d 10.0.0.2/32 -p tcp -m tcp --dport 9200 {ALLOW}",
        "-d 10.0.0.1/32 -m mark ! --mark 0x20000/0x20000 -j REJECT",
        "-d 10.0.0.2/32 -m mark ! --mark 0x20000/0x20000 -j REJECT",
    ]


def test_http_from_lets_only_the_listed_peers_reach_9200():
    policy = component_policy(httpFrom=[{"podSelector": {"matchLabels": {"role": "shipper"}}}])
    pods = [pod("es-0", "10.0.0.1", ES), pod("ship", "10.0.0.5", {"role": "shipper"}), pod("other", "10.0.0.9", {})]
    lines = enforcer.rules([policy], pods, {"es": {}})
    assert f"-s 10.0.0.5/32 -d 10.0.0.1/32 -p tcp -m tcp --dport 9200 {ALLOW}" in lines
    assert not [line for line in lines if "--dport 9200" in line and "10.0.0.5" not in line]
    assert not [line for line in lines if "10.0.0.9" in line]


def test_a_namespace_selector_reaches_pods_of_the_matching_namespaces_and_both_selectors_narrow_it():
    policy = {
        "metadata": {"namespace": "es"},
        "spec": {
            "podSelector": {},
            "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"team": "logs"}}}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"team": "apps"}}, "podSelector": {"matchLabels": {"ship": "yes"}}}]},
            ],
        },
    }
    pods = [
        pod("es-0", "10.0.0.1", {}),
        pod("a", "10.0.1.1", {}, ns="logging"),
        pod("b", "10.0.2.1", {"ship": "yes"}, ns="apps"),
        pod("c", "10.0.2.2", {}, ns="apps"),
    ]
    lines = enforcer.rules([policy], pods, {"es": {}, "logging": {"team": "logs"}, "apps": {"team": "apps"}})
    sources = {line.split()[1] for line in lines if line.startswith("-s ") and "-d 10.0.0.1/32" in line}
    assert sources == {"10.0.1.1/32", "10.0.2.1/32"}


def test_ip_blocks_with_exceptions_named_and_ranged_ports():
    policy = {
        "metadata": {"namespace": "es"},
        "spec": {
            "podSelector": {"matchLabels": {"a": "b"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.9.0/24"]}}], "ports": [{"port": "http"}]},
                {"ports": [{"port": 9000, "endPort": 9010, "protocol": "UDP"}, {"port": "missing"}]},
            ],
        },
    }
    lines = enforcer.rules([policy], [pod("es-0", "10.0.0.1", {"a": "b"}, ports=[("http", 9200)])], {"es": {}})
    assert lines[2:] == [
        "-d 10.0.0.1/32 -j ES-NETPOL-B1",
        "@ES-NETPOL-B1 -s 10.0.9.0/24 -j RETURN",
        f"@ES-NETPOL-B1 -s 10.0.0.0/16 -p tcp -m tcp --dport 9200 {ALLOW}",
        f"-d 10.0.0.1/32 -p udp -m udp --dport 9000:9010 {ALLOW}",
        "-d 10.0.0.1/32 -m mark ! --mark 0x20000/0x20000 -j REJECT",
    ]
    text = enforcer.restore_input(lines)
    assert text.splitlines()[:3] == ["*filter", ":ES-NETPOL - [0:0]", ":ES-NETPOL-B1 - [0:0]"]
    assert "-A ES-NETPOL-B1 -s 10.0.9.0/24 -j RETURN" in text and text.endswith("COMMIT\n")


@pytest.mark.parametrize(
    ("spec", "isolated"),
    [
        ({"podSelector": {}, "policyTypes": ["Egress"]}, False),  # egress only: not isolated for ingress
        ({"podSelector": {"matchLabels": {"x": "y"}}}, False),  # selects another pod
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]}}, True),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}}, False),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}, True),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}}, False),
        ({"podSelector": {}}, True),  # no ingress rules: everything to it is refused
    ],
)
def test_which_pods_a_policy_isolates(spec, isolated):
    lines = enforcer.rules([{"metadata": {"namespace": "es"}, "spec": spec}], [pod("p", "10.0.0.1", {"a": "b"})], {"es": {}})
    assert (lines[-1] == "-d 10.0.0.1/32 -m mark ! --mark 0x20000/0x20000 -j REJECT") is isolated
    assert len(lines) == (3 if isolated else 2)


def test_host_network_finished_and_addressless_pods_are_neither_targets_nor_peers():
    pods = [
        pod("h", "10.0.0.1", ES, host_network=True),
        pod("done", "10.0.0.2", ES, phase="Succeeded"),
        pod("new", None, ES),
        pod("v6", "fd00::1", ES),
    ]
    assert enforcer.rules([component_policy()], pods, {"es": {}}) == HEAD
