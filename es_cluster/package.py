"""EsCluster as a Pulumi component package, for programs in any language.

`provider/` hosts this class with the SDK's component provider host; the host infers the
package schema from the annotations below. Its inputs are the stack config's keys (the host
turns `node_groups` into `nodeGroups`), and they go through the same `parse_stack_config` and
`validate` as stack config, so a YAML or TypeScript program gets the same defaults and the same
`key: problem` errors.
"""

from collections.abc import Mapping
from typing import Any, Optional, Required, TypedDict

import pulumi

from . import component
from .config import CONFIG_KEY_OF_FIELD, ConfigError, Later, parse_stack_config


class Storage(TypedDict, total=False):
    host_path: str
    """A folder on the node (any workload): the field report's layout."""
    size: str
    """Size of each pod's volume claim, e.g. 50Gi (StatefulSet only)."""
    storage_class: str
    """StorageClass of the claims (StatefulSet only)."""


class NodeGroup(TypedDict, total=False):
    roles: Required[list[str]]
    """Any of master, data, client."""
    replicas: int
    """Pods; for a DaemonSet, the labelled nodes planned (feeds MIN_MASTERS). 3 for master-eligible groups, else 2."""
    workload: str
    """DaemonSet, Deployment or StatefulSet. Deployment for client-only groups, else StatefulSet."""
    node_selector: dict[str, str]
    """Node labels the pods need, e.g. kube-system/es-master-node: "true"."""
    storage: Storage
    """Where the data lives; emptyDir when unset (StatefulSet: 10Gi claims)."""
    heap_size: str
    """ES_HEAP_SIZE, a JVM size such as 1g; at most half the memory limit."""
    resources: dict[str, dict[str, str]]
    """requests and limits, as in a container spec."""
    tolerations: list[dict[str, Any]]
    """Kubernetes tolerations."""
    anti_affinity: str
    """hard or soft spreading of a group's pods over nodes."""
    priority_class_name: str
    """A PriorityClass of the cluster, for the group's pods."""
    pod_security_context: dict[str, Any]
    """The pods' runAsUser, runAsGroup, runAsNonRoot, fsGroup, fsGroupChangePolicy, supplementalGroups."""
    max_unavailable: str
    """Pods a rolling update restarts at once: a whole number ("2") or a percentage ("10%"); default 1."""


class Image(TypedDict, total=False):
    repository: str
    """Where the built image is pushed."""
    base_image: str
    """The FROM of image/Dockerfile."""
    push: bool
    """Push, and give pods the registry's digest."""
    context: str
    """The build context; defaults to the one in the package."""
    reference: str
    """A prebuilt repository@sha256:<digest>; nothing is built."""
    insecure_registry: bool
    """The registry speaks plain HTTP (a local one); the digest is read over http."""
    registry_username: str
    """User for the registry push; with registry_password."""
    registry_password: str
    """Password for the registry push; kept as a Pulumi secret."""


class NetworkPolicy(TypedDict, total=False):
    enabled: bool
    """Declare the NetworkPolicy (default true)."""
    http_from: list[dict[str, Any]]
    """NetworkPolicyPeers allowed to reach 9200; unset: anywhere."""


class Engine(TypedDict, total=False):
    distribution: str
    """elasticsearch (default) or opensearch."""
    version: str
    """A version an engine profile supports: 2.3.4 (default), 7.17.28, 8.19.0, 9.1.0; OpenSearch 2.19.4, 2.19.6, 3.3.0."""
    allow_mmap: bool
    """7+: node.store.allow_mmap; false where the nodes cannot give vm.max_map_count 262144."""
    initial_master_nodes: list[str]
    """7+ with DaemonSet masters: the names of the nodes they run on, for the first bootstrap."""


class Security(TypedDict, total=False):
    enabled: bool
    """TLS on transport and HTTP and the elastic user; default: on for Elasticsearch 7+."""
    http_tls: bool
    """HTTPS on 9200 (default true)."""
    password: str
    """The elastic user's password, 8 to 72 bytes; unset: generated once."""
    certificate_secret: str
    """A Secret with ca.crt, tls.crt and tls.key; unset: the component's own CA."""
    certificate_subject: str
    """OpenSearch with certificate_secret: the subject of its node certificate (plugins.security.nodes_dn)."""
    certificate_days: int
    """Validity of the node certificate the component issues (default 365); a change reissues it."""
    ca_days: int
    """Validity of the CA the component makes (default 1825); a change rotates it in three ups."""
    ca_certificate: str
    """Your CA (PEM), which issues the node certificate in place of the component's; with ca_key."""
    ca_key: str
    """The private key of ca_certificate (PEM, RSA or EC); pass it as a secret."""


class Kubeconfig(TypedDict):
    host_path: str
    """The kubelet's kubeconfig on the node, mounted read-only at /kubeconfig."""


class EsClusterInputs(TypedDict, total=False):
    node_groups: Required[dict[str, NodeGroup]]
    """Group name -> node group; one group must hold the master role."""
    cluster_name: str
    """cluster.name, and the prefix of every object's name."""
    namespace: str
    """Namespace of every object."""
    create_namespace: bool
    """Declare the namespace too."""
    image: Image
    """How the patched image is built, or which prebuilt one to use."""
    kubeconfig: Kubeconfig
    """Mount the kubelet's kubeconfig for the discovery plugin."""
    http_service_type: str
    """ClusterIP, NodePort or LoadBalancer."""
    rollout_timeout: str
    """How long one pod may take to become ready in a rolling update (default 5m)."""
    allow_disruptive: list[str]
    """Allow this change to do what is otherwise refused: quorumLoss, dataReplace, dataScaleDown."""
    pod_security: str
    """Pod Security level the namespace enforces; default: the lowest the layout needs."""
    network_policy: NetworkPolicy
    """Ingress to the ES pods: transport only from the cluster's own pods, HTTP from httpFrom."""
    engine: Engine
    """Which Elasticsearch: the field report's 2.3.4 by default, or 7+ / OpenSearch."""
    security: Security
    """TLS and authentication: on by default for Elasticsearch 7+."""


# nodeGroups' keys are group names (kept), its values node groups (renamed as objects);
# everything under these is Kubernetes' or the user's own spelling and is kept as it is.
_NAMED_OBJECTS = {"nodeGroups"}
_VERBATIM = {"nodeSelector", "resources", "tolerations", "podSecurityContext", "httpFrom"}
# Secrets that may come from another resource (a secret config value is an output here too):
# taken as they come, and checked by the resource that uses them once known.
_LATER = {"security.password", "security.caKey", "image.registryPassword"}


def stack_config_from_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The component package's inputs as stack config: snake_case names back to the config's
    camelCase (the host renames top-level and nested object fields, but not the values of maps
    such as nodeGroups, which arrive as sent), whole floats back to integers, and a clear error
    for values not known yet."""
    unknown: list[tuple[str, str]] = []

    def convert(value: Any, key: str, mode: str) -> Any:
        """mode: "object" renames keys, "named" keeps keys and converts values as objects,
        "verbatim" keeps everything."""
        if isinstance(value, pulumi.Output) and key in _LATER:
            return Later(value)
        if isinstance(value, pulumi.Output):
            unknown.append(
                (
                    key,
                    "must be a known value, not another resource's output: the component validates its whole input before declaring anything",
                )
            )
            return None
        if isinstance(value, Mapping):
            result = {}
            for k, v in value.items():
                name = CONFIG_KEY_OF_FIELD.get(k, k) if mode == "object" else k
                child = f"{key}.{name}" if key else name
                if mode == "object":
                    child_mode = "named" if name in _NAMED_OBJECTS else "verbatim" if name in _VERBATIM else "object"
                else:
                    child_mode = "object" if mode == "named" else "verbatim"
                result[name] = convert(v, child, child_mode)
            return result
        if isinstance(value, (list, tuple)):
            return [convert(v, f"{key}[{i}]", "verbatim") for i, v in enumerate(value)]
        # Numbers cross the wire as floats; a whole one was written as an integer (replicas: 3).
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    out = convert(inputs, "", "object")
    if unknown:
        raise ConfigError(unknown)
    return out


class EsCluster(component.EsCluster):
    """A production Elasticsearch cluster on Kubernetes: the patched image, RBAC for discovery,
    a 9300 transport service for discovery and a 9200 HTTP service, one workload and one
    disruption budget per node group."""

    namespace: pulumi.Output[str]
    """Namespace of the cluster's objects."""
    http_service: pulumi.Output[str]
    """The 9200 service clients use."""
    transport_service: pulumi.Output[str]
    """The 9300 service discovery reads (DISCOVERY_SERVICE)."""
    http_url: pulumi.Output[str]
    """http://<http service>.<namespace>.svc:9200"""
    image_ref: pulumi.Output[str]
    """The image every pod runs, by digest when pushed."""
    workloads: pulumi.Output[dict[str, str]]
    """Group name -> workload name."""
    elastic_password: pulumi.Output[str]
    """The superuser's password (a secret), when security is on."""
    superuser: pulumi.Output[str]
    """The superuser's name when security is on: elastic (Elasticsearch) or admin (OpenSearch)."""
    ca_certificate: pulumi.Output[str]
    """The cluster's CA certificate (PEM), when security is on and the component issued it."""
    impact: pulumi.Output[dict[str, Any]]
    """What this deploy does to the running cluster: quorum, each group's change, roll order."""
    record: pulumi.Output[dict[str, Any]]
    """Export it as the stack output es-cluster:<name>: the next preview compares with it."""

    def __init__(self, name: str, args: EsClusterInputs, opts: Optional[pulumi.ResourceOptions] = None):  # noqa: UP045 (the schema analyzer reads Optional)
        super().__init__(name, parse_stack_config(stack_config_from_inputs(args)), opts)
