"""User input, typed and validated once: stack config or Python arguments in, `Cluster` out.

Every error names the stack-config key it is about (`nodeGroups.data.replicas`) and what is
allowed; all errors are collected and raised together, before anything is declared.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import constants as c
from . import engines, impact, k8s, security, tls
from .model import Cluster, Engine, Image, Later, NetworkPolicy, NodeGroup, Security, Storage, master_quorum

# The field report's image build context inside the package (image_context links to the
# repository's image/ and is copied into wheels); each engine profile names its own.
DEFAULT_IMAGE_CONTEXT = engines.zen1.PROFILE.image_context

# Half the memory limit for the heap leaves the other half to Lucene's file-system cache.
DEFAULT_HEAP_SIZE = "1g"
DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "500m", "memory": "2Gi"},
    "limits": {"memory": "2Gi"},
}
DEFAULT_STATEFULSET_SIZE = "10Gi"
# How long one pod may take to become ready in a rolling update (an ES node joining and
# recovering its shards), not the provider's ten minutes for a whole workload.
DEFAULT_ROLLOUT_TIMEOUT = "5m"
_DURATION = re.compile(r"(?:(?P<h>[0-9]{1,3})h)?(?:(?P<m>[0-9]{1,4})m)?(?:(?P<s>[0-9]{1,6})s)?")

_HEAP = re.compile(r"[1-9][0-9]{0,5}[mMgG]")

# Longest group workload name: a StatefulSet's pods carry a controller-revision-hash label of
# "<name>-<10 chars>", and label values stop at 63.
_MAX_WORKLOAD_NAME = 52
_MAX_CLUSTER_NAME = 40


class ConfigError(ValueError):
    """The whole list of what is wrong with the input, one `key: problem` per line."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = [f"{key}: {msg}" for key, msg in problems]
        super().__init__("invalid es-cluster configuration; nothing was deployed:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class StorageArgs:
    """hostPath (any workload) or size + storageClass (StatefulSet only); neither = emptyDir."""

    host_path: str | None = None
    size: str | None = None
    storage_class: str | None = None


@dataclass(frozen=True)
class NodeGroupArgs:
    """One group of identical Elasticsearch nodes. None means the role-dependent default."""

    roles: tuple[str, ...] | list[str]
    replicas: int | None = None  # 3 for master-eligible groups, 2 otherwise
    workload: str | None = None  # Deployment for client-only groups, else StatefulSet
    node_selector: Mapping[str, str] = field(default_factory=dict)
    storage: StorageArgs | None = None  # StatefulSet: 10Gi claims; others: emptyDir
    heap_size: str = DEFAULT_HEAP_SIZE
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    tolerations: tuple[Mapping[str, Any], ...] | list[Mapping[str, Any]] = ()
    anti_affinity: str = "hard"
    priority_class_name: str | None = None  # a PriorityClass the cluster has; none: the default
    pod_security_context: Mapping[str, Any] = field(default_factory=dict)  # e.g. runAsUser, fsGroup
    max_unavailable: int | str = 1  # pods a rolling update restarts at once: 2, or "10%"


@dataclass(frozen=True)
class ImageArgs:
    """Build `context` into `repository` (pushed when `push`), or use a prebuilt `reference`."""

    repository: str = c.DEFAULT_REPOSITORY
    base_image: str | None = None  # None: the engine's (the pires image for 2.3.4, the official image for 7+)
    push: bool = True
    context: str | None = None  # None: the engine's context in the package (image/, images/modern/)
    reference: str | None = None  # repo@sha256:<digest>; skips the build
    insecure_registry: bool = False  # the registry speaks plain HTTP (e.g. a local one)
    registry_username: str | None = None
    registry_password: str | None = None  # kept as a Pulumi secret


@dataclass(frozen=True)
class KubeconfigArgs:
    """Mount the kubelet's kubeconfig for the discovery plugin instead of the pod's token."""

    host_path: str


@dataclass(frozen=True)
class NetworkPolicyArgs:
    enabled: bool = True
    http_from: Sequence[Mapping[str, Any]] | None = None  # NetworkPolicyPeers; None: anywhere


@dataclass(frozen=True)
class EngineArgs:
    """Which Elasticsearch: a distribution and a version an engine profile supports."""

    distribution: str = "elasticsearch"  # or opensearch
    version: str = "2.3.4"  # the field report's; e.g. 8.19.0, 9.1.0, 2.19.4, 3.3.0
    allow_mmap: bool = True  # 7+: false when the nodes cannot give vm.max_map_count 262144
    initial_master_nodes: Sequence[str] | None = None  # 7+ DaemonSet masters: the nodes' names


@dataclass(frozen=True)
class SecurityArgs:
    """TLS and authentication (Elasticsearch 7+): on by default where the engine has them."""

    enabled: bool | None = None  # None: on for every engine that has it (docs/security.md)
    http_tls: bool = True  # HTTPS on 9200; transport TLS is on whenever security is
    password: str | None = None  # the elastic user's; kept as a Pulumi secret; None: generated once
    certificate_secret: str | None = None  # a Secret with ca.crt, tls.crt, tls.key; None: the component's CA
    certificate_days: int | None = None  # the node certificate's validity; None: 365
    ca_days: int | None = None  # the validity of the CA the component makes; None: 1825; a change rotates it
    certificate_subject: str | None = None  # OpenSearch with certificateSecret: its node certificate's subject
    ca_certificate: str | None = None  # your CA (PEM), which issues the node certificate; None: the component's own
    ca_key: str | None = None  # its private key (PEM; set it as a Pulumi secret)


@dataclass(frozen=True)
class EsClusterArgs:
    """Everything `EsCluster` needs; the same settings as the stack config, in snake_case."""

    node_groups: Mapping[str, NodeGroupArgs]
    cluster_name: str = "elasticsearch"
    namespace: str = "elasticsearch"
    create_namespace: bool = True
    image: ImageArgs = field(default_factory=ImageArgs)
    kubeconfig: KubeconfigArgs | None = None
    http_service_type: str = "ClusterIP"
    rollout_timeout: str = DEFAULT_ROLLOUT_TIMEOUT  # per pod restarted one at a time
    # Changes that lose quorum or data are refused unless named here (or True): see impact.py.
    allow_disruptive: bool | Sequence[str] = False
    pod_security: str | None = None  # the Pod Security level to enforce; None: the lowest the layout needs
    network_policy: NetworkPolicyArgs | None = None  # None: enabled, HTTP from anywhere
    engine: EngineArgs = field(default_factory=EngineArgs)
    security: SecurityArgs | None = None  # None: the engine's default (on for Elasticsearch 7+)


# ---------------------------------------------------------------------------------------------
# Stack config (camelCase, as YAML) -> EsClusterArgs. Structure only; values are checked below.

_TOP_KEYS = {
    "clusterName": "cluster_name",
    "namespace": "namespace",
    "createNamespace": "create_namespace",
    "image": "image",
    "kubeconfig": "kubeconfig",
    "nodeGroups": "node_groups",
    "httpServiceType": "http_service_type",
    "rolloutTimeout": "rollout_timeout",
    "allowDisruptive": "allow_disruptive",
    "podSecurity": "pod_security",
    "networkPolicy": "network_policy",
    "engine": "engine",
    "security": "security",
}
_IMAGE_KEYS = {
    "repository": "repository",
    "baseImage": "base_image",
    "push": "push",
    "context": "context",
    "reference": "reference",
    "insecureRegistry": "insecure_registry",
    "registryUsername": "registry_username",
    "registryPassword": "registry_password",
}
_GROUP_KEYS = {
    "roles": "roles",
    "replicas": "replicas",
    "workload": "workload",
    "nodeSelector": "node_selector",
    "storage": "storage",
    "heapSize": "heap_size",
    "resources": "resources",
    "tolerations": "tolerations",
    "antiAffinity": "anti_affinity",
    "priorityClassName": "priority_class_name",
    "podSecurityContext": "pod_security_context",
    "maxUnavailable": "max_unavailable",
}
_STORAGE_KEYS = {"hostPath": "host_path", "size": "size", "storageClass": "storage_class"}
_KUBECONFIG_KEYS = {"hostPath": "host_path"}
_NETWORK_POLICY_KEYS = {"enabled": "enabled", "httpFrom": "http_from"}
_ENGINE_KEYS = {
    "distribution": "distribution",
    "version": "version",
    "allowMmap": "allow_mmap",
    "initialMasterNodes": "initial_master_nodes",
}
_SECURITY_KEYS = {
    "enabled": "enabled",
    "httpTls": "http_tls",
    "password": "password",
    "certificateSecret": "certificate_secret",
    "certificateDays": "certificate_days",
    "caDays": "ca_days",
    "certificateSubject": "certificate_subject",
    "caCertificate": "ca_certificate",
    "caKey": "ca_key",
}
# Python field name -> stack config key, for inputs that arrive in snake_case (es_cluster.package).
CONFIG_KEY_OF_FIELD = {
    field: key
    for keys in (_TOP_KEYS, _IMAGE_KEYS, _GROUP_KEYS, _STORAGE_KEYS, _KUBECONFIG_KEYS, _NETWORK_POLICY_KEYS, _ENGINE_KEYS, _SECURITY_KEYS)
    for key, field in keys.items()
}


class _Problems(list):
    def add(self, key: str, msg: str) -> None:
        self.append((key, msg))


def _pick(raw: Any, key: str, names: Mapping[str, str], problems: _Problems) -> dict[str, Any]:
    """Map a config object's camelCase keys to argument names, reporting unknown keys."""
    if not isinstance(raw, Mapping):
        problems.add(key, f"must be an object, got {_show(raw)}")
        return {}
    out = {}
    for k, v in raw.items():
        if k in names:
            out[names[k]] = _coerce_scalar(names[k], v)
        elif isinstance(k, str) and "." in k and k.split(".", 1)[0] in names:
            problems.add(
                _join(key, k),
                f"a flat key: set it with `pulumi config set --path {_join(key, k)} <value>`, which nests it under {k.split('.', 1)[0]!r}",
            )
        else:
            hint = difflib.get_close_matches(str(k), list(names), n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            allowed = ", ".join(sorted(names))
            problems.add(_join(key, k), f"unknown setting{more}; allowed: {allowed}")
    return out


# Fields whose values `pulumi config set --path` may store as strings ("3", "true").
_INT_FIELDS = {"replicas", "max_unavailable", "certificate_days", "ca_days"}
_BOOL_FIELDS = {"push", "create_namespace", "insecure_registry", "allow_disruptive", "enabled", "allow_mmap", "http_tls"}
# Object-valued fields the CLI hands over as "" when the stack file says null.
_NULLABLE_OBJECTS = {"kubeconfig", "storage", "network_policy", "engine", "security"}


def _coerce_scalar(name: str, v: Any) -> Any:
    if isinstance(v, str):
        if name in _INT_FIELDS and re.fullmatch(r"-?[0-9]{1,30}", v):
            return int(v)
        if name in _BOOL_FIELDS and v in ("true", "false"):
            return v == "true"
        if name in _NULLABLE_OBJECTS and v == "":
            return None
    return v


# The key a problem with the stack config as a whole is reported under: the project's namespace.
STACK_CONFIG_KEY = "es-cluster"


def parse_stack_config(raw: Mapping[str, Any]) -> EsClusterArgs:
    """Turn the project's stack config (keys without the `es-cluster:` prefix) into args."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            [(STACK_CONFIG_KEY, f"the stack config must be an object of settings such as clusterName and nodeGroups, got {_show(raw)}")]
        )
    problems = _Problems()
    top = _pick(raw, "", _TOP_KEYS, problems)
    if "image" in top:
        top["image"] = ImageArgs(**_pick(top["image"], "image", _IMAGE_KEYS, problems))
    if top.get("kubeconfig") is not None:
        kc = _pick(top["kubeconfig"], "kubeconfig", _KUBECONFIG_KEYS, problems)
        if "host_path" not in kc and isinstance(top["kubeconfig"], Mapping):
            problems.add("kubeconfig.hostPath", "required when kubeconfig is set")
        top["kubeconfig"] = KubeconfigArgs(**kc) if "host_path" in kc else None
    if top.get("engine") is not None:
        top["engine"] = EngineArgs(**_pick(top["engine"], "engine", _ENGINE_KEYS, problems))
    else:
        top.pop("engine", None)  # null: the default engine
    if top.get("security") is not None:
        top["security"] = SecurityArgs(**_pick(top["security"], "security", _SECURITY_KEYS, problems))
    if top.get("network_policy") is not None:
        top["network_policy"] = NetworkPolicyArgs(**_pick(top["network_policy"], "networkPolicy", _NETWORK_POLICY_KEYS, problems))
    groups_raw = top.get("node_groups")
    groups: dict[str, NodeGroupArgs] = {}
    if groups_raw is None:
        problems.add("nodeGroups", "required: a map of group name to node group")
    elif not isinstance(groups_raw, Mapping):
        problems.add("nodeGroups", f"must be a map of group name to node group, got {_show(groups_raw)}")
    else:
        for name, g in groups_raw.items():
            key = f"nodeGroups.{name}"
            ga = _pick(g, key, _GROUP_KEYS, problems)
            if "storage" in ga and ga["storage"] is not None:
                ga["storage"] = StorageArgs(**_pick(ga["storage"], f"{key}.storage", _STORAGE_KEYS, problems))
            if "roles" not in ga:
                problems.add(f"{key}.roles", "required: a non-empty list of master, data, client")
                ga["roles"] = ()
            groups[str(name)] = NodeGroupArgs(**ga)
    top["node_groups"] = groups
    if problems:
        raise ConfigError(problems)
    return EsClusterArgs(**top)


# ---------------------------------------------------------------------------------------------
# EsClusterArgs -> Cluster: types, values, cross-field rules, defaults resolved.


def validate(args: EsClusterArgs) -> Cluster:
    """Check everything, resolve defaults, and return the model; raise ConfigError otherwise.

    Whatever types `args` holds, the only exception is ConfigError."""
    problems = _Problems()
    warnings: list[str] = []
    if not isinstance(args, EsClusterArgs):
        raise ConfigError(
            [("args", f"EsCluster's args must be an EsClusterArgs (or the Cluster that validate returns), got {_show(args)}")]
        )

    cluster_name_ok = _check(k8s.dns1035_label(args.cluster_name, _MAX_CLUSTER_NAME), "clusterName", args.cluster_name, problems)
    _check(k8s.dns1123_label(args.namespace), "namespace", args.namespace, problems)
    _check_bool(args.create_namespace, "createNamespace", problems)
    if not _one_of(args.http_service_type, c.HTTP_SERVICE_TYPES):
        problems.add("httpServiceType", f"must be one of {', '.join(c.HTTP_SERVICE_TYPES)}, got {_show(args.http_service_type)}")

    engine, profile = _validate_engine(args.engine, problems)
    image = _validate_image(args.image, profile, engine, problems, warnings)
    rollout_seconds = _duration_seconds(args.rollout_timeout)
    if rollout_seconds is None or not 10 <= rollout_seconds <= 24 * 3600:
        problems.add("rolloutTimeout", f"must be a duration from 10s to 24h such as 5m, 90s or 1h30m, got {_show(args.rollout_timeout)}")

    allow, allow_error = impact.parse_allow(args.allow_disruptive)
    if allow_error:
        problems.add("allowDisruptive", allow_error)

    kubeconfig = None
    if args.kubeconfig is not None:
        if not isinstance(args.kubeconfig, KubeconfigArgs):
            problems.add("kubeconfig", f"must be null or an object with hostPath, got {_show(args.kubeconfig)}")
        else:
            kubeconfig = args.kubeconfig.host_path
            _check(k8s.host_path(kubeconfig), "kubeconfig.hostPath", kubeconfig, problems)
            if profile is not None and not profile.endpoints_discovery:
                problems.add(
                    "kubeconfig",
                    f"mounts the kubelet's kubeconfig for the field report's discovery plugin (Elasticsearch 2.x); {engine} "
                    "finds its peers through the transport Service's DNS name and never calls the API server: remove it",
                )

    groups: list[NodeGroup] = []
    if not isinstance(args.node_groups, Mapping) or not args.node_groups:
        problems.add("nodeGroups", "must name at least one node group, and one of them must hold the master role")
    else:
        # A group's workload is named <clusterName>-<group>; its length budget is known only
        # when clusterName is valid (else only clusterName is blamed).
        name_budget = _MAX_WORKLOAD_NAME - len(args.cluster_name) - 1 if cluster_name_ok else None
        for name, g in args.node_groups.items():
            group = _validate_group(name, g, name_budget, profile, problems, warnings)
            if group is not None:
                groups.append(group)

    master_eligible = sum(g.replicas for g in groups if g.master)
    if groups and not problems:
        if not any(g.master for g in groups):
            problems.add("nodeGroups", "no group has the master role: add 'master' to some group's roles")
        elif master_eligible == 0:
            problems.add("nodeGroups", "the master-eligible groups have 0 replicas in all: a cluster needs at least one master")
        elif master_eligible > k8s.INT32_MAX:
            problems.add("nodeGroups", f"the master-eligible groups have {master_eligible} replicas in all, beyond Kubernetes' int32")
        elif master_eligible % 2 == 0:  # and so at least 2
            # The policy pack's es-master-count refuses it in these words (tests/unit/test_pack_agreement.py).
            warnings.append(
                f"nodeGroups: {master_eligible} master-eligible nodes is an even number; use an odd count (3 is usual). "
                f"A quorum (minimum_master_nodes) of {master_eligible // 2 + 1} survives the loss of only "
                f"{master_eligible // 2 - 1} of them, the same as {master_eligible - 1} masters would, and only an odd count "
                "makes a network split always leave one side with a majority and never two (split-brain)."
            )
        if not any(g.client for g in groups):
            warnings.append("nodeGroups: no group has the client role, so the HTTP service selects no pods")
        _check_master_batches(groups, master_eligible, problems)
        if profile is not None and profile.bootstraps:
            _check_bootstrap_names(groups, engine, problems)

    network_policy = _validate_network_policy(args.network_policy, problems)
    security_ = _validate_security(args.security, profile, engine, problems, warnings)
    level = _pod_security_level(args.pod_security, groups, kubeconfig, problems)

    if problems:
        raise ConfigError(problems)
    return Cluster(
        name=args.cluster_name,
        namespace=args.namespace,
        create_namespace=args.create_namespace,
        image=image,
        kubeconfig_host_path=kubeconfig,
        http_service_type=args.http_service_type,
        rollout_timeout_seconds=rollout_seconds,
        allow_disruptive=allow or frozenset(),
        pod_security_level=level,
        network_policy=network_policy,
        engine=engine,
        security=security_,
        groups=tuple(groups),
        warnings=tuple(warnings),
    )


def _validate_engine(a: Any, problems: _Problems) -> tuple[Engine, engines.Profile | None]:
    """The engine and its profile; the profile is None when the engine is not valid, and the
    checks that need it are then skipped (the engine's own problem is reported)."""
    if not isinstance(a, EngineArgs):
        problems.add("engine", f"must be an object with distribution and version, got {_show(a)}")
        return Engine(), None
    profile = None
    if not _one_of(a.distribution, engines.DISTRIBUTIONS):
        problems.add("engine.distribution", f"must be one of {', '.join(engines.DISTRIBUTIONS)}, got {_show(a.distribution)}")
    elif (profile := engines.for_version(a.distribution, a.version)) is None:
        problems.add(
            "engine.version",
            f"no engine profile deploys {a.distribution} {_show(a.version)}; supported: {', '.join(engines.supported(a.distribution))}",
        )
    _check_bool(a.allow_mmap, "engine.allowMmap", problems)
    if profile is not None and not profile.bootstraps and a.allow_mmap is not True:
        problems.add(
            "engine.allowMmap",
            f"is a setting of Elasticsearch 7+ and OpenSearch (node.store.allow_mmap); {a.distribution} {a.version} has none",
        )
    names: tuple[str, ...] = ()
    if a.initial_master_nodes is not None:
        if not isinstance(a.initial_master_nodes, (list, tuple)):
            problems.add("engine.initialMasterNodes", f"must be a list of node names, got {_show(a.initial_master_nodes)}")
        else:
            for i, n in enumerate(a.initial_master_nodes):
                _check(k8s.dns1123_subdomain(n), f"engine.initialMasterNodes[{i}]", n, problems, what="node name")
            if len(set(map(str, a.initial_master_nodes))) != len(a.initial_master_nodes):
                problems.add("engine.initialMasterNodes", f"names a node twice: {_show(list(a.initial_master_nodes))}")
            names = tuple(str(n) for n in a.initial_master_nodes)
        if profile is not None and not profile.bootstraps:
            problems.add(
                "engine.initialMasterNodes",
                f"is for Elasticsearch 7+ and OpenSearch, which bootstrap a cluster once; {a.distribution} {a.version} does not",
            )
    engine = Engine(
        distribution=str(a.distribution), version=str(a.version), allow_mmap=a.allow_mmap is not False, initial_master_nodes=names
    )
    return engine, profile


# The bootstrap list names every first master (a pod or node name, at most 63 characters, and a
# separator) in one ConfigMap, which the API server holds to 1 MiB: 10,000 names always fit.
MAX_BOOTSTRAP_MASTERS = 10_000


def _check_bootstrap_names(groups: list[NodeGroup], engine: Engine, problems: _Problems) -> None:
    """A DaemonSet's master pods are named by their nodes, which no preview can know: the first
    masters' names come from engine.initialMasterNodes, one per planned master node. Every
    first master is named in the bootstrap ConfigMap, so their number is bounded by its size."""
    named = sum(g.replicas for g in groups if g.master and g.workload == "StatefulSet") + len(engine.initial_master_nodes)
    if named > MAX_BOOTSTRAP_MASTERS:
        problems.add(
            "nodeGroups",
            f"{named} master-eligible nodes to bootstrap the cluster with: {engine} names each first master in the bootstrap "
            f"ConfigMap (cluster.initial_master_nodes), which holds at most {MAX_BOOTSTRAP_MASTERS}; 3 or 5 dedicated masters are usual",
        )
    planned = sum(g.replicas for g in groups if g.master and g.workload == "DaemonSet")
    given = len(engine.initial_master_nodes)
    if planned and given != planned:
        problems.add(
            "engine.initialMasterNodes",
            f"the DaemonSet master groups plan {planned} node(s) and {given} are named: list the names of the nodes "
            f"they run on (kubectl get nodes -l <their nodeSelector>), which the first masters bootstrap the cluster with",
        )
    elif given and not planned:
        problems.add(
            "engine.initialMasterNodes",
            "names the nodes of DaemonSet master groups, and there are none: a StatefulSet's pod names are known, remove it",
        )


def _validate_network_policy(a: Any, problems: _Problems) -> NetworkPolicy | None:
    if a is None:
        return NetworkPolicy()
    if not isinstance(a, NetworkPolicyArgs):
        problems.add("networkPolicy", f"must be an object with enabled and httpFrom, got {_show(a)}")
        return None
    _check_bool(a.enabled, "networkPolicy.enabled", problems)
    if a.http_from is None:
        return NetworkPolicy() if a.enabled else None
    if not isinstance(a.http_from, (list, tuple)):
        problems.add(
            "networkPolicy.httpFrom", f"must be a list of peers (podSelector, namespaceSelector, ipBlock), got {_show(a.http_from)}"
        )
        return None
    for i, peer in enumerate(a.http_from):
        for field_name, why in k8s.network_policy_peer(peer):
            problems.add(f"networkPolicy.httpFrom[{i}]" + (f".{field_name}" if field_name else ""), why)
    return NetworkPolicy(http_from=tuple(a.http_from)) if a.enabled else None


def _validate_security(a: Any, profile: engines.Profile | None, engine: Engine, problems: _Problems, warnings: list[str]) -> Security:
    """TLS and the superuser: on by default where the engine's profile has them; settings
    beside security.enabled only while it is on."""
    if a is None:
        a = SecurityArgs()
    if not isinstance(a, SecurityArgs):
        problems.add(
            "security",
            "must be null or an object with enabled, httpTls, password, certificateSecret, certificateSubject, certificateDays, "
            "caDays, caCertificate and caKey, "
            f"got {_show(a)}",
        )
        return Security()
    before = len(problems)
    if a.enabled is not None:
        _check_bool(a.enabled, "security.enabled", problems)
    _check_bool(a.http_tls, "security.httpTls", problems)
    if profile is None or len(problems) > before:
        return Security()
    enabled = profile.security_supported if a.enabled is None else a.enabled is True
    if enabled and not profile.security_supported:
        problems.add("security.enabled", f"{engine}: {profile.security_missing}")
        return Security()
    if not enabled:
        for key, value in (
            ("httpTls", a.http_tls is not True),
            ("password", a.password is not None),
            ("certificateSecret", a.certificate_secret is not None),
            ("certificateSubject", a.certificate_subject is not None),
            ("certificateDays", a.certificate_days is not None),
            ("caDays", a.ca_days is not None),
            ("caCertificate", a.ca_certificate is not None),
            ("caKey", a.ca_key is not None),
        ):
            if value:
                problems.add(f"security.{key}", "has no effect while security is off (security.enabled false): remove it")
        return Security()
    password = a.password if isinstance(a.password, Later) else None
    if a.password is not None and password is None:
        problem = tls.password_problem(a.password)  # never shown: it is a secret
        if problem is not None:
            problems.add("security.password", problem)
        else:
            password = a.password
    secret_name = None
    if a.certificate_secret is not None and _check(
        k8s.dns1123_subdomain(a.certificate_secret), "security.certificateSecret", a.certificate_secret, problems, what="Secret name"
    ):
        secret_name = a.certificate_secret
    subject = _validate_certificate_subject(a, profile, engine, problems)
    ca_days = _validate_ca_days(a, secret_name, problems)
    days = c.NODE_CERTIFICATE_DAYS
    if a.certificate_days is not None:
        if not k8s.is_int(a.certificate_days) or not 1 <= a.certificate_days <= ca_days // 2:
            problems.add(
                "security.certificateDays",
                f"must be a whole number of days from 1 to {ca_days // 2} (half the CA's life), got {_show(a.certificate_days)}",
            )
        elif secret_name is not None:
            problems.add(
                "security.certificateDays",
                "is for the certificates the component issues; with certificateSecret, yours are used: remove it",
            )
        else:
            days = a.certificate_days
    ca = _validate_own_ca(a, secret_name, problems)
    if a.http_tls is False:
        warnings.append(
            f"security.httpTls: false leaves HTTP on 9200 in plaintext: the {profile.superuser} user's password and every document "
            "cross the network readable. Keep it on unless a proxy in front of the HTTP Service terminates TLS."
        )
    return Security(
        enabled=True,
        http_tls=a.http_tls is not False,
        password=password,
        certificate_secret=secret_name,
        certificate_days=days,
        ca_days=ca_days,
        certificate_subject=subject,
        ca_certificate=ca[0] if ca else None,
        ca_key=ca[1] if ca else None,
    )


# A CA the component makes: at least two days (a node certificate of one, and half of its life
# left to renew it in), at most ten years.
CA_DAYS_RANGE = (2, 3650)


def _validate_ca_days(a: SecurityArgs, secret_name: str | None, problems: _Problems) -> int:
    """security.caDays: the validity of the CA the component makes (the default's otherwise)."""
    if a.ca_days is None:
        return c.CA_CERTIFICATE_DAYS
    if not k8s.is_int(a.ca_days) or not CA_DAYS_RANGE[0] <= a.ca_days <= CA_DAYS_RANGE[1]:
        problems.add(
            "security.caDays", f"must be a whole number of days from {CA_DAYS_RANGE[0]} to {CA_DAYS_RANGE[1]}, got {_show(a.ca_days)}"
        )
    elif secret_name is not None or a.ca_certificate is not None:
        problems.add("security.caDays", "is for the CA the component makes; with your own CA or certificates, theirs is used: remove it")
    else:
        return a.ca_days
    return c.CA_CERTIFICATE_DAYS


def _validate_certificate_subject(a: SecurityArgs, profile: engines.Profile, engine: Engine, problems: _Problems) -> str | None:
    """OpenSearch knows its nodes by their certificate's subject: with the user's own
    certificates, the user names it; nowhere else is it asked for."""
    if a.certificate_secret is None:
        if a.certificate_subject is not None:
            problems.add(
                "security.certificateSubject", "is the subject of the certificates in certificateSecret: set that too, or remove it"
            )
        return None
    if not profile.needs_certificate_subject:
        if a.certificate_subject is not None:
            problems.add(
                "security.certificateSubject", f"{engine}: has no effect (the engine does not ask for its nodes' subject): remove it"
            )
        return None
    if a.certificate_subject is None:
        problems.add(
            "security.certificateSubject",
            f"{engine}: is needed with certificateSecret: the subject of the node certificate in it, which the security plugin "
            "knows its nodes by (plugins.security.nodes_dn), e.g. CN=logs-node,O=Example",
        )
        return None
    problem = tls.subject_problem(a.certificate_subject)
    if problem is not None:
        problems.add("security.certificateSubject", problem)
        return None
    return str(a.certificate_subject)


def _validate_own_ca(a: SecurityArgs, secret_name: str | None, problems: _Problems) -> tuple[str, Any] | None:
    """security.caCertificate and caKey: both or neither, a CA that may sign, its key; not with
    certificateSecret, whose certificates come with their CA."""
    given = {"caCertificate": a.ca_certificate is not None, "caKey": a.ca_key is not None}
    if not any(given.values()):
        return None
    if a.certificate_secret is not None:
        for key in (k for k, v in given.items() if v):
            problems.add(
                f"security.{key}", "is for the certificates the component issues; with certificateSecret, yours are used: remove it"
            )
        return None
    if not all(given.values()):
        missing = next(k for k, v in given.items() if not v)
        problems.add(f"security.{missing}", f"is needed with security.{next(k for k, v in given.items() if v)}: give both, or neither")
        return None
    # A key another resource gives is checked by the credentials resource, once known.
    problem = tls.ca_certificate_problem(a.ca_certificate) if isinstance(a.ca_key, Later) else tls.ca_problem(a.ca_certificate, a.ca_key)
    if problem is not None:
        problems.add(*problem)
        return None
    return str(a.ca_certificate), a.ca_key


def _pod_security_level(asked: Any, groups: list[NodeGroup], kubeconfig: str | None, problems: _Problems) -> str:
    """The level asked for, or the lowest the layout needs; asking for more than the layout
    allows names what stands in the way."""
    needs = security.level_needs([(g.name, g.pod_security_context, g.storage.host_path) for g in groups], kubeconfig)
    required = security.required_level(needs)
    if asked is None:
        return required
    if not _one_of(asked, security.LEVELS):
        problems.add("podSecurity", f"must be one of {', '.join(security.LEVELS)}, got {_show(asked)}")
        return required
    rank = security.LEVELS.index
    blocking = [f"{key} needs {level}" for key, level in needs if rank(level) < rank(asked)]
    if blocking:
        problems.add("podSecurity", f"{asked} cannot be met by this layout: " + "; ".join(blocking))
    return asked


def _validate_image(a: ImageArgs, profile: engines.Profile | None, engine: Engine, problems: _Problems, warnings: list[str]) -> Image:
    if not isinstance(a, ImageArgs):
        problems.add("image", f"must be an object, got {_show(a)}")
        a = ImageArgs()
    # The engine's base image and build context unless set (the field report's when the engine is invalid).
    known = profile or engines.zen1.PROFILE
    a = replace(
        a,
        base_image=a.base_image if a.base_image is not None else known.default_base_image(engine.version),
        context=a.context if a.context is not None else known.image_context,
    )
    _check_bool(a.push, "image.push", problems)
    if a.reference is not None:
        _check(k8s.digest_reference(a.reference), "image.reference", a.reference, problems)
    else:
        _check(k8s.repository(a.repository), "image.repository", a.repository, problems)
        _check(k8s.image_reference(a.base_image), "image.baseImage", a.base_image, problems)
        # is_file() is False for a path holding NUL, which no file system can name.
        if not isinstance(a.context, str) or not (Path(a.context) / "Dockerfile").is_file():
            problems.add("image.context", f"must be a folder holding a Dockerfile, got {_show(a.context)}")
    _check_bool(a.insecure_registry, "image.insecureRegistry", problems)
    for key, value in (("registryUsername", a.registry_username), ("registryPassword", a.registry_password)):
        if value is not None and not isinstance(value, Later) and (not isinstance(value, str) or not value or "\0" in value):
            problems.add(f"image.{key}", "must be a non-empty string")
    if (a.registry_username is None) != (a.registry_password is None):
        problems.add("image.registryPassword", "must be set together with image.registryUsername (and the other way round)")
    if a.reference is None and a.push is False:
        # The policy pack's es-image-digest refuses it in these words.
        warnings.append(
            "image.push: false: pods name the image by its tag, and it is not pinned by digest (repository@sha256:...); "
            "a tag can be moved, so nodes may run other bytes than were built"
        )
    return Image(
        repository=a.repository,
        base_image=a.base_image,
        push=a.push is True,
        context=str(a.context),
        build_args=tuple(sorted(known.build_args().items())),
        reference=a.reference,
        insecure_registry=a.insecure_registry is True,
        registry_username=a.registry_username,
        registry_password=a.registry_password,
    )


def _check_master_batches(groups: list[NodeGroup], master_eligible: int, problems: _Problems) -> None:
    """A master group's rolling update must not take the cluster below quorum: at most
    master-eligible minus quorum of them restart at once (1 where that is 0: one or two masters
    lose their quorum at any restart)."""
    quorum = master_quorum(master_eligible)
    spare = max(master_eligible - quorum, 1)
    for g in groups:
        if g.master and g.roll_batch > spare:
            problems.add(
                f"nodeGroups.{g.name}.maxUnavailable",
                f"{_show(g.max_unavailable)} restarts {g.roll_batch} of the {master_eligible} master-eligible nodes at once, "
                f"leaving {master_eligible - g.roll_batch}, below the quorum of {quorum}: at most {spare} may restart together",
            )


def _validate_group(
    name: Any, g: Any, name_budget: int | None, profile: engines.Profile | None, problems: _Problems, warnings: list[str]
) -> NodeGroup | None:
    key = f"nodeGroups.{name}"
    before = len(problems)
    if not isinstance(g, NodeGroupArgs):
        problems.add(key, f"must be a node group, got {_show(g)}")
        return None
    why = k8s.dns1035_label(name, name_budget if name_budget is not None else 63)
    if why is not None and name_budget is not None and isinstance(name, str) and k8s.dns1035_label(name) is None:
        why += " (workload names are <clusterName>-<group>, at most 52 characters)"
    _check(why, key, name, problems, what="group name")

    roles_raw = g.roles if isinstance(g.roles, (list, tuple)) else None
    roles = tuple(r for r in roles_raw or () if isinstance(r, str))
    if not roles_raw:
        problems.add(f"{key}.roles", f"must be a non-empty list drawn from {', '.join(c.ROLES)}, got {_show(g.roles)}")
    for r in roles_raw or ():
        if not isinstance(r, str) or r not in c.ROLES:
            problems.add(f"{key}.roles", f"unknown role {_show(r)}; allowed: {', '.join(c.ROLES)}")
    if len(set(roles)) != len(roles):
        problems.add(f"{key}.roles", f"lists a role twice: {_show(list(roles))}")
    master = "master" in roles

    replicas = g.replicas if g.replicas is not None else (3 if master else 2)
    if not k8s.is_int(replicas) or replicas < 0:
        problems.add(f"{key}.replicas", f"must be a whole number >= 0, got {_show(replicas)}")
    elif replicas > k8s.INT32_MAX:
        problems.add(f"{key}.replicas", f"must be at most {k8s.INT32_MAX} (Kubernetes' int32), got {replicas}")

    workload = g.workload if g.workload is not None else ("Deployment" if set(roles) == {"client"} else "StatefulSet")
    if not _one_of(workload, c.WORKLOADS):
        problems.add(f"{key}.workload", f"must be one of {', '.join(c.WORKLOADS)}, got {_show(workload)}")
    elif master and workload == "Deployment" and profile is not None and profile.bootstraps:
        problems.add(
            f"{key}.workload",
            "a master-eligible group needs stable node names, which the bootstrap and the voting configuration name: "
            "use StatefulSet (pod names), or DaemonSet with engine.initialMasterNodes (node names)",
        )

    storage = _validate_storage(g.storage, workload, key, problems)
    if "data" in roles and storage.host_path is None and storage.size is None:
        warnings.append(
            f"{key}: a data group on emptyDir loses its shards whenever a pod is rescheduled; set storage.hostPath or storage.size"
        )

    node_selector = g.node_selector if g.node_selector is not None else {}
    if not isinstance(node_selector, Mapping):
        problems.add(f"{key}.nodeSelector", f"must be a map of label key to value, got {_show(node_selector)}")
        node_selector = {}
    for k, v in node_selector.items():
        if (why := k8s.label_key(k)) is not None:
            problems.add(f"{key}.nodeSelector", f"{_show(k)} is not a valid label key: {why}")
        elif (why := k8s.label_value(v)) is not None:
            problems.add(f"{key}.nodeSelector.{k}", f"label value {why}, got {_show(v)}")
    if workload == "DaemonSet" and not node_selector:
        warnings.append(f"{key}: a DaemonSet without nodeSelector runs one pod on every node")

    _check_heap_and_resources(g.heap_size, g.resources, key, problems, warnings)

    tolerations = tuple(g.tolerations) if isinstance(g.tolerations, (list, tuple)) else None
    if tolerations is None:
        problems.add(f"{key}.tolerations", f"must be a list of tolerations, got {_show(g.tolerations)}")
        tolerations = ()
    for i, t in enumerate(tolerations):
        for field_name, why in k8s.toleration(t):
            problems.add(f"{key}.tolerations[{i}]" + (f".{field_name}" if field_name else ""), why)

    if not _one_of(g.anti_affinity, c.ANTI_AFFINITY):
        problems.add(f"{key}.antiAffinity", f"must be one of {', '.join(c.ANTI_AFFINITY)}, got {_show(g.anti_affinity)}")

    psc = g.pod_security_context if g.pod_security_context is not None else {}
    if isinstance(psc, Mapping) and profile is not None:
        # The image's own user unless the group says otherwise, field by field.
        psc = {**profile.default_pod_security_context(), **psc}
    for field_name, why in k8s.pod_security_context(psc):
        problems.add(f"{key}.podSecurityContext" + (f".{field_name}" if field_name else ""), why)

    if g.priority_class_name is not None:
        _check(k8s.dns1123_subdomain(g.priority_class_name), f"{key}.priorityClassName", g.priority_class_name, problems)

    max_unavailable = g.max_unavailable if g.max_unavailable is not None else 1
    _check(k8s.int_or_percent(max_unavailable), f"{key}.maxUnavailable", max_unavailable, problems)

    if len(problems) > before:
        return None
    return NodeGroup(
        name=name,
        roles=tuple(r for r in c.ROLES if r in roles),
        replicas=replicas,
        workload=workload,
        node_selector=dict(node_selector),
        storage=storage,
        heap_size=g.heap_size,
        resources={k: dict(v) for k, v in g.resources.items()},
        tolerations=tuple(dict(t) for t in tolerations),
        anti_affinity=g.anti_affinity,
        priority_class_name=g.priority_class_name,
        pod_security_context=dict(psc),
        max_unavailable=max_unavailable,
    )


def _validate_storage(s: Any, workload: Any, key: str, problems: _Problems) -> Storage:
    if s is None:
        return Storage(size=DEFAULT_STATEFULSET_SIZE) if workload == "StatefulSet" else Storage()
    if not isinstance(s, StorageArgs):
        problems.add(f"{key}.storage", f"must be an object with hostPath, or size and storageClass, got {_show(s)}")
        return Storage()
    if s.host_path is not None:
        _check(k8s.host_path(s.host_path), f"{key}.storage.hostPath", s.host_path, problems)
        if s.size is not None or s.storage_class is not None:
            problems.add(f"{key}.storage", "set either hostPath or size/storageClass, not both")
    if s.size is not None:
        _check(k8s.quantity(s.size, positive=True), f"{key}.storage.size", s.size, problems)
    if s.storage_class is not None:
        _check(k8s.dns1123_subdomain(s.storage_class), f"{key}.storage.storageClass", s.storage_class, problems)
    if workload == "StatefulSet" and s.size is None and s.host_path is None:
        problems.add(f"{key}.storage.size", "required for a StatefulSet: the size of each pod's volume claim, e.g. 50Gi")
    if workload == "StatefulSet" and s.host_path is not None:
        problems.add(
            f"{key}.storage", "a StatefulSet keeps its data in volume claims: set storage.size, or use workload DaemonSet for hostPath"
        )
    if workload in ("DaemonSet", "Deployment"):
        for field_name, v in (("size", s.size), ("storageClass", s.storage_class)):
            if v is not None:
                problems.add(f"{key}.storage.{field_name}", f"volume claims need workload StatefulSet; a {workload} takes storage.hostPath")
    return Storage(host_path=s.host_path, size=s.size, storage_class=s.storage_class)


def _check_heap_and_resources(heap: Any, resources: Any, key: str, problems: _Problems, warnings: list[str]) -> None:
    if not isinstance(heap, str) or not _HEAP.fullmatch(heap):
        problems.add(f"{key}.heapSize", f"must be a JVM size such as 512m or 2g, got {_show(heap)}")
        heap = None
    if not isinstance(resources, Mapping) or not all(isinstance(k, str) for k in resources) or set(resources) - {"requests", "limits"}:
        problems.add(f"{key}.resources", f"must be an object with requests and/or limits, got {_show(resources)}")
        return
    values: dict[str, dict[str, Any]] = {}
    for section, entries in resources.items():
        if not isinstance(entries, Mapping):
            problems.add(f"{key}.resources.{section}", f"must be a map such as {{cpu: 500m, memory: 2Gi}}, got {_show(entries)}")
            continue
        values[section] = {}
        for res, q in entries.items():
            if (why := k8s.resource_name(res)) is not None:
                hint = difflib.get_close_matches(str(res), k8s.STANDARD_RESOURCES, n=1)
                problems.add(f"{key}.resources.{section}", f"{_show(res)} {why}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            elif (why := k8s.quantity(q)) is not None:
                problems.add(f"{key}.resources.{section}.{res}", f"{why}, got {_show(q)}")
            else:
                values[section][res] = k8s.parse_quantity(q)
    for res, request in values.get("requests", {}).items():
        limit_q = values.get("limits", {}).get(res)
        if limit_q is not None and request > limit_q:
            problems.add(
                f"{key}.resources.requests.{res}", f"must not exceed the limit {resources['limits'][res]}, got {resources['requests'][res]}"
            )
    memory_limit = values.get("limits", {}).get("memory")
    if memory_limit is not None and memory_limit == 0:
        problems.add(f"{key}.resources.limits.memory", "must be greater than zero: Elasticsearch cannot start without memory")
    if heap is None:
        return
    # Each warning carries the words the policy pack's es-heap-size refuses with
    # (tests/unit/test_pack_agreement.py), so a stack without the pack is told the same.
    heap_bytes = _heap_bytes(heap)
    if heap_bytes >= 32 * 2**30:
        warnings.append(f"{key}.heapSize: {heap} is 32 GiB or more; the JVM loses compressed object pointers, stay below 31g")
    if memory_limit is None:
        warnings.append(
            f"{key}.heapSize: {heap} is set but the container has no memory limit to hold it to half of; "
            f"set {key}.resources.limits.memory to at least twice the heap"
        )
    elif memory_limit > 0:
        limit = resources["limits"]["memory"]
        if heap_bytes >= memory_limit:
            problems.add(
                f"{key}.heapSize",
                f"{heap} does not fit in the memory limit {limit}; the pod would be OOM-killed. Keep the heap at most half the limit",
            )
        elif heap_bytes * 2 > memory_limit:
            warnings.append(
                f"{key}.heapSize: {heap} is more than half the memory limit {limit}; Lucene needs the rest for the file-system cache"
            )


def _duration_seconds(v: Any) -> int | None:
    """Seconds of a duration written as Pulumi's timeouts are (1h30m, 5m, 90s), or None."""
    m = _DURATION.fullmatch(v) if isinstance(v, str) and v else None
    if not m:
        return None
    return int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + int(m["s"] or 0)


def _heap_bytes(heap: str) -> int:
    return int(heap[:-1]) * (2**30 if heap[-1] in "gG" else 2**20)


def _check(why: str | None, key: str, value: Any, problems: _Problems, what: str = "") -> bool:
    """Record `why` (a rule's reason) against `key`, showing the value; True when valid."""
    if why is None:
        return True
    problems.add(key, f"{what + ' ' if what else ''}{why}, got {_show(value)}")
    return False


def _one_of(v: Any, allowed: tuple[str, ...]) -> bool:
    return isinstance(v, str) and v in allowed


def _check_bool(v: Any, key: str, problems: _Problems) -> None:
    if not isinstance(v, bool):
        problems.add(key, f"must be true or false, got {_show(v)}")


def _join(prefix: str, k: Any) -> str:
    return f"{prefix}.{k}" if prefix else str(k)


def _show(v: Any) -> str:
    text = repr(v) if not isinstance(v, str) else "'" + v.encode("unicode_escape").decode("ascii") + "'"
    return text if len(text) <= 120 else text[:117] + "..."
