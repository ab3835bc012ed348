"""OpenSearch 2 and 3: the zen2 coordination OpenSearch forked from Elasticsearch 7.10, with
its own names (cluster_manager for the master role, cluster.initial_cluster_manager_nodes,
OPENSEARCH_JAVA_OPTS, /usr/share/opensearch), its own upgrade paths (3.x from 2.19), and its
own security plugin: users in internal_users.yml, read into the security index when the cluster
first forms, and node certificates recognised by their subject (plugins.security.nodes_dn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import constants as c
from ..names import node_certificate_subject
from .profile import Manifest
from .zen2 import Zen2

if TYPE_CHECKING:
    from ..model import Cluster, NodeGroup


@dataclass(frozen=True)
class OpenSearch(Zen2):
    def env(self, group: NodeGroup, cluster: Cluster) -> list[Manifest]:
        out = super().env(group, cluster)
        if cluster.security.enabled:
            # The entrypoint writes it into plugins.security.nodes_dn: the subject of the node
            # certificate every node presents (the one the component issues, or the user's).
            subject = cluster.security.certificate_subject or node_certificate_subject(cluster.name)
            out.append({"name": c.ENV_NODES_DN, "value": subject})
        return out

    def realm_files(self, users: object) -> dict[str, object]:
        return {"internal_users.yml": users}


PROFILE = OpenSearch(
    family="opensearch",
    distribution="opensearch",
    versions=("2.19.4", "2.19.6", "3.3.0"),
    data_path="/usr/share/opensearch/data",
    # `master` is deprecated in 2.x and goes in 4.0; both at once are refused.
    bootstrap_setting="cluster.initial_cluster_manager_nodes",
    java_opts_env="OPENSEARCH_JAVA_OPTS",
    role_names=(("master", "cluster_manager"), ("data", "data")),
    upgrade_from=((3, (2, 19, 0)),),
    base_repository="opensearchproject/opensearch",
    reads_blocked_two_back=False,
    security_supported=True,
    superuser="admin",
    realm="internal_users",
    password_in_index=True,
    needs_certificate_subject=True,
)
