"""Kubernetes' own rules (es_cluster.k8s), each at its edges: what the API server takes and what it
refuses. Full matches everywhere: a trailing newline or NUL never passes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from es_cluster import k8s


@pytest.mark.parametrize("v", ["a", "es-logging", "a1", "1a", "x" * 63])
def test_dns1123_label_accepts(v):
    assert k8s.dns1123_label(v) is None


@pytest.mark.parametrize("v", ["", "A", "a-", "-a", "a.b", "a_b", "a\n", "a\x00", " a", "x" * 64, 123, None, ["a"]])
def test_dns1123_label_refuses(v):
    assert k8s.dns1123_label(v) is not None


@pytest.mark.parametrize("v, ok", [("a", True), ("1a", False), ("a-1", True), ("a\n", False), ("x" * 63, True), ("x" * 64, False)])
def test_dns1035_label(v, ok):
    assert (k8s.dns1035_label(v) is None) is ok


@pytest.mark.parametrize(
    "v, ok", [("fast", True), ("fast.ssd", True), ("fast.", False), ("Fast", False), ("a" * 253, True), ("a" * 254, False)]
)
def test_dns1123_subdomain(v, ok):
    assert (k8s.dns1123_subdomain(v) is None) is ok


@pytest.mark.parametrize(
    "v, ok",
    [
        ("disktype", True),
        ("kube-system/es-master-node", True),
        ("example.com/a_b.c", True),
        ("A.b_c", True),
        ("a/b/c", False),
        ("/x", False),
        ("Example.com/x", False),
        ("example.com/", False),
        ("x" * 63, True),
        ("x" * 64, False),
        ("-x", False),
        ("x\n", False),
        (1, False),
    ],
)
def test_label_key(v, ok):
    assert (k8s.label_key(v) is None) is ok


@pytest.mark.parametrize(
    "v, ok",
    [
        ("", True),
        ("true", True),
        ("a.b_c-d", True),
        ("a-", False),
        ("a b", False),
        ("a\n", False),
        ("x" * 63, True),
        ("x" * 64, False),
        (True, False),
    ],
)
def test_label_value(v, ok):
    assert (k8s.label_value(v) is None) is ok


@pytest.mark.parametrize(
    "q, value",
    [
        ("500m", Decimal("0.5")),
        ("2Gi", Decimal(2 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        (".5Ki", Decimal(512)),
        ("1.", Decimal(1)),
        ("+1k", Decimal(1000)),
        ("-1Gi", Decimal(-(2**30))),
        ("100n", Decimal("1E-7")),
    ],
)
def test_quantities_parse_to_their_value(q, value):
    assert k8s.parse_quantity(q) == value


@pytest.mark.parametrize("q", ["1Gi\n", " 1Gi", "1gi", "1GB", "Gi", "", "1.5.5", "1e", "0x10", "1_000", 5, None])
def test_malformed_quantities_are_refused(q):
    assert k8s.parse_quantity(q) is None
    assert k8s.quantity(q) is not None


def test_quantity_sign_zero_and_size():
    assert k8s.quantity("-1") == "must not be negative"
    assert k8s.quantity("0") is None
    assert k8s.quantity("0", positive=True) == "must be greater than zero"
    assert k8s.quantity("1e99") is not None and "too large" in k8s.quantity("1e99")
    assert k8s.quantity("7Ei") is None


@pytest.mark.parametrize(
    "name, ok",
    [
        ("cpu", True),
        ("memory", True),
        ("ephemeral-storage", True),
        ("hugepages-2Mi", True),
        ("hugepages-x", False),
        ("memroy", False),
        ("nvidia.com/gpu", False),
    ],
)
def test_resource_names(name, ok):
    assert (k8s.resource_name(name) is None) is ok


@pytest.mark.parametrize(
    "t",
    [
        {"key": "dedicated", "operator": "Equal", "value": "es", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "es"},
        {"key": "example.com/es", "operator": "Exists"},
        {"operator": "Exists"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        {"key": "k", "value": ""},
    ],
)
def test_valid_tolerations(t):
    assert k8s.toleration(t) == []


@pytest.mark.parametrize(
    "t, field",
    [
        ({"value": "x"}, "operator"),  # empty key needs Exists
        ({"key": "k", "operator": "Exists", "value": "v"}, "value"),
        ({"key": "k", "operator": "In"}, "operator"),
        ({"key": "k", "effect": "Never"}, "effect"),
        ({"key": "k", "effect": "NoSchedule", "tolerationSeconds": 30}, "tolerationSeconds"),
        ({"key": "k", "effect": "NoExecute", "tolerationSeconds": 1.5}, "tolerationSeconds"),
        ({"key": "k", "effect": "NoExecute", "tolerationSeconds": True}, "tolerationSeconds"),
        ({"key": "k", "effect": "NoExecute", "tolerationSeconds": 2**63}, "tolerationSeconds"),
        ({"key": "a/b/c"}, "key"),
        ({"key": "k", "value": "a b"}, "value"),
        ({"key": 1}, "key"),
        ({"key": "k", "colour": "red"}, ""),
        ({}, ""),
        ("dedicated", ""),
    ],
)
def test_invalid_tolerations_name_the_field(t, field):
    assert field in [f for f, _ in k8s.toleration(t)], k8s.toleration(t)


@pytest.mark.parametrize(
    "p, ok",
    [
        ("/data", True),
        ("/", True),
        ("/a/...b", True),
        ("/a/..", False),
        ("/a/../b", False),
        ("a", False),
        ("/a\n", False),
        ("/a\x00", False),
        ("/a\x7f", False),
        (5, False),
    ],
)
def test_host_paths(p, ok):
    assert (k8s.host_path(p) is None) is ok


@pytest.mark.parametrize(
    "r, ok",
    [
        ("localhost:5000/es-kubernetes", True),
        ("registry.example.com/team/es", True),
        ("es", True),
        ("[::1]:5000/es", True),
        ("es:1", False),
        ("es@sha256:" + "a" * 64, False),
        ("Team/es", False),
        ("a//b", False),
        ("es\n", False),
        ("es/", False),
        ("x" * 256, False),
    ],
)
def test_repositories(r, ok):
    assert (k8s.repository(r) is None) is ok


def test_a_repository_with_a_tag_is_told_so():
    assert "must not carry a tag" in k8s.repository("localhost:5000/es:latest")


@pytest.mark.parametrize(
    "r, ok",
    [
        ("quay.io/pires/docker-elasticsearch-kubernetes:2.3.4", True),
        ("debian:12", True),
        ("es@sha256:" + "a" * 64, True),
        ("es:1@sha256:" + "a" * 64, True),
        ("a b", False),
        ("", False),
        ("es:", False),
        ("es:1\n", False),
    ],
)
def test_image_references(r, ok):
    assert (k8s.image_reference(r) is None) is ok


@pytest.mark.parametrize(
    "r, ok",
    [
        ("localhost:5000/es@sha256:" + "a" * 64, True),
        ("localhost:5000/es@sha256:" + "A" * 64, False),
        ("localhost:5000/es@sha256:" + "a" * 63, False),
        ("localhost:5000/es:2.3.4", False),
        ("localhost:5000/es@sha256:" + "a" * 64 + "\n", False),
    ],
)
def test_digest_references(r, ok):
    assert (k8s.digest_reference(r) is None) is ok


def test_whole_numbers_exclude_bools_and_floats():
    assert k8s.is_int(3) and not k8s.is_int(True) and not k8s.is_int(3.0) and not k8s.is_int("3")
