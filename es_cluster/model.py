"""The validated model of one Elasticsearch cluster: what every spec builder trusts.

Instances come only from `es_cluster.config.validate`, which resolves defaults and rejects bad
input, so nothing here checks anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import k8s


@dataclass(frozen=True)
class Later:
    """A secret whose value another resource gives (a Pulumi output, through the component
    package): not known while the input is validated, so the resource that uses it checks it
    (the credentials resource, the registry push) before any object depends on it."""

    value: object = field(repr=False)


def known(value: object) -> object:
    """The value to hand to a resource: a Later's output, or the value itself."""
    return value.value if isinstance(value, Later) else value


def master_quorum(master_eligible: int) -> int:
    """discovery.zen.minimum_master_nodes: a strict majority, so two halves never both elect."""
    return master_eligible // 2 + 1


@dataclass(frozen=True)
class Storage:
    """Where a group keeps its data: a hostPath, a volume claim per pod, or (neither) emptyDir."""

    host_path: str | None = None
    size: str | None = None
    storage_class: str | None = None


@dataclass(frozen=True)
class NodeGroup:
    name: str
    roles: tuple[str, ...]
    replicas: int
    workload: str
    node_selector: Mapping[str, str]
    storage: Storage
    heap_size: str
    resources: Mapping[str, Mapping[str, str]]
    tolerations: tuple[Mapping[str, object], ...]
    anti_affinity: str
    priority_class_name: str | None = None
    pod_security_context: Mapping[str, object] = field(default_factory=dict)
    # rollingUpdate.maxUnavailable: a whole number or a percentage ("10%").
    max_unavailable: int | str = 1

    @property
    def roll_batch(self) -> int:
        """Pods one step of a rolling update takes down: maxUnavailable resolved against the
        planned replicas as the group's controller resolves it (a Deployment rounds a percentage
        down, the others up), from 1 to all of them."""
        n = k8s.scaled(self.max_unavailable, self.replicas, round_up=self.workload != "Deployment")
        return min(max(n, 1), max(self.replicas, 1))

    @property
    def master(self) -> bool:
        return "master" in self.roles

    @property
    def data(self) -> bool:
        return "data" in self.roles

    @property
    def client(self) -> bool:
        return "client" in self.roles


@dataclass(frozen=True)
class Image:
    """Either built from `context` and pushed to `repository`, or a prebuilt `reference`."""

    repository: str
    base_image: str
    push: bool
    context: str
    # Build arguments beside BASE_IMAGE (the engine profile's: ENGINE for images/modern/).
    build_args: tuple[tuple[str, str], ...] = ()
    reference: str | None = None
    insecure_registry: bool = False
    registry_username: str | None = None
    registry_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NetworkPolicy:
    """Ingress to the ES pods: transport only from the cluster's own pods; HTTP from `http_from`
    (NetworkPolicyPeers), or from anywhere when it is None."""

    http_from: tuple[Mapping[str, object], ...] | None = None


@dataclass(frozen=True)
class Engine:
    """Which Elasticsearch the cluster runs: a distribution and a version one of the engine
    profiles (es_cluster/engines/) supports. The default is the field report's."""

    distribution: str = "elasticsearch"
    version: str = "2.3.4"
    # node.store.allow_mmap (7+): false lifts the need for vm.max_map_count 262144 on the nodes.
    allow_mmap: bool = True
    # The first masters' node names where no StatefulSet names them (DaemonSet master groups).
    initial_master_nodes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class Security:
    """TLS on transport and HTTP, and the superuser `elastic` in the file realm (7+).

    The certificates and the password come from the credentials resource (credentials.py):
    issued and generated once, kept as Pulumi secrets; or the user's own."""

    enabled: bool = False
    # HTTPS on 9200; transport TLS is on whenever security is (the engines require it).
    http_tls: bool = True
    # The superuser's password from stack config (a Pulumi secret); None: generated once.
    password: str | None = field(default=None, repr=False)
    # A Secret of the user's holding ca.crt, tls.crt and tls.key; None: the component's own CA.
    certificate_secret: str | None = None
    # The node certificate's validity; a change reissues it (from the same CA).
    certificate_days: int = 365
    # The validity of a CA the component makes; a change rotates the CA (three `up`s).
    ca_days: int = 1825
    # The subject of the user's node certificate (OpenSearch's nodes_dn); None: the component's.
    certificate_subject: str | None = None
    # The user's CA (PEM) and its key, which issue the node certificate; None: the component's.
    ca_certificate: str | None = None
    ca_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Cluster:
    name: str
    namespace: str
    create_namespace: bool
    image: Image
    kubeconfig_host_path: str | None
    http_service_type: str
    groups: tuple[NodeGroup, ...]
    rollout_timeout_seconds: int = 300
    # The kinds of disruptive change allowed for this deploy (impact.DISRUPTIONS).
    allow_disruptive: frozenset[str] = frozenset()
    # Pod Security admission level the namespace enforces (security.LEVELS).
    pod_security_level: str = "privileged"
    network_policy: NetworkPolicy | None = NetworkPolicy()
    engine: Engine = Engine()
    security: Security = Security()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def master_eligible(self) -> int:
        return sum(g.replicas for g in self.groups if g.master)

    @property
    def quorum(self) -> int:
        return master_quorum(self.master_eligible)

    def group(self, name: str) -> NodeGroup:
        return next(g for g in self.groups if g.name == name)
