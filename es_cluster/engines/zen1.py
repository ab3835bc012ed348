"""The field report's engine, Elasticsearch 2.x with zen1 discovery: quorum from MIN_MASTERS,
peers from the transport Service's Endpoints through the discovery plugin (DISCOVERY_SERVICE),
and the kubelet's kubeconfig where the pod's token cannot be used. Everything as the field
report's patched image (image/) reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import constants as c
from ..names import flag, transport_service_name
from .profile import PACKAGE, Manifest, Profile, Version, probes_for, show_version

if TYPE_CHECKING:
    from ..model import Cluster, NodeGroup


@dataclass(frozen=True)
class Zen1(Profile):
    def env(self, group: NodeGroup, cluster: Cluster) -> list[Manifest]:
        """The env image/elasticsearch.yml reads; MIN_MASTERS is the quorum of all
        master-eligible nodes in the cluster, whichever group they are in."""
        env: list[Manifest] = [
            {"name": c.ENV_CLUSTER_NAME, "value": cluster.name},
            {"name": c.ENV_NODE_NAME, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": c.ENV_NAMESPACE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": c.ENV_NODE_MASTER, "value": flag(group.master)},
            {"name": c.ENV_NODE_DATA, "value": flag(group.data)},
            {"name": c.ENV_HTTP_ENABLE, "value": flag(group.client)},
            {"name": c.ENV_NETWORK_HOST, "value": c.NETWORK_HOST},
            {"name": c.ENV_DISCOVERY_SERVICE, "value": transport_service_name(cluster)},
            {"name": c.ENV_MIN_MASTERS, "value": str(cluster.quorum)},
            {"name": c.ENV_HEAP_SIZE, "value": group.heap_size},
        ]
        if cluster.kubeconfig_host_path is not None:
            env += [
                {"name": c.ENV_TRY_KUBECONFIG, "value": "true"},
                {"name": c.ENV_KUBECONFIG, "value": c.KUBECONFIG_MOUNT_PATH},
            ]
        return env

    def probes(self, group: NodeGroup, cluster: Cluster) -> Manifest:
        return probes_for(group, c.HTTP_PORT, c.TRANSPORT_PORT)

    def default_base_image(self, version: str) -> str:
        return c.DEFAULT_BASE_IMAGE

    def default_pod_security_context(self) -> dict[str, Any]:
        # The pires image starts as root and drops to its elasticsearch user (security.py).
        return {}

    def upgrade_refusal(self, before: Version, after: Version) -> str | None:
        if before == after:
            return None
        return (
            f"there is no in-place path from Elasticsearch {show_version(before)}: a node reads indices only from the "
            "previous major version. Deploy a new cluster (another clusterName or namespace) on the new version and "
            "copy the data with reindex-from-remote, then retire this one"
        )


PROFILE = Zen1(
    family="zen1",
    distribution="elasticsearch",
    versions=("2.3.4",),
    data_path=c.DATA_PATH,
    image_context=str(PACKAGE / "image_context"),
    endpoints_discovery=True,
    bootstraps=False,
    security_missing=(
        "has no free TLS or authentication (they came with X-Pack, free from 6.8): deploy Elasticsearch 7+ for them, "
        "and keep this cluster's Services private"
    ),
)
