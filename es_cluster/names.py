"""Names and labels of the cluster's Kubernetes objects: one function each, everything else
(the spec builders, the engine profiles, the impact record) derives from them."""

from __future__ import annotations

from . import constants as c
from .model import Cluster, NodeGroup


def http_service_name(cluster: Cluster) -> str:
    return f"{cluster.name}-http"


def transport_service_name(cluster: Cluster) -> str:
    """The discovery service: DISCOVERY_SERVICE names it, and it exposes only 9300."""
    return f"{cluster.name}-transport"


def workload_name(cluster: Cluster, group: NodeGroup) -> str:
    return f"{cluster.name}-{group.name}"


def service_account_name(cluster: Cluster) -> str:
    return cluster.name


def discovery_role_name(cluster: Cluster) -> str:
    return f"{cluster.name}-discovery"


def http_url(cluster: Cluster) -> str:
    scheme = "https" if cluster.security.enabled and cluster.security.http_tls else "http"
    return f"{scheme}://{http_service_name(cluster)}.{cluster.namespace}.svc:{c.HTTP_PORT}"


def cluster_labels(cluster: Cluster) -> dict[str, str]:
    return {
        c.LABEL_NAME: c.APP_NAME,
        c.LABEL_INSTANCE: cluster.name,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
    }


def role_label(role: str) -> str:
    return c.LABEL_ROLE_PREFIX + role


def selector_labels(cluster: Cluster, group: NodeGroup) -> dict[str, str]:
    """A workload's selector: immutable once created, so only identity, never roles."""
    return {c.LABEL_NAME: c.APP_NAME, c.LABEL_INSTANCE: cluster.name, c.LABEL_COMPONENT: group.name}


def pod_labels(cluster: Cluster, group: NodeGroup) -> dict[str, str]:
    labels = {**cluster_labels(cluster), c.LABEL_COMPONENT: group.name}
    for role in c.ROLES:
        labels[role_label(role)] = flag(role in group.roles)
    return labels


def flag(b: bool) -> str:
    return "true" if b else "false"


def transport_service_dns(cluster: Cluster) -> str:
    """The transport Service as cluster DNS names it: headless, so it resolves to every
    master-eligible pod's address, which is what a 7+ node's discovery.seed_hosts reads."""
    return f"{transport_service_name(cluster)}.{cluster.namespace}.svc"


def bootstrap_config_map_name(cluster: Cluster) -> str:
    return f"{cluster.name}-bootstrap"


def certificate_secret_name(cluster: Cluster) -> str:
    """The Secret with ca.crt, tls.crt and tls.key the nodes mount: the user's, or the one the
    component fills from its own CA."""
    return cluster.security.certificate_secret or f"{cluster.name}-certs"


def file_realm_secret_name(cluster: Cluster) -> str:
    """The file realm's users and users_roles files (a bcrypt hash, never the password)."""
    return f"{cluster.name}-file-realm"


def elastic_user_secret_name(cluster: Cluster) -> str:
    """The superuser's password, for clients in the cluster (key: the user's name, as in ECK)."""
    return f"{cluster.name}-elastic-user"


def certificate_dns_names(cluster: Cluster) -> list[str]:
    """The names the node certificate carries: the HTTP Service's, every form a client in the
    cluster may use; the transport Service's, and each pod's under it (a StatefulSet's pods are
    <pod>.<transport Service>); localhost, for a port-forward."""
    names = []
    for service in (http_service_name(cluster), transport_service_name(cluster)):
        names += [
            service,
            f"{service}.{cluster.namespace}",
            f"{service}.{cluster.namespace}.svc",
            f"{service}.{cluster.namespace}.svc.cluster.local",
        ]
    transport = f"{transport_service_name(cluster)}.{cluster.namespace}.svc"
    return [*names, f"*.{transport}", f"*.{transport}.cluster.local", "localhost"]


# The node certificate's subject: organisation and common name (tls.py issues it).
CERTIFICATE_ORGANIZATION = "es-cluster"


def node_certificate_common_name(cluster_name: str) -> str:
    return f"{cluster_name} node"


def node_certificate_subject(cluster_name: str) -> str:
    """That subject as RFC 4514 writes it, most specific first (OpenSearch's
    plugins.security.nodes_dn); a cluster name has no character the form escapes."""
    return f"CN={node_certificate_common_name(cluster_name)},O={CERTIFICATE_ORGANIZATION}"
