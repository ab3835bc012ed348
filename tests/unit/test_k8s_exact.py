"""Kubernetes' own rules (es_cluster/k8s.py), each input with the exact problems it gets: the field the
problem is reported against (the user sees it in the key) and the reason. Found by mutation testing:
tests that only asked "is there a problem?" let a wrong key, a lost problem or a changed branch through."""

from __future__ import annotations

import pytest

from es_cluster import k8s

LABEL_SELECTOR = [
    ("x", [("", "must be a label selector: an object with matchLabels and/or matchExpressions")]),
    ({}, []),
    ({"bogus": 1}, [("", "unknown selector field 'bogus'; allowed: matchLabels, matchExpressions")]),
    ({"matchLabels": []}, [("matchLabels", "must be a map of label key to value")]),
    ({"matchLabels": {"a": "b"}}, []),
    (
        {"matchLabels": {"-a": "b"}},
        [
            (
                "matchLabels.-a",
                "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
            )
        ],
    ),
    (
        {"matchLabels": {"a": "b c"}},
        [("matchLabels.a", "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit")],
    ),
    ({"matchExpressions": {}}, [("matchExpressions", "must be a list")]),
    ({"matchExpressions": ["x"]}, [("matchExpressions[0]", "must be an object with key, operator and values")]),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"], "extra": 1}]},
        [("matchExpressions[0]", "must be an object with key, operator and values")],
    ),
    (
        {"matchExpressions": [{"key": "A B", "operator": "Exists"}]},
        [
            (
                "matchExpressions[0].key",
                "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
            )
        ],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Has"}]},
        [("matchExpressions[0].operator", "must be one of In, NotIn, Exists, DoesNotExist")],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]},
        [("matchExpressions[0].values", "must be a list of label values")],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x y"]}]},
        [("matchExpressions[0].values", "must be a list of label values")],
    ),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]}, [("matchExpressions[0].values", "must not be empty for In")]),
    (
        {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]},
        [("matchExpressions[0].values", "must not be empty for NotIn")],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        [("matchExpressions[0].values", "must be empty for Exists")],
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
        [("matchExpressions[0].values", "must be empty for DoesNotExist")],
    ),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "In", "values": ["1", "2"]}]}, []),
    (
        {"matchExpressions": ["x", {"key": "A B", "operator": "Exists"}]},
        [
            ("matchExpressions[0]", "must be an object with key, operator and values"),
            (
                "matchExpressions[1].key",
                "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
            ),
        ],
    ),
]

NETWORK_POLICY_PEER = [
    ("x", [("", "must be a peer: an object with podSelector and/or namespaceSelector, or ipBlock")]),
    ({}, [("", "must be a peer: an object with podSelector and/or namespaceSelector, or ipBlock")]),
    ({"bogus": {}}, [("", "unknown peer field 'bogus'; allowed: podSelector, namespaceSelector, ipBlock")]),
    ({"podSelector": {}}, []),
    ({"podSelector": {}, "namespaceSelector": {}}, []),
    ({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}, [("ipBlock", "must stand alone, without podSelector or namespaceSelector")]),
    ({"podSelector": "x"}, [("podSelector", "must be a label selector: an object with matchLabels and/or matchExpressions")]),
    (
        {"namespaceSelector": {"matchLabels": {"a": "b c"}}},
        [
            (
                "namespaceSelector.matchLabels.a",
                "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
            )
        ],
    ),
    ({"ipBlock": "x"}, [("ipBlock", "must be an object with cidr and optionally except")]),
    ({"ipBlock": {"except": []}}, [("ipBlock", "must be an object with cidr and optionally except")]),
    ({"ipBlock": {"cidr": "1.2.3.4/8"}}, [("ipBlock.cidr", "must be a CIDR such as 10.0.0.0/8, got '1.2.3.4/8'")]),
    ({"ipBlock": {"cidr": "10.0.0.0"}}, [("ipBlock.cidr", "must be a CIDR such as 10.0.0.0/8, got '10.0.0.0'")]),
    (
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "11.0.0.0/16", "x", "fd00::/64"]}},
        [
            ("ipBlock.except[1]", "must be a CIDR inside cidr"),
            ("ipBlock.except[2]", "must be a CIDR inside cidr"),
            ("ipBlock.except[3]", "must be a CIDR inside cidr"),
        ],
    ),
    ({"ipBlock": {"cidr": "fd00::/8", "except": ["fd00:1::/32"]}}, []),
    (
        {"ipBlock": {"cidr": "x", "except": ["10.0.0.0/16"]}},
        [("ipBlock.cidr", "must be a CIDR such as 10.0.0.0/8, got 'x'"), ("ipBlock.except[0]", "must be a CIDR inside cidr")],
    ),
    ({"ipBlock": {"cidr": "10.0.0.0/8", "bogus": 1}}, [("ipBlock", "must be an object with cidr and optionally except")]),
]

TOLERATION = [
    ("x", [("", "must be a toleration: an object with some of key, operator, value, effect, tolerationSeconds")]),
    ({}, [("", "must be a toleration: an object with some of key, operator, value, effect, tolerationSeconds")]),
    ({"bogus": 1}, [("", "unknown toleration field 'bogus'; allowed: key, operator, value, effect, tolerationSeconds")]),
    ({"key": 1}, [("key", "must be a string")]),
    ({"key": "a", "operator": None, "value": None, "effect": None}, []),
    (
        {"key": "A B"},
        [("key", "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit")],
    ),
    ({"key": "a", "operator": "Has"}, [("operator", "must be one of Exists, Equal, got 'Has'")]),
    ({"operator": "Equal"}, [("operator", "must be Exists when key is empty (it then tolerates every taint)")]),
    ({"key": "a", "operator": "Exists", "value": "v"}, [("value", "must be empty when operator is Exists")]),
    (
        {"key": "a", "value": "x y"},
        [("value", "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit")],
    ),
    (
        {"key": "a", "effect": "Sometimes"},
        [("effect", "must be one of NoSchedule, PreferNoSchedule, NoExecute (or empty for all), got 'Sometimes'")],
    ),
    ({"key": "a", "tolerationSeconds": 1.5, "effect": "NoExecute"}, [("tolerationSeconds", "must be a whole number of seconds")]),
    ({"key": "a", "tolerationSeconds": 2**63, "effect": "NoExecute"}, [("tolerationSeconds", "must be a whole number of seconds")]),
    ({"key": "a", "tolerationSeconds": -(2**63), "effect": "NoExecute"}, []),
    ({"key": "a", "tolerationSeconds": 10, "effect": "NoSchedule"}, [("tolerationSeconds", "only applies with effect NoExecute")]),
    ({"key": "a", "tolerationSeconds": None, "effect": "NoSchedule"}, []),
    ({"operator": "Exists"}, []),
    ({"key": "a", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 30}, []),
    ({"key": "a", "tolerationSeconds": True, "effect": "NoExecute"}, [("tolerationSeconds", "must be a whole number of seconds")]),
    ({"key": "a", "operator": 1}, [("operator", "must be a string")]),
    ({"key": "a", "value": 1}, [("value", "must be a string")]),
    ({"key": "a", "effect": 1}, [("effect", "must be a string")]),
    ({"key": None, "operator": 1}, [("operator", "must be a string")]),
    ({"key": "a", "tolerationSeconds": -(2**63) - 1, "effect": "NoExecute"}, [("tolerationSeconds", "must be a whole number of seconds")]),
    ({"key": "a", "tolerationSeconds": 9223372036854775807, "effect": "NoExecute"}, []),
]

POD_SECURITY_CONTEXT = [
    ("x", [("", "must be an object with some of runAsUser, runAsGroup, runAsNonRoot, fsGroup, fsGroupChangePolicy, supplementalGroups")]),
    ({}, []),
    (
        {"bogus": 1},
        [
            (
                "",
                "unknown or unsupported field 'bogus'; allowed: runAsUser, runAsGroup, runAsNonRoot, fsGroup, fsGroupChangePolicy, supplementalGroups",
            )
        ],
    ),
    ({"runAsUser": -1}, [("runAsUser", "must be a whole number from 0 to 9223372036854775807")]),
    ({"runAsUser": 0}, []),
    ({"runAsUser": 9223372036854775807}, []),
    ({"runAsUser": 2**63}, [("runAsUser", "must be a whole number from 0 to 9223372036854775807")]),
    ({"runAsGroup": "1000"}, [("runAsGroup", "must be a whole number from 0 to 9223372036854775807")]),
    ({"fsGroup": True}, [("fsGroup", "must be a whole number from 0 to 9223372036854775807")]),
    ({"runAsNonRoot": "yes"}, [("runAsNonRoot", "must be true or false")]),
    ({"fsGroupChangePolicy": "Sometimes"}, [("fsGroupChangePolicy", "must be one of OnRootMismatch, Always")]),
    ({"fsGroupChangePolicy": "OnRootMismatch"}, []),
    ({"supplementalGroups": [1, -1]}, [("supplementalGroups", "must be a list of whole numbers >= 0")]),
    ({"supplementalGroups": 5}, [("supplementalGroups", "must be a list of whole numbers >= 0")]),
    ({"supplementalGroups": [0, 1000]}, []),
    ({"runAsNonRoot": True}, [("runAsNonRoot", "needs runAsUser set to a non-zero uid: the image's own user is root")]),
    ({"runAsNonRoot": True, "runAsUser": 0}, [("runAsNonRoot", "needs runAsUser set to a non-zero uid: the image's own user is root")]),
    ({"runAsNonRoot": True, "runAsUser": 1000}, []),
    ({"runAsNonRoot": True, "runAsUser": "x"}, [("runAsUser", "must be a whole number from 0 to 9223372036854775807")]),
]

QUANTITY = [
    ("500m", None),
    ("2Gi", None),
    ("0", None),
    ("-1", "must not be negative"),
    (1, "must be a Kubernetes quantity given as a string, such as 500m, 2Gi or 50Gi"),
    ("1e3", None),
    ("2gi", "must be a Kubernetes quantity given as a string, such as 500m, 2Gi or 50Gi"),
    ("8Ei", "is too large for Kubernetes (at most about 8Ei)"),
    ("9Ei", "is too large for Kubernetes (at most about 8Ei)"),
    ("9223372036854775807", None),
    ("9223372036854775808", "is too large for Kubernetes (at most about 8Ei)"),
    ("", "must be a Kubernetes quantity given as a string, such as 500m, 2Gi or 50Gi"),
]

RESOURCE_NAME = [
    (1, "must be a string"),
    ("cpu", None),
    ("memory", None),
    ("ephemeral-storage", None),
    ("hugepages-2Mi", None),
    ("hugepages-x", "is not a container resource es-cluster knows; allowed: cpu, memory, ephemeral-storage, hugepages-<size>"),
    ("gpu", "is not a container resource es-cluster knows; allowed: cpu, memory, ephemeral-storage, hugepages-<size>"),
]

REPOSITORY = [
    ("localhost:5000/es", None),
    ("Reg.example.com/es", None),
    ("team/sub/es", None),
    (("a" * 255), None),
    ("es", None),
    ("team/es", None),
    ("Team/es", "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)"),
    (
        "registry.example.com/Team/es",
        "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)",
    ),
    ("es:1", "must not carry a tag or digest (the tag is derived from the image context)"),
    (("es@sha256:" + "a" * 64), "must not carry a tag or digest (the tag is derived from the image context)"),
    ("[::1]:5000/es", None),
    ("localhost/es", None),
    ("LOCALHOST/es", "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)"),
    (("a" * 256), "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)"),
    (1, "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)"),
]

IMAGE_REFERENCE = [
    ("es", None),
    ("es:2.3.4", None),
    ("quay.io/pires/x:2.3.4", None),
    ("Team/es:1", "must be an image reference such as registry.example.com/es:2.3.4"),
    (("registry.example.com/es@sha256:" + "a" * 64), None),
    (1, "must be an image reference such as registry.example.com/es:2.3.4"),
    ("", "must be an image reference such as registry.example.com/es:2.3.4"),
]

DIGEST_REFERENCE = [
    (("es@sha256:" + "a" * 64), None),
    ("es:1", "must be pinned by digest, as repository@sha256:<64 hex digits>"),
    ("es@sha256:abc", "must be pinned by digest, as repository@sha256:<64 hex digits>"),
    (("Team/es@sha256:" + "a" * 64), "must be pinned by digest, as repository@sha256:<64 hex digits>"),
    (1, "must be pinned by digest, as repository@sha256:<64 hex digits>"),
]

DNS1123_LABEL = [
    ("a", None),
    ("a-b", None),
    ("A", "must be lower-case letters, digits and '-', starting and ending with a letter or digit"),
    ("-a", "must be lower-case letters, digits and '-', starting and ending with a letter or digit"),
    (("a" * 63), None),
    (("a" * 64), "must be at most 63 characters, not 64"),
    ("a.b", "must be lower-case letters, digits and '-', starting and ending with a letter or digit"),
    (1, "must be lower-case letters, digits and '-', starting and ending with a letter or digit"),
]

DNS1035_LABEL = [
    ("a", None),
    ("1a", "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"),
    ("a1", None),
    ("A", "must be lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"),
]

LABEL_KEY = [
    (1, "must be a string"),
    ("a", None),
    ("a/b", None),
    ("/b", "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"),
    ("A.b/c", "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"),
    ("-a/b", "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"),
    ("a/", "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"),
    (("a/" + "b" * 63), None),
    (
        ("a/" + "b" * 64),
        "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit",
    ),
    (("x" * 254 + "/a"), "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"),
    ("a.b.c/d_e-f.g", None),
    ("a/b/c", "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"),
]

LABEL_VALUE = [
    (1, 'must be a string (quote "true" and numbers in YAML)'),
    ("", None),
    ("a", None),
    (("a" * 63), None),
    (("a" * 64), "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"),
    ("-a", "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"),
    ("a-", "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"),
    ("a b", "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"),
    ("A_b.c-D", None),
]

HOST_PATH = [
    (1, "must be an absolute path on the node, starting with /"),
    ("", "must be an absolute path on the node, starting with /"),
    ("rel", "must be an absolute path on the node, starting with /"),
    ("/", None),
    ("/a b", None),
    ("/a/../b", "must not contain '..' components"),
    ("/a/..b", None),
    ("/a\nb", "must not contain control characters (newline, NUL, …)"),
    ("/a\x7fb", "must not contain control characters (newline, NUL, …)"),
    ("/a/b", None),
]

DNS1123_SUBDOMAIN = [
    ("a", None),
    ("a.b", None),
    ("A", "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"),
    ("a..b", "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"),
    ("-a", "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"),
    (("a" * 253), None),
    (("a" * 254), "must be at most 253 characters, not 254"),
    (1, "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"),
    (".a", "must be lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"),
]


@pytest.mark.parametrize("value, expected", LABEL_SELECTOR)
def test_label_selector_exactly(value, expected):
    assert k8s.label_selector(value) == expected


@pytest.mark.parametrize("value, expected", NETWORK_POLICY_PEER)
def test_network_policy_peer_exactly(value, expected):
    assert k8s.network_policy_peer(value) == expected


@pytest.mark.parametrize("value, expected", TOLERATION)
def test_toleration_exactly(value, expected):
    assert k8s.toleration(value) == expected


@pytest.mark.parametrize("value, expected", POD_SECURITY_CONTEXT)
def test_pod_security_context_exactly(value, expected):
    assert k8s.pod_security_context(value) == expected


@pytest.mark.parametrize("value, expected", QUANTITY)
def test_quantity_exactly(value, expected):
    assert k8s.quantity(value) == expected


@pytest.mark.parametrize("value, expected", RESOURCE_NAME)
def test_resource_name_exactly(value, expected):
    assert k8s.resource_name(value) == expected


@pytest.mark.parametrize("value, expected", REPOSITORY)
def test_repository_exactly(value, expected):
    assert k8s.repository(value) == expected


@pytest.mark.parametrize("value, expected", IMAGE_REFERENCE)
def test_image_reference_exactly(value, expected):
    assert k8s.image_reference(value) == expected


@pytest.mark.parametrize("value, expected", DIGEST_REFERENCE)
def test_digest_reference_exactly(value, expected):
    assert k8s.digest_reference(value) == expected


@pytest.mark.parametrize("value, expected", DNS1123_LABEL)
def test_dns1123_label_exactly(value, expected):
    assert k8s.dns1123_label(value) == expected


@pytest.mark.parametrize("value, expected", DNS1035_LABEL)
def test_dns1035_label_exactly(value, expected):
    assert k8s.dns1035_label(value) == expected


@pytest.mark.parametrize("value, expected", LABEL_KEY)
def test_label_key_exactly(value, expected):
    assert k8s.label_key(value) == expected


@pytest.mark.parametrize("value, expected", LABEL_VALUE)
def test_label_value_exactly(value, expected):
    assert k8s.label_value(value) == expected


@pytest.mark.parametrize("value, expected", HOST_PATH)
def test_host_path_exactly(value, expected):
    assert k8s.host_path(value) == expected


@pytest.mark.parametrize("value, expected", DNS1123_SUBDOMAIN)
def test_dns1123_subdomain_exactly(value, expected):
    assert k8s.dns1123_subdomain(value) == expected
