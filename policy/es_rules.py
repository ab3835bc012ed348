"""The policy pack's rules as pure functions over Kubernetes objects.

Each rule takes plain mappings (a workload's inputs as Pulumi passes them to policies, or a
rendered manifest) and returns the violations it finds as sentences; an empty list passes. The
pack in `__main__.py` only wires these to pulumi-policy, and the unit tests call them directly.

A workload is an Elasticsearch workload when its pod template carries the component's
`app.kubernetes.io/name: elasticsearch` label or a container sets `MIN_MASTERS`, so hand-written
workloads in the same stack are held to the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

WORKLOAD_TYPES = {
    "kubernetes:apps/v1:DaemonSet": "DaemonSet",
    "kubernetes:apps/v1:Deployment": "Deployment",
    "kubernetes:apps/v1:StatefulSet": "StatefulSet",
}
# A DaemonSet's size is the number of labelled nodes, which no preview can know; the component
# writes the count the cluster is planned for (the one MIN_MASTERS was computed from) here.
PLANNED_REPLICAS_ANNOTATION = "es-cluster.io/replicas"
KUBECONFIG_MOUNT_PATH = "/kubeconfig"
# What the base image's root start-up uses (es_cluster/security.py): chown /data, drop to the
# elasticsearch user. IPC_LOCK stays allowed for layouts written before it was dropped.
ALLOWED_CAPABILITIES = {"CHOWN", "SETGID", "SETUID", "IPC_LOCK"}
MAX_HEAP_BYTES = 32 * 2**30
_DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
_JVM_SIZE = re.compile(r"^([0-9]+)([kKmMgG]?)$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_QUANTITY_UNITS = {
    None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


# --- reading workloads -------------------------------------------------------------------------


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _seq(v: Any) -> Sequence[Any]:
    return v if isinstance(v, Sequence) and not isinstance(v, str) else ()


def pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(_map(_map(workload.get("spec")).get("template")).get("spec"))


def containers(workload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = pod_spec(workload)
    return [_map(c) for c in [*_seq(spec.get("initContainers")), *_seq(spec.get("containers"))]]


def env_value(container: Mapping[str, Any], name: str) -> Any:
    for e in _seq(container.get("env")):
        if _map(e).get("name") == name:
            return _map(e).get("value")
    return None


def _has_env(container: Mapping[str, Any], name: str) -> bool:
    return any(_map(e).get("name") == name for e in _seq(container.get("env")))


def is_elasticsearch(workload: Mapping[str, Any]) -> bool:
    labels = _map(_map(_map(_map(workload.get("spec")).get("template")).get("metadata")).get("labels"))
    return labels.get("app.kubernetes.io/name") == "elasticsearch" or any(_has_env(c, "MIN_MASTERS") for c in containers(workload))


def describe(kind: str, workload: Mapping[str, Any]) -> str:
    meta = _map(workload.get("metadata"))
    return f"{kind} {meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"


def cluster_key(workload: Mapping[str, Any]) -> tuple[str, str]:
    """Workloads of one cluster share a namespace and the component's instance label (or, when
    hand-written, CLUSTER_NAME)."""
    meta = _map(workload.get("metadata"))
    labels = _map(_map(_map(_map(workload.get("spec")).get("template")).get("metadata")).get("labels"))
    name = labels.get("app.kubernetes.io/instance")
    if name is None:
        name = next((env_value(c, "CLUSTER_NAME") for c in containers(workload) if _has_env(c, "CLUSTER_NAME")), "?")
    return (str(meta.get("namespace") or "default"), str(name))


# Elasticsearch 7+ and OpenSearch nodes name their roles in NODE_ROLES (node.roles), not in
# NODE_MASTER, and keep their voting configuration themselves: no MIN_MASTERS to check.
MASTER_ROLES = {"master", "cluster_manager"}


def is_zen2(workload: Mapping[str, Any]) -> bool:
    return any(_has_env(c, "NODE_ROLES") for c in containers(workload))


def is_master(workload: Mapping[str, Any]) -> bool:
    for c in containers(workload):
        if _has_env(c, "NODE_MASTER") and str(env_value(c, "NODE_MASTER")).lower() == "true":
            return True
        if _has_env(c, "NODE_ROLES") and MASTER_ROLES & set(str(env_value(c, "NODE_ROLES") or "").split(",")):
            return True
    return False


def planned_replicas(kind: str, workload: Mapping[str, Any]) -> int | None:
    """The node count a workload stands for: spec.replicas (default 1), or for a DaemonSet its
    planned-replicas annotation; None when a DaemonSet does not say."""
    if kind == "DaemonSet":
        raw = _map(_map(workload.get("metadata")).get("annotations")).get(PLANNED_REPLICAS_ANNOTATION)
        return int(raw) if isinstance(raw, str) and raw.isdigit() else None
    replicas = _map(workload.get("spec")).get("replicas", 1)
    # Numbers reach a policy pack as floats: replicas: 3 arrives as 3.0.
    if isinstance(replicas, float) and replicas.is_integer():
        return int(replicas)
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None


def jvm_bytes(size: str) -> int | None:
    m = _JVM_SIZE.match(size.strip()) if isinstance(size, str) else None
    if m is None:
        return None
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]


def quantity_bytes(q: Any) -> float | None:
    m = _QUANTITY.match(str(q).strip()) if isinstance(q, (str, int, float)) else None
    return None if m is None else float(m.group(1)) * _QUANTITY_UNITS[m.group(2)]


# --- resource rules ----------------------------------------------------------------------------


# Where a container's heap is set: 2.x reads ES_HEAP_SIZE, 7+ the -Xmx in its JVM options.
JAVA_OPTS_ENVS = ("ES_JAVA_OPTS", "OPENSEARCH_JAVA_OPTS")


def heap_setting(c: Mapping[str, Any]) -> tuple[str, Any] | None:
    """(what sets it, the size as written) of a container's heap, or None."""
    if _has_env(c, "ES_HEAP_SIZE"):
        return "ES_HEAP_SIZE", env_value(c, "ES_HEAP_SIZE")
    for name in JAVA_OPTS_ENVS:
        if _has_env(c, name):
            sizes = [opt[4:] for opt in str(env_value(c, name) or "").split() if opt.startswith("-Xmx")]
            if sizes:
                return f"{name} -Xmx", sizes[-1]
    return None


def heap_violations(kind: str, workload: Mapping[str, Any]) -> list[str]:
    """The heap (ES_HEAP_SIZE, or -Xmx on 7+) at most half the container's memory limit (Lucene
    lives in the rest, the page cache) and below 32 GiB (above it the JVM loses compressed
    object pointers)."""
    out = []
    for c in containers(workload):
        found = heap_setting(c)
        if found is None:
            continue
        what, raw = found
        who = f"{describe(kind, workload)} container {c.get('name')}"
        heap = jvm_bytes(raw)
        if heap is None:
            out.append(f"{who}: {what} {raw!r} is not a JVM size such as 2g or 512m")
            continue
        if heap >= MAX_HEAP_BYTES:
            out.append(f"{who}: {what} {raw} is 32 GiB or more; the JVM loses compressed object pointers, stay below 31g")
        limit_raw = _map(_map(c.get("resources")).get("limits")).get("memory")
        limit = quantity_bytes(limit_raw)
        if limit is None:
            out.append(f"{who}: {what} {raw} is set but the container has no memory limit to hold it to half of")
        elif heap * 2 > limit:
            out.append(f"{who}: {what} {raw} is more than half the memory limit {limit_raw}; Lucene needs the rest")
    return out


def digest_violations(kind: str, workload: Mapping[str, Any]) -> list[str]:
    """Every image pinned as repository@sha256:<digest>, so what runs is what was built."""
    return [
        f"{describe(kind, workload)} container {c.get('name')}: image {c.get('image')!r} is not pinned by digest (repository@sha256:...)"
        for c in containers(workload)
        if not (isinstance(c.get("image"), str) and _DIGEST.match(c["image"]))
    ]


def privilege_violations(kind: str, workload: Mapping[str, Any]) -> list[str]:
    """No privileged container, and no capability added beyond what the start-up uses."""
    out = []
    for c in containers(workload):
        who = f"{describe(kind, workload)} container {c.get('name')}"
        sc = _map(c.get("securityContext"))
        if sc.get("privileged") is True:
            out.append(f"{who}: runs privileged; Elasticsearch needs at most {', '.join(sorted(ALLOWED_CAPABILITIES))}")
        extra = sorted(str(x) for x in _seq(_map(sc.get("capabilities")).get("add")) if str(x) not in ALLOWED_CAPABILITIES)
        if extra:
            out.append(f"{who}: adds capabilities {', '.join(extra)}; only {', '.join(sorted(ALLOWED_CAPABILITIES))} are allowed")
    return out


def kubeconfig_violations(kind: str, workload: Mapping[str, Any]) -> list[str]:
    """The kubelet's kubeconfig holds node credentials: mounted read-only or not at all."""
    out = []
    for c in containers(workload):
        paths = {KUBECONFIG_MOUNT_PATH}
        if isinstance(env_value(c, "KUBECONFIG"), str):
            paths.add(env_value(c, "KUBECONFIG"))
        for mount in _seq(c.get("volumeMounts")):
            m = _map(mount)
            if m.get("mountPath") in paths and m.get("readOnly") is not True:
                out.append(
                    f"{describe(kind, workload)} container {c.get('name')}: the kubeconfig at {m.get('mountPath')} "
                    "is mounted writable; set readOnly: true"
                )
    return out


# --- stack rules -------------------------------------------------------------------------------


def _clusters(workloads: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]]:
    out: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for kind, w in workloads:
        if is_elasticsearch(w):
            out.setdefault(cluster_key(w), []).append((kind, w))
    return out


def _master_count(members: list[tuple[str, Mapping[str, Any]]]) -> tuple[int, list[str]]:
    count, unknown = 0, []
    for kind, w in members:
        if is_master(w):
            n = planned_replicas(kind, w)
            if n is None:
                unknown.append(describe(kind, w))
            else:
                count += n
    return count, unknown


def master_count_violations(workloads: Sequence[tuple[str, Mapping[str, Any]]], production: bool) -> list[str]:
    """Master-eligible nodes per cluster: an odd number, so a network split leaves exactly one
    side with a majority; in production at least 3, so losing one master keeps the cluster up."""
    out = []
    for (ns, name), members in sorted(_clusters(workloads).items()):
        count, unknown = _master_count(members)
        for who in unknown:
            out.append(f"cluster {ns}/{name}: {who} holds masters but does not say how many (annotation {PLANNED_REPLICAS_ANNOTATION})")
        if unknown:
            continue
        if count % 2 == 0:
            out.append(f"cluster {ns}/{name}: {count} master-eligible nodes is an even number; use an odd count (3 is usual)")
        elif production and count < 3:
            out.append(f"cluster {ns}/{name}: {count} master-eligible node(s) in a production stack; use at least 3")
    return out


def min_masters_violations(workloads: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Every node's MIN_MASTERS (discovery.zen.minimum_master_nodes) is the quorum of the
    cluster's master-eligible nodes, masters/2+1: lower risks split-brain, higher never elects."""
    out = []
    for (ns, name), members in sorted(_clusters(workloads).items()):
        count, unknown = _master_count(members)
        if unknown:
            continue  # master_count_violations reports these
        quorum = count // 2 + 1
        for kind, w in members:
            if is_zen2(w):
                continue
            if not any(_has_env(c, "MIN_MASTERS") for c in containers(w)):
                out.append(f"cluster {ns}/{name}: {describe(kind, w)} sets no MIN_MASTERS; it needs {quorum} ({count}/2+1)")
            for c in containers(w):
                if not _has_env(c, "MIN_MASTERS"):
                    continue
                got = env_value(c, "MIN_MASTERS")
                if str(got) != str(quorum):
                    out.append(
                        f"cluster {ns}/{name}: {describe(kind, w)} container {c.get('name')} sets MIN_MASTERS={got}, "
                        f"but {count} master-eligible node(s) need {quorum} ({count}/2+1)"
                    )
    return out
