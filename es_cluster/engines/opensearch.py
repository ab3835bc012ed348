"""OpenSearch 2 and 3: the zen2 coordination OpenSearch forked from Elasticsearch 7.10, with
its own names (cluster_manager for the master role, cluster.initial_cluster_manager_nodes,
OPENSEARCH_JAVA_OPTS, /usr/share/opensearch) and its own upgrade paths (3.x from 2.19)."""

from __future__ import annotations

from .zen2 import Zen2

PROFILE = Zen2(
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
    security_missing=(
        "es-cluster does not deploy OpenSearch's security plugin yet (docs/security.md), so this cluster has no TLS "
        "and no authentication: set security.enabled false, and keep its HTTP Service private"
    ),
)
