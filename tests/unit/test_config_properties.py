"""Property-based: for random stack configs (wrong types, odd strings, huge numbers included),
validation either refuses with ConfigError, every problem naming a key the user wrote, or the
rendered objects pass Kubernetes' schema (strict) and its name, label, quantity and toleration
rules, and MIN_MASTERS is the quorum of the master-eligible nodes.

Fast by default (a fixed seed, 150 examples, seconds). For a long run:
    ES_CLUSTER_PROPERTY_EXAMPLES=20000 make unit
The checks below are written from Kubernetes' rules independently of es_cluster.k8s, so a
mistake there is not repeated here.
"""

from __future__ import annotations

import copy
import os
import re
from decimal import Decimal
from typing import Any

import kubernetes_validate
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from es_cluster import ConfigError, EsClusterArgs, ImageArgs, NodeGroupArgs, StorageArgs, parse_stack_config, validate
from es_cluster.config import KubeconfigArgs
from es_cluster.render import render

EXAMPLES = int(os.environ.get("ES_CLUSTER_PROPERTY_EXAMPLES", "150"))
K8S_VERSION = "1.35.0"
TOP_KEYS = {"clusterName", "namespace", "createNamespace", "image", "kubeconfig", "nodeGroups", "httpServiceType"}
DIGEST_REF = "localhost:5000/es@sha256:" + "a" * 64

# --- generators ---------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "a\n", "a\x00b", "é", "-a", "a-", "A", "a.b", "a_b", "1a", "x" * 70, "true", "null", "${x}"]),
)
garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), odd_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(odd_text, inner, max_size=3)),
    max_leaves=6,
)
names = st.one_of(st.sampled_from(["es", "logs", "es-logging", "m", "data", "a1", "z" * 40, "z" * 45]), odd_text)
huge_ints = st.one_of(st.integers(-3, 9), st.sampled_from([2**31 - 1, 2**31, 2**63, -(2**63), 10**30]))
quantities = st.one_of(
    st.sampled_from(
        ["500m", "1", "2Gi", "512Mi", "0", "0.5", "1e3", "1E-3", "-1Gi", "1Gi\n", " 1Gi", "1gi", "10Ei", "9e99", ".5Ki", "1.Mi"]
    ),
    odd_text,
    st.integers(),
)
resource_names = st.one_of(st.sampled_from(["cpu", "memory", "memroy", "ephemeral-storage", "hugepages-2Mi", "nvidia.com/gpu"]), odd_text)
resources = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "requests": st.dictionaries(resource_names, quantities, max_size=3),
            "limits": st.dictionaries(resource_names, quantities, max_size=3),
        },
    ),
    garbage,
)
label_keys = st.one_of(
    st.sampled_from(["kube-system/es-master-node", "es-cluster.io/x", "disktype", "a/b/c", "/x", "A.b/c", "x" * 64]), odd_text
)
label_values = st.one_of(st.sampled_from(["true", "ssd", "", "a-", "x" * 64, "a b"]), odd_text, st.booleans(), st.integers())
tolerations = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "key": st.one_of(label_keys, st.just("")),
                "operator": st.sampled_from(["Exists", "Equal", "", "In", "exists"]),
                "value": st.one_of(label_values, st.just("")),
                "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute", "", "Never"]),
                "tolerationSeconds": st.one_of(huge_ints, st.floats(), odd_text),
            },
        ),
        garbage,
    ),
    max_size=3,
)
host_paths = st.one_of(st.sampled_from(["/data", "/var/lib/es", "/a/../b", "/a/..", "/..x", "relative", "/a\n", "/a\x00", "/"]), odd_text)
storage = st.one_of(
    st.none(),
    st.just(""),
    st.fixed_dictionaries({}, optional={"hostPath": host_paths, "size": quantities, "storageClass": st.one_of(names, st.just("fast.ssd"))}),
    garbage,
)
roles = st.one_of(
    st.lists(st.sampled_from(["master", "data", "client"]), min_size=1, max_size=3),
    st.lists(st.one_of(st.sampled_from(["master", "data", "client", "chef"]), garbage), max_size=3),
    garbage,
)
group = st.one_of(
    st.fixed_dictionaries(
        {"roles": roles},
        optional={
            "replicas": st.one_of(huge_ints, st.sampled_from(["3", "-1", "3.0", "1e3"]), st.floats()),
            "workload": st.sampled_from(["DaemonSet", "Deployment", "StatefulSet", "Job", "daemonset"]),
            "nodeSelector": st.one_of(st.dictionaries(label_keys, label_values, max_size=2), garbage),
            "storage": storage,
            "heapSize": st.one_of(st.sampled_from(["256m", "1g", "2g", "64g", "0g", "1g\n", "1gb", "1000000000g"]), odd_text),
            "resources": resources,
            "tolerations": st.one_of(tolerations, garbage),
            "antiAffinity": st.sampled_from(["hard", "soft", "none"]),
            "heap": garbage,
        },
    ),
    garbage,
)
configs = st.fixed_dictionaries(
    {"nodeGroups": st.one_of(st.dictionaries(names, group, min_size=1, max_size=4), garbage)},
    optional={
        "clusterName": names,
        "namespace": st.one_of(names, st.just("123")),
        "createNamespace": st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes"])),
        "httpServiceType": st.one_of(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "Ingress"]), garbage),
        "image": st.one_of(
            st.fixed_dictionaries({"reference": st.one_of(st.just(DIGEST_REF), odd_text)}),
            st.fixed_dictionaries(
                {},
                optional={
                    "repository": st.sampled_from(["localhost:5000/es", "reg.example/Team/es", "es:1", "es\n", "a//b", "x" * 300]),
                    "baseImage": st.sampled_from(["debian:12", "quay.io/pires/docker-elasticsearch-kubernetes:2.3.4", "a b", ""]),
                    "push": st.one_of(st.booleans(), garbage),
                },
            ),
            garbage,
        ),
        "kubeconfig": st.one_of(st.none(), st.just(""), st.fixed_dictionaries({"hostPath": host_paths}), garbage),
        "nodeGroups.master.replicas": st.integers(),
        "colour": garbage,
    },
)

# Near-valid configs: Kubernetes-valid building blocks in random combinations, so that many
# render and the objects' checks below get exercised, not only the refusals.
ok_names = st.sampled_from(["es", "logs", "es-logging", "m", "data", "a1", "z" * 20])
ok_quantities = st.sampled_from(["500m", "1", "2Gi", "512Mi", "0.5", "1e3", "4Gi", ".5Ki", "1.Mi", "8Gi", "0", "100Mi"])
ok_resources = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage", "hugepages-2Mi"]), ok_quantities, max_size=3),
        "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "ephemeral-storage"]), ok_quantities, max_size=3),
    },
)
ok_label_keys = st.sampled_from(["kube-system/es-master-node", "es-cluster.io/x", "disktype", "a.b-c_d"])
ok_label_values = st.sampled_from(["true", "ssd", "", "a.b_c-d"])
ok_tolerations = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "key": st.sampled_from(["", "dedicated", "example.com/es"]),
            "operator": st.sampled_from(["Exists", "Equal"]),
            "value": st.sampled_from(["", "es", "true"]),
            "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute", ""]),
            "tolerationSeconds": st.sampled_from([0, 30, 3600]),
        },
    ),
    max_size=2,
)
ok_group = st.fixed_dictionaries(
    {"roles": st.lists(st.sampled_from(["master", "data", "client"]), min_size=1, max_size=3, unique=True)},
    optional={
        "replicas": st.one_of(st.integers(0, 5), st.just(2**31 - 1)),
        "workload": st.sampled_from(["DaemonSet", "Deployment", "StatefulSet"]),
        "nodeSelector": st.dictionaries(ok_label_keys, ok_label_values, max_size=2),
        "storage": st.one_of(
            st.none(),
            st.just({"hostPath": "/data/es"}),
            st.fixed_dictionaries({"size": ok_quantities}, optional={"storageClass": st.sampled_from(["fast", "fast.ssd"])}),
        ),
        "heapSize": st.sampled_from(["256m", "1g", "2g", "40g"]),
        "resources": ok_resources,
        "tolerations": ok_tolerations,
        "antiAffinity": st.sampled_from(["hard", "soft"]),
        "maxUnavailable": st.sampled_from([1, 2, "1", "25%", "100%"]),
    },
)
near_valid_configs = st.fixed_dictionaries(
    {"nodeGroups": st.dictionaries(ok_names, ok_group, min_size=1, max_size=3)},
    optional={
        "clusterName": ok_names,
        "namespace": st.sampled_from(["elasticsearch", "123", "logs"]),
        "image": st.just({"reference": DIGEST_REF}),
        "kubeconfig": st.one_of(st.none(), st.just(""), st.just({"hostPath": "/srv/kubernetes/kubeconfig"})),
    },
)


def _paths(obj: Any, path: tuple = ()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*path, i))


def _at(obj: Any, path: tuple) -> Any:
    for part in path:
        obj = obj[part]
    return obj


@st.composite
def one_bad_value(draw) -> dict[str, Any]:
    """A near-valid config with one value anywhere in it replaced by an odd one."""
    config = copy.deepcopy(draw(near_valid_configs))
    leaves = [p for p in _paths(config) if p and not isinstance(_at(config, p), (dict, list))]
    path = draw(st.sampled_from(leaves or [p for p in _paths(config) if p]))
    parent = config
    for part in path[:-1]:
        parent = parent[part]
    pool = HOSTILE_BY_KEY.get(str(path[-1]) if not isinstance(path[-1], int) else str(path[-2]), HOSTILE)
    parent[path[-1]] = draw(st.one_of(pool, pool, HOSTILE, odd_text, garbage))
    return config


# Values each near a Kubernetes rule's edge: one of them in the right place must be refused.
HOSTILE = st.sampled_from(
    ["-1Gi", "-1", "0", "1Gi\n", " 1Gi", "a\n", "a\x00", "/a/..", "/a/../b", "relative", "", " ", "A", "a-", "x" * 64, "a/b/c"]
    + ["1e99", "9Ei", "Equal", "Exists", "NoExecute", "Never", "memroy", "nvidia.com/gpu", "1g\n", "0g", "1gb", "es:1"]
    + [2**31, 2**63, -1, 3.0, True, None, [], {}, [["master"]], {"hostPath": "/x"}]
)
_QUANTITY_EDGES = st.sampled_from(["-1Gi", "-1", "0", "1Gi\n", " 1Gi", "1gi", "1e99", "9Ei", "1.5.5", "+1Gi", "1E", "1Ki", "0.0001m"])
_LABEL_EDGES = st.sampled_from(["a\n", "", "a-", "-a", "x" * 63, "x" * 64, "a b", "a/b", "A_b.c", "é", 1, True])
# Hostile values for the key a value sits under (a resource name under requests/limits, etc.).
HOSTILE_BY_KEY = {
    "hostPath": st.sampled_from(["/a/..", "/a/../b", "/..", "relative", "/a\n", "/a\x00", "/", "//x", "/a/.../b"]),
    "size": _QUANTITY_EDGES,
    "cpu": _QUANTITY_EDGES,
    "memory": _QUANTITY_EDGES,
    "ephemeral-storage": _QUANTITY_EDGES,
    "hugepages-2Mi": _QUANTITY_EDGES,
    "value": _LABEL_EDGES,
    "key": st.sampled_from(["", "a/b/c", "/x", "A.b/c", "x" * 64, "a\n", "example.com/", "Example.com/x"]),
    "operator": st.sampled_from(["", "Exists", "Equal", "In", "exists"]),
    "effect": st.sampled_from(["", "NoSchedule", "NoExecute", "Never", "noschedule"]),
    "tolerationSeconds": st.sampled_from([0, -1, 2**63, 2**64, 1.5, "30", True]),
    "replicas": st.sampled_from([0, -1, 2**31 - 1, 2**31, 3.0, "3", True]),
    "maxUnavailable": st.sampled_from([0, -1, "0", "0%", "101%", "1000%", "25 %", "%", 2**31, 1.5, True, "-1"]),
    "heapSize": st.sampled_from(["1g\n", "0g", "1gb", "512M", "1000000000g", "64g"]),
    "storageClass": st.sampled_from(["Fast", "fast.", "-fast", "f" * 254, "a\n"]),
    "clusterName": st.sampled_from(["a" * 40, "a" * 41, "1a", "a-", "a\n", "A"]),
    "namespace": st.sampled_from(["123", "a" * 63, "a" * 64, "a.b", "a\n"]),
    "nodeSelector": st.dictionaries(st.sampled_from(["a/b/c", "x" * 64, "ok"]), _LABEL_EDGES, max_size=2),
    "requests": st.dictionaries(st.sampled_from(["cpu", "memory", "memroy", "nvidia.com/gpu"]), _QUANTITY_EDGES, max_size=2),
    "limits": st.dictionaries(st.sampled_from(["cpu", "memory", "memroy", "hugepages-1Gi"]), _QUANTITY_EDGES, max_size=2),
}


# --- Kubernetes' rules, written out here ---------------------------------------------------------

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.S)
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]")
QUANTITY = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+))?")
IMAGE = re.compile(r"[a-z0-9.:\-/_]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?")


def qualified_name(k: str) -> bool:
    prefix, slash, name = k.rpartition("/")
    return (not slash or bool(DNS1123_SUBDOMAIN.fullmatch(prefix))) and bool(NAME_PART.fullmatch(name))


def label_value(v: Any) -> bool:
    return isinstance(v, str) and (v == "" or bool(NAME_PART.fullmatch(v)))


def quantity_value(q: str) -> Decimal:
    m = re.fullmatch(r"([+-]?[0-9.]+)([A-Za-z]*)([+-]?[0-9.]*)", q)
    assert m, q
    number, suffix, exponent = Decimal(m.group(1)), m.group(2), m.group(3)
    if suffix in ("e", "E"):
        return number * Decimal(10) ** Decimal(exponent)
    binary = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
    decimal = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
    return number * (Decimal(2) ** binary[suffix] if suffix in binary else Decimal(10) ** decimal[suffix])


def check_kubernetes_rules(m: dict[str, Any]) -> None:
    kind, meta = m["kind"], m["metadata"]
    name_rule = {"Namespace": DNS1123_LABEL, "Service": DNS1035_LABEL}.get(kind, DNS1123_SUBDOMAIN)
    assert name_rule.fullmatch(meta["name"]), (kind, meta["name"])
    if "namespace" in meta:
        assert DNS1123_LABEL.fullmatch(meta["namespace"]), meta["namespace"]
    for k, v in (meta.get("labels") or {}).items():
        assert qualified_name(k) and label_value(v), (k, v)
    pod = (m.get("spec") or {}).get("template", {}).get("spec")
    if not pod:
        return
    # A StatefulSet's pods carry controller-revision-hash <name>-<10 chars>, a label value.
    assert len(meta["name"]) + 11 <= 63, meta["name"]
    for k, v in (pod.get("nodeSelector") or {}).items():
        assert qualified_name(k) and label_value(v), (k, v)
    for t in pod.get("tolerations") or []:
        op = t.get("operator", "Equal")
        assert op in ("Exists", "Equal"), t
        assert t.get("key") or op == "Exists", t
        assert not (op == "Exists" and t.get("value")), t
        assert op != "Equal" or label_value(t.get("value", "")), t
        assert not t.get("key") or qualified_name(t["key"]), t
        assert t.get("effect", "") in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"), t
        assert "tolerationSeconds" not in t or t.get("effect") == "NoExecute", t
    for v in pod.get("volumes") or []:
        if "hostPath" in v:
            path = v["hostPath"]["path"]
            assert path.startswith("/") and ".." not in path.split("/") and path.isprintable(), path
    for c in pod["containers"]:
        assert IMAGE.fullmatch(c["image"]), c["image"]
        res = c.get("resources") or {}
        for section in ("requests", "limits"):
            for r, q in (res.get(section) or {}).items():
                assert r in ("cpu", "memory", "ephemeral-storage") or r.startswith("hugepages-"), r
                assert QUANTITY.fullmatch(q) and quantity_value(q) >= 0, q
        for r, q in (res.get("requests") or {}).items():
            if r in (res.get("limits") or {}):
                assert quantity_value(q) <= quantity_value(res["limits"][r]), (r, q)
    for claim in (m.get("spec") or {}).get("volumeClaimTemplates") or []:
        size = claim["spec"]["resources"]["requests"]["storage"]
        assert QUANTITY.fullmatch(size) and quantity_value(size) > 0, size
        assert DNS1123_SUBDOMAIN.fullmatch(claim["spec"].get("storageClassName", "a")), claim


def written_by_user(key: str, raw: dict[str, Any]) -> bool:
    """The problem's key is one the user wrote, or a required one (nodeGroups, roles, size) under
    something they wrote."""
    if key == "nodeGroups" or key in raw:
        return True
    top = key.split(".", 1)[0].split("[", 1)[0]
    if top == "nodeGroups" and isinstance(raw.get("nodeGroups"), dict):
        return any(key == f"nodeGroups.{n}" or key.startswith(f"nodeGroups.{n}.") for n in raw["nodeGroups"])
    return top in raw and top in TOP_KEYS or key.startswith(tuple(f"{k}." for k in raw))


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(configs, near_valid_configs, one_bad_value(), one_bad_value()))
def test_random_config_is_refused_by_key_or_renders_valid_objects(raw):
    try:
        cluster = validate(parse_stack_config(raw))
    except ConfigError as e:
        assert e.problems
        for key, msg in e.problems:
            assert written_by_user(key, raw), (key, msg, raw)
            assert msg and "Traceback" not in msg
        event("refused")
        return
    event("rendered")
    manifests = render(cluster)
    for m in manifests:
        kubernetes_validate.validate(m, K8S_VERSION, strict=True)
        check_kubernetes_rules(m)
    masters = sum(g.replicas for g in cluster.groups if g.master)
    for m in manifests:
        pod = (m.get("spec") or {}).get("template", {}).get("spec")
        if pod:
            env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
            assert env["MIN_MASTERS"] == str(masters // 2 + 1)


typed_groups = st.builds(
    NodeGroupArgs,
    roles=st.one_of(st.lists(st.sampled_from(["master", "data", "client"]), min_size=1, max_size=3), garbage),
    replicas=st.one_of(huge_ints, garbage),
    workload=st.one_of(st.sampled_from(["DaemonSet", "Deployment", "StatefulSet"]), garbage),
    node_selector=st.one_of(st.dictionaries(label_keys, label_values, max_size=2), garbage),
    storage=st.one_of(
        st.none(), st.builds(StorageArgs, host_path=st.one_of(host_paths, st.none()), size=st.one_of(quantities, st.none())), garbage
    ),
    heap_size=st.one_of(st.just("256m"), garbage),
    resources=st.one_of(ok_resources, garbage),
    tolerations=st.one_of(tolerations, garbage),
    anti_affinity=st.one_of(st.just("hard"), garbage),
    max_unavailable=st.one_of(st.sampled_from([1, 3, "50%"]), garbage),
)
typed_args = st.builds(
    EsClusterArgs,
    node_groups=st.one_of(
        st.dictionaries(st.one_of(names, st.integers(), st.none(), st.tuples(names)), st.one_of(typed_groups, garbage), max_size=3), garbage
    ),
    cluster_name=st.one_of(names, garbage),
    namespace=st.one_of(names, garbage),
    create_namespace=st.one_of(st.booleans(), garbage),
    image=st.one_of(
        st.builds(ImageArgs, reference=st.one_of(st.just(DIGEST_REF), garbage)), st.builds(ImageArgs, repository=garbage), garbage
    ),
    kubeconfig=st.one_of(st.none(), st.builds(KubeconfigArgs, host_path=st.one_of(host_paths, garbage)), garbage),
    http_service_type=st.one_of(st.just("ClusterIP"), garbage),
)


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(typed_args)
def test_typed_api_raises_nothing_but_config_error(args):
    try:
        cluster = validate(args)
    except ConfigError as e:
        assert e.problems
        return
    for m in render(cluster):
        check_kubernetes_rules(m)
